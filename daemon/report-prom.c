// SPDX-License-Identifier: MIT
/*
 * METRICS as Prometheus text exposition format 0.0.4 from snapshots. The names are API:
 * add families, never rename or repurpose one (rwpctl(1), METRICS documents them).
 */
#include "report.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Metric families, in the order they come (guest families carry guest="NAME",id="ID";
 * a family with no sample, as with no guests or no tiers, is left out entirely):
 *
 *   rwp_daemon_info{version,kernel,native_rwp}   gauge    always 1
 *   rwp_daemon_uptime_seconds                     gauge
 *   rwp_daemon_resident_bytes                     gauge    rwpd's own RSS
 *   rwp_daemon_guests                             gauge    guests managed
 *   rwp_guest_info{kind,phase}                    gauge    always 1
 *   rwp_guest_uptime_seconds                      gauge
 *   rwp_intervals_total                           counter  tracking intervals
 *   rwp_policy_interval_seconds                   gauge
 *   rwp_policy_min_idle_intervals                 gauge
 *   rwp_policy_target_resident_bytes              gauge    0: no target
 *   rwp_wss_bytes{window="1"|"4"|"16"}            gauge    accessed within N intervals
 *   rwp_guest_memory_bytes                        gauge    registered guest memory
 *   rwp_resident_bytes                            gauge
 *   rwp_evicted_pages                             gauge    4 KiB pages out of RAM
 *   rwp_zero_pages                                gauge    ... of which zero (no storage)
 *   rwp_saved_bytes                               gauge    evicted - tier RAM; may be < 0
 *   rwp_faults_total{type="missing"|"minor"|"rwp"|"held"}   counter
 *   rwp_prefetch_hits_total                       counter  prefetched, then touched
 *   rwp_prefetch_waste_total                      counter  prefetched, evicted untouched
 *   rwp_fetch_errors_total                        counter
 *   rwp_poisoned_pages_total                      counter
 *   rwp_refault_rate                              gauge    fetches/minute / WSS
 *   rwp_fetch_latency_max_seconds                 gauge
 *   rwp_evict_pages_total                         counter
 *   rwp_evict_failures_total                      counter
 *   rwp_evict_passes_total                        counter
 *   rwp_evict_seconds_total                       counter
 *   rwp_ticks_total                               counter
 *   rwp_tick_pages_total                          counter  pages covered by ticks
 *   rwp_tick_seconds_total{phase="scan"|"bookkeeping"|"protect"}  counter
 *   rwp_tier_pages{tier,level}                    gauge    level: 0 = fastest
 *   rwp_tier_bytes{tier,level}                    gauge    uncompressed
 *   rwp_tier_used_bytes{tier,level}               gauge    memory or storage used
 *   rwp_tier_stores_total{tier,level}             counter
 *   rwp_tier_loads_total{tier,level}              counter
 *   rwp_tier_errors_total{tier,level}             counter
 *   rwp_fetch_pages_total{class="data"|"zero"|"prefetch"}  counter
 *   rwp_fetch_latency_seconds{quantile="0.5"|"0.9"|"0.99"}  summary (+ _sum, _count)
 */

struct pbuf {
	char *s;
	size_t len, cap;
	bool oom;
};

__attribute__((format(printf, 2, 3))) static void pf(struct pbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < b->cap - b->len)
			break;
		size_t cap = b->cap * 2 + (size_t)n + 1;
		char *s = realloc(b->s, cap);

		if (!s) {
			b->oom = true;
			return;
		}
		b->s = s;
		b->cap = cap;
	}
	b->len += (size_t)n;
}

/* A label value: backslash, double quote and newline escaped, as 0.0.4 requires. */
static void pesc(struct pbuf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			pf(b, "\\\\");
		else if (*v == '"')
			pf(b, "\\\"");
		else if (*v == '\n')
			pf(b, "\\n");
		else
			pf(b, "%c", *v);
	}
}

/* Prometheus floats: Go's ParseFloat spellings of the special values */
static void pval(struct pbuf *b, double v)
{
	if (isnan(v))
		pf(b, "NaN");
	else if (isinf(v))
		pf(b, v > 0 ? "+Inf" : "-Inf");
	else
		pf(b, "%.9g", v);
}

struct family {
	const char *name, *type, *help;
	bool said;
};

/* HELP and TYPE once, right before the family's first sample. */
static void head(struct pbuf *b, struct family *f)
{
	if (f->said)
		return;
	f->said = true;
	pf(b, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, f->type);
}

