// SPDX-License-Identifier: MIT
/*
 * The VMM side of rwpd: attach guest memory, serve rwpd's zap requests, and outlive rwpd
 * (RESUME with its successor, or take the memory back). See include/rwp/client.h.
 */
#include "../internal.h"
#include "../opts.h"
#include "../proto/codec.h"
#include "../proto/transport.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <rwp/client.h>

#define RETRY_MS 100
#define REPLY_TIMEOUT_MS 30000

struct rwp_client {
	char socket[108];
	char name[RWPD_NAME_LEN];
	unsigned int flags;
	unsigned int takeover_ms;
	rwp_log_fn log;
	void *log_arg;

	struct rwpd_region regions[RWPD_MAX_REGIONS];
	struct rwp_client_region given[RWPD_MAX_REGIONS];
	unsigned int nr_regions;
	int memfds[RWPD_MAX_REGIONS]; /* distinct memory fds, in the order the regions name them */
	unsigned int nr_memfds;

	int uffd;
	uint64_t features;
	int pipe[2];	/* the splice pipe rwpd evicts through; we keep it alive for it */
	int conn;
	int agent;	/* our end of the socket rwpd sends zap requests to */
	uint64_t guest_id;
	char state_dir[4096];
	uint32_t seq;

	pthread_t thread;
	bool thread_started;
	int stop_efd;
	atomic_bool took_over;
	struct rwp_ctx *local; /* after a take-over */
};

static void client_log(struct rwp_client *c, enum rwp_log_level lvl, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!c->log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->log(c->log_arg, lvl, msg);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/* rwpd asks us to drop PTEs of our own memory (it may not, on stock kernels). */
static void serve_agent(struct rwp_client *c)
{
	uint8_t buf[256], out[64];
	struct rwpd_msg m;
	ssize_t len = rwpd_recv(c->agent, buf, sizeof(buf), NULL, 0, NULL);
	int ret, n;

	if (len <= 0)
		return;
	if (rwpd_decode(buf, len, 0, &m, NULL, 0) || m.hdr.type != RWPD_ZAP)
		return;
	ret = madvise((void *)(uintptr_t)m.zap.addr, m.zap.len, MADV_DONTNEED) ? -errno : 0;
	n = rwpd_encode_reply(out, sizeof(out), m.hdr.seq, ret, c->guest_id, NULL, 0);
	if (n > 0)
		rwpd_send_packet(c->agent, out, n, NULL, 0);
}

/*
 * Wait for the reply to seq; its text goes to text (NUL-terminated). rwpd may need PTEs
 * zapped before it can answer (arming tracking does): serve the agent meanwhile.
 */
static int await_reply(struct rwp_client *c, int sock, uint32_t seq, uint64_t *id, char *text,
		       size_t n)
{
	static __thread uint8_t buf[RWPD_MAX_MSG];
	static __thread struct rwpd_msg m;
	uint64_t deadline = now_ms() + REPLY_TIMEOUT_MS;
	ssize_t len;
	int ret;

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = sock, .events = POLLIN },
			{ .fd = c->agent, .events = POLLIN },
		};
		uint64_t now = now_ms();

		if (now >= deadline)
			return -ETIMEDOUT;
		ret = poll(pfd, 2, (int)(deadline - now));
		if (ret < 0 && errno != EINTR)
			return -errno;
		if (ret > 0 && (pfd[1].revents & POLLIN))
			serve_agent(c);
		if (ret > 0 && pfd[0].revents)
			break;
	}
	len = rwpd_recv(sock, buf, sizeof(buf), NULL, 0, NULL);
	if (len <= 0)
		return len ? (int)len : -ECONNRESET;
	ret = rwpd_decode(buf, len, 0, &m, NULL, 0);
	if (ret)
		return ret;
	if (m.hdr.type != RWPD_REPLY || m.hdr.seq != seq)
		return -EPROTO;
	if (id)
		*id = m.reply.guest_id;
	if (text && n) {
		size_t k = m.text_len < n - 1 ? m.text_len : n - 1;

		memcpy(text, m.text, k);
		text[k] = 0;
	}
	if (m.reply.status)
		client_log(c, RWP_LOG_ERR, "rwpd: %.*s", (int)m.text_len, m.text);
	return m.reply.status;
}

