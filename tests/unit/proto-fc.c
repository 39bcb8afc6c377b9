// SPDX-License-Identifier: MIT
/*
 * Firecracker's uffd handoff (lib/proto/fc.c): the region JSON of current (>= 1.12),
 * 1.7-1.11 (page_size_kib only) and 1.0-1.6 (no page size) Firecrackers, malformed and
 * hostile JSON, and the receive side: exactly one fd, no fd left open otherwise.
 */
#define _GNU_SOURCE
#include "../../lib/proto/fc.h"
#include "../../lib/proto/transport.h"
#include "../lib/tap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

TAP_DEFINE;

static struct rwpd_fc_region r[RWPD_MAX_REGIONS + 1];

static int parse(const char *json, char *err, size_t errlen)
{
	return rwpd_fc_parse(json, strlen(json), r, RWPD_MAX_REGIONS, err, errlen);
}

static void valid(void)
{
	char err[160];
	int n;

	/* as Firecracker >= 1.12 sends it (serde_json, no blanks) */
	n = parse("[{\"base_host_virt_addr\":140234112172032,\"size\":134217728,\"offset\":0,"
		  "\"page_size\":4096,\"page_size_kib\":4096},"
		  "{\"base_host_virt_addr\":140234380607488,\"size\":268435456,"
		  "\"offset\":134217728,\"page_size\":4096,\"page_size_kib\":4096}]",
		  err, sizeof(err));
	tap_ok(n == 2 && r[0].host_addr == 140234112172032ULL && r[0].size == 134217728 &&
	       r[1].offset == 134217728 && r[1].page_size == 4096,
	       "Firecracker >= 1.12: page_size and page_size_kib %s", err);

	/* 1.7 to 1.11: page_size_kib only, in bytes despite its name; hugetlbfs 2M */
	n = parse("[{\"base_host_virt_addr\":140231755956224,\"size\":1073741824,\"offset\":0,"
		  "\"page_size_kib\":2097152}]", err, sizeof(err));
	tap_ok(n == 1 && r[0].page_size == 2097152,
	       "Firecracker 1.7-1.11: page_size_kib is bytes (2 MiB) %s", err);

	/* 1.0 to 1.6: no page size at all */
	n = parse("[{\"base_host_virt_addr\":140234112172032,\"size\":134217728,\"offset\":0}]",
		  err, sizeof(err));
	tap_ok(n == 1 && r[0].page_size == 4096, "Firecracker 1.0-1.6: 4 KiB pages %s", err);

	n = parse(" \n[ { \"size\" : 4096 , \"offset\" : 8192, \"base_host_virt_addr\" : 4096,"
		  " \"page_size\": 4096, \"gpa_start\": 0, \"future\": {\"x\": [1, 2]} } ]\r\n",
		  err, sizeof(err));
	tap_ok(n == 1 && r[0].offset == 8192, "blanks, key order, unknown keys %s", err);

	n = parse("[{\"base_host_virt_addr\":4096,\"size\":4096,\"offset\":0,"
		  "\"is_guest_memfd\":false}]", err, sizeof(err));
	tap_ok(n == 1, "is_guest_memfd false is plain memory %s", err);

	/* RWPD_MAX_REGIONS regions */
	{
		char big[8192];
		size_t o = 0;

		o += snprintf(big + o, sizeof(big) - o, "[");
		for (int i = 0; i < RWPD_MAX_REGIONS; i++)
			o += snprintf(big + o, sizeof(big) - o,
				      "%s{\"base_host_virt_addr\":%d,\"size\":4096,\"offset\":%d}",
				      i ? "," : "", (i + 1) * 8192, i * 4096);
		snprintf(big + o, sizeof(big) - o, "]");
		n = parse(big, err, sizeof(err));
		tap_ok(n == RWPD_MAX_REGIONS, "%d regions %s", RWPD_MAX_REGIONS, err);
	}

	n = parse("[{\"base_host_virt_addr\":0,\"size\":8192,\"offset\":0}]", err, sizeof(err));
	tap_ok(n == 1 && !rwpd_fc_check_file(r, 1, 8192, err, sizeof(err)) &&
	       rwpd_fc_check_file(r, 1, 4096, err, sizeof(err)) == -EINVAL && err[0],
	       "rwpd_fc_check_file: regions inside the memory file (%s)", err);
}

