// SPDX-License-Identifier: MIT
#define _GNU_SOURCE
#include "rwpd-run.h"
#include "../../lib/proto/codec.h"
#include "../../lib/proto/transport.h"

#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int spawn(struct rwpd_run *r, const char *rwpd_path)
{
	char *argv[] = { (char *)rwpd_path, (char *)"-c", r->conf, NULL };

	unlink(r->socket);
	if (posix_spawn(&r->pid, rwpd_path, NULL, NULL, argv, environ))
		return -errno;
	for (int i = 0; i < 500; i++) {
		if (!access(r->socket, F_OK))
			return 0;
		usleep(10000);
	}
	return -ETIMEDOUT;
}

int rwpd_run_start(struct rwpd_run *r, const char *rwpd_path, const char *extra_conf)
{
	FILE *f;

	snprintf(r->dir, sizeof(r->dir), "/tmp/rwpd-test-XXXXXX");
	if (!mkdtemp(r->dir))
		return -errno;
	snprintf(r->socket, sizeof(r->socket), "%s/rwpd.sock", r->dir);
	snprintf(r->conf, sizeof(r->conf), "%s/rwpd.conf", r->dir);
	f = fopen(r->conf, "we");
	if (!f)
		return -errno;
	fprintf(f, "socket = %s\nstate_dir = %s/state\nws_dir = %s/ws\nlog_level = %s\n%s\n",
		r->socket, r->dir, r->dir, getenv("RWP_TEST_VERBOSE") ? "debug" : "warn",
		extra_conf ? extra_conf : "");
	fclose(f);
	return spawn(r, rwpd_path);
}

int rwpd_run_restart(struct rwpd_run *r, const char *rwpd_path)
{
	return spawn(r, rwpd_path);
}

int rwpd_run_stop(struct rwpd_run *r, int sig)
{
	int status;

	if (r->pid <= 0)
		return 0;
	kill(r->pid, sig);
	waitpid(r->pid, &status, 0);
	r->pid = 0;
	return status;
}

void rwpd_run_clean(struct rwpd_run *r)
{
	char cmd[128];

	if (!r->dir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", r->dir);
	if (system(cmd))
		fprintf(stderr, "# could not remove %s\n", r->dir);
}

const char *rwpd_path_near(const char *argv0)
{
	static char path[4096];
	char buf[4096];

	snprintf(buf, sizeof(buf), "%s", argv0);
	snprintf(path, sizeof(path), "%s/../daemon/rwpd", dirname(buf));
	return path;
}

static int request(int sock, const void *pkt, int n, uint32_t seq, struct rwpd_msg *m,
		   uint8_t *buf, size_t cap)
{
	ssize_t len;

	if (n < 0 || rwpd_send_packet(sock, pkt, n, NULL, 0))
		return -EIO;
	len = rwpd_recv(sock, buf, cap, NULL, 0, NULL);
	if (len <= 0 || rwpd_decode(buf, len, 0, m, NULL, 0) || m->hdr.seq != seq)
		return -EIO;
	return m->reply.status;
}

int rwpd_run_call(struct rwpd_run *r, const void *pkt, int n, char **text)
{
	static uint8_t hello[128], in[RWPD_MAX_MSG];
	struct rwpd_msg m;
	int ret, len, sock = rwpd_connect(r->socket, SOCK_SEQPACKET);

	if (text)
		*text = NULL;
	if (sock < 0)
		return sock;
	len = rwpd_encode_hello(hello, sizeof(hello), 1, RWPD_ROLE_CTL, "test");
	ret = request(sock, hello, len, 1, &m, in, sizeof(in));
	if (!ret)
		ret = request(sock, pkt, n, RWPD_RUN_SEQ, &m, in, sizeof(in));
	if (ret != -EIO && text && !(*text = strndup(m.text ? m.text : "", m.text_len)))
		ret = -ENOMEM;
	close(sock);
	return ret;
}

char *rwpd_run_guest_status(struct rwpd_run *r, uint64_t guest_id)
{
	uint8_t out[64];
	char *json;

	if (rwpd_run_call(r, out, rwpd_encode_status(out, sizeof(out), RWPD_RUN_SEQ, guest_id,
						     RWPD_FMT_JSON), &json)) {
		free(json);
		return NULL;
	}
	return json;
}

char *rwpd_run_status(struct rwpd_run *r)
{
	return rwpd_run_guest_status(r, 0);
}
