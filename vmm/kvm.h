/* SPDX-License-Identifier: MIT */
/*
 * vmm core: one KVM VM with guest memory slots and vCPUs, for rwp's tests and rwp-vm.
 *
 *   kvm.c  /dev/kvm and the VM
 *   mem.c  guest memory slots over host mappings the caller owns
 *   cpu.c  vCPUs: flat 32-bit protected mode, registers, the run loop
 *
 * Every int function returns >= 0 or -errno, never exits or prints, and leaves a message
 * in the object's err[] when it fails (the vCPU's for a guest that cannot go on).
 */
#ifndef RWP_VMM_KVM_H
#define RWP_VMM_KVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VMM_ERR_LEN 192

struct kvm_run;

struct vmm_vm {
	int kvm_fd;		/* /dev/kvm */
	int vm_fd;
	size_t run_size;	/* mmap size of a vCPU's kvm_run */
	unsigned int nr_slots;
	char err[VMM_ERR_LEN];
};

struct vmm_cpu {
	struct vmm_vm *vm;
	unsigned int id;
	int fd;
	struct kvm_run *run;
	char err[VMM_ERR_LEN];
};

/* General registers of a 32-bit guest; bit 1 of eflags is forced on (it always reads 1). */
struct vmm_regs32 {
	uint32_t eax, ebx, ecx, edx, esi, edi, ebp, esp;
	uint32_t eip, eflags;
};

enum vmm_exit_kind {
	VMM_EXIT_IO = 1, /* port I/O; the instruction completes on the next vmm_cpu_run() */
	VMM_EXIT_HLT,	 /* HLT (no in-kernel irqchip); the next run resumes after it */
};

struct vmm_exit {
	enum vmm_exit_kind kind;
	/* VMM_EXIT_IO only: */
	uint16_t port;
	bool out;	/* OUT/OUTS: the guest wrote; else IN/INS: fill data before resuming */
	uint8_t size;	/* bytes per access: 1, 2 or 4 */
	uint32_t count; /* accesses, > 1 only for REP INS/OUTS */
	uint32_t value; /* OUT: the first access's data, zero-extended */
	void *data;	/* count * size bytes inside kvm_run */
};

/* ------------------------------------------------------------------ kvm.c -- */

/*
 * Open /dev/kvm, check the API version and create a VM. Errors: what open() gave (-ENOENT
 * no KVM, -EACCES no access), -EOPNOTSUPP (KVM API version is not 12), or the ioctl's.
 */
int vmm_vm_create(struct vmm_vm *vm);

/* Close the VM and /dev/kvm; destroy its vCPUs first. Memory stays with its owner. */
void vmm_vm_destroy(struct vmm_vm *vm);

/* ------------------------------------------------------------------ mem.c -- */

/*
 * Back guest physical [gpa, gpa + len) with the host mapping at host (page aligned; the
 * caller keeps it mapped for the VM's lifetime). Returns the slot number.
 * Errors: -EINVAL (unaligned or empty), -EEXIST (overlaps a slot), the ioctl's.
 */
int vmm_mem_add(struct vmm_vm *vm, uint64_t gpa, void *host, size_t len);

/* ------------------------------------------------------------------ cpu.c -- */

/* Create vCPU id and map its kvm_run. */
int vmm_cpu_create(struct vmm_vm *vm, unsigned int id, struct vmm_cpu *cpu);
void vmm_cpu_destroy(struct vmm_cpu *cpu);

/*
 * 32-bit protected mode without paging and without a GDT: flat 4 GiB code and data
 * segments loaded straight into the segment caches. Guest code must not reload a segment
 * register (there is no descriptor table behind the selectors).
 */
int vmm_cpu_setup_pm32(struct vmm_cpu *cpu);

int vmm_cpu_set_regs32(struct vmm_cpu *cpu, const struct vmm_regs32 *r);
int vmm_cpu_get_regs32(struct vmm_cpu *cpu, struct vmm_regs32 *r);

/*
 * Run until the guest does port I/O or halts, described in *exit. A signal restarts the
 * run unless kvm_run->immediate_exit is set, which is how another thread kicks a vCPU
 * out: then -EINTR. Errors: -EIO (triple fault, failed entry, KVM internal error),
 * -EFAULT (access outside every memory slot), -EOPNOTSUPP (an exit this loop does not
 * handle), each with the details in cpu->err.
 */
int vmm_cpu_run(struct vmm_cpu *cpu, struct vmm_exit *exit);

#endif
