// SPDX-License-Identifier: MIT
/* /proc/pid/maps parsing. Lines come from the kernel, but the parser is fuzzed anyway. */
#include "maps.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Numbers are digits only, as the kernel prints them: strtoull() would also take blanks,
 * a sign or a 0x prefix, and turn "-1" into a huge value.
 */
static const char *number(const char *s, unsigned int base, uint64_t *v)
{
	const char *p = s;
	uint64_t x = 0;

	for (;; p++) {
		unsigned int d;

		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = *p - 'A' + 10;
		else
			break;
		if (x > (UINT64_MAX - d) / base)
			return NULL; /* more than 64 bits */
		x = x * base + d;
	}
	*v = x;
	return p == s ? NULL : p;
}

static const char *hex(const char *s, uint64_t *v)
{
	return number(s, 16, v);
}

int rwp_maps_parse_line(const char *line, struct rwp_vma *v)
{
	uint64_t start, end, off, major, minor, inode;
	const char *p = line;

	memset(v, 0, sizeof(*v));
	if (!(p = hex(p, &start)) || *p++ != '-' || !(p = hex(p, &end)) || *p++ != ' ')
		return -EINVAL;
	if (start >= end || strnlen(p, 5) < 5 || p[4] != ' ')
		return -EINVAL;
	if (!strchr("r-", p[0]) || !strchr("w-", p[1]) || !strchr("x-", p[2]) ||
	    !strchr("sp", p[3]))
		return -EINVAL;
	v->read = p[0] == 'r';
	v->write = p[1] == 'w';
	v->shared = p[3] == 's';
	p += 5;
	if (!(p = hex(p, &off)) || *p++ != ' ')
		return -EINVAL;
	if (!(p = hex(p, &major)) || *p++ != ':' || !(p = hex(p, &minor)) || *p++ != ' ')
		return -EINVAL;
	if (!(p = number(p, 10, &inode)) || (*p && *p != ' ' && *p != '\n'))
		return -EINVAL;
	while (*p == ' ')
		p++;
	snprintf(v->path, sizeof(v->path), "%.*s", (int)strcspn(p, "\n"), p);
	v->start = start;
	v->end = end;
	v->offset = off;
	v->inode = inode;
	return 0;
}

int rwp_maps_walk(int pid, uintptr_t start, uintptr_t end, rwp_vma_fn fn, void *arg)
{
	char path[64], line[512];
	struct rwp_vma v;
	FILE *f;
	int ret = 0;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/maps");
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		/* a path longer than the buffer: skip the rest of the line */
		if (!strchr(line, '\n') && !feof(f)) {
			int c;

			while ((c = fgetc(f)) != EOF && c != '\n')
				;
		}
		if (rwp_maps_parse_line(line, &v)) {
			ret = -EIO;
			break;
		}
		if (v.end <= start)
			continue;
		if (v.start >= end)
			break;
		ret = fn(arg, &v);
		if (ret)
			break;
	}
	fclose(f);
	return ret;
}

static int next_vma(void *arg, const struct rwp_vma *v)
{
	uintptr_t *next = arg;

	if (v->start > *next)
		return 1; /* a hole */
	*next = v->end;
	return 0;
}

bool rwp_maps_covers(int pid, uintptr_t start, uintptr_t end)
{
	uintptr_t next = start;

	return !rwp_maps_walk(pid, start, end, next_vma, &next) && next >= end;
}
