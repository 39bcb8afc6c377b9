// SPDX-License-Identifier: MIT
/*
 * The rwpd transport (lib/proto/transport.c): packets and fds over SOCK_SEQPACKET, every
 * truncation closing every fd that came (counted in /proc/self/fd), EINTR retried, the
 * listening socket's mode whatever the umask, stale sockets, and SO_PEERCRED.
 */
#define _GNU_SOURCE
#include "../../lib/proto/codec.h"
#include "../../lib/proto/transport.h"
#include "../lib/tap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rwp/core.h>

TAP_DEFINE;

static char dir[64];

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the DIR's own fd */
}

static void pair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		perror("socketpair");
		exit(1);
	}
}

/* An ATTACH carrying a uffd stand-in (a pipe end), a memfd and a kept fd. */
static void attach_with_fds(void)
{
	uint64_t raw[(sizeof(struct rwpd_attach) + sizeof(struct rwpd_region)) / 8] = { 0 };
	struct rwpd_attach *a = (struct rwpd_attach *)raw;
	unsigned char buf[RWPD_MAX_MSG];
	int sv[2], p[2], fds[3], got[RWPD_MAX_FDS], before;
	unsigned int nfds = 99;
	struct rwpd_msg m;
	char err[128];
	ssize_t n;
	int len, ret;

	pair(sv);
	if (pipe2(p, O_CLOEXEC) < 0)
		exit(1);
	fds[0] = p[0];
	fds[1] = memfd_create("guest", MFD_CLOEXEC);
	fds[2] = p[1];
	ftruncate(fds[1], 1 << 20);
	a->nr_regions = 1;
	a->keep_fd = 2;
	a->nr_keep = 1;
	rwpd_name_set(a->name, "t");
	a->regions[0] = (struct rwpd_region){ .addr = 1 << 30, .len = 1 << 20, .fd = 1,
					      .mem = RWP_MEM_SHMEM };
	len = rwpd_encode_attach(buf, sizeof(buf), RWPD_ATTACH, 3, a, a->regions);
	before = open_fds();
	ret = rwpd_send_packet(sv[0], buf, len, fds, 3);
	n = rwpd_recv(sv[1], buf, sizeof(buf), got, RWPD_MAX_FDS, &nfds);
	tap_ok(!ret && n == len && nfds == 3 && open_fds() == before + 3,
	       "ATTACH with 3 fds over SOCK_SEQPACKET (%d, %zd, %u)", ret, n, nfds);
	tap_ok(nfds == 3 && (fcntl(got[0], F_GETFD) & FD_CLOEXEC) &&
	       (fcntl(got[1], F_GETFD) & FD_CLOEXEC) && (fcntl(got[2], F_GETFD) & FD_CLOEXEC),
	       "received fds are O_CLOEXEC");
	ret = rwpd_decode(buf, n, nfds, &m, err, sizeof(err));
	tap_ok(!ret && rwpd_msg_attach(&m)->regions[0].fd == 1, "and decode %s", err);
	/* the memfd that came is the memfd that went */
	{
		struct stat s1, s2;

		fstat(fds[1], &s1);
		fstat(got[1], &s2);
		tap_ok(s1.st_ino == s2.st_ino && s2.st_size == 1 << 20,
		       "the fd received is the memfd sent");
	}
	rwpd_close_fds(got, nfds);
	tap_ok(got[0] == -1 && open_fds() == before, "rwpd_close_fds closes and clears");

	/* rwpd_send builds the header itself */
	ret = rwpd_send(sv[0], RWPD_DETACH, 8, &(struct rwpd_guest_ref){ .guest_id = 5 },
			sizeof(struct rwpd_guest_ref), NULL, 0);
	n = rwpd_recv(sv[1], buf, sizeof(buf), got, RWPD_MAX_FDS, &nfds);
	ret = ret ? ret : rwpd_decode(buf, n, nfds, &m, err, sizeof(err));
	tap_ok(!ret && m.hdr.type == RWPD_DETACH && m.hdr.seq == 8 && m.ref.guest_id == 5,
	       "rwpd_send: header and payload in one packet %s", err);

	tap_ok(rwpd_send(sv[0], RWPD_REPLY, 1, buf, RWPD_MAX_MSG - 15, NULL, 0) == -E2BIG &&
	       rwpd_send(sv[0], RWPD_METRICS, 1, NULL, 0, got, RWPD_MAX_FDS + 1) == -E2BIG &&
	       rwpd_send_packet(sv[0], buf, RWPD_MAX_MSG + 1, NULL, 0) == -E2BIG,
	       "sending over RWPD_MAX_MSG or RWPD_MAX_FDS fails");

	/* a packet too big for the buffer: every fd it brought is closed */
	before = open_fds();
	ret = rwpd_send_packet(sv[0], buf, len, fds, 3);
	n = rwpd_recv(sv[1], buf, 40, got, RWPD_MAX_FDS, &nfds);
	tap_ok(!ret && n == -EMSGSIZE && nfds == 0 && open_fds() == before,
	       "a packet over cap: -EMSGSIZE, no fd left open (%zd)", n);

	/* more fds than max_fds, with and without MSG_CTRUNC */
	for (unsigned int max = 0; max < 3; max++) {
		before = open_fds();
		len = rwpd_encode_metrics(buf, sizeof(buf), 1);
		ret = rwpd_send_packet(sv[0], buf, len, fds, 3);
		n = rwpd_recv(sv[1], buf, sizeof(buf), got, max, &nfds);
		tap_ok(!ret && n == -ETOOMANYREFS && nfds == 0 && open_fds() == before,
		       "3 fds for max_fds %u: -ETOOMANYREFS, no fd left open (%zd)", max, n);
	}

	/* the stream goes on after an error */
	len = rwpd_encode_metrics(buf, sizeof(buf), 2);
	rwpd_send_packet(sv[0], buf, len, NULL, 0);
	n = rwpd_recv(sv[1], buf, sizeof(buf), got, RWPD_MAX_FDS, &nfds);
	tap_ok(n == 16 && nfds == 0, "the next packet arrives whole");

	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	n = rwpd_recv(sv[1], buf, sizeof(buf), got, RWPD_MAX_FDS, &nfds);
	tap_ok(n == -EAGAIN, "-EAGAIN with nothing queued");
	close(sv[0]);
	n = rwpd_recv(sv[1], buf, sizeof(buf), got, RWPD_MAX_FDS, &nfds);
	tap_ok(n == 0 && nfds == 0, "0 at the end of the stream");
	close(sv[1]);
	close(fds[0]);
	close(fds[1]);
	close(fds[2]);
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* A signal without SA_RESTART interrupts recvmsg: rwpd_recv goes on waiting. */
static void eintr(void)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval it = { .it_value = { .tv_usec = 50000 } };
	unsigned char buf[64];
	unsigned int nfds;
	int sv[2], len;
	pid_t pid;
	ssize_t n;

	pair(sv);
	sigaction(SIGALRM, &sa, NULL);
	pid = fork();
	if (!pid) {
		usleep(250000);
		len = rwpd_encode_metrics(buf, sizeof(buf), 4);
		_exit(rwpd_send_packet(sv[0], buf, len, NULL, 0) ? 1 : 0);
	}
	setitimer(ITIMER_REAL, &it, NULL);
	n = rwpd_recv(sv[1], buf, sizeof(buf), NULL, 0, &nfds);
	waitpid(pid, NULL, 0);
	tap_ok(n == 16, "recv retries after EINTR (%zd)", n);
	signal(SIGALRM, SIG_DFL);
	close(sv[0]);
	close(sv[1]);
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) ? 0 : st.st_mode;
}