/* Connect and ATTACH (or RESUME): fds are the uffd, the memory fds, then the kept ones. */
static int hand_over(struct rwp_client *c, unsigned int type)
{
	static uint8_t buf[RWPD_MAX_MSG];
	struct rwpd_attach a = { .uffd_features = c->features };
	int fds[3 + RWPD_MAX_REGIONS + 3], nfds = 0, sv[2] = { -1, -1 }, sock, ret, n;
	char text[sizeof(c->state_dir)];
	uint64_t id = 0;

	sock = rwpd_connect(c->socket, SOCK_SEQPACKET);
	if (sock < 0)
		return sock;
	ret = rwpd_send_packet(sock, buf, rwpd_encode_hello(buf, sizeof(buf), ++c->seq,
							    RWPD_ROLE_VMM, c->name), NULL, 0);
	if (!ret)
		ret = await_reply(c, sock, c->seq, NULL, NULL, 0);
	if (!ret && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		ret = -errno;
	if (ret)
		goto out;
	fds[nfds++] = c->uffd;
	for (unsigned int i = 0; i < c->nr_memfds; i++)
		fds[nfds++] = c->memfds[i];
	a.keep_fd = nfds;
	a.nr_keep = 3;
	fds[nfds++] = c->pipe[0];
	fds[nfds++] = c->pipe[1];
	fds[nfds++] = sv[1];
	c->agent = sv[0];
	a.guest_id = type == RWPD_RESUME ? c->guest_id : 0;
	a.flags = c->flags & RWP_CLIENT_EVICTABLE ? RWPD_ATTACH_EVICTABLE : 0;
	a.nr_regions = c->nr_regions;
	rwpd_name_set(a.name, c->name);
	n = rwpd_encode_attach(buf, sizeof(buf), type, ++c->seq, &a, c->regions);
	ret = n < 0 ? n : rwpd_send_packet(sock, buf, n, fds, nfds);
	if (!ret)
		ret = await_reply(c, sock, c->seq, &id, text, sizeof(text));
out:
	if (sv[1] >= 0)
		close(sv[1]);
	if (ret) {
		close(sock);
		if (sv[0] >= 0)
			close(sv[0]);
		c->agent = -1;
		return ret;
	}
	c->guest_id = id;
	snprintf(c->state_dir, sizeof(c->state_dir), "%s", text);
	c->conn = sock;
	return 0;
}

static int attach_local_tiers(struct rwp_client *c, struct rwp_ctx *ctx)
{
	char path[sizeof(c->state_dir) + 16], line[4200];
	FILE *f;
	int ret = 0;

	snprintf(path, sizeof(path), "%s/guest.conf", c->state_dir);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (!ret && fgets(line, sizeof(line), f)) {
		struct rwp_tier *t;
		unsigned int demote;

		line[strcspn(line, "\n")] = 0;
		if (strncmp(line, "tier ", 5))
			continue;
		ret = rwp_tier_from_spec(line + 5, &t, &demote);
		if (!ret) {
			ret = rwp_tier_attach(ctx, t, demote);
			if (ret)
				rwp_tier_free(t);
		}
	}
	fclose(f);
	return ret;
}

/*
 * rwpd is gone for good: recover its state here, bring every page home, and let the
 * memory go (it is plain memory of this process again).
 */
static int take_over(struct rwp_client *c)
{
	RWP_OPTS(rwp_ctx_opts, co, .flags = RWP_CTX_ADOPT_UFFD | RWP_CTX_KEEP_PIPE, .uffd = c->uffd,
		 .uffd_features = c->features, .state_dir = c->state_dir,
		 .pipe_fds = { c->pipe[0], c->pipe[1] }, .log = c->log, .log_arg = c->log_arg);
	struct rwp_ctx *ctx;
	int64_t n;
	int ret;

	client_log(c, RWP_LOG_WARN, "rwpd did not come back: taking guest %llu over",
	     (unsigned long long)c->guest_id);
	ret = rwp_ctx_new(&co, &ctx);
	if (ret)
		return ret;
	ret = attach_local_tiers(c, ctx);
	for (unsigned int i = 0; !ret && i < c->nr_regions; i++) {
		const struct rwp_client_region *g = &c->given[i];
		RWP_OPTS(rwp_region_opts, ro, .mem = g->mem, .addr = g->addr, .len = g->len,
			 .fd = g->fd, .offset = g->offset, .name = c->name,
			 .flags = c->flags & RWP_CLIENT_EVICTABLE ? RWP_REGION_EVICTABLE : 0);
		struct rwp_region *r;

		ret = rwp_region_register(ctx, &ro, &r);
	}
	if (!ret && (n = rwp_ctx_recover(ctx)) < 0)
		ret = (int)n;
	if (!ret && (n = rwp_drain(ctx)) < 0)
		ret = (int)n;
	if (ret) {
		/* keep serving faults from what we have rather than let go of anything */
		client_log(c, RWP_LOG_ERR, "take-over: %s", rwp_ctx_last_error(ctx));
		c->local = ctx;
		atomic_store(&c->took_over, true);
		return ret;
	}
	client_log(c, RWP_LOG_INFO, "take-over: every page of guest %llu is home",
	     (unsigned long long)c->guest_id);
	rwp_ctx_free(ctx);
	atomic_store(&c->took_over, true);
	return 0;
}

/* rwpd went away: RESUME with a restarted one, or take over when none comes in time. */
static void lost(struct rwp_client *c)
{
	uint64_t deadline = now_ms() + c->takeover_ms;

	close(c->conn);
	close(c->agent);
	c->conn = c->agent = -1;
	client_log(c, RWP_LOG_WARN, "rwpd went away; waiting %u ms for it", c->takeover_ms);
	for (;;) {
		while (now_ms() < deadline) {
			struct pollfd pfd = { .fd = c->stop_efd, .events = POLLIN };

			if (poll(&pfd, 1, RETRY_MS) > 0)
				return;
			if (!hand_over(c, RWPD_RESUME)) {
				client_log(c, RWP_LOG_INFO, "resumed guest %llu with a new rwpd",
					   (unsigned long long)c->guest_id);
				return;
			}
		}
		if (!take_over(c) || atomic_load(&c->took_over))
			return;
		/* not even a context (no memory?): the faults wait; giving up would lose them */
		client_log(c, RWP_LOG_ERR, "take-over of guest %llu failed; trying again",
			   (unsigned long long)c->guest_id);
		deadline = now_ms() + c->takeover_ms;
	}
}

static void *client_thread(void *arg)
{
	struct rwp_client *c = arg;

	while (!atomic_load(&c->took_over)) {
		struct pollfd pfd[3] = {
			{ .fd = c->stop_efd, .events = POLLIN },
			{ .fd = c->conn, .events = POLLIN | POLLRDHUP },
			{ .fd = c->agent, .events = POLLIN },
		};

		if (poll(pfd, 3, -1) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents)
			break;
		if (pfd[2].revents & POLLIN)
			serve_agent(c);
		/* rwpd sends nothing unasked on this connection: anything is its end */
		if (pfd[1].revents)
			lost(c);
	}
	return NULL;
}

static int setup_regions(struct rwp_client *c, const struct rwp_client_opts *o)
{
	const struct rwp_client_region *v = OPTS_GET(o, regions, NULL);
	unsigned int n = OPTS_GET(o, nr_regions, 0);

	if (!v || !n || n > RWPD_MAX_REGIONS)
		return -EINVAL;
	for (unsigned int i = 0; i < n; i++) {
		struct rwpd_region *r = &c->regions[i];
		unsigned int idx = 0;

		c->given[i] = v[i];
		*r = (struct rwpd_region){ .addr = (uintptr_t)v[i].addr, .len = v[i].len,
					   .offset = v[i].offset, .gpa = v[i].gpa,
					   .mem = v[i].mem };
		if (v[i].mem != RWP_MEM_ANON) {
			/* one fd index per distinct memory fd */
			for (idx = 0; idx < c->nr_memfds && c->memfds[idx] != v[i].fd; idx++)
				;
			if (idx == c->nr_memfds)
				c->memfds[c->nr_memfds++] = v[i].fd;
			r->fd = idx + 1;
		} else {
			r->offset = 0;
		}
	}
	c->nr_regions = n;
	return 0;
}

static void stop_thread(struct rwp_client *c)
{
	uint64_t one = 1;

	if (!c->thread_started)
		return;
	if (write(c->stop_efd, &one, sizeof(one)) < 0)
		one = 0;
	pthread_join(c->thread, NULL);
	c->thread_started = false;
}

static void client_free(struct rwp_client *c)
{
	stop_thread(c);
	rwp_ctx_free(c->local);
	for (int i = 0; i < 2; i++)
		if (c->pipe[i] >= 0)
			close(c->pipe[i]);
	if (c->conn >= 0)
		close(c->conn);
	if (c->agent >= 0)
		close(c->agent);
	if (c->stop_efd >= 0)
		close(c->stop_efd);
	if (c->uffd >= 0)
		close(c->uffd);
	free(c);
}

RWP_EXPORT int rwp_client_attach(const struct rwp_client_opts *o, struct rwp_client **out)
{
	struct rwp_client *c;
	int ret;

	if (!o || !out || !OPTS_VALID(o, rwp_client_opts))
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->uffd = c->conn = c->agent = c->stop_efd = c->pipe[0] = c->pipe[1] = -1;
	snprintf(c->socket, sizeof(c->socket), "%s", OPTS_GET(o, socket, NULL) ?: RWP_CLIENT_SOCKET);
	snprintf(c->name, sizeof(c->name), "%s", OPTS_GET(o, name, NULL) ?: "guest");
	c->flags = OPTS_GET(o, flags, 0);
	c->takeover_ms = OPTS_GET(o, takeover_ms, 0) ?: 2000;
	c->log = OPTS_GET(o, log, NULL);
	c->log_arg = OPTS_GET(o, log_arg, NULL);
	ret = setup_regions(c, o);
	if (!ret)
		ret = rwp_uffd_create(&c->uffd, &c->features);
	if (!ret && (pipe2(c->pipe, O_CLOEXEC) ||
		     (c->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0))
		ret = -errno;
	/* registration is rwpd's job, on this very uffd */
	if (!ret)
		ret = hand_over(c, RWPD_ATTACH);
	if (!ret) {
		ret = -pthread_create(&c->thread, NULL, client_thread, c);
		c->thread_started = !ret;
	}
	if (ret) {
		client_free(c);
		return ret;
	}
	*out = c;
	return 0;
}

RWP_EXPORT uint64_t rwp_client_guest_id(const struct rwp_client *c)
{
	return c ? c->guest_id : 0;
}

RWP_EXPORT bool rwp_client_took_over(const struct rwp_client *c)
{
	return c && atomic_load(&c->took_over);
}

RWP_EXPORT int rwp_client_detach(struct rwp_client *c)
{
	uint8_t buf[128];
	int ret = 0, n;

	if (!c)
		return -EINVAL;
	/* this thread alone speaks to rwpd from here on, serving its zaps while it waits */
	stop_thread(c);
	if (!atomic_load(&c->took_over) && c->conn >= 0) {
		n = rwpd_encode_detach(buf, sizeof(buf), ++c->seq, c->guest_id);
		ret = n < 0 ? n : rwpd_send_packet(c->conn, buf, n, NULL, 0);
		if (!ret)
			ret = await_reply(c, c->conn, c->seq, NULL, NULL, 0);
	}
	/*
	 * rwpd is gone (before or during the DETACH): nobody else brings the evicted pages
	 * home before the uffd closes. A slow rwpd (-ETIMEDOUT) still owns them, and keeps
	 * serving them through its own reference to the uffd.
	 */
	if (!atomic_load(&c->took_over) &&
	    (c->conn < 0 || ret == -ECONNRESET || ret == -EPIPE || ret == -ENOTCONN))
		ret = take_over(c);
	client_free(c);
	return ret;
}
