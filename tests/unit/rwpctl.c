// SPDX-License-Identifier: MIT
/*
 * rwpctl end to end against a fake rwpd: a thread on a real SOCK_SEQPACKET socket that
 * decodes what rwpctl sends with the protocol codec and answers STATUS and METRICS with
 * the renderers' output for hand-built snapshots, and POLICY, EVICT and DETACH with
 * canned replies, remembering what it was asked. Checked: the numbers in the human
 * output, --json passed through, requests built from the options, and every failure
 * mapped to its exit status with a message that says what is wrong.
 *
 * Usage: unit-rwpctl PATH-TO-RWPCTL
 */
#define _GNU_SOURCE
#include "../../daemon/report.h"
#include "../../lib/proto/codec.h"
#include "../../lib/proto/transport.h"
#include "../lib/snapshots.h"
#include "../lib/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

TAP_DEFINE;

/* ---------------------------------------------------------- the fake rwpd -- */

enum mode {
	SERVE,		/* answer as rwpd would */
	CLOSE,		/* close at once, as rwpd does to a peer of another uid */
	SILENT,		/* read, never answer */
	VERSION2,	/* answer in protocol version 2 */
	STALE,		/* send a reply to another seq first */
};

static struct fake {
	pthread_mutex_t lock;
	enum mode mode;
	int listen_fd, stop[2];
	pthread_t thread;
	/* what rwpctl asked */
	uint32_t hello_role;
	unsigned int requests;
	struct rwpd_policy policy;
	struct rwpd_evict_req evict;
	uint64_t detached;
	/* what it is told */
	struct rwpd_daemon_snap d;
	struct rwpd_guest_snap g[2];
} fake = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int reply(int fd, uint32_t seq, int status, const char *text)
{
	static unsigned char buf[RWPD_MAX_MSG];
	int len = rwpd_encode_reply(buf, sizeof(buf), seq, status, 0, text,
				    text ? strlen(text) : 0);

	if (len < 0)
		return len;
	if (fake.mode == VERSION2)
		buf[4] = 2;
	return rwpd_send_packet(fd, buf, (size_t)len, NULL, 0);
}

static int status(int fd, const struct rwpd_msg *m)
{
	const struct rwpd_guest_snap *g = fake.g;
	size_t n = 2;
	char *text;
	int ret;

	/* top sees counters move: 100 more faults and 10 more fetches each time */
	fake.g[0].stats.faults_rwp += 100;
	fake.g[0].stats.fetched += 10;
	if (m->status.guest_id) {
		g = NULL;
		for (size_t i = 0; i < 2; i++)
			if (fake.g[i].id == m->status.guest_id)
				g = &fake.g[i];
		if (!g)
			return reply(fd, m->hdr.seq, -ENOENT, "no guest 99");
		n = 1;
	}
	ret = rwpd_report_json(&fake.d, g, n, &text);
	if (ret)
		return ret;
	ret = reply(fd, m->hdr.seq, 0, text);
	free(text);
	return ret;
}

static int answer(int fd, const struct rwpd_msg *m)
{
	char *text;
	int ret;

	fake.requests++;
	switch (m->hdr.type) {
	case RWPD_HELLO:
		fake.hello_role = m->hello.role;
		return reply(fd, m->hdr.seq, 0, NULL);
	case RWPD_STATUS:
		return status(fd, m);
	case RWPD_METRICS:
		ret = rwpd_report_prometheus(&fake.d, fake.g, 2, &text);
		if (!ret)
			ret = reply(fd, m->hdr.seq, 0, text);
		free(text);
		return ret;
	case RWPD_SET_POLICY:
		fake.policy = m->policy;
		if (m->policy.guest_id == 7)
			return reply(fd, m->hdr.seq, -EINVAL, "batch7 is restoring: no policy yet");
		return reply(fd, m->hdr.seq, 0, NULL);
	case RWPD_EVICT:
		fake.evict = m->evict;
		return reply(fd, m->hdr.seq, 0, "evicted 100 pages");
	case RWPD_DETACH:
		fake.detached = m->ref.guest_id;
		if (m->ref.guest_id == 8)
			return reply(fd, m->hdr.seq, -ENOENT, "no guest 8");
		return reply(fd, m->hdr.seq, 0, NULL);
	}
	return reply(fd, m->hdr.seq, -EOPNOTSUPP, "not a control request");
}

