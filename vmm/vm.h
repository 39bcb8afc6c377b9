/* SPDX-License-Identifier: MIT */
/*
 * rwp-vm's own guest: the phases program (guest/phases.S) on one KVM vCPU, run by a
 * thread of its own while the main thread runs the interval loop (host.h).
 *
 *   boot.c  the VM, its one memory slot, the program loaded, the vCPU set up to enter it
 *   vcpu.c  the vCPU thread: runs the guest, answers its ports, moves it between phases
 */
#ifndef RWP_VMM_VM_H
#define RWP_VMM_VM_H

#include "host.h"
#include "kvm.h"

#include <pthread.h>

struct vmm_kvm_guest {
	struct vmm_vm vm;
	struct vmm_cpu cpu;
	struct vmm_env *env;
	pthread_t thread;
	bool running;
};

/* Create the VM: fails when KVM is missing or unusable, with the reason in vm.err. */
int vmm_boot_vm(struct vmm_kvm_guest *g);
/* Map guest memory at guest physical 0, load the program, make the vCPU ready. */
int vmm_boot_load(struct vmm_kvm_guest *g, const struct vmm_ram *ram, char *err, size_t errlen);
void vmm_boot_release(struct vmm_kvm_guest *g);

extern const struct vmm_guest_ops vmm_kvm_ops;

#endif
