// SPDX-License-Identifier: MIT
/*
 * The run as JSON (json-c): configuration, phases, one record per interval, the heat map
 * (hot pages per address bucket per interval) and the summary with the verdict. Counts
 * are librwp's as sampled, under librwp's names where it has one.
 */
#include "host.h"

#include <errno.h>
#include <json-c/json.h>
#include <string.h>

#define ADD(obj, key, val) json_object_object_add(obj, key, val)
#define I64(v) json_object_new_int64((int64_t)(v))
#define DBL(v) json_object_new_double(v)
#define STR(v) json_object_new_string(v)

static struct json_object *latency(const struct rwp_latency *l)
{
	struct json_object *o = json_object_new_object();

	ADD(o, "count", I64(l->count));
	ADD(o, "p50_ns", I64(l->p50_ns));
	ADD(o, "p90_ns", I64(l->p90_ns));
	ADD(o, "p99_ns", I64(l->p99_ns));
	ADD(o, "max_ns", I64(l->max_ns));
	ADD(o, "mean_ns", I64(l->mean_ns));
	return o;
}

static struct json_object *stats(const struct rwp_stats *st)
{
	struct json_object *o = json_object_new_object(), *tiers = json_object_new_array();

	ADD(o, "guest_bytes", I64(st->guest_bytes));
	ADD(o, "resident_bytes", I64(st->resident_bytes));
	ADD(o, "evicted_pages", I64(st->evicted_pages));
	ADD(o, "zero_pages", I64(st->zero_pages));
	ADD(o, "saved_bytes", I64(st->saved_bytes));
	for (unsigned int t = 0; t < st->nr_tiers; t++) {
		const struct rwp_tier_stats *ts = &st->tier[t];
		struct json_object *to = json_object_new_object();

		ADD(to, "name", STR(ts->name));
		ADD(to, "pages", I64(ts->pages));
		ADD(to, "bytes", I64(ts->bytes));
		ADD(to, "used_bytes", I64(ts->used_bytes));
		ADD(to, "stores", I64(ts->stores));
		ADD(to, "loads", I64(ts->loads));
		ADD(to, "errors", I64(ts->errors));
		json_object_array_add(tiers, to);
	}
	ADD(o, "tiers", tiers);
	ADD(o, "faults_missing", I64(st->faults_missing));
	ADD(o, "faults_minor", I64(st->faults_minor));
	ADD(o, "faults_rwp", I64(st->faults_rwp));
	ADD(o, "faults_held", I64(st->faults_held));
	ADD(o, "fetched", I64(st->fetched));
	ADD(o, "fetched_zero", I64(st->fetched_zero));
	ADD(o, "prefetched", I64(st->prefetched));
	ADD(o, "prefetch_hits", I64(st->prefetch_hits));
	ADD(o, "prefetch_waste", I64(st->prefetch_waste));
	ADD(o, "evicted_total", I64(st->evicted_total));
	ADD(o, "evict_failures", I64(st->evict_failures));
	ADD(o, "fetch_errors", I64(st->fetch_errors));
	ADD(o, "poisoned", I64(st->poisoned));
	ADD(o, "refault_rate", DBL(st->refault_rate));
	ADD(o, "fetch_latency", latency(&st->fault_latency));
	return o;
}

static struct json_object *config(const struct vmm_env *env)
{
	const struct vmm_opts *o = env->opts;
	struct json_object *c = json_object_new_object(), *tiers = json_object_new_array();

	ADD(c, "mem_bytes", I64(env->ram.bytes));
	ADD(c, "data_gpa", I64(env->ram.data_gpa));
	ADD(c, "data_pages", I64(env->ram.data_pages));
	ADD(c, "page_size", I64(env->rwp.info.page_size));
	ADD(c, "seconds", DBL(o->seconds));
	ADD(c, "interval_ms", I64(o->interval_ms));
	ADD(c, "min_idle", I64(o->min_idle));
	ADD(c, "cpu", I64(o->cpu));
	ADD(c, "backend", STR(rwp_backend_name(env->rwp.info.backend)));
	ADD(c, "backend_reason", STR(env->rwp.info.reason));
	for (unsigned int t = 0; t < env->rwp.nr_tiers; t++)
		json_object_array_add(tiers, STR(env->rwp.tiers[t]));
	ADD(c, "tiers", tiers);
	return c;
}

static struct json_object *phases(const struct vmm_env *env)
{
	struct json_object *a = json_object_new_array();

	for (unsigned int p = 0; p < vmm_nr_phases; p++) {
		struct json_object *o = json_object_new_object();
		uint64_t first, span, count;
		double start, end;

		vmm_phase_pages(&env->ram, p, &first, &span, &count);
		vmm_sched_span(&env->sched, p, &start, &end);
		ADD(o, "name", STR(vmm_phases[p].name));
		ADD(o, "first_page", I64(first));
		ADD(o, "span_pages", I64(span));
		ADD(o, "pages", I64(count));
		ADD(o, "step", I64(vmm_phases[p].step));
		ADD(o, "write_every", I64(vmm_phases[p].write_every));
		ADD(o, "start_s", DBL(start));
		ADD(o, "end_s", DBL(end));
		json_object_array_add(a, o);
	}
	return a;
}

static struct json_object *interval(const struct vmm_sample *s)
{
	struct json_object *o = json_object_new_object(), *tb = json_object_new_array();