/* name{guest="..",id="..",extra} with the value to follow; extra is already escaped */
static void series(struct pbuf *b, struct family *f, const char *suffix,
		   const struct rwpd_guest_snap *g, const char *extra)
{
	char s[sizeof(g->name) + 1];

	head(b, f);
	pf(b, "%s%s{guest=\"", f->name, suffix);
	pesc(b, CLEAN(s, g->name));
	pf(b, "\",id=\"%" PRIu64 "\"%s%s}", g->id, *extra ? "," : "", extra);
}

static void sample_u(struct pbuf *b, struct family *f, const struct rwpd_guest_snap *g,
		     const char *extra, uint64_t v)
{
	series(b, f, "", g, extra);
	pf(b, " %" PRIu64 "\n", v);
}

static void sample_d(struct pbuf *b, struct family *f, const char *suffix,
		     const struct rwpd_guest_snap *g, const char *extra, double v)
{
	series(b, f, suffix, g, extra);
	pf(b, " ");
	pval(b, v);
	pf(b, "\n");
}

/* Guest families of plain fields, one to four labelled variants each. */
enum pkind { U32, U64, S64, F64, NS, MS };

#define GF(f) offsetof(struct rwpd_guest_snap, f)

static const struct pfam {
	const char *name, *type, *help;
	enum pkind kind;
	struct {
		const char *label;
		size_t off;
	} v[4];
} pfams[] = {
	{ "rwp_guest_uptime_seconds", "gauge", "Time since the guest attached.", F64,
	  { { "", GF(uptime_s) } } },
	{ "rwp_intervals_total", "counter", "Tracking intervals completed.", U64,
	  { { "", GF(intervals) } } },
	{ "rwp_policy_interval_seconds", "gauge", "Length of a tracking interval.", MS,
	  { { "", GF(policy.interval_ms) } } },
	{ "rwp_policy_min_idle_intervals", "gauge",
	  "Intervals a page stays idle before it may be evicted.", U32,
	  { { "", GF(policy.min_idle) } } },
	{ "rwp_policy_target_resident_bytes", "gauge",
	  "Resident memory eviction aims for; 0 means no target.", U64,
	  { { "", GF(policy.target_resident) } } },
	{ "rwp_wss_bytes", "gauge", "Working set: bytes accessed within the last N intervals.",
	  U64,
	  { { "window=\"1\"", GF(wss_bytes[0]) },
	    { "window=\"4\"", GF(wss_bytes[1]) },
	    { "window=\"16\"", GF(wss_bytes[2]) } } },
	{ "rwp_guest_memory_bytes", "gauge", "Guest memory registered with rwpd.", U64,
	  { { "", GF(stats.guest_bytes) } } },
	{ "rwp_resident_bytes", "gauge", "Guest memory resident in RAM.", U64,
	  { { "", GF(stats.resident_bytes) } } },
	{ "rwp_evicted_pages", "gauge", "4 KiB pages evicted to a tier or known zero.", U64,
	  { { "", GF(stats.evicted_pages) } } },
	{ "rwp_zero_pages", "gauge", "Evicted pages that are zero and take no storage.", U64,
	  { { "", GF(stats.zero_pages) } } },
	{ "rwp_saved_bytes", "gauge", "Evicted bytes minus the RAM the tiers use for them.", S64,
	  { { "", GF(stats.saved_bytes) } } },
	{ "rwp_faults_total", "counter", "Userfaultfd faults handled, by type.", U64,
	  { { "type=\"missing\"", GF(stats.faults_missing) },
	    { "type=\"minor\"", GF(stats.faults_minor) },
	    { "type=\"rwp\"", GF(stats.faults_rwp) },
	    { "type=\"held\"", GF(stats.faults_held) } } },
	{ "rwp_prefetch_hits_total", "counter", "Prefetched pages the guest then touched.", U64,
	  { { "", GF(stats.prefetch_hits) } } },
	{ "rwp_prefetch_waste_total", "counter",
	  "Prefetched pages evicted again without being touched.", U64,
	  { { "", GF(stats.prefetch_waste) } } },
	{ "rwp_fetch_errors_total", "counter", "Failed reads of evicted pages.", U64,
	  { { "", GF(stats.fetch_errors) } } },
	{ "rwp_poisoned_pages_total", "counter",
	  "Pages poisoned after their reads kept failing.", U64,
	  { { "", GF(stats.poisoned) } } },
	{ "rwp_refault_rate", "gauge",
	  "Fetches in the last minute as a fraction of the working set.", F64,
	  { { "", GF(stats.refault_rate) } } },
	{ "rwp_fetch_latency_max_seconds", "gauge", "Slowest fault resolution.", NS,
	  { { "", GF(stats.fault_latency.max_ns) } } },
	{ "rwp_evict_pages_total", "counter", "Pages evicted.", U64,
	  { { "", GF(stats.evicted_total) } } },
	{ "rwp_evict_failures_total", "counter", "Pages a tier refused or failed to store.",
	  U64, { { "", GF(stats.evict_failures) } } },
	{ "rwp_evict_passes_total", "counter", "Eviction passes run.", U64,
	  { { "", GF(evict_passes) } } },
	{ "rwp_evict_seconds_total", "counter", "Time spent in eviction passes.", NS,
	  { { "", GF(evict_ns) } } },
	{ "rwp_ticks_total", "counter", "Tracking ticks.", U64, { { "", GF(timing.ticks) } } },
	{ "rwp_tick_pages_total", "counter", "Guest pages covered by tracking ticks.", U64,
	  { { "", GF(timing.pages) } } },
	{ "rwp_tick_seconds_total", "counter", "Time spent in tracking ticks, by phase.", NS,
	  { { "phase=\"scan\"", GF(timing.scan_ns) },
	    { "phase=\"bookkeeping\"", GF(timing.bookkeeping_ns) },
	    { "phase=\"protect\"", GF(timing.protect_ns) } } },
};

