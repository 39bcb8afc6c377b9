// SPDX-License-Identifier: MIT
/*
 * STATUS as JSON from snapshots (METRICS is report-prom.c). The schema is API: add
 * members, never rename, retype or remove one (rwpctl(1), JSON SCHEMA documents it).
 */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

const char *rwpd_guest_kind_name(enum rwpd_guest_kind k)
{
	switch (k) {
	case RWPD_GUEST_VMM:
		return "vmm";
	case RWPD_GUEST_FIRECRACKER:
		return "firecracker";
	}
	return "unknown";
}

const char *rwpd_guest_phase_name(enum rwpd_guest_phase p)
{
	switch (p) {
	case RWPD_PHASE_RUNNING:
		return "running";
	case RWPD_PHASE_RESTORING:
		return "restoring";
	case RWPD_PHASE_ORPHANED:
		return "orphaned";
	}
	return "unknown";
}

const char *rwpd_report_clean(char *dst, size_t cap, const char *src, size_t max)
{
	size_t n = strnlen(src, max), i;

	if (!cap)
		return dst;
	if (n >= cap)
		n = cap - 1;
	for (i = 0; i < n; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	dst[n] = '\0';
	return dst;
}

/* ns per page of a tick phase, 0 before any page was scanned */
static double per_page(uint64_t ns, uint64_t pages)
{
	return pages ? (double)ns / (double)pages : 0;
}

/* ------------------------------------------------------------------ JSON -- */

/*
 * json-c calls can each fail on allocation; rather than test every one, a builder
 * records the first failure and the renderer answers -ENOMEM at the end.
 */
struct jb {
	bool oom;
};

static struct json_object *jobj(struct jb *b)
{
	struct json_object *o = json_object_new_object();

	b->oom |= !o;
	return o;
}

static struct json_object *jarr(struct jb *b)
{
	struct json_object *a = json_object_new_array();

	b->oom |= !a;
	return a;
}

/* Add v under a literal key; v is consumed either way. */
static void put(struct jb *b, struct json_object *o, const char *key, struct json_object *v)
{
	if (!o || !v ||
	    json_object_object_add_ex(o, key, v, JSON_C_OBJECT_ADD_KEY_IS_NEW |
					     JSON_C_OBJECT_ADD_CONSTANT_KEY)) {
		json_object_put(v);
		b->oom = true;
	}
}

static void append(struct jb *b, struct json_object *a, struct json_object *v)
{
	if (!a || !v || json_object_array_add(a, v)) {
		json_object_put(v);
		b->oom = true;
	}
}

static void put_u(struct jb *b, struct json_object *o, const char *key, uint64_t v)
{
	put(b, o, key, json_object_new_uint64(v));
}

static void put_i(struct jb *b, struct json_object *o, const char *key, int64_t v)
{
	put(b, o, key, json_object_new_int64(v));
}

static void put_s(struct jb *b, struct json_object *o, const char *key, const char *s)
{
	put(b, o, key, json_object_new_string(s));
}

static void put_b(struct jb *b, struct json_object *o, const char *key, bool v)
{
	put(b, o, key, json_object_new_boolean(v));
}

/*
 * A double with a fixed number of significant digits (json-c's default prints 17, so
 * 0.1 comes out 0.10000000000000001); null when not finite, which JSON cannot hold.
 */
/* digits: after the point if fixed, else significant */
static void put_d(struct jb *b, struct json_object *o, const char *key, double v,
		  int digits, bool fixed)
{
	char s[40];
	int n;

	if (!isfinite(v)) {
		/* a NULL value is JSON null: not a failure */
		if (!o || json_object_object_add_ex(o, key, NULL, JSON_C_OBJECT_ADD_KEY_IS_NEW |
						    JSON_C_OBJECT_ADD_CONSTANT_KEY))
			b->oom = true;
		return;
	}
	n = snprintf(s, sizeof(s), fixed ? "%.*f" : "%.*g", digits, v);
	/* %f of an absurd value runs long: a cut number would not be JSON */
	if (n < 0 || (size_t)n >= sizeof(s))
		snprintf(s, sizeof(s), "%.17g", v);
	put(b, o, key, json_object_new_double_s(v, s));
}

static struct json_object *json_daemon(struct jb *b, const struct rwpd_daemon_snap *d)
{
	struct json_object *o = jobj(b);
	char s[sizeof(d->kernel) + 1];

	put_i(b, o, "pid", d->pid);
	put_s(b, o, "version", CLEAN(s, d->version));
	put_d(b, o, "uptime_s", d->uptime_s, 3, true);
	put_s(b, o, "kernel", CLEAN(s, d->kernel));
	put_b(b, o, "native_rwp", d->native_rwp);
	put_u(b, o, "rss_bytes", d->rss_bytes);
	put_u(b, o, "nr_guests", d->nr_guests);
	return o;
}

static struct json_object *json_policy(struct jb *b, const struct rwpd_policy_snap *p)
{
	struct json_object *o = jobj(b);

	put_u(b, o, "interval_ms", p->interval_ms);
	put_u(b, o, "min_idle", p->min_idle);
	put_u(b, o, "target_resident", p->target_resident);
	put_u(b, o, "max_evict", p->max_evict);
	put_u(b, o, "refault_ppm", p->refault_ppm);
	put_b(b, o, "write_tracked", p->flags & RWP_POLICY_WRITE_TRACKED);
	return o;
}

static struct json_object *json_memory(struct jb *b, const struct rwp_stats *st)
{
	struct json_object *o = jobj(b);

	put_u(b, o, "guest_bytes", st->guest_bytes);
	put_u(b, o, "resident_bytes", st->resident_bytes);
	put_u(b, o, "evicted_pages", st->evicted_pages);
	put_u(b, o, "zero_pages", st->zero_pages);
	put_i(b, o, "saved_bytes", st->saved_bytes);
	return o;
}

static struct json_object *json_tiers(struct jb *b, const struct rwp_stats *st)
{
	struct json_object *a = jarr(b);
	unsigned int n = st->nr_tiers < RWP_TIERS_MAX ? st->nr_tiers : RWP_TIERS_MAX;

	for (unsigned int i = 0; i < n; i++) {
		const struct rwp_tier_stats *t = &st->tier[i];
		struct json_object *o = jobj(b);
		char s[sizeof(t->name) + 1];

		put_s(b, o, "name", CLEAN(s, t->name));
		put_u(b, o, "pages", t->pages);
		put_u(b, o, "bytes", t->bytes);
		put_u(b, o, "used_bytes", t->used_bytes);
		put_u(b, o, "stores", t->stores);
		put_u(b, o, "loads", t->loads);
		put_u(b, o, "errors", t->errors);
		append(b, a, o);
	}
	return a;
}

static struct json_object *json_faults(struct jb *b, const struct rwp_stats *st)
{
	struct json_object *o = jobj(b);

	put_u(b, o, "missing", st->faults_missing);
	put_u(b, o, "minor", st->faults_minor);
	put_u(b, o, "rwp", st->faults_rwp);
	put_u(b, o, "held", st->faults_held);
	return o;
}

static struct json_object *json_fetch(struct jb *b, const struct rwp_stats *st)
{
	const struct rwp_latency *l = &st->fault_latency;
	struct json_object *o = jobj(b), *lat = jobj(b);

	put_u(b, o, "fetched", st->fetched);
	put_u(b, o, "zero", st->fetched_zero);
	put_u(b, o, "prefetched", st->prefetched);
	put_u(b, o, "prefetch_hits", st->prefetch_hits);
	put_u(b, o, "prefetch_waste", st->prefetch_waste);
	put_u(b, o, "errors", st->fetch_errors);
	put_u(b, o, "poisoned", st->poisoned);
	put_d(b, o, "refault_rate", st->refault_rate, 6, false);
	put_u(b, lat, "count", l->count);
	put_u(b, lat, "p50", l->p50_ns);
	put_u(b, lat, "p90", l->p90_ns);
	put_u(b, lat, "p99", l->p99_ns);
	put_u(b, lat, "max", l->max_ns);
	put_u(b, lat, "mean", l->mean_ns);
	put(b, o, "latency_ns", lat);
	return o;
}

static struct json_object *json_evict(struct jb *b, const struct rwpd_guest_snap *g)
{
	struct json_object *o = jobj(b);

	put_u(b, o, "total", g->stats.evicted_total);
	put_u(b, o, "failures", g->stats.evict_failures);
	put_u(b, o, "passes", g->evict_passes);
	put_u(b, o, "ns", g->evict_ns);
	return o;
}

static struct json_object *json_tick(struct jb *b, const struct rwp_track_timing *t)
{
	struct json_object *o = jobj(b);

	put_u(b, o, "ticks", t->ticks);
	put_u(b, o, "pages", t->pages);
	put_u(b, o, "hot_pages", t->hot_pages);
	put_u(b, o, "scan_ns", t->scan_ns);
	put_u(b, o, "bookkeeping_ns", t->bookkeeping_ns);
	put_u(b, o, "protect_ns", t->protect_ns);
	put_d(b, o, "ns_per_page_scan", per_page(t->scan_ns, t->pages), 2, true);
	put_d(b, o, "ns_per_page_bookkeeping", per_page(t->bookkeeping_ns, t->pages), 2, true);
	put_d(b, o, "ns_per_page_protect", per_page(t->protect_ns, t->pages), 2, true);
	return o;
}

static const struct {
	unsigned int bit;
	const char *name;
} sees_names[] = {
	{ RWP_SEES_READS, "reads" },
	{ RWP_SEES_WRITES, "writes" },
	{ RWP_SEES_DIRTY, "dirty" },
	{ RWP_SEES_KERNEL, "kernel" },
};

static struct json_object *json_region(struct jb *b, const struct rwpd_region_snap *r)
{
	struct json_object *o = jobj(b), *sees = jarr(b);
	char s[sizeof(r->reason) + 1];

	put_u(b, o, "addr", r->addr);
	put_u(b, o, "len", r->len);
	put_u(b, o, "gpa", r->gpa);
	put_u(b, o, "page_size", r->page_size);
	put_s(b, o, "mem", rwp_mem_name(r->mem));
	put_s(b, o, "backend", rwp_backend_name(r->backend));
	for (size_t i = 0; i < ARRAY_SIZE(sees_names); i++)
		if (r->sees & sees_names[i].bit)
			append(b, sees, json_object_new_string(sees_names[i].name));
	put(b, o, "sees", sees);
	put_s(b, o, "reason", CLEAN(s, r->reason));
	return o;
}

static struct json_object *json_guest(struct jb *b, const struct rwpd_guest_snap *g)
{
	struct json_object *o = jobj(b), *wss = jobj(b), *regions = jarr(b);
	static const char *const windows[RWPD_SNAP_WINDOWS] = { "1", "4", "16" };
	unsigned int nr = g->nr_regions < RWPD_SNAP_REGIONS ? g->nr_regions : RWPD_SNAP_REGIONS;
	char s[sizeof(g->name) + 1];

	put_u(b, o, "id", g->id);
	put_s(b, o, "name", CLEAN(s, g->name));
	put_i(b, o, "pid", g->pid);
	put_s(b, o, "kind", rwpd_guest_kind_name(g->kind));
	put_s(b, o, "phase", rwpd_guest_phase_name(g->phase));
	put_d(b, o, "uptime_s", g->uptime_s, 3, true);
	put_u(b, o, "intervals", g->intervals);
	put(b, o, "policy", json_policy(b, &g->policy));
	for (unsigned int w = 0; w < RWPD_SNAP_WINDOWS; w++)
		put_u(b, wss, windows[w], g->wss_bytes[w]);
	put(b, o, "wss_bytes", wss);
	put(b, o, "memory", json_memory(b, &g->stats));
	put(b, o, "tiers", json_tiers(b, &g->stats));
	put(b, o, "faults", json_faults(b, &g->stats));
	put(b, o, "fetch", json_fetch(b, &g->stats));
	put(b, o, "evict", json_evict(b, g));
	put(b, o, "tick", json_tick(b, &g->timing));
	for (unsigned int i = 0; i < nr; i++)
		append(b, regions, json_region(b, &g->regions[i]));
	put(b, o, "regions", regions);
	return o;
}

int rwpd_report_json(const struct rwpd_daemon_snap *d, const struct rwpd_guest_snap *g,
		     size_t n, char **out)
{
	struct jb b = { 0 };
	struct json_object *root, *guests;
	const char *s;

	if (!d || !out || (n && !g))
		return -EINVAL;
	*out = NULL;
	root = jobj(&b);
	guests = jarr(&b);
	put_u(&b, root, "schema", RWPD_REPORT_SCHEMA);
	put(&b, root, "rwpd", json_daemon(&b, d));
	for (size_t i = 0; i < n; i++)
		append(&b, guests, json_guest(&b, &g[i]));
	put(&b, root, "guests", guests);
	if (!b.oom) {
		/* compact: a reply holds at most 64 KiB; rwpctl pretty-prints */
		s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
							 JSON_C_TO_STRING_NOSLASHESCAPE);
		*out = s ? strdup(s) : NULL;
	}
	json_object_put(root);
	return *out ? 0 : -ENOMEM;
}
