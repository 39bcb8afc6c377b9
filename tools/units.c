// SPDX-License-Identifier: MIT
/* Sizes, counts and durations as operators type and read them. */
#include "rwpctl.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* strtoull alone takes "-1" and " 1": only plain digits here */
static int digits(const char *s, uint64_t *v, const char **end)
{
	char *e;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, &e, 10);
	if (errno)
		return -ERANGE;
	*end = e;
	return 0;
}

int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	const char *end;
	uint64_t v;
	int ret = digits(s, &v, &end);

	if (ret)
		return ret;
	if (*end)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGT";
	const char *end, *u;
	unsigned int shift = 0;
	uint64_t v;
	int ret = digits(s, &v, &end);

	if (ret)
		return ret;
	if (*end) {
		u = strchr(units, toupper((unsigned char)*end));
		if (!u || end[1])
			return -EINVAL;
		shift = 10 * (unsigned int)(u - units + 1);
	}
	if (shift && v > UINT64_MAX >> shift)
		return -ERANGE;
	*out = v << shift;
	return 0;
}

int parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v <= 0 || v > 86400)
		return -EINVAL;
	*out = v;
	return 0;
}

int parse_timeout(const char *s, int *ms)
{
	double v;

	if (!strcmp(s, "0")) {
		*ms = 0;
		return 0;
	}
	if (parse_seconds(s, &v))
		return -EINVAL;
	*ms = (int)(v * 1000) ?: 1;
	return 0;
}

const char *fmt_mib(char buf[FMT_LEN], double bytes)
{
	snprintf(buf, FMT_LEN, "%.1f", bytes / (1 << 20));
	return buf;
}

const char *fmt_size(char buf[FMT_LEN], double bytes)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	double a = fabs(bytes);
	unsigned int u = 0;

	if (a < 1024) {
		snprintf(buf, FMT_LEN, "%.0f B", bytes);
		return buf;
	}
	for (a /= 1024, bytes /= 1024; a >= 1024 && u < 4; u++, a /= 1024)
		bytes /= 1024;
	snprintf(buf, FMT_LEN, "%.1f %s", bytes, units[u]);
	return buf;
}

const char *fmt_ns(char buf[FMT_LEN], uint64_t ns)
{
	if (ns < 1000)
		snprintf(buf, FMT_LEN, "%" PRIu64 " ns", ns);
	else if (ns < 1000000)
		snprintf(buf, FMT_LEN, "%.1f us", ns / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, FMT_LEN, "%.2f ms", ns / 1e6);
	else
		snprintf(buf, FMT_LEN, "%.2f s", ns / 1e9);
	return buf;
}

const char *fmt_dur(char buf[FMT_LEN], double s)
{
	uint64_t t = s > 0 && isfinite(s) ? (uint64_t)s : 0;

	if (t < 60)
		snprintf(buf, FMT_LEN, "%" PRIu64 "s", t);
	else if (t < 3600)
		snprintf(buf, FMT_LEN, "%" PRIu64 "m%02" PRIu64 "s", t / 60, t % 60);
	else if (t < 86400)
		snprintf(buf, FMT_LEN, "%" PRIu64 "h%02" PRIu64 "m", t / 3600, t % 3600 / 60);
	else
		snprintf(buf, FMT_LEN, "%" PRIu64 "d%02" PRIu64 "h", t / 86400, t % 86400 / 3600);
	return buf;
}