static void prom_field(struct pbuf *b, struct family *f, const struct pfam *p,
		       const struct rwpd_guest_snap *g, unsigned int i)
{
	const char *at = (const char *)g + p->v[i].off;
	const char *label = p->v[i].label;
	uint64_t u;
	int64_t s;
	uint32_t w;
	double d;

	switch (p->kind) {
	case U32:
		memcpy(&w, at, sizeof(w));
		sample_u(b, f, g, label, w);
		break;
	case U64:
		memcpy(&u, at, sizeof(u));
		sample_u(b, f, g, label, u);
		break;
	case S64:
		memcpy(&s, at, sizeof(s));
		series(b, f, "", g, label);
		pf(b, " %" PRId64 "\n", s);
		break;
	case F64:
		memcpy(&d, at, sizeof(d));
		sample_d(b, f, "", g, label, d);
		break;
	case NS:
		memcpy(&u, at, sizeof(u));
		sample_d(b, f, "", g, label, (double)u / 1e9);
		break;
	case MS:
		memcpy(&w, at, sizeof(w));
		sample_d(b, f, "", g, label, (double)w / 1e3);
		break;
	}
}

static void prom_fields(struct pbuf *b, const struct rwpd_guest_snap *g, size_t n)
{
	for (size_t k = 0; k < ARRAY_SIZE(pfams); k++) {
		const struct pfam *p = &pfams[k];
		struct family f = { p->name, p->type, p->help, false };

		for (size_t i = 0; i < n; i++)
			for (unsigned int v = 0; v < ARRAY_SIZE(p->v) && p->v[v].label; v++)
				prom_field(b, &f, p, &g[i], v);
	}
}

static void prom_daemon(struct pbuf *b, const struct rwpd_daemon_snap *d)
{
	char s[sizeof(d->kernel) + 1];

	pf(b, "# HELP rwp_daemon_info rwpd's version and kernel; always 1.\n"
	      "# TYPE rwp_daemon_info gauge\nrwp_daemon_info{version=\"");
	pesc(b, CLEAN(s, d->version));
	pf(b, "\",kernel=\"");
	pesc(b, CLEAN(s, d->kernel));
	pf(b, "\",native_rwp=\"%s\"} 1\n", d->native_rwp ? "true" : "false");
	pf(b, "# HELP rwp_daemon_uptime_seconds Time since rwpd started.\n"
	      "# TYPE rwp_daemon_uptime_seconds gauge\nrwp_daemon_uptime_seconds ");
	pval(b, d->uptime_s);
	pf(b, "\n# HELP rwp_daemon_resident_bytes rwpd's own resident memory.\n"
	      "# TYPE rwp_daemon_resident_bytes gauge\nrwp_daemon_resident_bytes %" PRIu64 "\n",
	   d->rss_bytes);
	pf(b, "# HELP rwp_daemon_guests Guests rwpd manages.\n"
	      "# TYPE rwp_daemon_guests gauge\nrwp_daemon_guests %u\n", d->nr_guests);
}

static void prom_info(struct pbuf *b, const struct rwpd_guest_snap *g, size_t n)
{
	struct family f = { "rwp_guest_info", "gauge",
			    "A guest's kind and phase; always 1.", false };
	char extra[64];

	for (size_t i = 0; i < n; i++) {
		snprintf(extra, sizeof(extra), "kind=\"%s\",phase=\"%s\"",
			 rwpd_guest_kind_name(g[i].kind), rwpd_guest_phase_name(g[i].phase));
		sample_u(b, &f, &g[i], extra, 1);
	}
}

