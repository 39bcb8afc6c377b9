/* SPDX-License-Identifier: MIT */
/*
 * The command block of the phases guest (phases.S): what one sweep touches, as the host
 * writes it, and where the guest reports a page that failed its check.
 *
 * Every data page starts with a stamp: dword 0 holds the page's own guest physical
 * address, dword 1 its generation, which the guest bumps when it writes the page. A table
 * of one dword per data page, outside the data, holds the generation each page must have.
 */
#ifndef RWP_VMM_GUEST_PHASES_H
#define RWP_VMM_GUEST_PHASES_H

#include <stddef.h>
#include <stdint.h>

/* Ports the guest writes (OUT, 4 bytes). phases.S has the same numbers. */
#define PHASES_PORT_SWEEP 0x10 /* a sweep is done; value: pages it touched */
#define PHASES_PORT_BAD 0x11   /* a page failed its check; value: its gpa, details below */
#define PHASES_PORT_DONE 0x12  /* stop was seen: the guest halts */

/* bad_kind */
#define PHASES_BAD_STAMP 1 /* dword 0 is not the page's address: lost, zeroed or swapped */
#define PHASES_BAD_GEN 2   /* dword 1 is not the generation last written: stale */

struct phases_cmd {
	uint32_t first;	      /* gpa of the first page of a sweep */
	uint32_t count;	      /* pages per sweep */
	uint32_t stride;      /* bytes from one page to the next: 4096 * k */
	uint32_t table;	      /* gpa of the first page's generation in the table */
	uint32_t tstride;     /* bytes from one table entry to the next: 4 * k */
	uint32_t write_every; /* bump the generation of every Nth page touched; 0 = never */
	uint32_t stamp;	      /* nonzero: write stamps of generation 1 instead of checking */
	uint32_t stop;	      /* nonzero: report done and halt at the next sweep */
	/* written by the guest before an OUT to PHASES_PORT_BAD */
	uint32_t bad_kind;
	uint32_t bad_gpa;
	uint32_t bad_found;   /* the dword found (address or generation) */
};

/* phases.S addresses the fields with these offsets */
_Static_assert(offsetof(struct phases_cmd, first) == 0, "phases.S CMD_FIRST");
_Static_assert(offsetof(struct phases_cmd, count) == 4, "phases.S CMD_COUNT");
_Static_assert(offsetof(struct phases_cmd, stride) == 8, "phases.S CMD_STRIDE");
_Static_assert(offsetof(struct phases_cmd, table) == 12, "phases.S CMD_TABLE");
_Static_assert(offsetof(struct phases_cmd, tstride) == 16, "phases.S CMD_TSTRIDE");
_Static_assert(offsetof(struct phases_cmd, write_every) == 20, "phases.S CMD_WRITE_EVERY");
_Static_assert(offsetof(struct phases_cmd, stamp) == 24, "phases.S CMD_STAMP");
_Static_assert(offsetof(struct phases_cmd, stop) == 28, "phases.S CMD_STOP");
_Static_assert(offsetof(struct phases_cmd, bad_kind) == 32, "phases.S CMD_BAD_KIND");
_Static_assert(offsetof(struct phases_cmd, bad_gpa) == 36, "phases.S CMD_BAD_GPA");
_Static_assert(offsetof(struct phases_cmd, bad_found) == 40, "phases.S CMD_BAD_FOUND");

#endif