static void listening(void)
{
	char path[128], longp[200];
	struct rwpd_peer peer;
	int l, c, s, fd, ret;
	mode_t old;

	snprintf(path, sizeof(path), "%s/rwpd.sock", dir);
	old = umask(0);
	l = rwpd_listen(path, SOCK_SEQPACKET, 0600);
	umask(old);
	tap_ok(l >= 0 && S_ISSOCK(mode_of(path)) && (mode_of(path) & 0777) == 0600,
	       "socket mode 0600 under umask 0 (%o)", mode_of(path) & 0777);

	ret = rwpd_listen(path, SOCK_SEQPACKET, 0600);
	tap_ok(ret == -EADDRINUSE, "a second daemon on a live socket: -EADDRINUSE (%d)", ret);

	c = rwpd_connect(path, SOCK_SEQPACKET);
	s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	ret = rwpd_peer_cred(s, &peer);
	tap_ok(c >= 0 && s >= 0 && !ret && peer.pid == getpid() && peer.uid == geteuid() &&
	       peer.gid == getegid(), "SO_PEERCRED names this process");
	tap_ok(rwpd_peer_check(s, NULL) == 0, "a peer of the same uid passes the check");
	close(c);
	close(s);
	close(l);

	/* the daemon died: its socket file stays, nothing listens */
	tap_ok(S_ISSOCK(mode_of(path)), "the socket file outlives its listener");
	old = umask(0277);
	l = rwpd_listen(path, SOCK_SEQPACKET, 0600);
	umask(old);
	tap_ok(l >= 0 && (mode_of(path) & 0777) == 0600,
	       "a stale socket is replaced; mode 0600 under umask 0277 (%d, %o)", l,
	       mode_of(path) & 0777);

	/* a listener of another type still counts as in use */
	close(l);
	l = rwpd_listen(path, SOCK_STREAM, 0600);
	ret = rwpd_listen(path, SOCK_SEQPACKET, 0600);
	tap_ok(l >= 0 && ret == -EADDRINUSE, "a stream listener is not stale either (%d)", ret);
	close(l);
	unlink(path);

	snprintf(path, sizeof(path), "%s/plain", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	close(fd);
	ret = rwpd_listen(path, SOCK_SEQPACKET, 0600);
	tap_ok(ret == -EEXIST && S_ISREG(mode_of(path)),
	       "a regular file at the path is left alone: -EEXIST (%d)", ret);
	unlink(path);

	memset(longp, 'x', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	tap_ok(rwpd_listen(longp, SOCK_SEQPACKET, 0600) == -ENAMETOOLONG &&
	       rwpd_connect(longp, SOCK_SEQPACKET) == -ENAMETOOLONG &&
	       rwpd_listen("", SOCK_SEQPACKET, 0600) == -EINVAL,
	       "a path over sun_path: -ENAMETOOLONG");
}

/* As another uid: 0600 keeps it out; on a 0666 socket the peer check refuses it. */
static void other_uid(void)
{
	char path[128], path2[128];
	struct rwpd_peer peer;
	int l, l2, s, ret, status;
	pid_t pid;

	if (geteuid() != 0) {
		tap_skip("another uid is refused", "needs root to run a child as nobody");
		tap_skip("rwpd_peer_check refuses another uid", "needs root");
		return;
	}
	chmod(dir, 0755);
	snprintf(path, sizeof(path), "%s/private.sock", dir);
	snprintf(path2, sizeof(path2), "%s/open.sock", dir);
	l = rwpd_listen(path, SOCK_SEQPACKET, 0600);
	l2 = rwpd_listen(path2, SOCK_SEQPACKET, 0666);
	pid = fork();
	if (!pid) {
		int c;

		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(3);
		c = rwpd_connect(path, SOCK_SEQPACKET);
		if (c != -EACCES)
			_exit(1);
		c = rwpd_connect(path2, SOCK_SEQPACKET);
		if (c < 0)
			_exit(2);
		usleep(300000); /* stay connected while the parent checks */
		_exit(0);
	}
	usleep(100000);
	for (int i = 0; i < 50; i++) {
		s = accept4(l2, NULL, NULL, SOCK_CLOEXEC);
		if (s >= 0 || errno != EAGAIN)
			break;
		usleep(20000);
	}
	ret = rwpd_peer_check(s, &peer);
	waitpid(pid, &status, 0);
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "uid 65534 cannot connect to the 0600 socket (child exit %d)",
	       WEXITSTATUS(status));
	tap_ok(s >= 0 && ret == -EACCES && peer.uid == 65534,
	       "rwpd_peer_check refuses uid 65534: -EACCES (%d)", ret);
	close(s);
	close(l);
	close(l2);
	unlink(path);
	unlink(path2);
	chmod(dir, 0700);
}

int main(void)
{
	tap_init();
	snprintf(dir, sizeof(dir), "/tmp/rwp-transport-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	attach_with_fds();
	eintr();
	listening();
	other_uid();
	rmdir(dir);
	return tap_done();
}
