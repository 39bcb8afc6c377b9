// SPDX-License-Identifier: MIT
/*
 * Guests: one librwp context each over the memory a VMM handed over, and a thread that
 * runs its intervals (tick, then an eviction pass by its policy).
 */
#include "rwpd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The fds of a spec that never became a guest. */
static void close_spec_fds(const struct guest_spec *s)
{
	for (unsigned int i = 0; i < s->nr_fds; i++)
		if (s->fds[i] >= 0)
			close(s->fds[i]);
}

struct guest *guest_find(struct rwpd *d, const char *id_or_name, uint64_t id)
{
	struct guest *g;

	pthread_mutex_lock(&d->lock);
	for (g = d->guests; g; g = g->next)
		if ((id && g->id == id) || (id_or_name && !strcmp(g->name, id_or_name)))
			break;
	pthread_mutex_unlock(&d->lock);
	return g;
}

static void guest_log(void *arg, enum rwp_log_level lvl, const char *msg)
{
	struct guest *g = arg;

	rwpd_log(g->d, lvl, "guest %llu (%s): %s", (unsigned long long)g->id, g->name, msg);
}

/*
 * Where guest g keeps tier tc: a file tier on a directory gets a file of its own there,
 * named so that a successor finds it again; other targets are used as they are.
 */
static void tier_target(const struct guest *g, const struct rwpd_tier_conf *tc, char *out,
			size_t n)
{
	struct stat st;

	if (tc->kind == RWPD_TIER_FILE && !stat(tc->target, &st) && S_ISDIR(st.st_mode))
		snprintf(out, n, "%s/guest-%llu.swap", tc->target, (unsigned long long)g->id);
	else
		snprintf(out, n, "%s", tc->target);
}

/* Another guest that stores pages in the tiers: an NBD export holds one guest's pages. */
static bool tiers_in_use(struct rwpd *d)
{
	bool used = false;

	pthread_mutex_lock(&d->lock);
	for (struct guest *o = d->guests; o && !used; o = o->next)
		used = o->kind != RWPD_GUEST_FIRECRACKER;
	pthread_mutex_unlock(&d->lock);
	return used;
}