static const struct {
	const char *json;
	int err;
	const char *name;
} bad[] = {
	{ "", EBADMSG, "empty input" },
	{ "{", EBADMSG, "not JSON" },
	{ "[{\"base_host_virt_addr\":0,\"size\":4096,\"offset\":0}", EBADMSG, "cut short" },
	{ "[{\"base_host_virt_addr\":0,\"size\":4096,\"offset\":0}] x", EBADMSG,
	  "trailing bytes" },
	{ "[{\"base_host_virt_addr\":0,\"size\":4096,\"offset\":0}][]", EBADMSG,
	  "two documents" },
	{ "{\"base_host_virt_addr\":0,\"size\":4096,\"offset\":0}", EBADMSG,
	  "an object, not an array" },
	{ "[]", EINVAL, "empty array" },
	{ "[1]", EBADMSG, "an element that is not an object" },
	{ "[{\"base_host_virt_addr\":0,\"offset\":0}]", EBADMSG, "size missing" },
	{ "[{\"size\":4096,\"offset\":0}]", EBADMSG, "base_host_virt_addr missing" },
	{ "[{\"base_host_virt_addr\":0,\"size\":4096}]", EBADMSG, "offset missing" },
	{ "[{\"base_host_virt_addr\":0,\"size\":\"4096\",\"offset\":0}]", EBADMSG,
	  "size as a string" },
	{ "[{\"base_host_virt_addr\":0,\"size\":4096.0,\"offset\":0}]", EBADMSG,
	  "size as a float" },
	{ "[{\"base_host_virt_addr\":0,\"size\":null,\"offset\":0}]", EBADMSG, "size null" },
	{ "[{\"base_host_virt_addr\":-4096,\"size\":4096,\"offset\":0}]", EINVAL,
	  "negative address" },
	{ "[{\"base_host_virt_addr\":0,\"size\":0,\"offset\":0}]", EINVAL, "size 0" },
	{ "[{\"base_host_virt_addr\":0,\"size\":18446744073709551616,\"offset\":0}]", EINVAL,
	  "size of 2^64 (json-c saturates)" },
	{ "[{\"base_host_virt_addr\":0,\"size\":4096,\"offset\":0,\"page_size\":3000}]", EINVAL,
	  "page size not a power of two" },
	{ "[{\"base_host_virt_addr\":0,\"size\":4096,\"offset\":0,\"page_size\":2048}]", EINVAL,
	  "page size below 4 KiB" },
	{ "[{\"base_host_virt_addr\":0,\"size\":4096,\"offset\":0,\"page_size\":0}]", EINVAL,
	  "page size 0" },
	{ "[{\"base_host_virt_addr\":0,\"size\":2097152,\"offset\":0,\"page_size\":2097152,"
	  "\"page_size_kib\":2048}]", EINVAL, "page_size_kib taken as KiB (not what FC sends)" },
	{ "[{\"base_host_virt_addr\":0,\"size\":2097152,\"offset\":0,\"page_size\":2097152},"
	  "{\"base_host_virt_addr\":2097152,\"size\":4096,\"offset\":2097152}]", EINVAL,
	  "page sizes differing between regions" },
	{ "[{\"base_host_virt_addr\":4096,\"size\":4096,\"offset\":0,\"page_size\":2097152}]",
	  EINVAL, "address not a multiple of the page size" },
	{ "[{\"base_host_virt_addr\":0,\"size\":6144,\"offset\":0}]", EINVAL,
	  "size not a multiple of the page size" },
	{ "[{\"base_host_virt_addr\":18446744073709547520,\"size\":8192,\"offset\":0}]", EINVAL,
	  "address + size overflowing" },
	{ "[{\"base_host_virt_addr\":0,\"size\":8192,\"offset\":9223372036854771712}]", EINVAL,
	  "offset + size past off_t" },
	{ "[{\"base_host_virt_addr\":0,\"size\":8192,\"offset\":0},"
	  "{\"base_host_virt_addr\":4096,\"size\":4096,\"offset\":8192}]", EINVAL,
	  "regions overlapping in memory" },
	{ "[{\"base_host_virt_addr\":0,\"size\":8192,\"offset\":0},"
	  "{\"base_host_virt_addr\":8192,\"size\":4096,\"offset\":4096}]", EINVAL,
	  "regions overlapping in the memory file" },
	{ "[{\"base_host_virt_addr\":0,\"size\":4096,\"offset\":0,\"is_guest_memfd\":true}]",
	  EOPNOTSUPP, "a guest_memfd mapping" },
	{ "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
	  EBADMSG, "nesting deeper than a handoff has" },
};

