// SPDX-License-Identifier: MIT
/*
 * DAMON through /sys/kernel/mm/damon/admin (Documentation/admin-guide/mm/damon/usage.rst):
 * kdamonds/nr_kdamonds, then contexts, operations, monitoring_attrs, targets and regions,
 * and a 'stat' scheme whose access pattern matches everything (the ranges start at 0..0,
 * matching nothing, so every bound is written). Its tried_regions, refreshed by writing
 * update_schemes_tried_regions to the kdamond's state, list each region's nr_accesses.
 */
#define _GNU_SOURCE
#include "damon.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ADMIN "/sys/kernel/mm/damon/admin"
#define KDS ADMIN "/kdamonds"
#define KD KDS "/0"
#define CTX KD "/contexts/0"
#define SCHEME CTX "/schemes/0"
#define STAT_PARAM "/sys/module/damon_stat/parameters/enabled"

static bool started;	  /* kdamonds/0 is ours */
static bool stat_was_on; /* we turned DAMON_STAT off */

static int put(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static int putul(const char *path, unsigned long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lu", v);
	return put(path, buf);
}

static int get(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t len;

	if (fd < 0)
		return -errno;
	len = read(fd, buf, n - 1);
	close(fd);
	if (len < 0)
		return -errno;
	buf[len] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/* The whole file, newlines turned into spaces. */
static int get_all(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t len;

	if (fd < 0)
		return -errno;
	len = read(fd, buf, n - 1);
	close(fd);
	if (len < 0)
		return -errno;
	buf[len] = 0;
	for (char *p = buf; *p; p++)
		if (*p == '\n')
			*p = ' ';
	return 0;
}

static int getul(const char *path, unsigned long *v)
{
	char buf[32];
	int ret = get(path, buf, sizeof(buf));

	if (!ret)
		*v = strtoul(buf, NULL, 0);
	return ret;
}

/* A kill must not leave our kdamond running: stop it with async-signal-safe calls only. */
static void on_signal(int sig)
{
	put(KD "/state", "off");
	put(KDS "/nr_kdamonds", "0");
	if (stat_was_on)
		put(STAT_PARAM, "Y");
	signal(sig, SIG_DFL);
	raise(sig);
}

static void why_set(char *why, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void why_set(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
}

/* Someone else's kdamonds: running ones block us (EBUSY), stopped ones we would erase. */
static int others(char *why, size_t n)
{
	unsigned long nr = 0;
	char path[128], state[16] = "", pid[16] = "?", ops[16] = "?";

	if (getul(KDS "/nr_kdamonds", &nr) || !nr)
		return 0;
	for (unsigned long i = 0; i < nr; i++) {
		snprintf(path, sizeof(path), KDS "/%lu/state", i);
		if (get(path, state, sizeof(state)) || strcmp(state, "on"))
			continue;
		snprintf(path, sizeof(path), KDS "/%lu/pid", i);
		get(path, pid, sizeof(pid));
		snprintf(path, sizeof(path), KDS "/%lu/contexts/0/operations", i);
		get(path, ops, sizeof(ops));
		why_set(why, n,
			"kdamond %lu (pid %s, %s operations) is running and is not ours: DAMON's "
			"sysfs cannot add a kdamond while one runs (EBUSY), and stopping another "
			"user's monitor is not this benchmark's call",
			i, pid, ops);
		return -EBUSY;
	}
	why_set(why, n,
		"%s holds %lu stopped kdamond(s) set up by someone else; rewriting nr_kdamonds "
		"would erase them",
		KDS, nr);
	return -EBUSY;
}

static bool has_word(const char *list, const char *w)
{
	size_t n = strlen(w);

	for (const char *p = list; (p = strstr(p, w)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == 0 || p[n] == ' '))
			return true;
	return false;
}

static int configure(const char *ops, pid_t pid, const struct damon_range *ranges, size_t nr,
		     const struct damon_attrs *a, char *why, size_t n)
{
	char path[160], avail[128] = "";
	int ret;

#define PUT(p, v)                                                                          \
	do {                                                                               \
		if ((ret = put(p, v))) {                                                   \
			why_set(why, n, "writing %s to %s: %s", v, p, strerror(-ret));     \
			return ret;                                                        \
		}                                                                          \
	} while (0)
#define PUTUL(p, v)                                                                        \
	do {                                                                               \
		if ((ret = putul(p, v))) {                                                 \
			why_set(why, n, "writing %lu to %s: %s", (unsigned long)(v), p,    \
				strerror(-ret));                                           \
			return ret;                                                        \
		}                                                                          \
	} while (0)

	PUT(KD "/contexts/nr_contexts", "1");
	/* one name per line */
	get_all(CTX "/avail_operations", avail, sizeof(avail));
	if (!has_word(avail, ops)) {
		why_set(why, n, "this kernel's DAMON has no %s operations (it has: %s)", ops,
			avail);
		return -EOPNOTSUPP;
	}
	PUT(CTX "/operations", ops);
	PUTUL(CTX "/monitoring_attrs/intervals/sample_us", a->sample_us);
	PUTUL(CTX "/monitoring_attrs/intervals/aggr_us", a->aggr_us);
	PUTUL(CTX "/monitoring_attrs/intervals/update_us", a->update_us);
	/* max first: a new min above the old max would be refused at start */
	PUTUL(CTX "/monitoring_attrs/nr_regions/max", a->max_regions);
	PUTUL(CTX "/monitoring_attrs/nr_regions/min", a->min_regions);
	PUT(CTX "/targets/nr_targets", "1");
	if (pid)
		PUTUL(CTX "/targets/0/pid_target", (unsigned long)pid);
	PUTUL(CTX "/targets/0/regions/nr_regions", nr);
	for (size_t i = 0; i < nr; i++) {
		snprintf(path, sizeof(path), CTX "/targets/0/regions/%zu/start", i);
		PUTUL(path, ranges[i].start);
		snprintf(path, sizeof(path), CTX "/targets/0/regions/%zu/end", i);
		PUTUL(path, ranges[i].end);
	}
	PUT(CTX "/schemes/nr_schemes", "1");
	PUT(SCHEME "/action", "stat");
	PUT(SCHEME "/access_pattern/sz/min", "0");
	PUT(SCHEME "/access_pattern/sz/max", "18446744073709551615");
	PUT(SCHEME "/access_pattern/nr_accesses/min", "0");
	PUT(SCHEME "/access_pattern/nr_accesses/max", "4294967295");
	PUT(SCHEME "/access_pattern/age/min", "0");
	PUT(SCHEME "/access_pattern/age/max", "4294967295");
	PUT(KD "/state", "on");
	return 0;
#undef PUT
#undef PUTUL
}

int damon_start(const char *ops, pid_t pid, const struct damon_range *ranges, size_t nr,
		const struct damon_attrs *a, char *why, size_t n)
{
	char v[8] = "";
	int ret;

	if (access(ADMIN, F_OK)) {
		why_set(why, n, "no DAMON sysfs interface (%s) in this kernel", ADMIN);
		return -ENOENT;
	}
	if (geteuid()) {
		why_set(why, n, "DAMON's sysfs interface needs root");
		return -EPERM;
	}
	/* DAMON_STAT (7.x) holds DAMON busy while it runs (limits.md) */
	if (!get(STAT_PARAM, v, sizeof(v)) && v[0] == 'Y') {
		if ((ret = put(STAT_PARAM, "N"))) {
			why_set(why, n, "cannot turn DAMON_STAT off: %s", strerror(-ret));
			return ret;
		}
		stat_was_on = true;
	}
	if ((ret = others(why, n)))
		goto err;
	if ((ret = put(KDS "/nr_kdamonds", "1"))) {
		why_set(why, n, "creating a kdamond: %s", strerror(-ret));
		goto err;
	}
	started = true;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if ((ret = configure(ops, pid, ranges, nr, a, why, n)))
		goto err;
	return 0;
err:
	damon_stop();
	return ret;
}

static int read_region(unsigned long i, struct damon_region *r)
{
	static const char *const f[] = { "start", "end", "nr_accesses", "age" };
	unsigned long v[4];
	char path[160];

	for (size_t k = 0; k < 4; k++) {
		int ret;

		snprintf(path, sizeof(path), SCHEME "/tried_regions/%lu/%s", i, f[k]);
		if ((ret = getul(path, &v[k])))
			return ret;
	}
	*r = (struct damon_region){ v[0], v[1], v[2], v[3] };
	return 0;
}

static int cmp_region(const void *a, const void *b)
{
	const struct damon_region *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

int damon_snapshot(struct damon_region **out, size_t *nr, char *why, size_t n)
{
	struct damon_region *v = NULL;
	size_t cnt = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int ret;

	/* returns once the kdamond has applied the scheme at the end of an aggregation */
	if ((ret = put(KD "/state", "update_schemes_tried_regions"))) {
		why_set(why, n, "update_schemes_tried_regions: %s", strerror(-ret));
		return ret;
	}
	d = opendir(SCHEME "/tried_regions");
	if (!d) {
		ret = -errno;
		why_set(why, n, "%s: %s", SCHEME "/tried_regions", strerror(-ret));
		return ret;
	}
	while ((de = readdir(d))) {
		struct damon_region r;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		ret = read_region(strtoul(de->d_name, NULL, 10), &r);
		if (ret)
			continue; /* replaced under us: skip it */
		if (cnt == cap) {
			void *p = realloc(v, (cap = cap ? 2 * cap : 1024) * sizeof(*v));

			if (!p) {
				closedir(d);
				free(v);
				why_set(why, n, "out of memory");
				return -ENOMEM;
			}
			v = p;
		}
		v[cnt++] = r;
	}
	closedir(d);
	qsort(v, cnt, sizeof(*v), cmp_region);
	*out = v;
	*nr = cnt;
	return 0;
}

void damon_stop(void)
{
	if (started) {
		put(KD "/state", "off");
		put(KDS "/nr_kdamonds", "0");
		started = false;
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
	}
	if (stat_was_on) {
		put(STAT_PARAM, "Y");
		stat_was_on = false;
	}
}
