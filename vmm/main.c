// SPDX-License-Identifier: MIT
/*
 * rwp-vm: the reference VMM of rwp. A KVM guest whose working set moves from phase to
 * phase runs on one vCPU while librwp, in this process, tracks its memory, evicts what
 * goes cold to compressed RAM (and a file) and fetches it back when touched. At the end
 * every page is checked. See rwp-vm(1).
 */
#include "vm.h"

#include <stdio.h>

int main(int argc, char **argv)
{
	struct vmm_opts o = { .prog = "rwp-vm" };
	struct vmm_kvm_guest g;
	int ret;

	ret = vmm_opts_parse(&o, argc, argv, false);
	if (ret)
		return ret > 0 ? VMM_EXIT_GOOD : VMM_EXIT_ERROR;

	/* before any memory is set up: a machine without KVM is told so at once */
	if (vmm_boot_vm(&g)) {
		fprintf(stderr, "rwp-vm: KVM is not usable here: %s\n"
				"rwp-vm: (rwp-demo-threads runs the same guest as threads)\n",
			g.vm.err);
		vmm_boot_release(&g);
		return VMM_EXIT_NO_KVM;
	}
	ret = vmm_run(&o, &vmm_kvm_ops, &g);
	vmm_boot_release(&g);
	return ret;
}
