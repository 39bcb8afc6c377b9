// SPDX-License-Identifier: MIT
/*
 * rwpd's configuration parser. The parse works on a line at a time, copied into a
 * bounded buffer, so nothing depends on the input being NUL-terminated; every error
 * names its line, and a value is range-checked where it is read.
 */
#define _GNU_SOURCE
#include "config.h"
#include "../lib/proto/codec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SIZE_MAX_CONF (1ULL << 50) /* 1 PiB: more is a typo */
#define MAX_EVICT_MAX (1ULL << 40) /* pages */

enum key_id {
	K_SOCKET,
	K_STATE_DIR,
	K_WS_DIR,
	K_LOG_LEVEL,
	K_INTERVAL,
	K_MIN_IDLE,
	K_TARGET,
	K_MAX_EVICT,
	K_REFAULT,
	K_PREFETCH,
	K_TIER,
	K_FIRECRACKER,
	NR_KEYS
};

struct parser {
	struct rwpd_config *c;
	char *err;
	size_t errlen;
	unsigned int line;
	struct rwpd_guest_conf *guest;	/* the [guest] section being read; NULL: global */
	unsigned int seen[NR_KEYS];	/* line where each key was set in this section */
	unsigned int tier_line[RWP_TIERS_MAX];
	char buf[RWPD_CONF_LINE_MAX + 1];
};

