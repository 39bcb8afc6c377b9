/* SPDX-License-Identifier: MIT */
/*
 * rwpd's reports: snapshots (snapshot.h) rendered as the text of STATUS (report.c) and
 * METRICS (report-prom.c) replies. Pure: no I/O, no global state; the schema and the
 * metric names are API, documented in rwpctl(1) (JSON SCHEMA, METRICS) and in the code.
 *
 * Strings from a snapshot (names, kernel, reasons) are bounded by their arrays and
 * rendered as printable ASCII: any other byte becomes '?', so the output is always
 * valid UTF-8 whatever a guest called itself.
 */
#ifndef RWPD_REPORT_H
#define RWPD_REPORT_H

#include <stddef.h>

#include "snapshot.h"

/* Version of the STATUS JSON schema, its top-level "schema" member. */
#define RWPD_REPORT_SCHEMA 1

/*
 * STATUS as compact JSON: the daemon d and its guests g[0, n). *out is a NUL-terminated
 * string the caller frees. 0, or -EINVAL (d or out NULL, g NULL with n), -ENOMEM.
 */
int rwpd_report_json(const struct rwpd_daemon_snap *d, const struct rwpd_guest_snap *g,
		     size_t n, char **out);

/*
 * METRICS as Prometheus text exposition format 0.0.4, every family with its HELP and
 * TYPE lines, samples grouped by family. Same arguments, ownership and errors.
 */
int rwpd_report_prometheus(const struct rwpd_daemon_snap *d, const struct rwpd_guest_snap *g,
			   size_t n, char **out);

/*
 * A snapshot string of at most max bytes, which need not be NUL-terminated, into dst
 * (cap bytes, cut to fit) as printable ASCII; dst is returned. CLEAN() sizes both.
 */
const char *rwpd_report_clean(char *dst, size_t cap, const char *src, size_t max);
#define CLEAN(buf, field) rwpd_report_clean(buf, sizeof(buf), field, sizeof(field))

/* "vmm", "firecracker"; "running", "restoring", "orphaned"; "unknown" otherwise. */
const char *rwpd_guest_kind_name(enum rwpd_guest_kind k);
const char *rwpd_guest_phase_name(enum rwpd_guest_phase p);

#endif
