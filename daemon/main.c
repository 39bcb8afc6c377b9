// SPDX-License-Identifier: MIT
/* rwpd: options, configuration, logging, then the main loop. */
#include "rwpd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = { "error", "warning", "info", "debug" };

double rwpd_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void rwpd_log(struct rwpd *d, enum rwp_log_level lvl, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (lvl > d->log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "rwpd[%d] %s: %s\n", (int)getpid(), level_names[lvl], msg);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: rwpd [-c CONFIG] [--socket PATH] [--state-dir DIR] [--ws-dir DIR]\n"
		   "            [--log-level err|warn|info|debug] [--version]\n"
		   "Manages VM guest memory handed over by VMMs: tracking, eviction, fetch.\n"
		   "See rwpd(8) and rwp-protocol(7).\n");
}

static int mkdirs(const char *path)
{
	char tmp[RWPD_CONF_PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(tmp, 0700) && errno != EEXIST ? -errno : 0;
}

/*
 * One rwpd per state directory: two would recover, evict into and remove each other's
 * guests. The lock goes with the process, however it dies.
 */
static int lock_state_dir(const char *state_dir)
{
	char path[RWPD_CONF_PATH_MAX + 16];
	int fd;

	snprintf(path, sizeof(path), "%s/rwpd.lock", state_dir);
	fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int err = errno == EWOULDBLOCK ? EBUSY : errno;

		close(fd);
		return -err;
	}
	return fd; /* held for the life of the process */
}

/* Guest ids go on where the last rwpd left them: their state directories are named so. */
static uint64_t last_guest_id(const char *state_dir)
{
	DIR *dir = opendir(state_dir);
	struct dirent *e;
	uint64_t max = 0;

	if (!dir)
		return 0;
	while ((e = readdir(dir))) {
		unsigned long long id;

		if (sscanf(e->d_name, "guest-%llu", &id) == 1 && id > max)
			max = id;
	}
	closedir(dir);
	return max;
}

static int parse_level(const char *s, enum rwp_log_level *out)
{
	static const char *const short_names[] = { "err", "warn", "info", "debug" };

	for (int i = 0; i < 4; i++) {
		if (!strcmp(s, level_names[i]) || !strcmp(s, short_names[i])) {
			*out = i;
			return 0;
		}
	}
	return -EINVAL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "ws-dir", required_argument, NULL, 'w' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *socket = NULL, *state = NULL, *ws = NULL, *level = NULL;
	static struct rwpd d;
	char err[512];
	int c, ret;

	rwpd_config_defaults(&d.cfg);
	while ((c = getopt_long(argc, argv, "c:s:d:w:l:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			d.config_path = optarg;
			break;
		case 's':
			socket = optarg;
			break;
		case 'd':
			state = optarg;
			break;
		case 'w':
			ws = optarg;
			break;
		case 'l':
			level = optarg;
			break;
		case 'V':
			printf("rwpd %s\n", RWPD_VERSION_STRING);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	if (d.config_path && rwpd_config_load(d.config_path, &d.cfg, err, sizeof(err))) {
		fprintf(stderr, "rwpd: %s\n", err);
		return 2;
	}
	/* the command line wins over the file */
	if (socket)
		snprintf(d.cfg.socket, sizeof(d.cfg.socket), "%s", socket);
	if (state)
		snprintf(d.cfg.state_dir, sizeof(d.cfg.state_dir), "%s", state);
	if (ws)
		snprintf(d.cfg.ws_dir, sizeof(d.cfg.ws_dir), "%s", ws);
	d.log_level = d.cfg.log_level;
	if (level && parse_level(level, &d.log_level)) {
		fprintf(stderr, "rwpd: --log-level: %s is not err, warn, info or debug\n", level);
		return 2;
	}
	if ((ret = mkdirs(d.cfg.state_dir)) || (ret = mkdirs(d.cfg.ws_dir))) {
		fprintf(stderr, "rwpd: state directories: %s\n", strerror(-ret));
		return 1;
	}
	ret = lock_state_dir(d.cfg.state_dir);
	if (ret < 0) {
		fprintf(stderr, "rwpd: state directory %s: %s\n", d.cfg.state_dir,
			ret == -EBUSY ? "another rwpd serves it" : strerror(-ret));
		return 1;
	}
	d.started = rwpd_now();
	d.next_id = last_guest_id(d.cfg.state_dir);
	pthread_mutex_init(&d.lock, NULL);
	ret = rwpd_run(&d);
	if (ret) {
		fprintf(stderr, "rwpd: %s\n", strerror(-ret));
		return 1;
	}
	return 0;
}
