// SPDX-License-Identifier: MIT
/* /proc/pid/maps parsing. Lines come from the kernel, but the parser is fuzzed anyway. */
#include "maps.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *hex(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 16);
	return (end == s || errno) ? NULL : end;
}

int rwp_maps_parse_line(const char *line, struct rwp_vma *v)
{
	uint64_t start, end, off, major, minor;
	const char *p = line;
	char *endp;

	memset(v, 0, sizeof(*v));
	if (!(p = hex(p, &start)) || *p++ != '-' || !(p = hex(p, &end)) || *p++ != ' ')
		return -EINVAL;
	if (start >= end || strnlen(p, 5) < 5 || p[4] != ' ')
		return -EINVAL;
	v->read = p[0] == 'r';
	v->write = p[1] == 'w';
	v->shared = p[3] == 's';
	p += 5;
	if (!(p = hex(p, &off)) || *p++ != ' ')
		return -EINVAL;
	if (!(p = hex(p, &major)) || *p++ != ':' || !(p = hex(p, &minor)) || *p++ != ' ')
		return -EINVAL;
	errno = 0;
	v->inode = strtoull(p, &endp, 10);
	if (endp == p || errno)
		return -EINVAL;
	p = endp;
	while (*p == ' ')
		p++;
	snprintf(v->path, sizeof(v->path), "%.*s", (int)strcspn(p, "\n"), p);
	v->start = start;
	v->end = end;
	v->offset = off;
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
