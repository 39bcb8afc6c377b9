// SPDX-License-Identifier: MIT
/*
 * One handler per request of rwp-protocol(7). A packet that does not decode gets the
 * decoder's reason as an error reply, its fds closed, and the connection closed: a peer
 * that speaks something else is not reasoned with.
 */
#include "rwpd.h"
#include "report.h"
#include "../lib/proto/codec.h"
#include "../lib/proto/transport.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void reply(struct conn *c, uint32_t seq, int status, uint64_t id, const char *text)
{
	static uint8_t buf[RWPD_MAX_MSG];
	size_t len = text ? strlen(text) : 0;
	int n;

	if (len > RWPD_MAX_MSG - sizeof(struct rwpd_hdr) - sizeof(struct rwpd_reply))
		len = RWPD_MAX_MSG - sizeof(struct rwpd_hdr) - sizeof(struct rwpd_reply);
	n = rwpd_encode_reply(buf, sizeof(buf), seq, status, id, text, len);
	if (n > 0)
		rwpd_send_packet(c->src.fd, buf, n, NULL, 0);
}

static void attach(struct rwpd *d, struct conn *c, const struct rwpd_msg *m, int *fds)
{
	const struct rwpd_attach *a = rwpd_msg_attach(m);
	char err[256] = "", name[RWPD_NAME_LEN];
	struct guest *g;
	int ret;

	snprintf(name, sizeof(name), "%s", a->name);
	struct guest_spec spec = {
		.kind = RWPD_GUEST_VMM,
		.resume_id = m->hdr.type == RWPD_RESUME ? a->guest_id : 0,
		.name = name,
		.pid = c->peer.pid,
		.uffd = fds[0],
		.uffd_features = a->uffd_features,
		.flags = a->flags,
		.regions = a->regions,
		.nr_regions = a->nr_regions,
		.fds = fds,
		.nr_fds = m->nr_fds,
		.keep_fd = a->keep_fd,
		.nr_keep = a->nr_keep,
		.image_fd = -1,
	};

	if (spec.resume_id && guest_find(d, NULL, spec.resume_id)) {
		rwpd_close_fds(fds, m->nr_fds);
		reply(c, m->hdr.seq, -EBUSY, spec.resume_id, "that guest is attached already");
		return;
	}
	ret = guest_create(d, &spec, &g, err, sizeof(err));
	if (ret) {
		rwpd_log(d, RWP_LOG_ERR, "%s from pid %d: %s", rwpd_type_name(m->hdr.type),
			 (int)c->peer.pid, err);
		reply(c, m->hdr.seq, ret, spec.resume_id, err);
		return;
	}
	g->exit_src = (struct source){ .kind = SRC_VMM_EXIT, .fd = g->pidfd, .g = g };
	rwpd_watch(d, &g->exit_src);
	rwpd_log(d, RWP_LOG_INFO, "guest %llu (%s): %s by pid %d, %u regions, state in %s",
		 (unsigned long long)g->id, g->name, spec.resume_id ? "resumed" : "attached",
		 (int)g->pid, g->nr_regions, g->dir);
	/* the state directory: what the VMM reads to take over if rwpd dies for good */
	reply(c, m->hdr.seq, 0, g->id, g->dir);
}

static void detach(struct rwpd *d, struct conn *c, const struct rwpd_msg *m)
{
	struct guest *g = guest_find(d, NULL, m->ref.guest_id);

	if (!g) {
		reply(c, m->hdr.seq, -ENOENT, m->ref.guest_id, "no such guest");
		return;
	}
	rwpd_unwatch(d, &g->exit_src);
	if (g->conn >= 0)
		rwpd_unwatch(d, &g->conn_src);
	guest_destroy(g, true);
	reply(c, m->hdr.seq, 0, m->ref.guest_id, "detached: every page is home");
}

/* Snapshots of the guests asked for (all when id is 0). */
static size_t snap_guests(struct rwpd *d, uint64_t id, struct rwpd_guest_snap **out)
{
	struct rwpd_guest_snap *v = NULL;
	size_t n = 0;

	pthread_mutex_lock(&d->lock);
	for (struct guest *g = d->guests; g; g = g->next) {
		void *nv;

		if (id && g->id != id)
			continue;
		nv = realloc(v, (n + 1) * sizeof(*v));
		if (!nv)
			break;
		v = nv;
		guest_snapshot(g, &v[n++]);
	}
	pthread_mutex_unlock(&d->lock);
	*out = v;
	return n;
}

