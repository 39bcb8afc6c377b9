/* SPDX-License-Identifier: MIT */
/*
 * A small TAP 13 producer for rwp's tests. The plan is printed at the end from the count
 * of results (never hard-coded). Exit status: 0 pass, 1 fail, 77 all skipped.
 *
 * A skip must name what the kernel lacks. With RWP_TEST_STRICT=1 (the 7.3 VM run) a skip
 * counts as a failure.
 */
#ifndef RWP_TAP_H
#define RWP_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tap {
	int n, failed, skipped;
	bool strict;
};

extern struct tap tap_state;

#define TAP_DEFINE struct tap tap_state

static inline void tap_init(void)
{
	const char *s = getenv("RWP_TEST_STRICT");

	setvbuf(stdout, NULL, _IOLBF, 0);
	tap_state.strict = s && *s == '1';
	printf("TAP version 13\n");
}

__attribute__((format(printf, 2, 3))) static inline void tap_ok(bool ok, const char *fmt, ...)
{
	va_list ap;

	tap_state.n++;
	if (!ok)
		tap_state.failed++;
	printf("%sok %d - ", ok ? "" : "not ", tap_state.n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

__attribute__((format(printf, 2, 3))) static inline void tap_skip(const char *name,
								  const char *fmt, ...)
{
	va_list ap;

	tap_state.n++;
	if (tap_state.strict) {
		tap_state.failed++;
		printf("not ok %d - %s # skipped under RWP_TEST_STRICT: ", tap_state.n, name);
	} else {
		tap_state.skipped++;
		printf("ok %d - %s # SKIP ", tap_state.n, name);
	}
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

__attribute__((format(printf, 1, 2))) static inline void tap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static inline int tap_done(void)
{
	printf("1..%d\n", tap_state.n);
	if (tap_state.failed)
		return 1;
	if (tap_state.n && tap_state.skipped == tap_state.n)
		return 77;
	return 0;
}

/* Fail the current check with a message and jump to the case's cleanup label. */
#define CHECK(cond, label, ...)                                                            \
	do {                                                                               \
		if (!(cond)) {                                                             \
			tap_diag("%s:%d: %s", __FILE__, __LINE__, #cond);                 \
			tap_diag(__VA_ARGS__);                                             \
			goto label;                                                        \
		}                                                                          \
	} while (0)

#endif
