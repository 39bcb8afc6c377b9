// SPDX-License-Identifier: MIT
/* vCPUs: creation, flat 32-bit protected mode, registers and the run loop. */
#include "kvm.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define CR0_PE (1u << 0)
#define CR0_PG (1u << 31)
#define EFLAGS_FIXED (1u << 1)

/* Segment types (S=1): execute/read code, read/write data, both marked accessed. */
#define SEG_CODE_XRA 0xb
#define SEG_DATA_RWA 0x3

__attribute__((format(printf, 3, 4))) static int fail(struct vmm_cpu *cpu, int err,
						      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cpu->err, sizeof(cpu->err), fmt, ap);
	va_end(ap);
	return err;
}

/* A guest that cannot go on: say where it stopped. */
static int guest_fail(struct vmm_cpu *cpu, int err, const char *what)
{
	struct vmm_regs32 r;

	if (vmm_cpu_get_regs32(cpu, &r))
		return fail(cpu, err, "vcpu %u: %s", cpu->id, what);
	return fail(cpu, err, "vcpu %u at eip 0x%08x (esp 0x%08x): %s", cpu->id, r.eip, r.esp,
		    what);
}

int vmm_cpu_create(struct vmm_vm *vm, unsigned int id, struct vmm_cpu *cpu)
{
	memset(cpu, 0, sizeof(*cpu));
	cpu->vm = vm;
	cpu->id = id;
	cpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (cpu->fd < 0)
		return fail(cpu, -errno, "KVM_CREATE_VCPU %u: %s", id, strerror(errno));

	cpu->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, cpu->fd, 0);
	if (cpu->run == MAP_FAILED) {
		int err = fail(cpu, -errno, "mmap kvm_run of vcpu %u: %s", id, strerror(errno));

		cpu->run = NULL;
		vmm_cpu_destroy(cpu);
		return err;
	}
	return 0;
}

void vmm_cpu_destroy(struct vmm_cpu *cpu)
{
	if (cpu->run)
		munmap(cpu->run, cpu->vm->run_size);
	if (cpu->fd >= 0)
		close(cpu->fd);
	cpu->run = NULL;
	cpu->fd = -1;
}

static void flat_segment(struct kvm_segment *s, uint16_t selector, uint8_t type)
{
	*s = (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = selector,
		.type = type,
		.present = 1,
		.db = 1, /* 32-bit operands and stack */
		.s = 1,	 /* code/data, not system */
		.g = 1,	 /* limit in 4 KiB units */
	};
}

int vmm_cpu_setup_pm32(struct vmm_cpu *cpu)
{
	struct kvm_sregs sr;

	if (ioctl(cpu->fd, KVM_GET_SREGS, &sr) < 0)
		return fail(cpu, -errno, "KVM_GET_SREGS: %s", strerror(errno));

	/*
	 * The selectors name GDT slots 1 and 2 only by convention: the caches hold the
	 * descriptors. TR and LDTR keep their reset state, which VM entry accepts.
	 */
	flat_segment(&sr.cs, 0x08, SEG_CODE_XRA);
	flat_segment(&sr.ds, 0x10, SEG_DATA_RWA);
	sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
	sr.cr0 = (sr.cr0 | CR0_PE) & ~(uint64_t)CR0_PG;
	sr.cr4 = 0;
	sr.efer = 0;

	if (ioctl(cpu->fd, KVM_SET_SREGS, &sr) < 0)
		return fail(cpu, -errno, "KVM_SET_SREGS: %s", strerror(errno));
	return 0;
}

int vmm_cpu_set_regs32(struct vmm_cpu *cpu, const struct vmm_regs32 *r)
{
	struct kvm_regs kr = {
		.rax = r->eax, .rbx = r->ebx, .rcx = r->ecx, .rdx = r->edx,
		.rsi = r->esi, .rdi = r->edi, .rbp = r->ebp, .rsp = r->esp,
		.rip = r->eip, .rflags = r->eflags | EFLAGS_FIXED,
	};

	if (ioctl(cpu->fd, KVM_SET_REGS, &kr) < 0)
		return fail(cpu, -errno, "KVM_SET_REGS: %s", strerror(errno));
	return 0;
}