static void serve(int fd)
{
	static unsigned char buf[RWPD_MAX_MSG];
	struct rwpd_msg m;
	unsigned int nfds;
	char err[128];
	ssize_t n;

	while ((n = rwpd_recv(fd, buf, sizeof(buf), NULL, 0, &nfds)) > 0) {
		pthread_mutex_lock(&fake.lock);
		if (rwpd_decode(buf, (size_t)n, nfds, &m, err, sizeof(err))) {
			tap_diag("fake rwpd: rwpctl sent a bad packet: %s", err);
			reply(fd, 0, -EBADMSG, err);
		} else if (fake.mode == STALE) {
			reply(fd, m.hdr.seq + 100, 0, "{}");
			answer(fd, &m);
		} else if (fake.mode != SILENT) {
			answer(fd, &m);
		}
		pthread_mutex_unlock(&fake.lock);
	}
	close(fd);
}

static void *fake_main(void *arg)
{
	struct pollfd p[2] = { { .fd = fake.listen_fd, .events = POLLIN },
			       { .fd = fake.stop[0], .events = POLLIN } };
	int fd;

	(void)arg;
	while (poll(p, 2, -1) > 0 && !p[1].revents) {
		fd = accept4(fake.listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		/* serve() blocks: the listening socket's non-blocking flag is not inherited */
		if (fake.mode == CLOSE)
			close(fd);
		else
			serve(fd);
	}
	return NULL;
}

static void set_mode(enum mode m)
{
	pthread_mutex_lock(&fake.lock);
	fake.mode = m;
	fake.requests = 0;
	pthread_mutex_unlock(&fake.lock);
}

/* --------------------------------------------------------- running rwpctl -- */

static const char *rwpctl;
static char dir[64], sock[128];

struct run {
	int status; /* exit status, or 128 + signal */
	char out[65536], err[8192];
};

static void drain(int fd, char *buf, size_t cap, size_t *len, bool *open)
{
	ssize_t n = read(fd, buf + *len, cap - 1 - *len);

	if (n <= 0) {
		*open = false;
		return;
	}
	*len += (size_t)n;
	buf[*len] = '\0';
}

/* Run rwpctl with args (NULL-terminated) as uid (or -1); env: RWPD_SOCKET or NULL. */
static void run_as(struct run *r, uid_t uid, const char *env, const char *const *args)
{
	const char *argv[32] = { rwpctl };
	int out[2], err[2], st;
	size_t lo = 0, le = 0, n = 1;
	bool oo = true, eo = true;
	pid_t pid;

	for (; args[n - 1] && n < 31; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	memset(r, 0, sizeof(*r));
	if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
		exit(1);
	pid = fork();
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		if (env)
			setenv("RWPD_SOCKET", env, 1);
		else
			unsetenv("RWPD_SOCKET");
		if (uid != (uid_t)-1 && (setgid(uid) || setuid(uid)))
			_exit(99);
		execv(rwpctl, (char **)argv);
		_exit(98);
	}
	close(out[1]);
	close(err[1]);
	while (oo || eo) {
		struct pollfd p[2] = { { .fd = oo ? out[0] : -1, .events = POLLIN },
				       { .fd = eo ? err[0] : -1, .events = POLLIN } };

		if (poll(p, 2, 30000) <= 0)
			break;
		if (p[0].revents)
			drain(out[0], r->out, sizeof(r->out), &lo, &oo);
		if (p[1].revents)
			drain(err[0], r->err, sizeof(r->err), &le, &eo);
	}
	close(out[0]);
	close(err[0]);
	waitpid(pid, &st, 0);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#define RUN(r, ...) run_as(r, (uid_t)-1, NULL, (const char *const[]){ __VA_ARGS__, NULL })
#define CTL(r, ...) RUN(r, "--socket", sock, __VA_ARGS__)

static bool has(const char *s, const char *what)
{
	if (strstr(s, what))
		return true;
	tap_diag("no '%s' in:\n%s", what, s);
	return false;
}

static int count(const char *s, const char *what)
{
	int n = 0;

	for (; (s = strstr(s, what)); s += strlen(what))
		n++;
	return n;
}

/* The line of s holding what, from the first occurrence after from. */
static const char *line_of(const char *from, const char *what)
{
	static char line[512];
	const char *p = from ? strstr(from, what) : NULL, *b, *e;

	if (!p)
		return "";
	for (b = p; b > from && b[-1] != '\n'; b--)
		;
	e = strchrnul(p, '\n');
	snprintf(line, sizeof(line), "%.*s", (int)(e - b), b);
	return line;
}

static struct json_object *parse(const char *s)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o = json_tokener_parse_ex(tok, s, (int)strlen(s));

	/* rwpctl ends its JSON with a newline: whitespace after the value is fine */
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    strspn(s + json_tokener_get_parse_end(tok), " \n") !=
		    strlen(s + json_tokener_get_parse_end(tok))) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* ------------------------------------------------------------------ cases -- */

static void status_table(void)
{
	static struct run r;

	CTL(&r, "status");
	tap_ok(r.status == 0 && has(r.out, "rwpd 0.1.0, pid 812, up 3h02m, kernel 7.3.0-rwp "
					  "(native RWP), rss 14.0 MiB, 2 guests") &&
	       has(r.out, "web1") && has(r.out, "batch7") && has(r.out, "firecracker") &&
	       has(r.out, "restoring"),
	       "status: the daemon line and both guests (%d) %s", r.status, r.err);
	/* guest, resident, evicted, saved, WSS 1/4/16 in MiB */
	tap_ok(has(r.out, "4096.0     1024.0     3072.0     2900.0     512.0     600.0     800.0"),
	       "status: sizes in MiB, evicted = guest - resident");
	tap_ok(fake.hello_role == RWPD_ROLE_CTL, "rwpctl says HELLO as RWPD_ROLE_CTL");

	CTL(&r, "status", "web1");
	tap_ok(r.status == 0 && has(r.out, "web1") && !strstr(r.out, "batch7"),
	       "status GUEST by name: that guest only");
	CTL(&r, "status", "7");
	tap_ok(r.status == 0 && has(r.out, "batch7") && !strstr(r.out, "web1"),
	       "status GUEST by id: that guest only");
}

static void status_json(void)
{
	static struct run r;
	struct json_object *got, *want;
	char *text = NULL;

	CTL(&r, "status", "--json");
	got = parse(r.out);
	/* what the fake sent: it moved its counters before rendering */
	rwpd_report_json(&fake.d, fake.g, 2, &text);
	want = parse(text);
	tap_ok(r.status == 0 && got && want && json_object_equal(got, want),
	       "status --json: rwpd's document, as it came");
	tap_ok(count(r.out, "\n") > 100, "status --json: pretty-printed (%d lines)",
	       count(r.out, "\n"));
	json_object_put(got);
	json_object_put(want);
	free(text);

	CTL(&r, "stats", "1", "--json");
	got = parse(r.out);
	tap_ok(r.status == 0 && got &&
	       json_object_array_length(json_object_object_get(got, "guests")) == 1,
	       "stats --json: the one guest's document");
	json_object_put(got);
}

static void stats(void)
{
	static struct run r;

	CTL(&r, "stats", "web1");
	tap_ok(r.status == 0 &&
	       has(r.out, "guest 1 web1: vmm, running, pid 4242, up 2h03m, 7380 intervals") &&
	       has(r.out, "target 2.0 GiB") && has(r.out, "refault budget 2000 ppm"),
	       "stats: identity and policy (%d) %s", r.status, r.err);
	tap_ok(has(r.out, "p50 12.3 us, p90 20.1 us, p99 45.6 us, max 1.20 ms, mean 14.0 us "
			  "(1200 faults)"),
	       "stats: fetch latency p50/p90/p99/max/mean");
	tap_ok(has(r.out, "prefetched 400: 300 hits (75.0%), 50 waste") &&
	       has(r.out, "scan 1.50 ns, bookkeeping 0.80 ns, protect 2.10 ns") &&
	       has(r.out, "800000 pages in 120 passes, 3 failures, 1.20 s"),
	       "stats: prefetch hits and waste, tick cost per page, eviction");
	tap_ok(has(r.out, "0x7f0000000000") && has(r.out, "native") &&
	       has(r.out, "reads,writes,kernel") &&
	       has(r.out, "native RWP on Linux 7.3: sees reads, writes and KVM") &&
	       has(r.out, "0x100000000") && has(r.out, "hugetlb") && has(r.out, "2.0 MiB"),
	       "stats: regions with backend, what they see and why");
	tap_ok(has(r.out, "zram") && has(r.out, "700000") && has(r.out, "900.0 MiB"),
	       "stats: tiers");
	CTL(&r, "stats", "batch7");
	tap_ok(r.status == 0 && has(r.out, "no fault served yet") &&
	       has(r.out, "none: tracked, not evicted"),
	       "stats: a guest with no tier and no fault yet");
}

static void metrics(void)
{
	static struct run r;
	char *text = NULL;

	CTL(&r, "metrics");
	rwpd_report_prometheus(&fake.d, fake.g, 2, &text);
	tap_ok(r.status == 0 && text && !strcmp(r.out, text),
	       "metrics: rwpd's Prometheus text, byte for byte");
	free(text);
}

static void policy(void)
{
	static struct run r;

	memset(&fake.policy, 0xff, sizeof(fake.policy));
	CTL(&r, "policy", "web1", "--interval", "500", "--min-idle", "30", "--target", "2G",
	    "--max-evict", "1000", "--refault-ppm", "5000", "--write-tracked");
	tap_ok(r.status == 0 && fake.policy.guest_id == 1 && fake.policy.interval_ms == 500 &&
	       fake.policy.min_idle == 30 && fake.policy.target_resident == 2 * GiB &&
	       fake.policy.max_evict == 1000 && fake.policy.refault_ppm == 5000 &&
	       fake.policy.flags == (RWPD_POLICY_WRITE_TRACKED | RWPD_POLICY_SET_TARGET |
				      RWPD_POLICY_SET_MAX_EVICT | RWPD_POLICY_SET_REFAULT),
	       "policy: every option lands in SET_POLICY (%d) %s", r.status, r.err);
	CTL(&r, "policy", "all", "--target", "512M");
	tap_ok(r.status == 0 && fake.policy.guest_id == 0 &&
	       fake.policy.target_resident == 512 * MiB && fake.policy.interval_ms == 0 &&
	       fake.policy.max_evict == 0 && fake.policy.flags == RWPD_POLICY_SET_TARGET,
	       "policy all: guest 0, fields not given left 0 (keep)");
	CTL(&r, "policy", "web1");
	tap_ok(r.status == 0 && has(r.out, "INTERVAL") && has(r.out, "2.0 GiB") &&
	       has(r.out, "1000"),
	       "policy without options shows the policy in force");
	fake.requests = 0;
	CTL(&r, "policy", "web1", "--min-idle", "500");
	tap_ok(r.status == 2 && has(r.err, "--min-idle") && fake.requests == 0,
	       "policy: a value out of range is a usage error, nothing sent");
	CTL(&r, "policy", "web1", "--target", "0", "--refault-ppm", "0");
	tap_ok(r.status == 0 && fake.policy.target_resident == 0 && fake.policy.refault_ppm == 0 &&
	       fake.policy.flags == (RWPD_POLICY_SET_TARGET | RWPD_POLICY_SET_REFAULT),
	       "policy: 0 for none goes with its SET flag, not read as keep");
	CTL(&r, "policy", "web1", "--interval", "0");
	tap_ok(r.status == 2 && has(r.err, "from 1 to 3600000"),
	       "policy: an interval of 0 is refused (0 would keep it)");
	CTL(&r, "policy", "7", "--interval", "100");
	tap_ok(r.status == 1 && has(r.err, "batch7 is restoring: no policy yet") &&
	       has(r.err, "Invalid argument"),
	       "policy: rwpd's error text and errno, exit 1");
}

static void evict_detach(void)
{
	static struct run r;

	CTL(&r, "evict", "batch7", "--target", "1G", "--max", "100");
	tap_ok(r.status == 0 && fake.evict.guest_id == 7 &&
	       fake.evict.target_resident == 1 * GiB && fake.evict.max_pages == 100 &&
	       has(r.out, "evicted 100 pages"),
	       "evict: name resolved, target and max sent, rwpd's answer shown");
	CTL(&r, "evict", "web1", "--target", "lots");
	tap_ok(r.status == 2 && has(r.err, "not a size"), "evict: a bad size is a usage error");
	CTL(&r, "detach", "7");
	tap_ok(r.status == 0 && fake.detached == 7 && has(r.out, "guest 7 detached"),
	       "detach by id");
	CTL(&r, "detach", "8");
	tap_ok(r.status == 1 && has(r.err, "rwpd: no guest 8 (No such file or directory)"),
	       "detach: rwpd's refusal is exit 1 with its text");
	CTL(&r, "detach", "nosuch");
	tap_ok(r.status == 1 && has(r.err, "no guest named 'nosuch'"),
	       "an unknown guest name: exit 1");
	CTL(&r, "status", "99");
	tap_ok(r.status == 1 && has(r.err, "no guest 99"), "status of an unknown id: exit 1");
}

static void top(void)
{
	static struct run r;
	const char *second;

	CTL(&r, "top", "--iterations", "3", "--interval", "0.2");
	second = strstr(r.out, "\n\n") ? strstr(strstr(r.out, "\n\n") + 2, "rwpd 0.1.0") : NULL;
	tap_ok(r.status == 0 && count(r.out, "rwpd 0.1.0") == 3 && count(r.out, "web1") == 3 &&
	       !strstr(r.out, "\033["),
	       "top without a terminal: one plain frame per interval (%d) %s", r.status, r.err);
	/* 100 faults and 10 fetches per 0.2 s sample: about 500/s and 50/s */
	tap_ok(second && has(r.out, "FAULTS/s") && strstr(line_of(r.out, "web1"), "  -  ") &&
	       !strstr(line_of(second, "web1"), " - ") &&
	       has(line_of(second, "web1"), "45.6 us"),
	       "top: rates from the second sample on ('%s'), p99 shown",
	       line_of(second, "web1"));
	RUN(&r, "--socket", sock, "top", "web1");
	tap_ok(r.status == 2, "top takes no guest");
}

static void usage(void)
{
	static struct run r;

	RUN(&r, "bogus");
	tap_ok(r.status == 2 && has(r.err, "no verb 'bogus'"), "an unknown verb: exit 2");
	CTL(&r, "stats");
	tap_ok(r.status == 2 && has(r.err, "usage: rwpctl stats GUEST"),
	       "a missing GUEST: exit 2 with the usage line");
	CTL(&r, "status", "--nope");
	tap_ok(r.status == 2 && has(r.err, "unknown option --nope"), "an unknown option: exit 2");
	RUN(&r, "help", "evict");
	tap_ok(r.status == 0 && has(r.out, "--target SIZE") && has(r.out, "--socket PATH"),
	       "help VERB: its options and the common ones");
	RUN(&r, "--version");
	tap_ok(r.status == 0 && has(r.out, "rwpd protocol version 1"), "--version");
	RUN(&r, NULL);
	tap_ok(r.status == 2 && has(r.err, "verbs:"), "no verb: usage, exit 2");
}

static void unreachable(void)
{
	static struct run r;
	char gone[160];

	snprintf(gone, sizeof(gone), "%s/nothing.sock", dir);
	RUN(&r, "--socket", gone, "status");
	tap_ok(r.status == 3 && has(r.err, "rwpd is not running: no socket at") &&
	       has(r.err, gone),
	       "status against a missing socket: exit 3, and why");

	run_as(&r, (uid_t)-1, sock, (const char *const[]){ "status", NULL });
	tap_ok(r.status == 0 && has(r.out, "web1"), "RWPD_SOCKET names the socket");
	run_as(&r, (uid_t)-1, gone, (const char *const[]){ "--socket", sock, "status", NULL });
	tap_ok(r.status == 0, "--socket wins over RWPD_SOCKET");

	set_mode(VERSION2);
	CTL(&r, "status");
	tap_ok(r.status == 3 && has(r.err, "protocol version mismatch: rwpd speaks version 2"),
	       "a daemon of another protocol version: exit 3, both versions named");
	set_mode(CLOSE);
	CTL(&r, "status");
	tap_ok(r.status == 3 && has(r.err, "rwpd closed the connection") &&
	       has(r.err, "only its own user and root"),
	       "a connection closed at once (peer check): exit 3, the likely reason");
	set_mode(SILENT);
	CTL(&r, "--timeout", "0.3", "status");
	tap_ok(r.status == 3 && has(r.err, "did not answer HELLO within 0.3 s"),
	       "no answer within --timeout: exit 3");
	set_mode(STALE);
	CTL(&r, "stats", "web1");
	tap_ok(r.status == 0 && has(r.out, "p99 45.6 us"),
	       "a reply to another seq is skipped, the matching one used");
	set_mode(SERVE);

	/* permission: as another user than the socket's owner */
	if (geteuid() == 0) {
		run_as(&r, 65534, NULL, (const char *const[]){ "--socket", sock, "status", NULL });
		if (r.status == 99)
			tap_skip("permission denied", "cannot become uid 65534 here");
		else
			tap_ok(r.status == 3 && has(r.err, "permission denied on"),
			       "another user: permission denied, exit 3");
	} else {
		chmod(sock, 0);
		CTL(&r, "status");
		chmod(sock, 0600);
		tap_ok(r.status == 3 && has(r.err, "permission denied on"),
		       "a socket not ours: permission denied, exit 3");
	}
}

int main(int argc, char **argv)
{
	tap_init();
	if (argc != 2) {
		fprintf(stderr, "usage: %s PATH-TO-RWPCTL\n", argv[0]);
		return 1;
	}
	rwpctl = argv[1];
	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "/tmp/rwpctl-test.XXXXXX");
	if (!mkdtemp(dir) || pipe2(fake.stop, O_CLOEXEC))
		return 1;
	snprintf(sock, sizeof(sock), "%s/rwpd.sock", dir);
	fake.listen_fd = rwpd_listen(sock, SOCK_SEQPACKET, 0600);
	if (fake.listen_fd < 0) {
		fprintf(stderr, "listen %s: %s\n", sock, strerror(-fake.listen_fd));
		return 1;
	}
	snap_daemon(&fake.d, 2);
	snap_web1(&fake.g[0]);
	snap_batch7(&fake.g[1]);
	pthread_create(&fake.thread, NULL, fake_main, NULL);

	status_table();
	status_json();
	stats();
	metrics();
	policy();
	evict_detach();
	top();
	usage();
	unreachable();

	write(fake.stop[1], "x", 1);
	pthread_join(fake.thread, NULL);
	close(fake.listen_fd);
	unlink(sock);
	rmdir(dir);
	return tap_done();
}
