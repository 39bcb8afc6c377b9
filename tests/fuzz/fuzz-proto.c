// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: rwpd_decode() over arbitrary bytes. Byte 0 is how many fds came with
 * the packet (0..RWPD_MAX_FDS + 1), the rest the packet, decoded at an odd address. A
 * message the decoder accepts must be what its encoder writes back, byte for byte, and
 * name exactly the fds that came; a refusal must say why.
 */
#include "../../lib/proto/codec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static unsigned char again[RWPD_MAX_MSG];

static int reencode(const struct rwpd_msg *m)
{
	const struct rwpd_attach *a = rwpd_msg_attach(m);
	uint32_t seq = m->hdr.seq;

	switch (m->hdr.type) {
	case RWPD_HELLO:
		return rwpd_encode_hello(again, sizeof(again), seq, m->hello.role, m->hello.name);
	case RWPD_ATTACH:
	case RWPD_RESUME:
		return rwpd_encode_attach(again, sizeof(again), m->hdr.type, seq, a, a->regions);
	case RWPD_DETACH:
		return rwpd_encode_detach(again, sizeof(again), seq, m->ref.guest_id);
	case RWPD_STATUS:
		return rwpd_encode_status(again, sizeof(again), seq, m->status.guest_id,
					  m->status.format);
	case RWPD_SET_POLICY:
		return rwpd_encode_policy(again, sizeof(again), seq, &m->policy);
	case RWPD_EVICT:
		return rwpd_encode_evict(again, sizeof(again), seq, &m->evict);
	case RWPD_METRICS:
		return rwpd_encode_metrics(again, sizeof(again), seq);
	case RWPD_ZAP:
		return rwpd_encode_zap(again, sizeof(again), seq, m->zap.addr, m->zap.len);
	case RWPD_REPLY:
		return rwpd_encode_reply(again, sizeof(again), seq, m->reply.status,
					 m->reply.guest_id, m->text, m->text_len);
	}
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rwpd_msg m;
	char err[128];
	unsigned int nfds;
	int ret, n;

	if (!size)
		return 0;
	nfds = data[0] % (RWPD_MAX_FDS + 2);
	ret = rwpd_decode(data + 1, size - 1, nfds, &m, err, sizeof(err));
	if (ret != rwpd_decode(data + 1, size - 1, nfds, &m, NULL, 0))
		abort();
	if (ret) {
		if (ret != -EPROTO && ret != -EINVAL && ret != -E2BIG && ret != -EBADMSG)
			abort();
		if (!err[0] || !memchr(err, '\0', sizeof(err)))
			abort();
		return 0;
	}
	n = reencode(&m);
	if (n < 0 || (size_t)n != size - 1 || memcmp(again, data + 1, n))
		abort();
	if (m.hdr.type == RWPD_ATTACH || m.hdr.type == RWPD_RESUME) {
		const struct rwpd_attach *a = rwpd_msg_attach(&m);

		if (rwpd_attach_nr_fds(a, a->regions) != nfds || !nfds)
			abort();
		for (unsigned int i = 0; i < a->nr_regions; i++)
			if (a->regions[i].fd >= nfds ||
			    (a->keep_fd && a->regions[i].fd >= a->keep_fd))
				abort();
	} else if (nfds) {
		abort();
	}
	if (m.text_len && (m.text < (const char *)data + 1 ||
			   m.text + m.text_len > (const char *)data + size))
		abort();
	return 0;
}
