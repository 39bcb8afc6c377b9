// SPDX-License-Identifier: MIT
/*
 * A short run of a phases guest, checked from the outside: guest-run PROGRAM [OPTIONS]
 * runs rwp-vm or rwp-demo-threads with OPTIONS plus --json and --quiet, then asserts from
 * its exit status and JSON that every page was verified good, that pages were evicted
 * and fetched back, and that the measured working set follows the phases: each phase's
 * median WSS(1) is near the pages it touches, so it changes from phase to phase.
 * Exit 3 from the program (no usable KVM) skips.
 */
#define _GNU_SOURCE
#include "../lib/tap.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

TAP_DEFINE;

#define NO_KVM 3
/* A phase's median WSS(1) must be within these factors of the pages it touches. */
#define WSS_LOW 0.8
#define WSS_HIGH 1.5

static int run(char **argv, const char *json)
{
	int argc = 0, status;
	char **args;
	pid_t pid;

	while (argv[argc])
		argc++;
	args = calloc(argc + 4, sizeof(*args));
	if (!args)
		return -ENOMEM;
	memcpy(args, argv, argc * sizeof(*args));
	args[argc++] = (char *)"--json";
	args[argc++] = (char *)json;
	args[argc++] = (char *)"--quiet";
	pid = fork();
	if (pid == 0) {
		dup2(STDERR_FILENO, STDOUT_FILENO); /* stdout is TAP */
		execv(args[0], args);
		_exit(127);
	}
	free(args);
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static struct json_object *get(struct json_object *o, const char *path)
{
	char key[64];
	const char *dot;

	while (o && (dot = strchr(path, '.'))) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		if (!json_object_object_get_ex(o, key, &o))
			return NULL;
		path = dot + 1;
	}
	return o && json_object_object_get_ex(o, path, &o) ? o : NULL;
}

static int64_t num(struct json_object *o, const char *path)
{
	return json_object_get_int64(get(o, path));
}

static int cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Median WSS(1) of the intervals of phase p, or -1 if fewer than two. */
static int64_t median_wss(struct json_object *iv, int p)
{
	size_t n = json_object_array_length(iv), k = 0;
	int64_t *w = calloc(n + 1, sizeof(*w)), m = -1;

	for (size_t i = 0; w && i < n; i++) {
		struct json_object *s = json_object_array_get_idx(iv, i);

		if (num(s, "phase") == p)
			w[k++] = num(s, "wss1");
	}
	if (k >= 2) {
		qsort(w, k, sizeof(*w), cmp);
		m = w[k / 2];
	}
	free(w);
	return m;
}

static bool phases_followed(struct json_object *root)
{
	struct json_object *iv = get(root, "intervals"), *ph = get(root, "phases");
	int64_t prev = -1, seen = 0;
	bool ok = true;

	for (size_t p = 1; p < json_object_array_length(ph); p++) {
		struct json_object *phase = json_object_array_get_idx(ph, p);
		int64_t pages = num(phase, "pages"), m = median_wss(iv, p);

		if (m < 0) {
			tap_diag("phase %zu (%s): too few intervals to judge", p,
				 json_object_get_string(get(phase, "name")));
			continue;
		}
		tap_diag("phase %zu (%s): touches %lld pages, median WSS(1) %lld", p,
			 json_object_get_string(get(phase, "name")), (long long)pages,
			 (long long)m);
		ok &= m >= pages * WSS_LOW && m <= pages * WSS_HIGH && m != prev;
		prev = m;
		seen++;
	}
	return ok && seen >= 3;
}

int main(int argc, char **argv)
{
	char json[] = "/tmp/rwp-guest-run-XXXXXX";
	struct json_object *root = NULL;
	int fd, rc;

	tap_init();
	if (argc < 2) {
		fprintf(stderr, "usage: guest-run PROGRAM [OPTIONS]\n");
		return 2;
	}
	fd = mkstemp(json);
	if (fd < 0) {
		tap_ok(false, "temporary file: %s", strerror(errno));
		return tap_done();
	}
	close(fd);
	rc = run(argv + 1, json);
	if (rc == NO_KVM) {
		tap_skip("a guest run", "%s: no usable KVM", argv[1]);
		goto out;
	}
	tap_ok(rc == 0, "%s exits 0 (got %d)", argv[1], rc);
	root = json_object_from_file(json);
	if (!root) {
		tap_ok(false, "JSON written: %s", json_util_get_last_err());
		goto out;
	}
	tap_diag("%lld intervals, backend %s, %lld sweeps",
		 (long long)num(root, "summary.intervals"),
		 json_object_get_string(get(root, "config.backend")),
		 (long long)num(root, "summary.guest.sweeps"));
	tap_ok(!strcmp(json_object_get_string(get(root, "summary.verdict")), "good") &&
		       num(root, "summary.check.bad") == 0 && num(root, "summary.guest.bad") == 0 &&
		       num(root, "summary.check.pages") == num(root, "config.data_pages"),
	       "integrity good: %lld pages checked, %lld bad; the guest found %lld bad",
	       (long long)num(root, "summary.check.pages"),
	       (long long)num(root, "summary.check.bad"),
	       (long long)num(root, "summary.guest.bad"));
	tap_ok(num(root, "summary.stats.evicted_total") > 0 &&
		       num(root, "summary.stats.fetched") > 0,
	       "pages were evicted (%lld) and fetched back on faults (%lld)",
	       (long long)num(root, "summary.stats.evicted_total"),
	       (long long)num(root, "summary.stats.fetched"));
	tap_ok(phases_followed(root), "WSS(1) follows the phases (median within %.1f-%.1fx of "
				      "the pages each touches)", WSS_LOW, WSS_HIGH);
out:
	json_object_put(root);
	unlink(json);
	return tap_done();
}