/* The tier label needs escaping, so it is built in a buffer of its own. */
static const char *tier_label(char *buf, size_t cap, const struct rwp_tier_stats *t,
			      unsigned int level)
{
	char s[sizeof(t->name) + 1], *p = buf;

	CLEAN(s, t->name);
	p += snprintf(p, cap, "tier=\"");
	/* a cleaned name of <16 bytes, escaped, fits twice over */
	for (const char *c = s; *c; c++) {
		if (*c == '\\' || *c == '"')
			*p++ = '\\';
		*p++ = *c;
	}
	snprintf(p, cap - (size_t)(p - buf), "\",level=\"%u\"", level);
	return buf;
}

static void prom_tiers(struct pbuf *b, const struct rwpd_guest_snap *g, size_t n)
{
	static const struct {
		const char *name, *type, *help;
		size_t off;
	} tf[] = {
#define TF(x) offsetof(struct rwp_tier_stats, x)
		{ "rwp_tier_pages", "gauge", "Pages a tier holds.", TF(pages) },
		{ "rwp_tier_bytes", "gauge", "Uncompressed size of the pages a tier holds.",
		  TF(bytes) },
		{ "rwp_tier_used_bytes", "gauge", "Memory or storage a tier uses.",
		  TF(used_bytes) },
		{ "rwp_tier_stores_total", "counter", "Pages stored to a tier.", TF(stores) },
		{ "rwp_tier_loads_total", "counter", "Pages loaded from a tier.", TF(loads) },
		{ "rwp_tier_errors_total", "counter", "Failed tier stores and loads.",
		  TF(errors) },
#undef TF
	};
	char label[96];

	for (size_t k = 0; k < ARRAY_SIZE(tf); k++) {
		struct family f = { tf[k].name, tf[k].type, tf[k].help, false };

		for (size_t i = 0; i < n; i++) {
			const struct rwp_stats *st = &g[i].stats;
			unsigned int nt = st->nr_tiers < RWP_TIERS_MAX ? st->nr_tiers :
									 RWP_TIERS_MAX;

			for (unsigned int t = 0; t < nt; t++) {
				uint64_t v;

				memcpy(&v, (const char *)&st->tier[t] + tf[k].off, sizeof(v));
				sample_u(b, &f, &g[i], tier_label(label, sizeof(label),
								  &st->tier[t], t), v);
			}
		}
	}
}

static void prom_fetch(struct pbuf *b, const struct rwpd_guest_snap *g, size_t n)
{
	struct family pages = { "rwp_fetch_pages_total", "counter",
				"Evicted pages brought back: on a fault from a tier (data), "
				"as zero pages (zero), or with a neighbour's fault (prefetch).",
				false };
	struct family lat = { "rwp_fetch_latency_seconds", "summary",
			      "Fault resolution latency, from message read to fault resolved.",
			      false };
	static const char *const q[] = { "quantile=\"0.5\"", "quantile=\"0.9\"",
					 "quantile=\"0.99\"" };

	for (size_t i = 0; i < n; i++) {
		const struct rwp_stats *st = &g[i].stats;

		/* the counters are read one by one: zero may run ahead of fetched */
		sample_u(b, &pages, &g[i], "class=\"data\"",
			 st->fetched > st->fetched_zero ? st->fetched - st->fetched_zero : 0);
		sample_u(b, &pages, &g[i], "class=\"zero\"", st->fetched_zero);
		sample_u(b, &pages, &g[i], "class=\"prefetch\"", st->prefetched);
	}
	for (size_t i = 0; i < n; i++) {
		const struct rwp_latency *l = &g[i].stats.fault_latency;
		const uint64_t v[] = { l->p50_ns, l->p90_ns, l->p99_ns };

		/* no sample yet: no quantile either, as client libraries render it */
		for (size_t k = 0; k < ARRAY_SIZE(q); k++)
			sample_d(b, &lat, "", &g[i], q[k], l->count ? (double)v[k] / 1e9 : NAN);
		/* the snapshot has the mean, not the sum: off by under 1 ns per fault */
		sample_d(b, &lat, "_sum", &g[i], "", (double)l->mean_ns * (double)l->count / 1e9);
		sample_d(b, &lat, "_count", &g[i], "", (double)l->count);
	}
}

int rwpd_report_prometheus(const struct rwpd_daemon_snap *d, const struct rwpd_guest_snap *g,
			   size_t n, char **out)
{
	struct pbuf b = { 0 };

	if (!d || !out || (n && !g))
		return -EINVAL;
	*out = NULL;
	b.cap = 4096 + n * 8192;
	b.s = malloc(b.cap);
	if (!b.s)
		return -ENOMEM;
	b.s[0] = '\0';
	prom_daemon(&b, d);
	prom_info(&b, g, n);
	prom_fields(&b, g, n);
	prom_tiers(&b, g, n);
	prom_fetch(&b, g, n);
	if (b.oom) {
		free(b.s);
		return -ENOMEM;
	}
	*out = b.s;
	return 0;
}
