// SPDX-License-Identifier: MIT
/*
 * The main loop: one epoll over the protocol socket, the Firecracker sockets, client
 * connections, the VMMs' pidfds and a signalfd. Requests are handled in order on this
 * thread; guests run their intervals on their own threads.
 */
#include "rwpd.h"
#include "../lib/proto/transport.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

int rwpd_watch(struct rwpd *d, struct source *s)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = s };

	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, s->fd, &ev) ? -errno : 0;
}

void rwpd_unwatch(struct rwpd *d, struct source *s)
{
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, s->fd, NULL);
}

void rwpd_conn_close(struct rwpd *d, struct conn *c)
{
	rwpd_unwatch(d, &c->src);
	close(c->src.fd);
	free(c);
}

static void conn_accept(struct rwpd *d)
{
	struct conn *c;
	int fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->src = (struct source){ .kind = SRC_CONN, .fd = fd, .conn = c };
	/* the socket is 0600; this is the second line: only our uid or root */
	if (rwpd_peer_check(fd, &c->peer) || rwpd_watch(d, &c->src)) {
		rwpd_log(d, RWP_LOG_WARN, "connection from pid %d uid %d refused",
			 (int)c->peer.pid, (int)c->peer.uid);
		close(fd);
		free(c);
	}
}

static void conn_input(struct rwpd *d, struct conn *c, uint32_t events)
{
	int fds[RWPD_MAX_FDS];
	unsigned int nr_fds = 0;
	static uint8_t buf[RWPD_MAX_MSG];
	ssize_t n = rwpd_recv(c->src.fd, buf, sizeof(buf), fds, RWPD_MAX_FDS, &nr_fds);

	if (n == -EAGAIN && !(events & (EPOLLHUP | EPOLLRDHUP)))
		return;
	if (n <= 0) {
		/* a VMM's guest outlives its connection: its pidfd says when it is gone */
		if (n < 0 && n != -EAGAIN && n != -ECONNRESET)
			rwpd_log(d, RWP_LOG_WARN, "connection of pid %d: %s", (int)c->peer.pid,
				 strerror((int)-n));
		rwpd_conn_close(d, c);
		return;
	}
	rwpd_handle(d, c, buf, n, fds, nr_fds);
}

static void vmm_exit(struct rwpd *d, struct guest *g)
{
	rwpd_log(d, RWP_LOG_INFO, "guest %llu (%s): its VMM (pid %d) exited",
		 (unsigned long long)g->id, g->name, (int)g->pid);
	rwpd_unwatch(d, &g->exit_src);
	if (g->conn >= 0)
		rwpd_unwatch(d, &g->conn_src);
	if (g->kind == RWPD_GUEST_FIRECRACKER)
		fc_guest_done(g);
	guest_forget(g);
}

static void on_signal(struct rwpd *d)
{
	struct signalfd_siginfo si;

	if (read(d->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		rwpd_log(d, RWP_LOG_INFO, "signal %u: stopping", si.ssi_signo);
		d->stopping = true;
	}
}

static int setup(struct rwpd *d)
{
	sigset_t set;
	int ret;

	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->epfd < 0)
		return -errno;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (d->signal_fd < 0)
		return -errno;
	d->signal_src = (struct source){ .kind = SRC_SIGNAL, .fd = d->signal_fd };
	ret = rwpd_watch(d, &d->signal_src);
	if (ret)
		return ret;
	d->listen_fd = rwpd_listen(d->cfg.socket, SOCK_SEQPACKET, 0600);
	if (d->listen_fd < 0) {
		rwpd_log(d, RWP_LOG_ERR, "socket %s: %s", d->cfg.socket, strerror(-d->listen_fd));
		return d->listen_fd;
	}
	d->listen_src = (struct source){ .kind = SRC_LISTEN, .fd = d->listen_fd };
	ret = rwpd_watch(d, &d->listen_src);
	return ret ?: fc_listen(d);
}

/*
 * Stopping keeps every VMM guest's state for the next rwpd (its VMM resumes there, or
 * takes over itself); a Firecracker guest cannot reconnect, so it gets its memory home.
 */
static void shutdown_guests(struct rwpd *d)
{
	for (;;) {
		struct guest *g;

		pthread_mutex_lock(&d->lock);
		g = d->guests;
		pthread_mutex_unlock(&d->lock);
		if (!g)
			break;
		if (g->kind == RWPD_GUEST_FIRECRACKER)
			fc_guest_done(g);
		guest_destroy(g, g->kind == RWPD_GUEST_FIRECRACKER);
	}
}

int rwpd_run(struct rwpd *d)
{
	int ret = setup(d);

	if (ret)
		return ret;
	rwpd_log(d, RWP_LOG_INFO, "listening on %s", d->cfg.socket);
	while (!d->stopping) {
		struct epoll_event ev[16];
		int n = epoll_wait(d->epfd, ev, 16, -1);

		if (n < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n; i++) {
			struct source *s = ev[i].data.ptr;

			switch (s->kind) {
			case SRC_LISTEN:
				conn_accept(d);
				break;
			case SRC_FC_LISTEN:
				fc_accept(d, s);
				break;
			case SRC_CONN:
				conn_input(d, s->conn, ev[i].events);
				break;
			case SRC_FC_CONN:
			case SRC_VMM_EXIT:
				vmm_exit(d, s->g);
				/* the guest and its sources are gone: the rest of this batch may
				 * name them */
				n = 0;
				break;
			case SRC_SIGNAL:
				on_signal(d);
				break;
			}
		}
	}
	shutdown_guests(d);
	unlink(d->cfg.socket);
	for (unsigned int i = 0; i < d->cfg.nr_fc; i++)
		unlink(d->cfg.fc[i].socket);
	return 0;
}
