// SPDX-License-Identifier: MIT
/*
 * Guest memory: one memfd mapped twice, once for the guest (registered with librwp) and
 * once read-only for the host's final check, which must not count as guest accesses.
 */
#define _GNU_SOURCE
#include "host.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int vmm_ram_create(struct vmm_ram *ram, uint64_t bytes)
{
	uint64_t table_end = VMM_TABLE_GPA + bytes / VMM_PAGE * sizeof(uint32_t);
	int err;

	memset(ram, 0, sizeof(*ram));
	ram->fd = -1;
	ram->bytes = bytes;
	ram->data_gpa = (table_end + VMM_DATA_ALIGN - 1) & ~(VMM_DATA_ALIGN - 1);
	if (bytes % VMM_PAGE || ram->data_gpa >= bytes)
		return -EINVAL;
	ram->data_pages = (bytes - ram->data_gpa) / VMM_PAGE;
	ram->fd = memfd_create("rwp-vm-ram", MFD_CLOEXEC);
	if (ram->fd < 0)
		return -errno;
	if (ftruncate(ram->fd, bytes))
		goto err;
	ram->base = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, ram->fd, 0);
	if (ram->base == MAP_FAILED)
		goto err;
	ram->view = mmap(NULL, bytes, PROT_READ, MAP_SHARED, ram->fd, 0);
	if (ram->view == MAP_FAILED)
		goto err;
	return 0;
err:
	err = -errno;
	vmm_ram_destroy(ram);
	return err;
}

void vmm_ram_destroy(struct vmm_ram *ram)
{
	if (ram->view && ram->view != MAP_FAILED)
		munmap((void *)ram->view, ram->bytes);
	if (ram->base && ram->base != MAP_FAILED)
		munmap(ram->base, ram->bytes);
	if (ram->fd >= 0)
		close(ram->fd);
	ram->view = NULL;
	ram->base = NULL;
	ram->fd = -1;
}

void vmm_ram_fill(struct vmm_ram *ram)
{
	for (uint64_t i = 0; i < ram->data_pages; i++) {
		uint64_t gpa = ram->data_gpa + i * VMM_PAGE;

		vmm_content_fill(ram->base + gpa, gpa);
	}
}

void vmm_ram_check(const struct vmm_ram *ram, struct vmm_check *c, FILE *f, unsigned int show)
{
	const uint32_t *gen = (const uint32_t *)(ram->view + VMM_TABLE_GPA);

	memset(c, 0, sizeof(*c));
	for (uint64_t i = 0; i < ram->data_pages; i++) {
		uint64_t gpa = ram->data_gpa + i * VMM_PAGE;
		const uint8_t *p = ram->view + gpa;
		const uint32_t *stamp = (const uint32_t *)p;
		const char *what = NULL;

		c->pages++;
		if (stamp[0] != gpa) {
			c->bad_stamp++;
			what = "stamp";
		} else if (stamp[1] != gen[i]) {
			c->bad_gen++;
			what = "generation";
		} else if (!vmm_content_check(p, gpa)) {
			c->bad_body++;
			what = "contents";
		}
		if (!what)
			continue;
		if (c->bad++ < show && f)
			fprintf(f, "check: page at gpa 0x%llx: bad %s (stamp 0x%x gen %u, "
				   "table %u)\n", (unsigned long long)gpa, what, stamp[0], stamp[1],
				gen[i]);
	}
}
