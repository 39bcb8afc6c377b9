// SPDX-License-Identifier: MIT
/* Boot rwp-vm's guest: a VM, guest memory as its one slot, the phases program loaded. */
#include "guest.h"
#include "vm.h"

#include <errno.h>
#include <string.h>

int vmm_boot_vm(struct vmm_kvm_guest *g)
{
	memset(g, 0, sizeof(*g));
	g->cpu.fd = -1;
	return vmm_vm_create(&g->vm);
}

int vmm_boot_load(struct vmm_kvm_guest *g, const struct vmm_ram *ram, char *err, size_t errlen)
{
	const struct vmm_guest_image *img = &vmm_guest_phases;
	struct vmm_regs32 regs = { .eip = VMM_CODE_GPA, .ebp = VMM_CMD_GPA };
	int ret;

	if (img->size > VMM_CMD_GPA - VMM_CODE_GPA) {
		snprintf(err, errlen, "guest program of %zu bytes overlaps its command block",
			 img->size);
		return -E2BIG;
	}
	memcpy(ram->base + VMM_CODE_GPA, img->code, img->size);
	ret = vmm_mem_add(&g->vm, 0, ram->base, ram->bytes);
	if (ret < 0) {
		snprintf(err, errlen, "%s", g->vm.err);
		return ret;
	}
	ret = vmm_cpu_create(&g->vm, 0, &g->cpu);
	if (!ret)
		ret = vmm_cpu_setup_pm32(&g->cpu);
	if (!ret)
		ret = vmm_cpu_set_regs32(&g->cpu, &regs);
	if (ret)
		snprintf(err, errlen, "%s", g->cpu.err);
	return ret;
}

void vmm_boot_release(struct vmm_kvm_guest *g)
{
	if (g->cpu.fd >= 0)
		vmm_cpu_destroy(&g->cpu);
	vmm_vm_destroy(&g->vm);
}