/* The tier chain of the configuration, made for one guest. */
static int attach_tiers(struct guest *g, char *err, size_t errlen)
{
	const struct rwpd_config *c = &g->d->cfg;

	for (unsigned int i = 0; i < c->nr_tiers; i++) {
		const struct rwpd_tier_conf *tc = &c->tiers[i];
		struct rwp_tier *t = NULL;
		char path[RWPD_CONF_PATH_MAX + 64];
		int ret;

		switch (tc->kind) {
		case RWPD_TIER_ZRAM_LZ4:
		case RWPD_TIER_ZRAM_ZSTD: {
			RWP_OPTS(rwp_tier_zram_opts, o, .max_bytes = tc->max_bytes,
				 .codec = tc->kind == RWPD_TIER_ZRAM_ZSTD ? RWP_CODEC_ZSTD
									  : RWP_CODEC_LZ4);

			ret = rwp_tier_zram_new(&o, &t);
			break;
		}
		case RWPD_TIER_FILE: {
			tier_target(g, tc, path, sizeof(path));
			RWP_OPTS(rwp_tier_file_opts, o, .path = path, .max_bytes = tc->max_bytes);

			ret = rwp_tier_file_new(&o, &t);
			if (ret == -EBUSY) {
				snprintf(err, errlen, "tier %u: file %s holds another guest's pages; "
					 "give a directory to give each guest its own file", i, path);
				return ret;
			}
			break;
		}
		case RWPD_TIER_NBD: {
			RWP_OPTS(rwp_tier_nbd_opts, o, .uri = tc->target);

			if (tiers_in_use(g->d)) {
				snprintf(err, errlen, "tier %u: NBD export %s holds another guest's "
					 "pages; run one rwpd per export", i, tc->target);
				return -EBUSY;
			}
			ret = rwp_tier_nbd_new(&o, &t);
			break;
		}
		default:
			ret = -EINVAL;
		}
		if (!ret) {
			ret = rwp_tier_attach(g->ctx, t, tc->demote_age);
			if (ret)
				rwp_tier_free(t);
		}
		if (ret) {
			snprintf(err, errlen, "tier %u (%s %s): %s", i, rwpd_tier_kind_name(tc->kind),
				 tc->target, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/* What a successor (another rwpd, or the VMM taking over) needs to rebuild the chain. */
static void write_guest_conf(struct guest *g)
{
	const struct rwpd_config *c = &g->d->cfg;
	char path[sizeof(g->dir) + 16];
	FILE *f;

	snprintf(path, sizeof(path), "%s/guest.conf", g->dir);
	f = fopen(path, "we");
	if (!f)
		return;
	fprintf(f, "# rwpd guest %llu (%s): the tier chain, in order\n",
		(unsigned long long)g->id, g->name);
	for (unsigned int i = 0; i < c->nr_tiers; i++) {
		const struct rwpd_tier_conf *tc = &c->tiers[i];
		char target[RWPD_CONF_PATH_MAX + 64];

		tier_target(g, tc, target, sizeof(target));
		fprintf(f, "tier %s%s%s", rwpd_tier_kind_name(tc->kind), target[0] ? ":" : "",
			target);
		fprintf(f, ",max=%llu,demote=%u\n", (unsigned long long)tc->max_bytes,
			tc->demote_age);
	}
	fclose(f);
}

static void *interval_thread(void *arg)
{
	struct guest *g = arg;

	while (!atomic_load(&g->stop)) {
		struct rwpd_policy_conf p;
		struct pollfd pfd = { .fd = g->wake_efd, .events = POLLIN };
		uint64_t v;

		pthread_mutex_lock(&g->policy_lock);
		p = g->policy;
		pthread_mutex_unlock(&g->policy_lock);
		if (poll(&pfd, 1, (int)p.interval_ms) > 0 && read(g->wake_efd, &v, sizeof(v)) < 0)
			v = 0;
		if (atomic_load(&g->stop))
			break;
		/* woken by a policy change: this pass already follows the new policy */
		pthread_mutex_lock(&g->policy_lock);
		p = g->policy;
		pthread_mutex_unlock(&g->policy_lock);
		if (atomic_load(&g->phase) != RWPD_PHASE_RUNNING || rwp_track_tick(g->ctx) < 0)
			continue;
		if (!g->d->cfg.nr_tiers || !g->evictable)
			continue;
		RWP_OPTS(rwp_policy, pol, .min_idle = p.min_idle, .target_resident = p.target_resident,
			 .max_evict = p.max_evict, .max_refault_rate = p.refault_ppm / 1e6,
			 .flags = g->write_tracked ? RWP_POLICY_WRITE_TRACKED : 0);
		struct rwp_evict_result res;

		if (!rwp_evict(g->ctx, &pol, &res)) {
			atomic_fetch_add(&g->evict_passes, 1);
			atomic_fetch_add(&g->evict_ns, res.ns);
		}
	}
	return NULL;
}

static int take_fds(struct guest *g, const struct guest_spec *s)
{
	g->uffd = s->uffd;
	for (unsigned int i = 0; i < s->nr_regions; i++)
		if (s->regions && s->regions[i].fd > g->nr_memfds)
			g->nr_memfds = s->regions[i].fd;
	for (unsigned int i = 0; i < g->nr_memfds; i++)
		g->memfds[i] = s->fds[1 + i];
	for (unsigned int i = 0; i < s->nr_keep && i < RWPD_KEEP_MAX; i++)
		g->keep[i] = s->fds[s->keep_fd + i];
	g->nr_keep = s->nr_keep < RWPD_KEEP_MAX ? s->nr_keep : RWPD_KEEP_MAX;
	return 0;
}

static int make_dir(struct guest *g, char *err, size_t errlen)
{
	snprintf(g->dir, sizeof(g->dir), "%s/guest-%llu", g->d->cfg.state_dir,
		 (unsigned long long)g->id);
	if (mkdir(g->dir, 0700) && errno != EEXIST) {
		snprintf(err, errlen, "state directory %s: %s", g->dir, strerror(errno));
		return -errno;
	}
	return 0;
}

static int register_regions(struct guest *g, const struct guest_spec *s, char *err,
			    size_t errlen)
{
	for (unsigned int i = 0; i < s->nr_regions; i++) {
		const struct rwpd_region *w = &s->regions[i];
		bool fc = s->kind == RWPD_GUEST_FIRECRACKER;
		RWP_OPTS(rwp_region_opts, o, .mem = w->mem, .addr = (void *)(uintptr_t)w->addr,
			 .len = w->len, .fd = w->fd ? g->memfds[w->fd - 1] : -1, .offset = w->offset,
			 .backend = fc ? RWP_BACKEND_NONE : RWP_BACKEND_AUTO,
			 .flags = fc ? RWP_REGION_LAZY
				     : (s->flags & RWPD_ATTACH_EVICTABLE ? RWP_REGION_EVICTABLE : 0),
			 .name = g->name);
		struct rwp_region_info info;
		int ret = rwp_region_register(g->ctx, &o, &g->regions[i]);

		if (!ret && fc)
			ret = rwp_region_set_image(g->regions[i], s->image_fd, s->image_offsets[i]);
		if (ret) {
			snprintf(err, errlen, "region %u: %s", i, rwp_ctx_last_error(g->ctx));
			return ret;
		}
		g->nr_regions = i + 1;
		rwp_region_info(g->regions[i], &info);
		g->layout[i] = (struct rwpd_region_snap){
			.addr = w->addr, .len = w->len, .gpa = w->gpa, .page_size = info.page_size,
			.mem = info.mem, .backend = info.backend, .sees = info.sees,
		};
		snprintf(g->layout[i].reason, sizeof(g->layout[i].reason), "%s", info.reason);
	}
	return 0;
}

int guest_create(struct rwpd *d, const struct guest_spec *s, struct guest **out, char *err,
		 size_t errlen)
{
	const struct rwp_features *f;
	struct rwp_features feat;
	struct guest *g = calloc(1, sizeof(*g));
	int64_t settled;
	int ret;

	rwp_probe(&feat);
	f = &feat;
	if (!g) {
		close_spec_fds(s);
		return -ENOMEM;
	}
	g->d = d;
	g->kind = s->kind;
	g->pid = s->pid;
	g->conn = -1;
	g->pidfd = -1;
	g->wake_efd = -1;
	g->started = rwpd_now();
	g->keep[0] = g->keep[1] = g->keep[2] = -1;
	atomic_store(&g->phase, s->kind == RWPD_GUEST_FIRECRACKER ? RWPD_PHASE_RESTORING
								   : RWPD_PHASE_RUNNING);
	pthread_mutex_init(&g->agent_lock, NULL);
	pthread_mutex_init(&g->policy_lock, NULL);
	snprintf(g->name, sizeof(g->name), "%s", s->name);
	take_fds(g, s);
	g->evictable = s->flags & RWPD_ATTACH_EVICTABLE;

	pthread_mutex_lock(&d->lock);
	g->id = s->resume_id ? s->resume_id : ++d->next_id;
	pthread_mutex_unlock(&d->lock);
	rwpd_config_policy(&d->cfg, g->name, &g->policy);
	ret = make_dir(g, err, errlen);
	if (ret)
		goto err;
	g->pidfd = syscall(SYS_pidfd_open, g->pid, 0);
	g->wake_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (g->pidfd < 0 || g->wake_efd < 0) {
		ret = -errno;
		snprintf(err, errlen, "pid %d: %s", (int)g->pid, strerror(errno));
		goto err;
	}

	bool keep_pipe = g->nr_keep > RWPD_KEEP_PIPE_WR;
	bool agent = g->nr_keep > RWPD_KEEP_AGENT && !f->remote_zap;
	RWP_OPTS(rwp_ctx_opts, co,
		 .flags = RWP_CTX_ADOPT_UFFD | (keep_pipe ? RWP_CTX_KEEP_PIPE : 0),
		 .pid = g->pid, .uffd = g->uffd, .uffd_features = s->uffd_features,
		 .log = guest_log, .log_arg = g, .log_level = d->log_level, .state_dir = g->dir,
		 .pipe_fds = { g->keep[RWPD_KEEP_PIPE_RD], g->keep[RWPD_KEEP_PIPE_WR] },
		 .zap = agent ? guest_agent_zap : NULL, .zap_arg = g,
		 .zapv = agent ? guest_agent_zapv : NULL);

	ret = rwp_ctx_new(&co, &g->ctx);
	if (ret) {
		snprintf(err, errlen, "context: %s", strerror(-ret));
		goto err;
	}
	RWP_OPTS(rwp_fetch_opts, fo, .prefetch = d->cfg.prefetch, .no_prefetch = !d->cfg.prefetch);
	ret = rwp_fetch_configure(g->ctx, &fo);
	if (ret) {
		snprintf(err, errlen, "prefetch: %s", strerror(-ret));
		goto err;
	}
	if (s->kind != RWPD_GUEST_FIRECRACKER && (ret = attach_tiers(g, err, errlen)))
		goto err;
	ret = register_regions(g, s, err, errlen);
	if (ret)
		goto err;
	if (s->resume_id) {
		settled = rwp_ctx_recover(g->ctx);
		if (settled < 0) {
			ret = (int)settled;
			snprintf(err, errlen, "recovering the state: %s", rwp_ctx_last_error(g->ctx));
			goto err;
		}
		rwpd_log(d, RWP_LOG_INFO, "guest %llu (%s): resumed, %lld pages settled",
			 (unsigned long long)g->id, g->name, (long long)settled);
	}
	write_guest_conf(g);
	if (s->kind != RWPD_GUEST_FIRECRACKER) {
		ret = rwp_track_start(g->ctx);
		if (ret) {
			snprintf(err, errlen, "tracking: %s", rwp_ctx_last_error(g->ctx));
			goto err;
		}
		ret = pthread_create(&g->thread, NULL, interval_thread, g);
		if (ret) {
			ret = -ret;
			snprintf(err, errlen, "thread: %s", strerror(-ret));
			goto err;
		}
		g->thread_started = true;
	}
	pthread_mutex_lock(&d->lock);
	g->next = d->guests;
	d->guests = g;
	pthread_mutex_unlock(&d->lock);
	*out = g;
	return 0;
err:
	/* a new guest's state is worthless; a resumed one's may be recovered later */
	guest_destroy(g, !s->resume_id && !g->nr_regions ? true : false);
	return ret;
}

/* Remove every file of a guest's state directory, then the directory. */
static void wipe_dir(const char *dir)
{
	char path[RWPD_CONF_PATH_MAX + 320];
	struct dirent *e;
	DIR *dp = opendir(dir);

	while (dp && (e = readdir(dp))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	if (dp)
		closedir(dp);
	rmdir(dir);
}

static void unlink_guest(struct guest *g)
{
	struct rwpd *d = g->d;

	pthread_mutex_lock(&d->lock);
	for (struct guest **pp = &d->guests; *pp; pp = &(*pp)->next) {
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	}
	pthread_mutex_unlock(&d->lock);
}

void guest_destroy(struct guest *g, bool drain)
{
	uint64_t one = 1;

	if (!g)
		return;
	unlink_guest(g);
	atomic_store(&g->stop, true);
	if (g->wake_efd >= 0 && write(g->wake_efd, &one, sizeof(one)) < 0)
		one = 0;
	if (g->thread_started)
		pthread_join(g->thread, NULL);
	if (g->ctx && !drain)
		rwp_ctx_abandon(g->ctx);
	rwp_ctx_free(g->ctx); /* drains, unregisters, removes its state files unless abandoned */
	if (drain && g->dir[0])
		wipe_dir(g->dir);
	if (g->uffd >= 0)
		close(g->uffd);
	for (unsigned int i = 0; i < g->nr_memfds; i++)
		close(g->memfds[i]);
	for (unsigned int i = 0; i < RWPD_KEEP_MAX; i++)
		if (g->keep[i] >= 0)
			close(g->keep[i]);
	if (g->pidfd >= 0)
		close(g->pidfd);
	if (g->wake_efd >= 0)
		close(g->wake_efd);
	if (g->conn >= 0)
		close(g->conn);
	pthread_mutex_destroy(&g->agent_lock);
	pthread_mutex_destroy(&g->policy_lock);
	free(g);
}

void guest_forget(struct guest *g)
{
	char dir[sizeof(g->dir)];

	snprintf(dir, sizeof(dir), "%s", g->dir);
	guest_destroy(g, false);
	wipe_dir(dir);
}

void guest_set_policy(struct guest *g, const struct rwpd_policy *p)
{
	uint64_t one = 1;

	pthread_mutex_lock(&g->policy_lock);
	if (p->interval_ms)
		g->policy.interval_ms = p->interval_ms;
	if (p->min_idle)
		g->policy.min_idle = p->min_idle;
	if (p->flags & RWPD_POLICY_SET_TARGET || p->target_resident)
		g->policy.target_resident = p->target_resident;
	if (p->flags & RWPD_POLICY_SET_MAX_EVICT || p->max_evict)
		g->policy.max_evict = p->max_evict;
	if (p->flags & RWPD_POLICY_SET_REFAULT || p->refault_ppm)
		g->policy.refault_ppm = p->refault_ppm;
	g->write_tracked = p->flags & RWPD_POLICY_WRITE_TRACKED;
	pthread_mutex_unlock(&g->policy_lock);
	/* a new interval takes effect now, not after the old one ran out */
	if (write(g->wake_efd, &one, sizeof(one)) < 0)
		one = 0;
}

int guest_evict_now(struct guest *g, const struct rwpd_evict_req *req, char *msg, size_t n)
{
	struct rwp_evict_result res;
	struct rwpd_policy_conf p;
	int ret;

	pthread_mutex_lock(&g->policy_lock);
	p = g->policy;
	pthread_mutex_unlock(&g->policy_lock);
	RWP_OPTS(rwp_policy, pol, .min_idle = p.min_idle,
		 .target_resident = req->target_resident ?: p.target_resident,
		 .max_evict = req->max_pages ?: p.max_evict,
		 .flags = g->write_tracked ? RWP_POLICY_WRITE_TRACKED : 0);
	ret = rwp_evict(g->ctx, &pol, &res);
	if (ret) {
		snprintf(msg, n, "%s", rwp_ctx_last_error(g->ctx));
		return ret;
	}
	atomic_fetch_add(&g->evict_passes, 1);
	atomic_fetch_add(&g->evict_ns, res.ns);
	snprintf(msg, n, "evicted %llu pages (%llu zero), kept %llu, failed %llu in %.1f ms",
		 (unsigned long long)res.evicted, (unsigned long long)res.zero,
		 (unsigned long long)res.kept, (unsigned long long)res.failed, res.ns / 1e6);
	return 0;
}

void guest_snapshot(struct guest *g, struct rwpd_guest_snap *s)
{
	static const unsigned int windows[RWPD_SNAP_WINDOWS] = { 1, 4, 16 };

	memset(s, 0, sizeof(*s));
	s->id = g->id;
	snprintf(s->name, sizeof(s->name), "%s", g->name);
	s->pid = g->pid;
	s->kind = g->kind;
	s->phase = atomic_load(&g->phase);
	s->uptime_s = rwpd_now() - g->started;
	s->intervals = rwp_track_intervals(g->ctx);
	pthread_mutex_lock(&g->policy_lock);
	s->policy = (struct rwpd_policy_snap){
		.interval_ms = g->policy.interval_ms,
		.min_idle = g->policy.min_idle,
		.target_resident = g->policy.target_resident,
		.max_evict = g->policy.max_evict,
		.refault_ppm = g->policy.refault_ppm,
		.flags = g->write_tracked ? RWPD_POLICY_WRITE_TRACKED : 0,
	};
	pthread_mutex_unlock(&g->policy_lock);
	for (unsigned int w = 0; w < RWPD_SNAP_WINDOWS; w++) {
		int64_t b = rwp_ctx_wss_bytes(g->ctx, windows[w]);

		s->wss_bytes[w] = b > 0 ? b : 0;
	}
	rwp_stats(g->ctx, &s->stats);
	rwp_track_timing(g->ctx, &s->timing);
	s->evict_passes = atomic_load(&g->evict_passes);
	s->evict_ns = atomic_load(&g->evict_ns);
	s->nr_regions = g->nr_regions;
	memcpy(s->regions, g->layout, g->nr_regions * sizeof(g->layout[0]));
}
