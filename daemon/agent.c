// SPDX-License-Identifier: MIT
/*
 * Stock kernels refuse process_madvise(MADV_DONTNEED) on another process, and the stock
 * backends must drop the guest's PTEs every interval. The VMM's client library (see
 * rwp_client_attach()) serves ZAP requests on a socket it handed over for this: it runs
 * madvise(MADV_DONTNEED) on its own memory and replies with the result.
 */
#include "rwpd.h"
#include "../lib/proto/codec.h"
#include "../lib/proto/transport.h"

#include <errno.h>
#include <poll.h>
#include <sys/uio.h>

#define AGENT_TIMEOUT_MS 10000

/* The reply to request s, skipping late replies to requests that timed out before. */
static int await_zap_reply(int sock, uint32_t s)
{
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	uint8_t buf[256];
	struct rwpd_msg m;
	ssize_t n;
	int ret;

	for (;;) {
		/* a VMM that stops answering must not stall the interval forever */
		ret = poll(&pfd, 1, AGENT_TIMEOUT_MS);
		if (ret <= 0)
			return ret ? -errno : -ETIMEDOUT;
		n = rwpd_recv(sock, buf, sizeof(buf), NULL, 0, NULL);
		if (n <= 0)
			return n ? (int)n : -EPIPE;
		ret = rwpd_decode(buf, n, 0, &m, NULL, 0);
		if (ret)
			return ret;
		if (m.hdr.type != RWPD_REPLY)
			return -EPROTO;
		if (m.hdr.seq == s)
			return m.reply.status;
		if ((int32_t)(m.hdr.seq - s) > 0)
			return -EPROTO;
	}
}

/* Every range is sent before the first reply is read: one round trip for them all. */
int guest_agent_zapv(void *arg, const struct iovec *v, unsigned int n)
{
	struct guest *g = arg;
	int sock = g->keep[RWPD_KEEP_AGENT];
	unsigned int sent = 0;
	uint32_t first;
	int ret = 0;

	pthread_mutex_lock(&g->agent_lock);
	first = g->agent_seq + 1;
	for (; sent < n; sent++) {
		struct rwpd_zap z = { .addr = (uintptr_t)v[sent].iov_base, .len = v[sent].iov_len };

		ret = rwpd_send(sock, RWPD_ZAP, ++g->agent_seq, &z, sizeof(z), NULL, 0);
		if (ret)
			break;
	}
	for (unsigned int i = 0; i < sent; i++) {
		int r = await_zap_reply(sock, first + i);

		ret = ret ?: r;
		if (r == -ETIMEDOUT || r == -EPIPE)
			break;
	}
	pthread_mutex_unlock(&g->agent_lock);
	if (ret)
		rwpd_log(g->d, RWP_LOG_WARN, "guest %llu: zap through the VMM failed: %d",
			 (unsigned long long)g->id, ret);
	return ret;
}

int guest_agent_zap(void *arg, uintptr_t addr, size_t len)
{
	struct iovec v = { .iov_base = (void *)addr, .iov_len = len };

	return guest_agent_zapv(arg, &v, 1);
}