int vmm_cpu_get_regs32(struct vmm_cpu *cpu, struct vmm_regs32 *r)
{
	struct kvm_regs kr;

	if (ioctl(cpu->fd, KVM_GET_REGS, &kr) < 0)
		return fail(cpu, -errno, "KVM_GET_REGS: %s", strerror(errno));
	*r = (struct vmm_regs32){
		.eax = kr.rax, .ebx = kr.rbx, .ecx = kr.rcx, .edx = kr.rdx,
		.esi = kr.rsi, .edi = kr.rdi, .ebp = kr.rbp, .esp = kr.rsp,
		.eip = kr.rip, .eflags = kr.rflags,
	};
	return 0;
}

static void decode_io(const struct kvm_run *run, struct vmm_exit *exit)
{
	uint8_t *data = (uint8_t *)run + run->io.data_offset;

	*exit = (struct vmm_exit){
		.kind = VMM_EXIT_IO,
		.port = run->io.port,
		.out = run->io.direction == KVM_EXIT_IO_OUT,
		.size = run->io.size,
		.count = run->io.count,
		.data = data,
	};
	if (exit->out && exit->size <= sizeof(exit->value))
		memcpy(&exit->value, data, exit->size); /* x86 is little-endian: zero-extends */
}

static const char *internal_error_name(uint32_t suberror)
{
	switch (suberror) {
	case KVM_INTERNAL_ERROR_EMULATION:
		return "instruction emulation failed";
	case KVM_INTERNAL_ERROR_SIMUL_EX:
		return "exception while delivering an exception";
	case KVM_INTERNAL_ERROR_DELIVERY_EV:
		return "exit while delivering an event";
	case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON:
		return "unexpected hardware exit";
	default:
		return "unknown suberror";
	}
}

/* Exits that end the guest, and I/O to memory nothing backs, become errors. */
static int exit_error(struct vmm_cpu *cpu)
{
	struct kvm_run *run = cpu->run;
	char what[VMM_ERR_LEN / 2];

	switch (run->exit_reason) {
	case KVM_EXIT_SHUTDOWN:
		return guest_fail(cpu, -EIO, "KVM_EXIT_SHUTDOWN (triple fault)");
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(what, sizeof(what), "KVM_EXIT_FAIL_ENTRY: hardware reason 0x%llx",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return guest_fail(cpu, -EIO, what);
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(what, sizeof(what), "KVM_EXIT_INTERNAL_ERROR %u (%s), data[0] 0x%llx",
			 run->internal.suberror, internal_error_name(run->internal.suberror),
			 run->internal.ndata ? (unsigned long long)run->internal.data[0] : 0ULL);
		return guest_fail(cpu, -EIO, what);
	case KVM_EXIT_MMIO:
		snprintf(what, sizeof(what), "%s of %u bytes at gpa 0x%llx, outside every slot",
			 run->mmio.is_write ? "write" : "read", run->mmio.len,
			 (unsigned long long)run->mmio.phys_addr);
		return guest_fail(cpu, -EFAULT, what);
	default:
		snprintf(what, sizeof(what), "unhandled exit reason %u", run->exit_reason);
		return guest_fail(cpu, -EOPNOTSUPP, what);
	}
}

int vmm_cpu_run(struct vmm_cpu *cpu, struct vmm_exit *exit)
{
	struct kvm_run *run = cpu->run;

	for (;;) {
		if (ioctl(cpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR && !run->immediate_exit)
				continue;
			return fail(cpu, -errno, "KVM_RUN vcpu %u: %s", cpu->id, strerror(errno));
		}
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			decode_io(run, exit);
			return 0;
		case KVM_EXIT_HLT:
			*exit = (struct vmm_exit){ .kind = VMM_EXIT_HLT };
			return 0;
		default:
			return exit_error(cpu);
		}
	}
}