	ADD(o, "t", DBL(s->t));
	ADD(o, "phase", I64(s->phase));
	ADD(o, "hot", I64(s->hot));
	ADD(o, "wss1", I64(s->wss1));
	ADD(o, "wss4", I64(s->wss4));
	ADD(o, "resident_bytes", I64(s->st.resident_bytes));
	ADD(o, "evicted_pages", I64(s->st.evicted_pages));
	ADD(o, "zero_pages", I64(s->st.zero_pages));
	ADD(o, "saved_bytes", I64(s->st.saved_bytes));
	for (unsigned int t = 0; t < s->st.nr_tiers; t++)
		json_object_array_add(tb, I64(s->st.tier[t].used_bytes));
	ADD(o, "tier_used_bytes", tb);
	ADD(o, "evict_candidates", I64(s->evict.candidates));
	ADD(o, "evicted", I64(s->evict.evicted));
	ADD(o, "evict_kept", I64(s->evict.kept));
	ADD(o, "demoted", I64(s->evict.demoted));
	ADD(o, "evict_min_idle", I64(s->evict.min_idle));
	ADD(o, "evict_ns", I64(s->evict.ns));
	ADD(o, "faults_missing", I64(s->st.faults_missing));
	ADD(o, "faults_minor", I64(s->st.faults_minor));
	ADD(o, "faults_rwp", I64(s->st.faults_rwp));
	ADD(o, "fetched", I64(s->st.fetched));
	ADD(o, "prefetched", I64(s->st.prefetched));
	ADD(o, "prefetch_hits", I64(s->st.prefetch_hits));
	ADD(o, "prefetch_waste", I64(s->st.prefetch_waste));
	ADD(o, "fetch_p50_ns", I64(s->st.fault_latency.p50_ns));
	ADD(o, "fetch_p99_ns", I64(s->st.fault_latency.p99_ns));
	ADD(o, "guest_pages", I64(s->guest_pages));
	return o;
}

static struct json_object *heatmap(const struct vmm_env *env)
{
	const struct vmm_series *s = &env->series;
	struct json_object *h = json_object_new_object(), *rows = json_object_new_array();

	ADD(h, "buckets", I64(s->buckets));
	ADD(h, "pages", I64(env->rwp.info.nr_pages));
	for (size_t i = 0; i < s->n; i++) {
		struct json_object *row = json_object_new_array_ext(s->buckets);

		for (size_t b = 0; b < s->buckets; b++)
			json_object_array_add(row, I64(s->heat[i * s->buckets + b]));
		json_object_array_add(rows, row);
	}
	ADD(h, "rows", rows);
	return h;
}

static struct json_object *summary(const struct vmm_env *env)
{
	const struct vmm_result *r = &env->res;
	struct json_object *o = json_object_new_object(), *c = json_object_new_object();
	struct json_object *g = json_object_new_object();

	ADD(o, "run_s", DBL(r->run_s));
	ADD(o, "stamp_s", DBL(r->stamp_s));
	ADD(o, "intervals", I64(env->series.n));
	ADD(o, "stats", stats(&r->last));
	ADD(o, "track_scan_ns", I64(r->timing.scan_ns));
	ADD(o, "track_bookkeeping_ns", I64(r->timing.bookkeeping_ns));
	ADD(o, "track_protect_ns", I64(r->timing.protect_ns));
	ADD(o, "drained", I64(r->drained));
	ADD(o, "evicted_after_drain", I64(r->drained_st.evicted_pages));
	ADD(g, "sweeps", I64(r->guest_sweeps));
	ADD(g, "pages", I64(r->guest_pages));
	ADD(g, "bad", I64(r->guest_bad));
	ADD(g, "failure", STR(env->gstat.failure));
	ADD(o, "guest", g);
	ADD(c, "pages", I64(r->check.pages));
	ADD(c, "bad", I64(r->check.bad));
	ADD(c, "bad_stamp", I64(r->check.bad_stamp));
	ADD(c, "bad_generation", I64(r->check.bad_gen));
	ADD(c, "bad_contents", I64(r->check.bad_body));
	ADD(c, "seconds", DBL(r->check_s));
	ADD(o, "check", c);
	ADD(o, "interrupted", json_object_new_boolean(r->interrupted));
	ADD(o, "verdict", STR(r->good ? "good" : "bad"));
	return o;
}

int vmm_json_write(const struct vmm_env *env, const char *path, char *err, size_t errlen)
{
	struct json_object *root = json_object_new_object(), *iv = json_object_new_array();
	int ret = 0;

	json_c_set_serialization_double_format("%.6g", JSON_C_OPTION_THREAD);
	ADD(root, "tool", STR(env->opts->prog));
	ADD(root, "guest", STR(env->ops->kind));
	ADD(root, "guest_detail", STR(env->ops->what));
	ADD(root, "config", config(env));
	ADD(root, "phases", phases(env));
	for (size_t i = 0; i < env->series.n; i++)
		json_object_array_add(iv, interval(&env->series.v[i]));
	ADD(root, "intervals", iv);
	ADD(root, "heatmap", heatmap(env));
	ADD(root, "summary", summary(env));
	if (json_object_to_file_ext(path, root, JSON_C_TO_STRING_PLAIN)) {
		ret = -EIO;
		snprintf(err, errlen, "write %s: %s", path, json_util_get_last_err());
	}
	json_object_put(root);
	return ret;
}
