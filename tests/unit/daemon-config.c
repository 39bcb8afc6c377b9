// SPDX-License-Identifier: MIT
/*
 * rwpd's configuration parser (daemon/config.c): the shipped example (as it is, and with
 * its commented settings enabled), defaults, per-guest overrides, and every kind of error
 * with the line it names. argv[1]: daemon/rwpd.conf.example.
 */
#define _GNU_SOURCE
#include "../../daemon/config.h"
#include "../lib/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

TAP_DEFINE;

static struct rwpd_config c;

static int parse(const char *text, char *err, size_t errlen)
{
	return rwpd_config_parse(text, strlen(text), &c, err, errlen);
}

/* The example with its "#key = value" and "#[guest ...]" lines enabled. */
static char *uncomment(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1024], *out = calloc(1, 1 << 16);
	size_t o = 0;

	if (!f || !out) {
		if (f)
			fclose(f);
		free(out);
		return NULL;
	}
	while (fgets(line, sizeof(line), f)) {
		const char *s = line;

		if (line[0] == '#' && (line[1] == '[' || (line[1] >= 'a' && line[1] <= 'z')))
			s++;
		o += snprintf(out + o, (1 << 16) - o, "%s", s);
	}
	fclose(f);
	return out;
}

static void example(const char *path)
{
	struct rwpd_policy_conf pol;
	char err[256];
	char *all;
	int ret;

	ret = rwpd_config_load(path, &c, err, sizeof(err));
	tap_ok(!ret && c.nr_tiers == 0 && c.nr_fc == 0 && c.nr_guests == 0 &&
	       !strcmp(c.socket, "/run/rwpd/rwpd.sock") && c.policy.interval_ms == 1000,
	       "the example as shipped %s", err);

	all = uncomment(path);
	ret = all ? parse(all, err, sizeof(err)) : -ENOMEM;
	tap_ok(!ret && c.nr_tiers == 2 && c.tiers[0].kind == RWPD_TIER_ZRAM_LZ4 &&
	       c.tiers[0].max_bytes == 2ULL << 30 && c.tiers[0].demote_age == 120 &&
	       c.tiers[1].kind == RWPD_TIER_FILE &&
	       !strcmp(c.tiers[1].target, "/var/lib/rwpd/swap") &&
	       c.tiers[1].max_bytes == 64ULL << 30 && c.nr_fc == 1 &&
	       !strcmp(c.fc[0].socket, "/run/rwpd/fc-web1.sock") &&
	       !strcmp(c.fc[0].mem_file, "/srv/snapshots/web1/mem") && c.nr_guests == 2,
	       "the example with every setting enabled %s", err);
	rwpd_config_policy(&c, "db1", &pol);
	tap_ok(pol.min_idle == 120 && pol.target_resident == 8ULL << 30 &&
	       pol.interval_ms == 1000 && pol.refault_ppm == 2000,
	       "[guest db1] overrides min_idle and target_resident only");
	rwpd_config_policy(&c, "batch7", &pol);
	tap_ok(pol.interval_ms == 5000 && pol.refault_ppm == 0 && pol.min_idle == 60,
	       "[guest batch7] overrides interval_ms and refault_ppm");
	rwpd_config_policy(&c, "other", &pol);
	tap_ok(pol.interval_ms == c.policy.interval_ms && pol.min_idle == c.policy.min_idle &&
	       pol.target_resident == c.policy.target_resident &&
	       pol.max_evict == c.policy.max_evict && pol.refault_ppm == c.policy.refault_ppm &&
	       !rwpd_config_guest(&c, "other"),
	       "a guest without a section gets the global policy");
	free(all);
}