static void malformed(void)
{
	char err[160], many[8192];
	size_t o = 0;
	int n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		n = parse(bad[i].json, err, sizeof(err));
		tap_ok(n == -bad[i].err && err[0], "refused: %s (%s: %s)", bad[i].name,
		       strerror(-n), err);
	}
	{
		static const char nul[] =
			"[{\"base_host_virt_addr\":0,\"size\":4096,\"offset\":0}]\0";

		n = rwpd_fc_parse(nul, sizeof(nul) - 1, r, RWPD_MAX_REGIONS, err, sizeof(err));
		tap_ok(n == -EBADMSG && strstr(err, "NUL"), "refused: a NUL byte (%s)", err);
	}

	o += snprintf(many + o, sizeof(many) - o, "[");
	for (int i = 0; i <= RWPD_MAX_REGIONS; i++)
		o += snprintf(many + o, sizeof(many) - o,
			      "%s{\"base_host_virt_addr\":%d,\"size\":4096,\"offset\":%d}",
			      i ? "," : "", (i + 1) * 8192, i * 4096);
	snprintf(many + o, sizeof(many) - o, "]");
	n = rwpd_fc_parse(many, strlen(many), r, RWPD_MAX_REGIONS + 1, err, sizeof(err));
	tap_ok(n == -E2BIG, "refused: %d regions (%s)", RWPD_MAX_REGIONS + 1, err);
	snprintf(many, sizeof(many), "[{\"base_host_virt_addr\":0,\"size\":4096,\"offset\":0},"
		 "{\"base_host_virt_addr\":4096,\"size\":4096,\"offset\":4096}]");
	n = rwpd_fc_parse(many, strlen(many), r, 1, err, sizeof(err));
	tap_ok(n == -E2BIG, "refused: more regions than the caller's array (%s)", err);
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;
}

/* As Firecracker does it: one sendmsg of JSON bytes with SCM_RIGHTS. */
static int fc_send(int sock, const char *json, const int *fds, unsigned int nfds)
{
	return rwpd_send_packet(sock, json, strlen(json), fds, nfds);
}

static void receive(void)
{
	static const char json[] = "[{\"base_host_virt_addr\":4096,\"size\":4096,\"offset\":0}]";
	char buf[RWPD_FC_JSON_MAX], err[128];
	int sv[2], p[2], fds[3], uffd = -1, before, ret;
	size_t len = 0;

	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	pipe2(p, O_CLOEXEC);
	fds[0] = p[0];
	fds[1] = p[1];
	fds[2] = p[0];

	before = open_fds();
	fc_send(sv[0], json, fds, 1);
	ret = rwpd_fc_recv(sv[1], buf, sizeof(buf), &len, &uffd);
	tap_ok(!ret && len == strlen(json) && uffd >= 0 && open_fds() == before + 1 &&
	       parse(json, err, sizeof(err)) == 1, "JSON and one fd (%d)", ret);
	if (uffd >= 0)
		close(uffd);

	before = open_fds();
	fc_send(sv[0], json, NULL, 0);
	ret = rwpd_fc_recv(sv[1], buf, sizeof(buf), &len, &uffd);
	tap_ok(ret == -EBADMSG && open_fds() == before, "no fd: -EBADMSG (%d)", ret);

	fc_send(sv[0], json, fds, 3);
	ret = rwpd_fc_recv(sv[1], buf, sizeof(buf), &len, &uffd);
	tap_ok(ret == -EBADMSG && open_fds() == before,
	       "three fds: -EBADMSG, all of them closed (%d)", ret);

	fc_send(sv[0], json, fds, 1);
	ret = rwpd_fc_recv(sv[1], buf, 20, &len, &uffd);
	tap_ok(ret == -EMSGSIZE && open_fds() == before,
	       "JSON filling the buffer: -EMSGSIZE, the fd closed (%d)", ret);
	/* drain what the stream still holds of it */
	recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT);

	close(sv[0]);
	ret = rwpd_fc_recv(sv[1], buf, sizeof(buf), &len, &uffd);
	tap_ok(ret == -ECONNRESET, "closed before sending: -ECONNRESET (%d)", ret);
	close(sv[1]);

	tap_ok(rwpd_fd_is_uffd(p[0]) == 0, "a pipe is not a userfaultfd");
	{
		int u = (int)syscall(__NR_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);

		if (u < 0)
			tap_skip("a userfaultfd is one", "userfaultfd(): %s", strerror(errno));
		else
			tap_ok(rwpd_fd_is_uffd(u) == 1, "a userfaultfd is one");
		if (u >= 0)
			close(u);
	}
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	tap_init();
	valid();
	malformed();
	receive();
	return tap_done();
}