__attribute__((format(printf, 2, 3))) static int perr(struct parser *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!p->errlen)
		return -EINVAL;
	n = snprintf(p->err, p->errlen, "line %u: ", p->line);
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < p->errlen)
		(void)vsnprintf(p->err + n, p->errlen - n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static char *trim(char *s)
{
	size_t n;

	while (is_blank(*s))
		s++;
	n = strlen(s);
	while (n && is_blank(s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* Decimal digits, then *end: 0, -EINVAL (no digits), -ERANGE (over 64 bits). */
static int parse_digits(const char *s, uint64_t *v, const char **end)
{
	uint64_t x = 0;

	*v = 0;
	if (!is_digit(*s))
		return -EINVAL;
	for (; is_digit(*s); s++) {
		unsigned int d = *s - '0';

		if (x > (UINT64_MAX - d) / 10)
			return -ERANGE;
		x = x * 10 + d;
	}
	*v = x;
	*end = s;
	return 0;
}

static int get_uint(struct parser *p, const char *key, const char *s, uint64_t min,
		    uint64_t max, uint64_t *v)
{
	const char *end;
	int ret = parse_digits(s, v, &end);

	if (ret == -ERANGE || (!ret && !*end && (*v < min || *v > max)))
		return perr(p, "%s '%s' out of range [%llu, %llu]", key, s,
			    (unsigned long long)min, (unsigned long long)max);
	if (ret || *end)
		return perr(p, "%s '%s' is not a number", key, s);
	return 0;
}

/* A byte count with an optional binary suffix K, M, G or T. */
static int get_size(struct parser *p, const char *key, const char *s, uint64_t min,
		    uint64_t *v)
{
	static const char units[] = "KMGT";
	unsigned int shift = 0;
	const char *end, *u;
	int ret = parse_digits(s, v, &end);

	if (!ret && *end) {
		u = strchr(units, *end & ~0x20); /* upper case */
		if (!u || !*u || end[1])
			return perr(p, "%s '%s' is not a size (a number, then K, M, G or T)",
				    key, s);
		shift = 10 * (unsigned int)(u - units + 1);
	}
	if (ret == -EINVAL)
		return perr(p, "%s '%s' is not a size (a number, then K, M, G or T)", key, s);
	if (ret || *v > SIZE_MAX_CONF >> shift || (*v << shift) < min)
		return perr(p, "%s '%s' out of range [%llu, 1P]", key, s,
			    (unsigned long long)min);
	*v <<= shift;
	return 0;
}

/* An absolute path of printable characters that fits max bytes with its NUL. */
static int get_path(struct parser *p, const char *key, const char *s, char *dst, size_t max)
{
	size_t i, n = strlen(s);

	if (s[0] != '/')
		return perr(p, "%s '%s' is not an absolute path", key, s);
	if (n >= max)
		return perr(p, "%s is %zu bytes long, at most %zu", key, n, max - 1);
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return perr(p, "%s has a control character", key);
	memcpy(dst, s, n + 1);
	return 0;
}

static int set_log_level(struct parser *p, char *v)
{
	static const struct { const char *name; enum rwp_log_level level; } levels[] = {
		{ "err", RWP_LOG_ERR },	  { "error", RWP_LOG_ERR }, { "warn", RWP_LOG_WARN },
		{ "warning", RWP_LOG_WARN }, { "info", RWP_LOG_INFO }, { "debug", RWP_LOG_DEBUG },
	};
	size_t i;

	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (!strcmp(v, levels[i].name)) {
			p->c->log_level = levels[i].level;
			return 0;
		}
	return perr(p, "log_level '%s': one of err, warn, info, debug", v);
}

/* ",max=SIZE" and ",demote=AGE" after a tier's kind */
static int tier_option(struct parser *p, struct rwpd_tier_conf *t, char *opt, bool *has_max,
		       bool *has_demote)
{
	char *val = strchr(opt, '=');
	uint64_t v;
	int ret;

	if (!val)
		return perr(p, "tier option '%s': expected max=SIZE or demote=AGE", opt);
	*val++ = '\0';
	if (!strcmp(opt, "max")) {
		if (*has_max)
			return perr(p, "tier option max given twice");
		*has_max = true;
		ret = get_size(p, "tier max", val, 1, &t->max_bytes);
	} else if (!strcmp(opt, "demote")) {
		if (*has_demote)
			return perr(p, "tier option demote given twice");
		*has_demote = true;
		ret = get_uint(p, "tier demote", val, 1, RWPD_MIN_IDLE_MAX, &v);
		if (!ret)
			t->demote_age = (unsigned int)v;
	} else {
		ret = perr(p, "unknown tier option '%s' (max, demote)", opt);
	}
	return ret;
}

static int tier_target(struct parser *p, struct rwpd_tier_conf *t, const char *spec)
{
	size_t i;

	if (!strcmp(spec, "zram-lz4")) {
		t->kind = RWPD_TIER_ZRAM_LZ4;
		return 0;
	}
	if (!strcmp(spec, "zram-zstd")) {
		t->kind = RWPD_TIER_ZRAM_ZSTD;
		return 0;
	}
	if (strncmp(spec, "file:", 5) == 0) {
		t->kind = RWPD_TIER_FILE;
		return get_path(p, "tier file", spec + 5, t->target, sizeof(t->target));
	}
	if (strncmp(spec, "nbd:", 4) != 0)
		return perr(p, "tier '%s': zram-lz4, zram-zstd, file:PATH or nbd:URI", spec);
	t->kind = RWPD_TIER_NBD;
	spec += 4;
	/* nbd://, nbds://, nbd+unix://, ... (libnbd's URIs) */
	if (strncmp(spec, "nbd", 3) != 0 || !strstr(spec, "://"))
		return perr(p, "tier nbd URI '%s' is not an nbd:// URI", spec);
	if (strlen(spec) >= sizeof(t->target))
		return perr(p, "tier nbd URI is longer than %zu bytes", sizeof(t->target) - 1);
	for (i = 0; spec[i]; i++)
		if ((unsigned char)spec[i] <= 0x20 || spec[i] == 0x7f)
			return perr(p, "tier nbd URI has a blank or control character");
	strcpy(t->target, spec);
	return 0;
}

/* KIND[:TARGET][,max=SIZE][,demote=AGE]; a path or URI cannot hold a ','. */
static int set_tier(struct parser *p, char *v)
{
	struct rwpd_config *c = p->c;
	struct rwpd_tier_conf *t;
	bool has_max = false, has_demote = false;
	char *opt, *next;
	unsigned int i;
	int ret;

	if (c->nr_tiers == RWP_TIERS_MAX)
		return perr(p, "more than %d tiers", RWP_TIERS_MAX);
	t = &c->tiers[c->nr_tiers];
	memset(t, 0, sizeof(*t));
	next = strchr(v, ',');
	if (next)
		*next++ = '\0';
	ret = tier_target(p, t, trim(v));
	while (!ret && next) {
		opt = next;
		next = strchr(opt, ',');
		if (next)
			*next++ = '\0';
		ret = tier_option(p, t, trim(opt), &has_max, &has_demote);
	}
	if (ret)
		return ret;
	for (i = 0; i < c->nr_tiers; i++)
		if (c->tiers[i].kind == t->kind && !strcmp(c->tiers[i].target, t->target))
			return perr(p, "the same tier as on line %u", c->tiers[i].line);
	t->line = p->line;
	c->nr_tiers++;
	return 0;
}

/* SOCKET_PATH=MEMORY_FILE_PATH, split at the first '=' */
static int set_firecracker(struct parser *p, char *v)
{
	struct rwpd_config *c = p->c;
	struct rwpd_fc_conf *f;
	char *mem = strchr(v, '=');
	unsigned int i;
	int ret;

	if (!mem)
		return perr(p, "firecracker '%s': expected SOCKET_PATH=MEMORY_FILE_PATH", v);
	*mem++ = '\0';
	if (c->nr_fc == RWPD_CONF_MAX_FC)
		return perr(p, "more than %d firecracker sockets", RWPD_CONF_MAX_FC);
	f = &c->fc[c->nr_fc];
	ret = get_path(p, "firecracker socket", trim(v), f->socket, sizeof(f->socket));
	if (!ret)
		ret = get_path(p, "firecracker memory file", trim(mem), f->mem_file,
			       sizeof(f->mem_file));
	if (ret)
		return ret;
	for (i = 0; i < c->nr_fc; i++)
		if (!strcmp(c->fc[i].socket, f->socket))
			return perr(p, "firecracker socket %s already on line %u", f->socket,
				    c->fc[i].line);
	f->line = p->line;
	c->nr_fc++;
	return 0;
}

static struct rwpd_policy_conf *section_policy(struct parser *p)
{
	return p->guest ? &p->guest->policy : &p->c->policy;
}

static int set_key(struct parser *p, enum key_id k, const char *key, char *v)
{
	struct rwpd_policy_conf *pol = section_policy(p);
	struct rwpd_config *c = p->c;
	uint64_t x;
	int ret;

	switch (k) {
	case K_SOCKET:
		return get_path(p, key, v, c->socket, sizeof(c->socket));
	case K_STATE_DIR:
		return get_path(p, key, v, c->state_dir, sizeof(c->state_dir));
	case K_WS_DIR:
		return get_path(p, key, v, c->ws_dir, sizeof(c->ws_dir));
	case K_LOG_LEVEL:
		return set_log_level(p, v);
	case K_PREFETCH:
		ret = get_uint(p, key, v, 0, RWPD_PREFETCH_MAX, &x);
		if (!ret)
			c->prefetch = (unsigned int)x;
		return ret;
	case K_TIER:
		return set_tier(p, v);
	case K_FIRECRACKER:
		return set_firecracker(p, v);
	case K_INTERVAL:
		ret = get_uint(p, key, v, 1, RWPD_INTERVAL_MS_MAX, &x);
		if (!ret)
			pol->interval_ms = (uint32_t)x;
		pol->set |= RWPD_CONF_INTERVAL;
		return ret;
	case K_MIN_IDLE:
		ret = get_uint(p, key, v, 1, RWPD_MIN_IDLE_MAX, &x);
		if (!ret)
			pol->min_idle = (uint32_t)x;
		pol->set |= RWPD_CONF_MIN_IDLE;
		return ret;
	case K_TARGET:
		pol->set |= RWPD_CONF_TARGET;
		return get_size(p, key, v, 0, &pol->target_resident);
	case K_MAX_EVICT:
		pol->set |= RWPD_CONF_MAX_EVICT;
		return get_uint(p, key, v, 0, MAX_EVICT_MAX, &pol->max_evict);
	case K_REFAULT:
		ret = get_uint(p, key, v, 0, RWPD_REFAULT_PPM_MAX, &x);
		if (!ret)
			pol->refault_ppm = (uint32_t)x;
		pol->set |= RWPD_CONF_REFAULT;
		return ret;
	case NR_KEYS:
		break;
	}
	return -EINVAL;
}

#define GLOBAL_ONLY 1u /* not in a [guest] section */
#define REPEAT 2u      /* may be given more than once, in order */

static const struct key {
	const char *name;
	unsigned int flags;
} keys[NR_KEYS] = {
	[K_SOCKET] = { "socket", GLOBAL_ONLY },
	[K_STATE_DIR] = { "state_dir", GLOBAL_ONLY },
	[K_WS_DIR] = { "ws_dir", GLOBAL_ONLY },
	[K_LOG_LEVEL] = { "log_level", GLOBAL_ONLY },
	[K_INTERVAL] = { "interval_ms", 0 },
	[K_MIN_IDLE] = { "min_idle", 0 },
	[K_TARGET] = { "target_resident", 0 },
	[K_MAX_EVICT] = { "max_evict", 0 },
	[K_REFAULT] = { "refault_ppm", 0 },
	[K_PREFETCH] = { "prefetch", GLOBAL_ONLY },
	[K_TIER] = { "tier", GLOBAL_ONLY | REPEAT },
	[K_FIRECRACKER] = { "firecracker", GLOBAL_ONLY | REPEAT },
};

static int key_value(struct parser *p, char *s)
{
	char *eq = strchr(s, '=');
	char *key, *val;
	unsigned int k;

	if (!eq)
		return perr(p, "expected 'key = value' or '[guest NAME]'");
	*eq = '\0';
	key = trim(s);
	val = trim(eq + 1);
	for (k = 0; k < NR_KEYS; k++)
		if (!strcmp(key, keys[k].name))
			break;
	if (k == NR_KEYS)
		return perr(p, "unknown key '%s'", key);
	if ((keys[k].flags & GLOBAL_ONLY) && p->guest)
		return perr(p, "%s cannot be set in a [guest] section", key);
	if (!*val)
		return perr(p, "%s has no value", key);
	if (p->seen[k] && !(keys[k].flags & REPEAT))
		return perr(p, "%s already set on line %u", key, p->seen[k]);
	p->seen[k] = p->line;
	return set_key(p, k, key, val);
}

/* [guest NAME]: NAME as it comes in HELLO/ATTACH (printable, no blanks, < 32 bytes) */
static int section(struct parser *p, char *s)
{
	struct rwpd_config *c = p->c;
	size_t n = strlen(s), i;
	char *name;

	if (s[n - 1] != ']')
		return perr(p, "section header without its ']'");
	s[n - 1] = '\0';
	s = trim(s + 1);
	if (!strcmp(s, "guest"))
		return perr(p, "[guest] without a name");
	if (strncmp(s, "guest", 5) != 0 || !is_blank(s[5]))
		return perr(p, "unknown section '[%s]': only [guest NAME]", s);
	name = trim(s + 6);
	n = strlen(name);
	if (n >= RWPD_NAME_LEN)
		return perr(p, "guest name of %zu bytes, at most %d", n, RWPD_NAME_LEN - 1);
	for (i = 0; i < n; i++)
		if ((unsigned char)name[i] <= 0x20 || (unsigned char)name[i] >= 0x7f ||
		    name[i] == '[' || name[i] == ']')
			return perr(p, "guest name '%s': printable, without blanks or brackets",
				    name);
	for (i = 0; i < c->nr_guests; i++)
		if (!strcmp(c->guests[i].name, name))
			return perr(p, "[guest %s] already on line %u", name, c->guests[i].line);
	if (c->nr_guests == RWPD_CONF_MAX_GUESTS)
		return perr(p, "more than %d [guest] sections", RWPD_CONF_MAX_GUESTS);
	p->guest = &c->guests[c->nr_guests++];
	memset(p->guest, 0, sizeof(*p->guest));
	memcpy(p->guest->name, name, n);
	p->guest->line = p->line;
	memset(p->seen, 0, sizeof(p->seen));
	return 0;
}

static int parse_line(struct parser *p, const char *line, size_t n)
{
	char *s = p->buf;
	size_t i;

	if (n > RWPD_CONF_LINE_MAX)
		return perr(p, "longer than %d bytes", RWPD_CONF_LINE_MAX);
	if (memchr(line, '\0', n))
		return perr(p, "NUL byte");
	if (n && line[n - 1] == '\r')
		n--;
	memcpy(s, line, n);
	s[n] = '\0';
	for (i = 0; i < n; i++)
		if (s[i] == '#' && (i == 0 || is_blank(s[i - 1]))) {
			s[i] = '\0';
			break;
		}
	s = trim(s);
	if (!*s)
		return 0;
	return *s == '[' ? section(p, s) : key_value(p, s);
}

/* What can only be judged with the whole file read. */
static int check_whole(struct parser *p)
{
	struct rwpd_config *c = p->c;
	unsigned int i;

	if (c->nr_tiers && c->tiers[c->nr_tiers - 1].demote_age) {
		p->line = c->tiers[c->nr_tiers - 1].line;
		return perr(p, "demote= on the last tier: there is no tier to demote to");
	}
	for (i = 0; i < c->nr_fc; i++)
		if (!strcmp(c->fc[i].socket, c->socket)) {
			p->line = c->fc[i].line;
			return perr(p, "firecracker socket %s is rwpd's own socket", c->socket);
		}
	return 0;
}

void rwpd_config_defaults(struct rwpd_config *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->socket, "/run/rwpd/rwpd.sock");
	strcpy(c->state_dir, "/var/lib/rwpd");
	strcpy(c->ws_dir, "/var/lib/rwpd/ws");
	c->log_level = RWP_LOG_INFO;
	c->prefetch = 4;
	c->policy = (struct rwpd_policy_conf){
		.set = RWPD_CONF_INTERVAL | RWPD_CONF_MIN_IDLE | RWPD_CONF_TARGET |
		       RWPD_CONF_MAX_EVICT | RWPD_CONF_REFAULT,
		.interval_ms = 1000,
		.min_idle = 60,	      /* a minute at the default interval */
		.refault_ppm = 2000,  /* 0.2% of the WSS per minute (Google's far memory) */
	};
}

int rwpd_config_parse(const char *buf, size_t len, struct rwpd_config *c, char *err,
		      size_t errlen)
{
	struct parser p = { .c = c, .err = err, .errlen = errlen };
	const char *line = buf, *nl, *end = buf + len;
	int ret;

	rwpd_config_defaults(c);
	if (errlen)
		err[0] = '\0';
	while (line < end) {
		nl = memchr(line, '\n', end - line);
		p.line++;
		ret = parse_line(&p, line, (nl ? nl : end) - line);
		if (ret)
			return ret;
		line = nl ? nl + 1 : end;
	}
	return check_whole(&p);
}

/* The whole file into buf (RWPD_CONF_FILE_MAX + 1 bytes): its length or -errno. */
static ssize_t read_file(int fd, char *buf)
{
	struct stat st;
	size_t len = 0;
	ssize_t n;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	/* read to EOF, not st_size: the file may change while it is read */
	while (len <= RWPD_CONF_FILE_MAX) {
		n = read(fd, buf + len, RWPD_CONF_FILE_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			break;
		len += n;
	}
	return len > RWPD_CONF_FILE_MAX ? -EFBIG : (ssize_t)len;
}

int rwpd_config_load(const char *path, struct rwpd_config *c, char *err, size_t errlen)
{
	char *buf, msg[256];
	ssize_t len;
	int fd, ret;

	if (errlen)
		err[0] = '\0';
	buf = malloc(RWPD_CONF_FILE_MAX + 1);
	if (!buf)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	len = fd < 0 ? -errno : read_file(fd, buf);
	if (fd >= 0)
		close(fd);
	if (len < 0) {
		ret = (int)len;
		(void)snprintf(msg, sizeof(msg), "%s", ret == -EINVAL ? "not a regular file" :
			 ret == -EFBIG ? "larger than 1 MiB" : strerror(-ret));
	} else {
		ret = rwpd_config_parse(buf, len, c, msg, sizeof(msg));
	}
	free(buf);
	if (ret && errlen)
		(void)snprintf(err, errlen, "%s: %s", path, msg);
	return ret;
}

const struct rwpd_guest_conf *rwpd_config_guest(const struct rwpd_config *c, const char *name)
{
	unsigned int i;

	for (i = 0; i < c->nr_guests; i++)
		if (strncmp(c->guests[i].name, name, RWPD_NAME_LEN) == 0)
			return &c->guests[i];
	return NULL;
}

void rwpd_config_policy(const struct rwpd_config *c, const char *guest,
			struct rwpd_policy_conf *out)
{
	const struct rwpd_guest_conf *g = guest ? rwpd_config_guest(c, guest) : NULL;
	const struct rwpd_policy_conf *o;

	*out = c->policy;
	if (!g)
		return;
	o = &g->policy;
	if (o->set & RWPD_CONF_INTERVAL)
		out->interval_ms = o->interval_ms;
	if (o->set & RWPD_CONF_MIN_IDLE)
		out->min_idle = o->min_idle;
	if (o->set & RWPD_CONF_TARGET)
		out->target_resident = o->target_resident;
	if (o->set & RWPD_CONF_MAX_EVICT)
		out->max_evict = o->max_evict;
	if (o->set & RWPD_CONF_REFAULT)
		out->refault_ppm = o->refault_ppm;
}

const char *rwpd_tier_kind_name(enum rwpd_tier_kind k)
{
	switch (k) {
	case RWPD_TIER_ZRAM_LZ4: return "zram-lz4";
	case RWPD_TIER_ZRAM_ZSTD: return "zram-zstd";
	case RWPD_TIER_FILE: return "file";
	case RWPD_TIER_NBD: return "nbd";
	}
	return "?";
}
