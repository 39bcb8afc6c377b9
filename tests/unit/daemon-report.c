// SPDX-License-Identifier: MIT
/*
 * rwpd's renderers (daemon/report.c) on hand-built snapshots: the STATUS JSON parses
 * back with every member of the schema, and the METRICS text passes a line-by-line
 * checker of the Prometheus text format 0.0.4 (HELP and TYPE before a family's first
 * sample, families contiguous, no duplicate series, escaped label values), which is
 * itself shown to refuse what it should.
 */
#define _GNU_SOURCE
#include "../../daemon/report.h"
#include "../../lib/proto/wire.h"
#include "../lib/snapshots.h"
#include "../lib/tap.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include <json-c/json.h>

TAP_DEFINE;

/* ------------------------------------------------------ the format checker -- */

#define MAX_FAM 128
#define MAX_SERIES 20000

struct fam {
	char name[96], type[16];
	bool help, closed, sampled;
};

struct check {
	struct fam fam[MAX_FAM];
	int nfam, cur;
	char **series;
	size_t nseries;
	char err[256];
	int line;
};

static int bad(struct check *c, const char *what)
{
	snprintf(c->err, sizeof(c->err), "line %d: %s", c->line, what);
	return -1;
}

static struct fam *fam_of(struct check *c, const char *name)
{
	for (int i = 0; i < c->nfam; i++)
		if (!strcmp(c->fam[i].name, name))
			return &c->fam[i];
	return NULL;
}

static const char *metric_name(const char *s, char *out, size_t cap)
{
	size_t n = 0;

	if (!(isalpha((unsigned char)*s) || *s == '_' || *s == ':'))
		return NULL;
	while (isalnum((unsigned char)s[n]) || s[n] == '_' || s[n] == ':')
		n++;
	if (n >= cap)
		return NULL;
	memcpy(out, s, n);
	out[n] = '\0';
	return s + n;
}

static int comment(struct check *c, const char *l)
{
	char name[96];
	const char *p;
	struct fam *f;
	bool help = !strncmp(l, "# HELP ", 7);

	if (!help && strncmp(l, "# TYPE ", 7))
		return 0; /* another comment */
	p = metric_name(l + 7, name, sizeof(name));
	if (!p || *p != ' ' || !p[1])
		return bad(c, "HELP/TYPE without a name and text");
	f = fam_of(c, name);
	if (!f) {
		if (c->nfam == MAX_FAM)
			return bad(c, "too many families");
		f = &c->fam[c->nfam++];
		snprintf(f->name, sizeof(f->name), "%s", name);
	}
	if (f->sampled)
		return bad(c, "HELP/TYPE after the family's samples");
	if (help) {
		if (f->help)
			return bad(c, "second HELP");
		f->help = true;
		return 0;
	}
	if (f->type[0])
		return bad(c, "second TYPE");
	p++;
	if (strcmp(p, "counter") && strcmp(p, "gauge") && strcmp(p, "summary") &&
	    strcmp(p, "histogram") && strcmp(p, "untyped"))
		return bad(c, "unknown TYPE");
	snprintf(f->type, sizeof(f->type), "%s", p);
	return 0;
}

struct label {
	char name[64], value[256];
};

static int cmp_label(const void *a, const void *b)
{
	return strcmp(((const struct label *)a)->name, ((const struct label *)b)->name);
}

/* name{l="v",...} value: labels unescaped into v */
static int labels(struct check *c, const char **pp, struct label *v, int *n)
{
	const char *p = *pp;

	*n = 0;
	if (*p != '{')
		return 0;
	p++;
	while (*p != '}') {
		struct label *l = &v[*n];
		size_t k = 0;

		if (*n == 16)
			return bad(c, "too many labels");
		if (!(isalpha((unsigned char)*p) || *p == '_'))
			return bad(c, "bad label name");
		while (isalnum((unsigned char)*p) || *p == '_')
			l->name[k++] = *p++;
		l->name[k] = '\0';
		if (*p++ != '=' || *p++ != '"')
			return bad(c, "label without =\"");
		for (k = 0; *p != '"'; k++) {
			if (!*p || *p == '\n' || k + 1 >= sizeof(l->value))
				return bad(c, "unterminated label value");
			if (*p == '\\') {
				p++;
				if (*p != '\\' && *p != '"' && *p != 'n')
					return bad(c, "bad escape in a label value");
				l->value[k] = *p == 'n' ? '\n' : *p;
				p++;
			} else {
				l->value[k] = *p++;
			}
		}
		l->value[k] = '\0';
		p++;
		for (int i = 0; i < *n; i++)
			if (!strcmp(v[i].name, l->name))
				return bad(c, "label given twice");
		(*n)++;
		if (*p == ',')
			p++;
		else if (*p != '}')
			return bad(c, "labels not separated by ','");
	}
	*pp = p + 1;
	return 0;
}