static void valid(void)
{
	char err[256];
	int ret;

	ret = parse("", err, sizeof(err));
	tap_ok(!ret && c.log_level == RWP_LOG_INFO && c.policy.min_idle == 60 &&
	       c.prefetch == 4 && !strcmp(c.state_dir, "/var/lib/rwpd"),
	       "an empty file gives the defaults");

	ret = parse("# rwpd\r\n"
		    "socket=/tmp/r.sock\r\n"
		    "\t state_dir =  /srv/rwpd  # where state lives\n"
		    "ws_dir = /srv/ws#1\n"
		    "log_level = debug\n"
		    "interval_ms = 3600000\n"
		    "min_idle = 127\n"
		    "target_resident = 1t\n"
		    "max_evict = 1099511627776\n"
		    "refault_ppm = 1000000\n"
		    "prefetch = 0\n"
		    "tier = zram-zstd , max=512M , demote=3\n"
		    "tier = nbd:nbd+unix:///swap?socket=/run/nbd.sock,demote=127\n"
		    "tier = nbd:nbd://10.0.0.1:10809/e\n"
		    "firecracker = /run/fc.sock=/srv/a=b/mem\n"
		    "firecracker = /run/fc2.sock = /srv/a=b/mem\n"
		    "[ guest   vm-1 ]\n"
		    "interval_ms = 10\n"
		    "[guest vm-2]", /* no final newline */
		    err, sizeof(err));
	tap_ok(!ret && !strcmp(c.socket, "/tmp/r.sock") && !strcmp(c.state_dir, "/srv/rwpd") &&
	       !strcmp(c.ws_dir, "/srv/ws#1") && c.log_level == RWP_LOG_DEBUG &&
	       c.policy.interval_ms == 3600000 && c.policy.min_idle == 127 &&
	       c.policy.target_resident == 1ULL << 40 && c.policy.max_evict == 1ULL << 40 &&
	       c.policy.refault_ppm == 1000000 && c.prefetch == 0,
	       "every key at its limits, CRLF, blanks, comments %s", err);
	tap_ok(!ret && c.nr_tiers == 3 && c.tiers[0].kind == RWPD_TIER_ZRAM_ZSTD &&
	       c.tiers[0].max_bytes == 512 << 20 && c.tiers[0].demote_age == 3 &&
	       c.tiers[1].kind == RWPD_TIER_NBD &&
	       !strcmp(c.tiers[1].target, "nbd+unix:///swap?socket=/run/nbd.sock") &&
	       c.tiers[1].demote_age == 127 && c.tiers[2].line == 14,
	       "tiers in chain order with their options");
	tap_ok(!ret && c.nr_fc == 2 && !strcmp(c.fc[0].mem_file, "/srv/a=b/mem") &&
	       !strcmp(c.fc[1].socket, "/run/fc2.sock") && c.nr_guests == 2 &&
	       !strcmp(c.guests[0].name, "vm-1") && c.guests[0].policy.interval_ms == 10 &&
	       c.guests[0].policy.set == RWPD_CONF_INTERVAL && c.guests[1].policy.set == 0,
	       "firecracker split at the first '=', guest sections");
}

static const struct {
	const char *text;
	unsigned int line;
	const char *says;
} bad[] = {
	{ "bogus = 1\n", 1, "unknown key 'bogus'" },
	{ "\n\n# c\n  interval_ms 1000\n", 4, "expected 'key = value'" },
	{ "interval_ms =\n", 1, "has no value" },
	{ " = 3\n", 1, "unknown key ''" },
	{ "interval_ms = 0\n", 1, "out of range" },
	{ "interval_ms = 3600001\n", 1, "out of range" },
	{ "interval_ms = 10ms\n", 1, "not a number" },
	{ "interval_ms = -5\n", 1, "not a number" },
	{ "interval_ms = +5\n", 1, "not a number" },
	{ "interval_ms = 99999999999999999999999\n", 1, "out of range" },
	{ "min_idle = 128\n", 1, "out of range" },
	{ "min_idle = 0\n", 1, "out of range" },
	{ "refault_ppm = 1000001\n", 1, "out of range" },
	{ "prefetch = 9\n", 1, "out of range" },
	{ "[guest a]\nprefetch = 2\n", 2, "cannot be set in a [guest] section" },
	{ "max_evict = 1099511627777\n", 1, "out of range" },
	{ "max_evict = 1K\n", 1, "not a number" },
	{ "target_resident = 4X\n", 1, "not a size" },
	{ "target_resident = 4KB\n", 1, "not a size" },
	{ "target_resident = G\n", 1, "not a size" },
	{ "target_resident = 2048T\n", 1, "out of range" },
	{ "target_resident = 18446744073709551615K\n", 1, "out of range" },
	{ "interval_ms = 5\ninterval_ms = 6\n", 2, "already set on line 1" },
	{ "log_level = loud\n", 1, "log_level 'loud'" },
	{ "socket = run/rwpd.sock\n", 1, "not an absolute path" },
	{ "socket = /run/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.sock\n", 1, "at most 107" },
	{ "state_dir = /a\tb\n", 1, "control character" },
	{ "tier = zram\n", 1, "zram-lz4, zram-zstd, file:PATH or nbd:URI" },
	{ "tier = file:relative\n", 1, "not an absolute path" },
	{ "tier = file:\n", 1, "not an absolute path" },
	{ "tier = nbd:http://x/y\n", 1, "not an nbd:// URI" },
	{ "tier = nbd:nbd://a b/c\n", 1, "blank or control" },
	{ "tier = zram-lz4,max=0\n", 1, "out of range" },
	{ "tier = zram-lz4,max=1G,max=2G\n", 1, "max given twice" },
	{ "tier = zram-lz4,demote=0\ntier = zram-zstd\n", 1, "out of range" },
	{ "tier = zram-lz4,demote=128\ntier = zram-zstd\n", 1, "out of range" },
	{ "tier = zram-lz4,size=1G\n", 1, "unknown tier option 'size'" },
	{ "tier = zram-lz4,\n", 1, "expected max=SIZE or demote=AGE" },
	{ "tier = zram-lz4\ntier = zram-lz4\n", 2, "the same tier as on line 1" },
	{ "tier = zram-lz4\ntier = zram-zstd\ntier = file:/a\ntier = file:/b\ntier = file:/c\n", 5,
	  "more than 4 tiers" },
	{ "tier = zram-lz4\n\ntier = file:/s,demote=5\n", 3, "demote= on the last tier" },
	{ "firecracker = /run/fc.sock\n", 1, "SOCKET_PATH=MEMORY_FILE_PATH" },
	{ "firecracker = /run/fc.sock=mem\n", 1, "not an absolute path" },
	{ "firecracker = /a=/m\nfirecracker = /a=/n\n", 2, "already on line 1" },
	{ "socket = /r.sock\n\nfirecracker = /r.sock=/m\n", 3, "rwpd's own socket" },
	{ "[guest]\n", 1, "without a name" },
	{ "[guest ]\n", 1, "without a name" },
	{ "[host x]\n", 1, "unknown section" },
	{ "[guest x\n", 1, "without its ']'" },
	{ "[guest a b]\n", 1, "without blanks" },
	{ "[guest 0123456789012345678901234567890123]\n", 1, "at most 31" },
	{ "[guest a]\n[guest a]\n", 2, "already on line 1" },
	{ "[guest a]\nsocket = /x\n", 2, "cannot be set in a [guest] section" },
	{ "[guest a]\ntier = zram-lz4\n", 2, "cannot be set in a [guest] section" },
	{ "[guest a]\nmin_idle = 3\nmin_idle = 4\n", 3, "already set on line 2" },
	{ "ws_dir = /a\n\0ws_dir = /b\n", 2, "NUL byte" },
};

