// SPDX-License-Identifier: MIT
/* Guest memory slots: guest physical ranges backed by host mappings the caller owns. */
#include "kvm.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#define VMM_PAGE 4096UL

int vmm_mem_add(struct vmm_vm *vm, uint64_t gpa, void *host, size_t len)
{
	struct kvm_userspace_memory_region slot = {
		.slot = vm->nr_slots,
		.guest_phys_addr = gpa,
		.memory_size = len,
		.userspace_addr = (uintptr_t)host,
	};

	if (!len || (gpa | len | (uintptr_t)host) & (VMM_PAGE - 1)) {
		snprintf(vm->err, sizeof(vm->err),
			 "memory slot gpa 0x%llx len 0x%zx host %p: not page aligned or empty",
			 (unsigned long long)gpa, len, host);
		return -EINVAL;
	}
	/* KVM itself refuses a slot that overlaps another one, with EEXIST */
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0) {
		int err = errno;

		snprintf(vm->err, sizeof(vm->err), "KVM_SET_USER_MEMORY_REGION gpa 0x%llx: %s",
			 (unsigned long long)gpa, strerror(err));
		return -err;
	}
	return vm->nr_slots++;
}
