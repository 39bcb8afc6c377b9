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

#define AGENT_TIMEOUT_MS 10000

int guest_agent_zap(void *arg, uintptr_t addr, size_t len)
{
	struct guest *g = arg;
	int sock = g->keep[RWPD_KEEP_AGENT];
	struct rwpd_zap z = { .addr = addr, .len = len };
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	uint8_t buf[256];
	struct rwpd_msg m;
	static uint32_t seq;
	uint32_t s;
	ssize_t n;
	int ret;

	pthread_mutex_lock(&g->agent_lock);
	s = ++seq;
	ret = rwpd_send(sock, RWPD_ZAP, s, &z, sizeof(z), NULL, 0);
	if (ret)
		goto out;
	/* a VMM that stops answering must not stall the interval forever */
	ret = poll(&pfd, 1, AGENT_TIMEOUT_MS);
	if (ret <= 0) {
		ret = ret ? -errno : -ETIMEDOUT;
		goto out;
	}
	n = rwpd_recv(sock, buf, sizeof(buf), NULL, 0, NULL);
	if (n <= 0) {
		ret = n ? (int)n : -EPIPE;
		goto out;
	}
	ret = rwpd_decode(buf, n, 0, &m, NULL, 0);
	if (!ret && (m.hdr.type != RWPD_REPLY || m.hdr.seq != s))
		ret = -EPROTO;
	if (!ret)
		ret = m.reply.status;
out:
	pthread_mutex_unlock(&g->agent_lock);
	if (ret)
		rwpd_log(g->d, RWP_LOG_WARN, "guest %llu: zap through the VMM failed: %d",
			 (unsigned long long)g->id, ret);
	return ret;
}
