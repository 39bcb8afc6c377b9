/* SPDX-License-Identifier: MIT */
/*
 * rwpctl's side of the rwpd protocol (rwp-protocol(7)): connect, HELLO as a control
 * client, then one request and its reply at a time. Every function returns 0 or -errno
 * and, on failure, leaves a sentence for the user in c->err: the daemon is not running,
 * permission denied, another protocol version, no answer in time.
 */
#ifndef RWPCTL_CLIENT_H
#define RWPCTL_CLIENT_H

#include <stddef.h>
#include <stdint.h>

struct rwpctl_client {
	int fd;
	uint32_t seq;	  /* of the last request */
	int timeout_ms;	  /* for each reply; <= 0 waits for ever */
	const char *path;
	char err[320];
};

struct rwpctl_reply {
	int status;	  /* 0 or -errno, as rwpd answered */
	uint64_t guest_id;
	char *text;	  /* NUL-terminated copy of the reply's text, never NULL once filled */
	size_t len;
};

/* Connect to path and say HELLO. -errno of the socket, or -EPROTO, -ETIMEDOUT, ... */
int rwpctl_connect(struct rwpctl_client *c, const char *path, int timeout_ms);

/*
 * Send a request of this type with its payload and wait for the reply that echoes its
 * seq (stale replies are skipped). A reply with a negative status is still a success
 * here: r->status and r->text say what rwpd refused.
 */
int rwpctl_request(struct rwpctl_client *c, unsigned int type, const void *payload,
		   size_t len, struct rwpctl_reply *r);

void rwpctl_reply_free(struct rwpctl_reply *r);
void rwpctl_close(struct rwpctl_client *c);

#endif