static int value(struct check *c, const char *p)
{
	char *end;

	if (*p++ != ' ')
		return bad(c, "no value");
	if (!strcmp(p, "NaN") || !strcmp(p, "+Inf") || !strcmp(p, "-Inf"))
		return 0;
	strtod(p, &end);
	if (end == p || (*end && *end != ' '))
		return bad(c, "value is not a float");
	return 0;
}

static int sample(struct check *c, const char *l)
{
	char name[96], base[96], key[1024];
	struct label v[16];
	const char *p = metric_name(l, name, sizeof(name)), *suffix = "";
	struct fam *f;
	size_t len;
	int n;

	if (!p)
		return bad(c, "bad metric name");
	if (strncmp(name, "rwp_", 4))
		return bad(c, "metric name without the rwp_ prefix");
	f = fam_of(c, name);
	len = strlen(name);
	if (!f) {
		static const char *const sfx[] = { "_sum", "_count", "_bucket" };

		for (size_t i = 0; i < 3 && !f; i++) {
			size_t k = strlen(sfx[i]);

			if (len > k && !strcmp(name + len - k, sfx[i])) {
				snprintf(base, sizeof(base), "%.*s", (int)(len - k), name);
				f = fam_of(c, base);
				if (f && strcmp(f->type, "summary") && strcmp(f->type, "histogram"))
					f = NULL;
				suffix = sfx[i];
			}
		}
	}
	if (!f || !f->help || !f->type[0])
		return bad(c, "sample without HELP and TYPE before it");
	if (f->closed)
		return bad(c, "family's samples not contiguous");
	if (c->cur >= 0 && &c->fam[c->cur] != f)
		c->fam[c->cur].closed = true;
	c->cur = (int)(f - c->fam);
	f->sampled = true;
	if (!strcmp(f->type, "counter") && (len < 6 || strcmp(name + len - 6, "_total")))
		return bad(c, "counter not named _total");
	if (labels(c, &p, v, &n) || value(c, p))
		return -1;
	{
		bool q = false;

		for (int i = 0; i < n; i++)
			q |= !strcmp(v[i].name, "quantile");
		if (!strcmp(f->type, "summary") && q != !*suffix)
			return bad(c, "summary quantile label wrong");
	}
	qsort(v, (size_t)n, sizeof(v[0]), cmp_label);
	len = (size_t)snprintf(key, sizeof(key), "%s{", name);
	for (int i = 0; i < n && len < sizeof(key); i++)
		len += (size_t)snprintf(key + len, sizeof(key) - len, "%s=%s\x1f", v[i].name,
					v[i].value);
	for (size_t i = 0; i < c->nseries; i++)
		if (!strcmp(c->series[i], key))
			return bad(c, "duplicate series");
	if (c->nseries == MAX_SERIES)
		return bad(c, "too many series");
	c->series[c->nseries++] = strdup(key);
	return 0;
}

/* 0 if text is valid exposition; else -1 with the reason in c->err. */
static int prom_check(struct check *c, const char *text)
{
	char *copy = strdup(text), *save = NULL, *l;
	int ret = 0;

	memset(c, 0, sizeof(*c));
	c->cur = -1;
	c->series = calloc(MAX_SERIES, sizeof(char *));
	if (!*text || text[strlen(text) - 1] != '\n')
		ret = bad(c, "last line not ended");
	for (l = strtok_r(copy, "\n", &save); l && !ret; l = strtok_r(NULL, "\n", &save)) {
		c->line++;
		if (*l == '#')
			ret = comment(c, l);
		else
			ret = sample(c, l);
	}
	for (size_t i = 0; i < c->nseries; i++)
		free(c->series[i]);
	free(c->series);
	free(copy);
	return ret;
}

