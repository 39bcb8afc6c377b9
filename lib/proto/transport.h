/* SPDX-License-Identifier: MIT */
/*
 * rwpd transport: packets with fds over AF_UNIX sockets (SOCK_SEQPACKET for rwpd's own
 * protocol, SOCK_STREAM for Firecracker's handoff), the daemon's listening socket and
 * its peer check. Every function returns >= 0 or -errno, retries EINTR, and owns the fds
 * it receives until it returns them: on any error none is left open.
 */
#ifndef RWP_PROTO_TRANSPORT_H
#define RWP_PROTO_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Send one packet: a header for (type, seq, len) then payload, with nfds fds as
 * SCM_RIGHTS (MSG_NOSIGNAL). -E2BIG over RWPD_MAX_MSG / RWPD_MAX_FDS.
 */
int rwpd_send(int sock, unsigned int type, uint32_t seq, const void *payload, size_t len,
	      const int *fds, unsigned int nfds);

/* Send an already encoded packet (rwpd_encode_*()) as it is. */
int rwpd_send_packet(int sock, const void *pkt, size_t len, const int *fds,
		     unsigned int nfds);

/*
 * Receive one packet into buf (cap bytes) and up to max_fds fds (O_CLOEXEC) into fds_out.
 * Returns its size, 0 at end of stream (no fds), or -errno: -EMSGSIZE if the packet did
 * not fit cap, -ETOOMANYREFS if more than max_fds fds came; in both cases every fd that
 * came is closed. -EAGAIN on a non-blocking socket with nothing queued. nfds may be NULL
 * when max_fds is 0.
 */
ssize_t rwpd_recv(int sock, void *buf, size_t cap, int *fds_out, unsigned int max_fds,
		  unsigned int *nfds);

/*
 * A listening socket of this type (SOCK_SEQPACKET, SOCK_STREAM) bound at path with this
 * mode, whatever the umask (CLOEXEC, NONBLOCK). A socket file left at path by a dead
 * daemon is removed; -EADDRINUSE if something listens there, -EEXIST if path is not a
 * socket, -ENAMETOOLONG if it does not fit sun_path.
 */
int rwpd_listen(const char *path, int type, mode_t mode);

/* A connected socket of this type to path (CLOEXEC). */
int rwpd_connect(const char *path, int type);

/* Who is at the other end of a connected AF_UNIX socket, as of connect() (SO_PEERCRED). */
struct rwpd_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
};

int rwpd_peer_cred(int sock, struct rwpd_peer *peer);

/* 0 if the peer runs as this process's euid or as root, -EACCES if not; peer may be NULL. */
int rwpd_peer_check(int sock, struct rwpd_peer *peer);

/* Close fds[0, n) and set them to -1. */
void rwpd_close_fds(int *fds, unsigned int n);

#endif