static void daemon_snap(struct rwpd *d, struct rwpd_daemon_snap *s, size_t nr_guests)
{
	struct rwp_features f;
	FILE *st = fopen("/proc/self/statm", "re");
	unsigned long pages = 0, rss = 0;

	rwp_probe(&f);
	memset(s, 0, sizeof(*s));
	s->pid = getpid();
	s->uptime_s = rwpd_now() - d->started;
	snprintf(s->version, sizeof(s->version), "%d.%d", RWP_VERSION_MAJOR, RWP_VERSION_MINOR);
	snprintf(s->kernel, sizeof(s->kernel), "%s", f.kernel);
	s->native_rwp = f.rwp;
	if (st && fscanf(st, "%lu %lu", &pages, &rss) == 2)
		s->rss_bytes = rss * 4096ULL;
	if (st)
		fclose(st);
	s->nr_guests = nr_guests;
}

static void report(struct rwpd *d, struct conn *c, const struct rwpd_msg *m, bool metrics)
{
	struct rwpd_guest_snap *g = NULL;
	struct rwpd_daemon_snap ds;
	uint64_t id = metrics ? 0 : m->status.guest_id;
	size_t n = snap_guests(d, id, &g);
	char *text = NULL;
	int ret;

	pthread_mutex_lock(&d->lock);
	size_t all = 0;

	for (struct guest *x = d->guests; x; x = x->next)
		all++;
	pthread_mutex_unlock(&d->lock);
	daemon_snap(d, &ds, all);
	if (id && !n) {
		reply(c, m->hdr.seq, -ENOENT, id, "no such guest");
		return;
	}
	ret = metrics ? rwpd_report_prometheus(&ds, g, n, &text)
		      : rwpd_report_json(&ds, g, n, &text);
	reply(c, m->hdr.seq, ret, id, ret ? strerror(-ret) : text);
	free(text);
	free(g);
}

static void set_policy(struct rwpd *d, struct conn *c, const struct rwpd_msg *m)
{
	const struct rwpd_policy *p = &m->policy;
	unsigned int n = 0;

	pthread_mutex_lock(&d->lock);
	if (!p->guest_id) {
		/* the default for guests attached from now on */
		if (p->interval_ms)
			d->cfg.policy.interval_ms = p->interval_ms;
		if (p->min_idle)
			d->cfg.policy.min_idle = p->min_idle;
	}
	for (struct guest *g = d->guests; g; g = g->next) {
		if (p->guest_id && g->id != p->guest_id)
			continue;
		guest_set_policy(g, p);
		n++;
	}
	pthread_mutex_unlock(&d->lock);
	if (p->guest_id && !n)
		reply(c, m->hdr.seq, -ENOENT, p->guest_id, "no such guest");
	else
		reply(c, m->hdr.seq, 0, p->guest_id, "policy set");
}

static void evict(struct rwpd *d, struct conn *c, const struct rwpd_msg *m)
{
	struct guest *g = guest_find(d, NULL, m->evict.guest_id);
	char msg[160];
	int ret;

	if (!g) {
		reply(c, m->hdr.seq, -ENOENT, m->evict.guest_id, "no such guest");
		return;
	}
	ret = guest_evict_now(g, &m->evict, msg, sizeof(msg));
	reply(c, m->hdr.seq, ret, g->id, msg);
}

void rwpd_handle(struct rwpd *d, struct conn *c, const void *pkt, size_t len, int *fds,
		 unsigned int nr_fds)
{
	static struct rwpd_msg m;
	char err[200];
	int ret = rwpd_decode(pkt, len, nr_fds, &m, err, sizeof(err));
	const struct rwpd_hdr *h = pkt;

	if (ret) {
		rwpd_close_fds(fds, nr_fds);
		rwpd_log(d, RWP_LOG_WARN, "bad packet from pid %d: %s", (int)c->peer.pid, err);
		reply(c, len >= sizeof(*h) ? h->seq : 0, ret, 0, err);
		rwpd_conn_close(d, c);
		return;
	}
	if (!c->role && m.hdr.type != RWPD_HELLO) {
		rwpd_close_fds(fds, nr_fds);
		reply(c, m.hdr.seq, -EPROTO, 0, "HELLO first");
		return;
	}
	switch (m.hdr.type) {
	case RWPD_HELLO:
		c->role = m.hello.role;
		reply(c, m.hdr.seq, 0, 0, "rwpd " RWPD_VERSION_STRING);
		return;
	case RWPD_ATTACH:
	case RWPD_RESUME:
		if (c->role != RWPD_ROLE_VMM) {
			rwpd_close_fds(fds, nr_fds);
			reply(c, m.hdr.seq, -EPERM, 0, "only a VMM attaches guest memory");
			return;
		}
		attach(d, c, &m, fds);
		return;
	case RWPD_DETACH:
		detach(d, c, &m);
		return;
	case RWPD_STATUS:
		report(d, c, &m, false);
		return;
	case RWPD_METRICS:
		report(d, c, &m, true);
		return;
	case RWPD_SET_POLICY:
		set_policy(d, c, &m);
		return;
	case RWPD_EVICT:
		evict(d, c, &m);
		return;
	default:
		reply(c, m.hdr.seq, -EOPNOTSUPP, 0, "not a request rwpd serves");
	}
}
