// SPDX-License-Identifier: MIT
/* /dev/kvm and the VM. */
#include "kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* The only KVM API version there has ever been; anything else is not KVM as we know it. */
#define KVM_API_WANTED 12

/*
 * Intel without unrestricted guest runs real mode in vm86 under a 3-page TSS that KVM
 * keeps in guest physical space: put it just below 4 GiB, far from any RAM we map.
 */
#define VMM_TSS_GPA 0xfffbd000UL

__attribute__((format(printf, 3, 4))) static int fail(struct vmm_vm *vm, int err,
						      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(vm->err, sizeof(vm->err), fmt, ap);
	va_end(ap);
	return err;
}

int vmm_vm_create(struct vmm_vm *vm)
{
	int ret;

	memset(vm, 0, sizeof(*vm));
	vm->vm_fd = -1;
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return fail(vm, -errno, "open /dev/kvm: %s", strerror(errno));

	ret = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (ret != KVM_API_WANTED) {
		ret = ret < 0 ? fail(vm, -errno, "KVM_GET_API_VERSION: %s", strerror(errno))
			      : fail(vm, -EOPNOTSUPP, "KVM API version %d, want %d", ret,
				     KVM_API_WANTED);
		goto err;
	}
	ret = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (ret <= 0) {
		ret = fail(vm, ret < 0 ? -errno : -EINVAL, "KVM_GET_VCPU_MMAP_SIZE: %s",
			   ret < 0 ? strerror(errno) : "zero");
		goto err;
	}
	vm->run_size = ret;

	/* KVM_CREATE_VM fails with EINTR when a signal lands while it sets up */
	do
		vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	while (vm->vm_fd < 0 && errno == EINTR);
	if (vm->vm_fd < 0) {
		ret = fail(vm, -errno, "KVM_CREATE_VM: %s", strerror(errno));
		goto err;
	}

	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0 &&
	    ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, VMM_TSS_GPA) < 0) {
		ret = fail(vm, -errno, "KVM_SET_TSS_ADDR: %s", strerror(errno));
		goto err;
	}
	return 0;
err:
	vmm_vm_destroy(vm);
	return ret;
}

void vmm_vm_destroy(struct vmm_vm *vm)
{
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->vm_fd = -1;
	vm->kvm_fd = -1;
}