static void errors(void)
{
	char err[256], want[64];
	size_t len;
	int ret;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		len = strlen(bad[i].text);
		if (strstr(bad[i].says, "NUL"))
			len += 1 + strlen(bad[i].text + len + 1);
		err[0] = '\0';
		ret = rwpd_config_parse(bad[i].text, len, &c, err, sizeof(err));
		snprintf(want, sizeof(want), "line %u: ", bad[i].line);
		tap_ok(ret == -EINVAL && !strncmp(err, want, strlen(want)) &&
		       strstr(err, bad[i].says), "error \"%s\" (%s)", bad[i].says, err);
	}

	{
		static char longline[RWPD_CONF_LINE_MAX + 64];

		memset(longline, ' ', sizeof(longline) - 2);
		longline[sizeof(longline) - 2] = '\n';
		ret = rwpd_config_parse(longline, sizeof(longline) - 1, &c, err, sizeof(err));
		tap_ok(ret == -EINVAL && strstr(err, "line 1: longer than"), "a line too long (%s)",
		       err);
	}
	ret = rwpd_config_parse("bogus\n", 6, &c, NULL, 0);
	tap_ok(ret == -EINVAL, "no error buffer");
	ret = rwpd_config_parse("bogus\n", 6, &c, err, 12);
	tap_ok(ret == -EINVAL && strlen(err) == 11, "a short error buffer is cut, terminated");
}

static void files(void)
{
	char path[] = "/tmp/rwpd-conf-XXXXXX", err[256];
	int fd, ret;

	ret = rwpd_config_load("/nonexistent/rwpd.conf", &c, err, sizeof(err));
	tap_ok(ret == -ENOENT && strstr(err, "/nonexistent/rwpd.conf: "),
	       "a missing file: -ENOENT with its path (%s)", err);
	ret = rwpd_config_load("/tmp", &c, err, sizeof(err));
	tap_ok(ret == -EINVAL && strstr(err, "not a regular file"), "a directory (%s)", err);

	fd = mkstemp(path);
	if (fd < 0 || write(fd, "min_idle = 5\nmax_evict = x\n", 27) != 27)
		return;
	ret = rwpd_config_load(path, &c, err, sizeof(err));
	tap_ok(ret == -EINVAL && !strncmp(err, path, strlen(path)) &&
	       strstr(err, ": line 2: max_evict 'x' is not a number"),
	       "a file's error names the path and the line (%s)", err);
	ftruncate(fd, RWPD_CONF_FILE_MAX + 1);
	ret = rwpd_config_load(path, &c, err, sizeof(err));
	tap_ok(ret == -EFBIG, "a file over 1 MiB: -EFBIG (%s)", err);
	close(fd);
	unlink(path);
}

int main(int argc, char **argv)
{
	tap_init();
	if (argc > 1)
		example(argv[1]);
	else
		tap_skip("the shipped example", "no path given");
	valid();
	errors();
	files();
	return tap_done();
}