/* The label value of the first sample line starting with prefix, unescaped. */
static bool series_value(const char *text, const char *prefix, double *v)
{
	const char *p = strstr(text, prefix);

	if (!p)
		return false;
	p = strchr(p, ' ');
	*v = strtod(p + 1, NULL);
	return true;
}

/* ------------------------------------------------------------------ tests -- */

static struct json_object *parse(const char *s)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o = json_tokener_parse_ex(tok, s, (int)strlen(s));

	if (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != strlen(s)) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

static struct json_object *at(struct json_object *o, const char *path)
{
	char key[64];

	while (o && *path) {
		size_t n = strcspn(path, ".");

		snprintf(key, sizeof(key), "%.*s", (int)n, path);
		if (json_object_is_type(o, json_type_array))
			o = json_object_array_get_idx(o, (size_t)atoi(key));
		else if (!json_object_object_get_ex(o, key, &o))
			return NULL;
		path += n + (path[n] == '.');
	}
	return o;
}

static bool is(struct json_object *o, const char *path, json_type t)
{
	return json_object_is_type(at(o, path), t);
}

static uint64_t u(struct json_object *o, const char *path)
{
	return json_object_get_uint64(at(o, path));
}

static const char *s(struct json_object *o, const char *path)
{
	struct json_object *v = at(o, path);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

/* Every member the schema (rwpctl(1), JSON SCHEMA) promises, with its type. */
static const struct {
	const char *path;
	json_type type;
} schema[] = {
	{ "schema", json_type_int },
	{ "rwpd.pid", json_type_int }, { "rwpd.version", json_type_string },
	{ "rwpd.uptime_s", json_type_double }, { "rwpd.kernel", json_type_string },
	{ "rwpd.native_rwp", json_type_boolean }, { "rwpd.rss_bytes", json_type_int },
	{ "rwpd.nr_guests", json_type_int },
	{ "guests.0.id", json_type_int }, { "guests.0.name", json_type_string },
	{ "guests.0.pid", json_type_int }, { "guests.0.kind", json_type_string },
	{ "guests.0.phase", json_type_string }, { "guests.0.uptime_s", json_type_double },
	{ "guests.0.intervals", json_type_int },
	{ "guests.0.policy.interval_ms", json_type_int },
	{ "guests.0.policy.min_idle", json_type_int },
	{ "guests.0.policy.target_resident", json_type_int },
	{ "guests.0.policy.max_evict", json_type_int },
	{ "guests.0.policy.refault_ppm", json_type_int },
	{ "guests.0.policy.write_tracked", json_type_boolean },
	{ "guests.0.wss_bytes.1", json_type_int }, { "guests.0.wss_bytes.4", json_type_int },
	{ "guests.0.wss_bytes.16", json_type_int },
	{ "guests.0.memory.guest_bytes", json_type_int },
	{ "guests.0.memory.resident_bytes", json_type_int },
	{ "guests.0.memory.evicted_pages", json_type_int },
	{ "guests.0.memory.zero_pages", json_type_int },
	{ "guests.0.memory.saved_bytes", json_type_int },
	{ "guests.0.tiers.1.name", json_type_string }, { "guests.0.tiers.1.pages", json_type_int },
	{ "guests.0.tiers.1.bytes", json_type_int },
	{ "guests.0.tiers.1.used_bytes", json_type_int },
	{ "guests.0.tiers.1.stores", json_type_int }, { "guests.0.tiers.1.loads", json_type_int },
	{ "guests.0.tiers.1.errors", json_type_int },
	{ "guests.0.faults.missing", json_type_int }, { "guests.0.faults.minor", json_type_int },
	{ "guests.0.faults.rwp", json_type_int }, { "guests.0.faults.held", json_type_int },
	{ "guests.0.fetch.fetched", json_type_int }, { "guests.0.fetch.zero", json_type_int },
	{ "guests.0.fetch.prefetched", json_type_int },
	{ "guests.0.fetch.prefetch_hits", json_type_int },
	{ "guests.0.fetch.prefetch_waste", json_type_int },
	{ "guests.0.fetch.errors", json_type_int }, { "guests.0.fetch.poisoned", json_type_int },
	{ "guests.0.fetch.refault_rate", json_type_double },
	{ "guests.0.fetch.latency_ns.count", json_type_int },
	{ "guests.0.fetch.latency_ns.p50", json_type_int },
	{ "guests.0.fetch.latency_ns.p90", json_type_int },
	{ "guests.0.fetch.latency_ns.p99", json_type_int },
	{ "guests.0.fetch.latency_ns.max", json_type_int },
	{ "guests.0.fetch.latency_ns.mean", json_type_int },
	{ "guests.0.evict.total", json_type_int }, { "guests.0.evict.failures", json_type_int },
	{ "guests.0.evict.passes", json_type_int }, { "guests.0.evict.ns", json_type_int },
	{ "guests.0.tick.ticks", json_type_int }, { "guests.0.tick.pages", json_type_int },
	{ "guests.0.tick.hot_pages", json_type_int }, { "guests.0.tick.scan_ns", json_type_int },
	{ "guests.0.tick.bookkeeping_ns", json_type_int },
	{ "guests.0.tick.protect_ns", json_type_int },
	{ "guests.0.tick.ns_per_page_scan", json_type_double },
	{ "guests.0.tick.ns_per_page_bookkeeping", json_type_double },
	{ "guests.0.tick.ns_per_page_protect", json_type_double },
	{ "guests.0.regions.1.addr", json_type_int }, { "guests.0.regions.1.len", json_type_int },
	{ "guests.0.regions.1.gpa", json_type_int },
	{ "guests.0.regions.1.page_size", json_type_int },
	{ "guests.0.regions.1.mem", json_type_string },
	{ "guests.0.regions.1.backend", json_type_string },
	{ "guests.0.regions.1.sees", json_type_array },
	{ "guests.0.regions.1.reason", json_type_string },
};

static void json_schema(void)
{
	struct rwpd_daemon_snap d;
	struct rwpd_guest_snap g[2];
	struct json_object *o;
	char *out = NULL;
	size_t missing = 0;
	int ret;

	snap_daemon(&d, 2);
	snap_web1(&g[0]);
	snap_batch7(&g[1]);
	ret = rwpd_report_json(&d, g, 2, &out);
	o = ret ? NULL : parse(out);
	tap_ok(o != NULL, "JSON of two guests parses back (%d, %zu bytes)", ret,
	       out ? strlen(out) : 0);
	for (size_t i = 0; i < sizeof(schema) / sizeof(schema[0]); i++)
		if (!is(o, schema[i].path, schema[i].type)) {
			tap_diag("missing or mistyped: %s", schema[i].path);
			missing++;
		}
	tap_ok(o && !missing, "every member of the schema, typed (%zu missing)", missing);
	tap_ok(u(o, "schema") == RWPD_REPORT_SCHEMA && u(o, "rwpd.pid") == 812 &&
	       !strcmp(s(o, "rwpd.kernel"), "7.3.0-rwp") &&
	       json_object_get_boolean(at(o, "rwpd.native_rwp")) &&
	       json_object_get_double(at(o, "rwpd.uptime_s")) == 10921.5,
	       "daemon members carry the snapshot's values");
	tap_ok(u(o, "guests.0.id") == 1 && !strcmp(s(o, "guests.0.name"), "web1") &&
	       !strcmp(s(o, "guests.0.kind"), "vmm") &&
	       !strcmp(s(o, "guests.0.phase"), "running") &&
	       !strcmp(s(o, "guests.1.kind"), "firecracker") &&
	       !strcmp(s(o, "guests.1.phase"), "restoring") &&
	       u(o, "guests.0.wss_bytes.16") == 800 * MiB &&
	       u(o, "guests.0.policy.target_resident") == 2 * GiB &&
	       u(o, "guests.0.memory.saved_bytes") == 2900 * MiB &&
	       u(o, "guests.0.fetch.latency_ns.p99") == 45600 &&
	       json_object_get_double(at(o, "guests.0.fetch.refault_rate")) == 0.0012 &&
	       json_object_get_double(at(o, "guests.0.tick.ns_per_page_scan")) == 1.5,
	       "guest members carry the snapshot's values");
	tap_ok(!strcmp(s(o, "guests.0.tiers.0.name"), "zram") &&
	       u(o, "guests.0.tiers.1.errors") == 2 &&
	       json_object_array_length(at(o, "guests.1.tiers")) == 0,
	       "tiers: the chain in order, an empty array without one");
	tap_ok(!strcmp(s(o, "guests.0.regions.0.backend"), "native") &&
	       !strcmp(s(o, "guests.0.regions.1.mem"), "hugetlb") &&
	       !strcmp(s(o, "guests.0.regions.0.sees.2"), "kernel") &&
	       json_object_array_length(at(o, "guests.0.regions.0.sees")) == 3 &&
	       json_object_array_length(at(o, "guests.1.regions.0.sees")) == 0 &&
	       !strcmp(s(o, "guests.0.regions.0.reason"),
		       "native RWP on Linux 7.3: sees reads, writes and KVM"),
	       "regions: backend, memory, what they see and why");
	json_object_put(o);
	free(out);
}

static void json_edges(void)
{
	struct rwpd_daemon_snap d;
	struct rwpd_guest_snap g;
	struct json_object *o;
	char *out = (char *)1;

	snap_daemon(&d, 0);
	tap_ok(rwpd_report_json(NULL, NULL, 0, &out) == -EINVAL &&
	       rwpd_report_json(&d, NULL, 0, NULL) == -EINVAL &&
	       rwpd_report_json(&d, NULL, 1, &out) == -EINVAL &&
	       rwpd_report_prometheus(NULL, NULL, 0, &out) == -EINVAL &&
	       rwpd_report_prometheus(&d, NULL, 2, &out) == -EINVAL,
	       "NULL daemon, output or guests: -EINVAL");

	o = NULL;
	if (!rwpd_report_json(&d, NULL, 0, &out))
		o = parse(out);
	tap_ok(o && json_object_array_length(at(o, "guests")) == 0 &&
	       is(o, "guests", json_type_array), "no guests: an empty array (%s)",
	       o ? out : "-");
	json_object_put(o);
	free(out);

	/* a name of 32 bytes, no NUL, with bytes JSON or UTF-8 would choke on */
	snap_web1(&g);
	memset(g.name, 'x', sizeof(g.name));
	g.name[1] = '\x01';
	g.name[2] = '\xff';
	g.name[3] = '"';
	g.kind = 99;
	g.phase = 0;
	g.stats.refault_rate = NAN;
	g.uptime_s = INFINITY;
	g.stats.nr_tiers = 9;	 /* over RWP_TIERS_MAX: clamped */
	g.nr_regions = 1000;	 /* over RWPD_SNAP_REGIONS: clamped */
	memset(d.kernel, 'k', sizeof(d.kernel));
	o = NULL;
	if (!rwpd_report_json(&d, &g, 1, &out))
		o = parse(out);
	tap_ok(o && !strcmp(s(o, "guests.0.name"), "x??\"xxxxxxxxxxxxxxxxxxxxxxxxxxxx") &&
	       strlen(s(o, "rwpd.kernel")) == sizeof(d.kernel),
	       "unterminated names are bounded; bytes outside printable ASCII become '?'");
	tap_ok(o && !strcmp(s(o, "guests.0.kind"), "unknown") &&
	       !strcmp(s(o, "guests.0.phase"), "unknown") &&
	       is(o, "guests.0.fetch.refault_rate", json_type_null) &&
	       is(o, "guests.0.uptime_s", json_type_null),
	       "unknown kind and phase named so; NaN and infinity are null");
	tap_ok(o && json_object_array_length(at(o, "guests.0.tiers")) == RWP_TIERS_MAX &&
	       json_object_array_length(at(o, "guests.0.regions")) == RWPD_SNAP_REGIONS,
	       "tier and region counts past their arrays are clamped");
	json_object_put(o);
	free(out);
}

static void checker_refuses(void)
{
	static const struct {
		const char *text, *why;
	} cases[] = {
		{ "rwp_x 1\n", "no HELP/TYPE" },
		{ "# HELP rwp_x h\nrwp_x 1\n", "no TYPE" },
		{ "# HELP rwp_x h\n# TYPE rwp_x gauge\nrwp_x 1\nrwp_x 2\n", "duplicate" },
		{ "# HELP rwp_x h\n# TYPE rwp_x gauge\nrwp_x{a=\"1\",b=\"2\"} 1\n"
		  "rwp_x{b=\"2\",a=\"1\"} 1\n", "duplicate, labels reordered" },
		{ "# HELP rwp_x h\n# TYPE rwp_x gauge\n# HELP rwp_y h\n# TYPE rwp_y gauge\n"
		  "rwp_x 1\nrwp_y 1\nrwp_x{a=\"b\"} 1\n", "family split" },
		{ "# HELP rwp_x h\n# TYPE rwp_x gauge\nrwp_x{a=\"\\t\"} 1\n", "bad escape" },
		{ "# HELP rwp_x h\n# TYPE rwp_x gauge\nrwp_x{a=\"b} 1\n", "unterminated" },
		{ "# HELP rwp_x h\n# TYPE rwp_x counter\nrwp_x 1\n", "counter without _total" },
		{ "# HELP rwp_x h\n# TYPE rwp_x gauge\nrwp_x one\n", "not a number" },
		{ "# HELP rwp_x h\n# TYPE rwp_x gauge\nrwp_x 1", "last line not ended" },
		{ "# HELP rwp_x h\n# TYPE rwp_x summary\nrwp_x 1\n", "summary without quantile" },
		{ "# HELP x h\n# TYPE x gauge\nx 1\n", "no rwp_ prefix" },
	};
	struct check *c = malloc(sizeof(*c));
	int refused = 0, n = sizeof(cases) / sizeof(cases[0]);

	for (int i = 0; i < n; i++) {
		if (prom_check(c, cases[i].text))
			refused++;
		else
			tap_diag("the checker took: %s", cases[i].why);
	}
	tap_ok(refused == n, "the Prometheus checker refuses %d of %d bad texts", refused, n);
	tap_ok(!prom_check(c, "# HELP rwp_x h\\n\n# TYPE rwp_x summary\n"
			      "rwp_x{quantile=\"0.5\",g=\"a\\\"\\\\\\n\"} NaN\nrwp_x_sum 1e-05\n"
			      "rwp_x_count 0\n"),
	       "and takes a good one: %s", c->err);
	free(c);
}

static void prometheus(void)
{
	struct rwpd_daemon_snap d;
	struct rwpd_guest_snap g[3];
	struct check *c = malloc(sizeof(*c));
	char *out = NULL;
	double v;
	int ret;

	snap_daemon(&d, 3);
	snap_web1(&g[0]);
	snap_batch7(&g[1]);
	/* a third guest whose name needs escaping, and with the same tier name twice */
	snap_web1(&g[2]);
	g[2].id = 9;
	snprintf(g[2].name, sizeof(g[2].name), "we\"b\\9\n");
	snprintf(g[2].stats.tier[1].name, sizeof(g[2].stats.tier[1].name), "zram");
	ret = rwpd_report_prometheus(&d, g, 3, &out);
	tap_ok(!ret && !prom_check(c, out), "METRICS of three guests is valid exposition: %s",
	       ret ? strerror(-ret) : c->err);
	tap_diag("%zu series, %zu bytes", c->nseries, out ? strlen(out) : 0);
	tap_ok(out && strstr(out, "rwp_daemon_info{version=\"0.1.0\",kernel=\"7.3.0-rwp\","
				  "native_rwp=\"true\"} 1\n") &&
	       strstr(out, "\nrwp_daemon_guests 3\n") &&
	       strstr(out, "\nrwp_guest_info{guest=\"batch7\",id=\"7\",kind=\"firecracker\","
			   "phase=\"restoring\"} 1\n"),
	       "daemon and guest info");
	tap_ok(out && strstr(out, "\nrwp_wss_bytes{guest=\"web1\",id=\"1\",window=\"16\"} "
				  "838860800\n") &&
	       strstr(out, "\nrwp_resident_bytes{guest=\"web1\",id=\"1\"} 1073741824\n") &&
	       strstr(out, "\nrwp_policy_interval_seconds{guest=\"batch7\",id=\"7\"} 5\n") &&
	       strstr(out, "\nrwp_faults_total{guest=\"web1\",id=\"1\",type=\"rwp\"} 45000\n") &&
	       strstr(out, "\nrwp_tick_seconds_total{guest=\"web1\",id=\"1\",phase=\"scan\"} "
			   "1.5\n"),
	       "gauges in bytes and seconds, counters by type and phase");
	tap_ok(out && strstr(out, "\nrwp_fetch_pages_total{guest=\"web1\",id=\"1\",class=\"data\"}"
				  " 1160\n") &&
	       strstr(out, "\nrwp_fetch_pages_total{guest=\"web1\",id=\"1\",class=\"prefetch\"}"
			   " 400\n") &&
	       strstr(out, "\nrwp_tier_pages{guest=\"web1\",id=\"1\",tier=\"zram\",level=\"0\"}"
			   " 700000\n"),
	       "page classes and tiers");
	tap_ok(out && series_value(out, "rwp_fetch_latency_seconds{guest=\"web1\",id=\"1\","
					"quantile=\"0.99\"}", &v) && fabs(v - 45.6e-6) < 1e-12 &&
	       series_value(out, "rwp_fetch_latency_seconds_count{guest=\"web1\"", &v) &&
	       v == 1200 &&
	       series_value(out, "rwp_fetch_latency_seconds_sum{guest=\"web1\"", &v) &&
	       fabs(v - 0.0168) < 1e-12 &&
	       strstr(out, "\nrwp_fetch_latency_seconds{guest=\"batch7\",id=\"7\","
			   "quantile=\"0.5\"} NaN\n"),
	       "fetch latency summary: quantiles in seconds, _sum and _count; NaN before any");
	tap_ok(out && strstr(out, "{guest=\"we\\\"b\\\\9?\",id=\"9\"}") &&
	       strstr(out, "tier=\"zram\",level=\"1\""),
	       "label values escaped; tiers told apart by level");
	free(out);

	snap_daemon(&d, 0);
	ret = rwpd_report_prometheus(&d, NULL, 0, &out);
	tap_ok(!ret && !prom_check(c, out) && !strstr(out, "rwp_guest") &&
	       strstr(out, "rwp_daemon_guests 0\n"),
	       "no guests: only the daemon's families %s", c->err);
	free(out);
	free(c);
}

/* Many guests: both renderers grow their buffers; the sizes tell what a reply holds. */
static void many(void)
{
	size_t n = 200;
	struct rwpd_guest_snap *g = calloc(n, sizeof(*g));
	struct rwpd_daemon_snap d;
	struct check *c = malloc(sizeof(*c));
	char *json = NULL, *prom = NULL;
	struct json_object *o = NULL;
	int r1, r2;

	snap_daemon(&d, (unsigned int)n);
	for (size_t i = 0; i < n; i++) {
		snap_web1(&g[i]);
		g[i].id = i + 1;
		snprintf(g[i].name, sizeof(g[i].name), "guest-%zu", i);
	}
	r1 = rwpd_report_json(&d, g, n, &json);
	r2 = rwpd_report_prometheus(&d, g, n, &prom);
	if (!r1)
		o = parse(json);
	tap_ok(o && json_object_array_length(at(o, "guests")) == n && !r2 &&
	       !prom_check(c, prom), "%zu guests render and check %s", n, c->err);
	tap_diag("per guest with 2 regions and 2 tiers: JSON %zu bytes, Prometheus %zu bytes "
		 "(a reply holds %d)", json ? strlen(json) / n : 0, prom ? strlen(prom) / n : 0,
		 RWPD_MAX_MSG - 32);
	json_object_put(o);
	free(json);
	free(prom);
	free(g);
	free(c);
}

int main(void)
{
	tap_init();
	json_schema();
	json_edges();
	checker_refuses();
	prometheus();
	many();
	return tap_done();
}
