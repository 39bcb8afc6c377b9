// SPDX-License-Identifier: MIT
/* rwpctl's client: the socket, HELLO, and requests matched to replies by seq. */
#include "client.h"

#include "../lib/proto/codec.h"
#include "../lib/proto/transport.h"

#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

__attribute__((format(printf, 3, 4))) static int fail(struct rwpctl_client *c, int err,
						      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return -err;
}

/* What connect(2) failing means to someone who typed rwpctl. */
static int connect_error(struct rwpctl_client *c, int err)
{
	switch (err) {
	case ENOENT:
		return fail(c, err, "rwpd is not running: no socket at %s "
				    "(start rwpd, or name its socket with --socket or RWPD_SOCKET)",
			    c->path);
	case ECONNREFUSED:
		return fail(c, err, "rwpd is not running: nothing listens on %s", c->path);
	case EACCES:
	case EPERM:
		return fail(c, err, "permission denied on %s: rwpd accepts only its own user "
				    "and root", c->path);
	case EPROTOTYPE:
		return fail(c, err, "%s is not rwpd's socket (not SOCK_SEQPACKET)", c->path);
	case ENAMETOOLONG:
		return fail(c, err, "socket path too long: %s", c->path);
	}
	return fail(c, err, "cannot connect to %s: %s", c->path, strerror(err));
}

/* A packet that is not a version 1 reply: say what the daemon speaks, if we can tell. */
static int check_header(struct rwpctl_client *c, const unsigned char *buf, size_t n)
{
	struct rwpd_hdr h;

	if (n < sizeof(h))
		return fail(c, EBADMSG, "rwpd sent a %zu-byte packet, shorter than a header", n);
	memcpy(&h, buf, sizeof(h));
	if (le32toh(h.magic) != RWPD_MAGIC)
		return fail(c, EPROTO, "%s does not speak the rwpd protocol (magic %#x)", c->path,
			    le32toh(h.magic));
	if (le16toh(h.version) != RWPD_VERSION)
		return fail(c, EPROTONOSUPPORT,
			    "protocol version mismatch: rwpd speaks version %u, this rwpctl "
			    "version %u (use the rwpctl that came with this rwpd)",
			    le16toh(h.version), RWPD_VERSION);
	return 0;
}

/* One reply to c->seq into r; replies to earlier requests are dropped. */
static int recv_reply(struct rwpctl_client *c, struct rwpctl_reply *r, const char *what)
{
	unsigned char *buf = malloc(RWPD_MAX_MSG);
	struct rwpd_msg *m = malloc(sizeof(*m));
	char why[160];
	unsigned int nfds;
	ssize_t n;
	int ret;

	if (!buf || !m) {
		ret = fail(c, ENOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		n = rwpd_recv(c->fd, buf, RWPD_MAX_MSG, NULL, 0, &nfds);
		if (n == 0 || n == -ECONNRESET) {
			ret = fail(c, ECONNRESET, "rwpd closed the connection during %s%s", what,
				   c->seq == 1 ? " (rwpd accepts only its own user and root)" : "");
			goto out;
		}
		if (n == -EAGAIN) {
			ret = fail(c, ETIMEDOUT, "rwpd did not answer %s within %g s", what,
				   c->timeout_ms / 1000.0);
			goto out;
		}
		if (n < 0) {
			ret = fail(c, (int)-n, "receiving the reply to %s: %s", what,
				   strerror((int)-n));
			goto out;
		}
		ret = check_header(c, buf, (size_t)n);
		if (ret)
			goto out;
		ret = rwpd_decode(buf, (size_t)n, nfds, m, why, sizeof(why));
		if (ret) {
			ret = fail(c, -ret, "rwpd's reply to %s is malformed: %s", what, why);
			goto out;
		}
		if (m->hdr.type != RWPD_REPLY) {
			ret = fail(c, EPROTO, "rwpd answered %s with %s, not REPLY", what,
				   rwpd_type_name(m->hdr.type));
			goto out;
		}
		if (m->hdr.seq == c->seq)
			break;
	}
	r->status = m->reply.status;
	r->guest_id = m->reply.guest_id;
	r->len = m->text_len;
	r->text = malloc(m->text_len + 1);
	if (!r->text) {
		ret = fail(c, ENOMEM, "out of memory");
		goto out;
	}
	memcpy(r->text, m->text, m->text_len);
	r->text[m->text_len] = '\0';
out:
	free(m);
	free(buf);
	return ret;
}

int rwpctl_request(struct rwpctl_client *c, unsigned int type, const void *payload,
		   size_t len, struct rwpctl_reply *r)
{
	const char *what = rwpd_type_name(type);
	int ret;

	memset(r, 0, sizeof(*r));
	c->seq++;
	ret = rwpd_send(c->fd, type, c->seq, payload, len, NULL, 0);
	if (ret == -EPIPE || ret == -ECONNRESET)
		return fail(c, ECONNRESET, "rwpd closed the connection before %s%s", what,
			    c->seq == 1 ? " (rwpd accepts only its own user and root)" : "");
	if (ret < 0)
		return fail(c, -ret, "sending %s: %s", what, strerror(-ret));
	return recv_reply(c, r, what);
}

int rwpctl_connect(struct rwpctl_client *c, const char *path, int timeout_ms)
{
	struct rwpd_hello h = { .role = RWPD_ROLE_CTL };
	struct rwpctl_reply r;
	int ret;

	c->fd = -1;
	c->seq = 0;
	c->path = path;
	c->timeout_ms = timeout_ms;
	c->err[0] = '\0';
	ret = rwpd_connect(path, SOCK_SEQPACKET);
	if (ret < 0)
		return connect_error(c, -ret);
	c->fd = ret;
	if (timeout_ms > 0) {
		struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

		if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
			ret = fail(c, errno, "SO_RCVTIMEO: %s", strerror(errno));
			goto err;
		}
	}
	rwpd_name_set(h.name, "rwpctl");
	ret = rwpctl_request(c, RWPD_HELLO, &h, sizeof(h), &r);
	if (ret)
		goto err;
	if (r.status < 0) {
		ret = fail(c, -r.status, "rwpd refused HELLO: %s",
			   r.len ? r.text : strerror(-r.status));
		rwpctl_reply_free(&r);
		goto err;
	}
	rwpctl_reply_free(&r);
	return 0;
err:
	close(c->fd);
	c->fd = -1;
	return ret;
}

void rwpctl_reply_free(struct rwpctl_reply *r)
{
	free(r->text);
	r->text = NULL;
}

void rwpctl_close(struct rwpctl_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}
