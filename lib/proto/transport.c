// SPDX-License-Identifier: MIT
/*
 * Packets and fds over AF_UNIX sockets, and the daemon's listening socket.
 *
 * Received fds are the dangerous part: the kernel installs them in our table before we
 * see the packet, so every path out of rwpd_recv() either hands all of them to the caller
 * or closes all of them.
 */
#define _GNU_SOURCE
#include "transport.h"
#include "wire.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

union fd_cmsg {
	struct cmsghdr h; /* for alignment */
	char buf[CMSG_SPACE(RWPD_MAX_FDS * sizeof(int))];
};

void rwpd_close_fds(int *fds, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

static int send_iov(int sock, struct iovec *iov, int niov, size_t total, const int *fds,
		    unsigned int nfds)
{
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = niov };
	union fd_cmsg c;
	struct cmsghdr *cm;
	ssize_t n;

	if (nfds > RWPD_MAX_FDS)
		return -E2BIG;
	if (nfds) {
		memset(&c, 0, sizeof(c));
		m.msg_control = c.buf;
		m.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
	}
	do
		n = sendmsg(sock, &m, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* a packet goes whole or not at all; only a stream socket can take part of it */
	return (size_t)n == total ? 0 : -EMSGSIZE;
}

int rwpd_send(int sock, unsigned int type, uint32_t seq, const void *payload, size_t len,
	      const int *fds, unsigned int nfds)
{
	struct rwpd_hdr h = rwpd_hdr_make(type, seq, len);
	struct iovec iov[2] = {
		{ .iov_base = &h, .iov_len = sizeof(h) },
		{ .iov_base = (void *)payload, .iov_len = len },
	};

	if (len > RWPD_MAX_MSG - sizeof(h))
		return -E2BIG;
	return send_iov(sock, iov, len ? 2 : 1, sizeof(h) + len, fds, nfds);
}

int rwpd_send_packet(int sock, const void *pkt, size_t len, const int *fds, unsigned int nfds)
{
	struct iovec iov = { .iov_base = (void *)pkt, .iov_len = len };

	if (!len)
		return -EINVAL;
	if (len > RWPD_MAX_MSG)
		return -E2BIG;
	return send_iov(sock, &iov, 1, len, fds, nfds);
}

/*
 * Take the fds out of every SCM_RIGHTS message. More than max can come even without
 * MSG_CTRUNC, as CMSG_SPACE() rounds the buffer up: those are closed and it fails.
 */
static int take_fds(struct msghdr *m, int *out, unsigned int max, unsigned int *n)
{
	struct cmsghdr *cm;
	bool over = false;
	size_t i, k;
	int fd;

	for (cm = CMSG_FIRSTHDR(m); cm; cm = CMSG_NXTHDR(m, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
		    cm->cmsg_len < CMSG_LEN(0))
			continue;
		k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < k; i++) {
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (*n < max) {
				out[(*n)++] = fd;
			} else {
				close(fd);
				over = true;
			}
		}
	}
	if (!over)
		return 0;
	rwpd_close_fds(out, *n);
	*n = 0;
	return -ETOOMANYREFS;
}

ssize_t rwpd_recv(int sock, void *buf, size_t cap, int *fds_out, unsigned int max_fds,
		  unsigned int *nfds)
{
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	union fd_cmsg c;
	unsigned int none;
	ssize_t n;
	int ret;

	/* a caller that takes no fds need not count them */
	if (!nfds)
		nfds = &none;
	*nfds = 0;
	if (max_fds > RWPD_MAX_FDS)
		max_fds = RWPD_MAX_FDS;
	/* with no room, the kernel drops the fds itself and sets MSG_CTRUNC */
	if (max_fds) {
		m.msg_control = c.buf;
		m.msg_controllen = CMSG_SPACE(max_fds * sizeof(int));
	}
	do
		n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	ret = take_fds(&m, fds_out, max_fds, nfds);
	if (!ret && (m.msg_flags & MSG_CTRUNC))
		ret = -ETOOMANYREFS;
	if (!ret && (m.msg_flags & MSG_TRUNC))
		ret = -EMSGSIZE;
	/* fds without data: no protocol message looks like that */
	if (!ret && n == 0 && *nfds)
		ret = -EBADMSG;
	if (ret) {
		rwpd_close_fds(fds_out, *nfds);
		*nfds = 0;
		return ret;
	}
	return n;
}

static int unix_addr(const char *path, struct sockaddr_un *a)
{
	size_t n = path ? strlen(path) : 0;

	if (!n)
		return -EINVAL;
	if (n >= sizeof(a->sun_path))
		return -ENAMETOOLONG;
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	memcpy(a->sun_path, path, n);
	return 0;
}

/*
 * A socket file nobody listens on is left by a daemon that died: remove it. Only
 * ECONNREFUSED says so; anything else (a listener, a full backlog, another socket type)
 * means the path is in use. Two daemons starting at once are kept apart by the caller's
 * lock in its state directory, not here.
 */
static int remove_stale(const struct sockaddr_un *a, int type)
{
	struct stat st;
	int fd, ret, err;

	if (lstat(a->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	ret = connect(fd, (const struct sockaddr *)a, sizeof(*a));
	err = errno;
	close(fd);
	if (!ret)
		return -EADDRINUSE;
	if (err == ENOENT)
		return 0;
	if (err != ECONNREFUSED)
		return err == EACCES ? -EACCES : -EADDRINUSE;
	if (unlink(a->sun_path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int rwpd_listen(const char *path, int type, mode_t mode)
{
	struct sockaddr_un a;
	struct stat st;
	int fd, ret;

	ret = unix_addr(path, &a);
	if (ret)
		return ret;
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/*
	 * bind() creates the file with the socket inode's mode minus the umask: set the
	 * inode's first, so the file is never more open than mode, whatever the umask.
	 */
	if (fchmod(fd, mode & 0777) < 0)
		goto err;
	ret = remove_stale(&a, type);
	if (ret)
		goto out;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		goto err;
	/* the umask may have taken bits away (0600 under umask 0277): give them back */
	if (lstat(path, &st) < 0)
		goto err_unlink;
	if ((st.st_mode & 0777) != (mode & 0777) && chmod(path, mode & 0777) < 0)
		goto err_unlink;
	if (listen(fd, SOMAXCONN) < 0)
		goto err_unlink;
	return fd;

err_unlink:
	ret = -errno;
	unlink(path);
	goto out;
err:
	ret = -errno;
out:
	close(fd);
	return ret;
}

int rwpd_connect(const char *path, int type)
{
	struct sockaddr_un a;
	int fd, ret;

	ret = unix_addr(path, &a);
	if (ret)
		return ret;
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	do
		ret = connect(fd, (struct sockaddr *)&a, sizeof(a));
	while (ret < 0 && errno == EINTR);
	if (ret < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

int rwpd_peer_cred(int sock, struct rwpd_peer *peer)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		return -errno;
	if (len != sizeof(uc))
		return -EPROTO;
	peer->pid = uc.pid;
	peer->uid = uc.uid;
	peer->gid = uc.gid;
	return 0;
}

int rwpd_peer_check(int sock, struct rwpd_peer *peer)
{
	/* anything left unfilled must read as a stranger, never as root */
	struct rwpd_peer p = { .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	int ret = rwpd_peer_cred(sock, &p);

	if (ret)
		return ret;
	if (peer)
		*peer = p;
	return p.uid == 0 || p.uid == geteuid() ? 0 : -EACCES;
}
