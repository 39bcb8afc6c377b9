// SPDX-License-Identifier: MIT
/*
 * Firecracker's snapshot-restore handoff, byte for byte: this test plays Firecracker. It
 * maps anonymous guest memory, creates a uffd with only EVENT_REMOVE, registers MISSING,
 * connects to rwpd's handoff socket and sends, in one message, the JSON of its regions
 * (base_host_virt_addr, size, offset, page_size, page_size_kib) with the uffd. rwpd
 * restores the memory file lazily: every page must match the file. The first restore
 * records the working set; a second restore replays it, and faults far less.
 */
#define _GNU_SOURCE
#include "../lib/guestmem.h"
#include "../lib/pattern.h"
#include "../lib/rwpd-run.h"
#include "../lib/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <linux/userfaultfd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

TAP_DEFINE;

#define REGION_MB 32
#define REGIONS 2
#define PAGES_PER (REGION_MB * 256)

struct fc {
	uint8_t *mem[REGIONS];
	int uffd, sock;
};

/* What Firecracker sends: serde_json of Vec<GuestRegionUffdMapping>, no newline. */
static int handoff(struct fc *f, const char *sock_path)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_EVENT_REMOVE };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char json[1024], cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	size_t len = 0;

	f->uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (f->uffd < 0 || ioctl(f->uffd, UFFDIO_API, &api))
		return -errno;
	len += snprintf(json + len, sizeof(json) - len, "[");
	for (int i = 0; i < REGIONS; i++) {
		size_t size = (size_t)REGION_MB << 20;
		struct uffdio_register reg = {
			.range = { .start = (uintptr_t)f->mem[i], .len = size },
			.mode = UFFDIO_REGISTER_MODE_MISSING,
		};

		if (ioctl(f->uffd, UFFDIO_REGISTER, &reg))
			return -errno;
		len += snprintf(json + len, sizeof(json) - len,
				"%s{\"base_host_virt_addr\":%lu,\"size\":%zu,\"offset\":%zu,"
				"\"page_size\":4096,\"page_size_kib\":4096}",
				i ? "," : "", (unsigned long)(uintptr_t)f->mem[i], size, i * size);
	}
	len += snprintf(json + len, sizeof(json) - len, "]");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	f->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (f->sock < 0 || connect(f->sock, (struct sockaddr *)&sa, sizeof(sa)))
		return -errno;
	iov = (struct iovec){ .iov_base = json, .iov_len = len };
	cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &f->uffd, sizeof(int));
	return sendmsg(f->sock, &m, 0) == (ssize_t)len ? 0 : -EIO;
}

/* Touch the working set: every 7th page and a run, checking each against the file. */
static bool workload(struct fc *f, double *secs)
{
	struct timespec a, b;
	bool ok = true;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int r = 0; r < REGIONS; r++) {
		for (uint64_t pg = 0; pg < PAGES_PER; pg++) {
			uint64_t v;

			if (pg % 7 && !(r == 1 && pg >= 1000 && pg < 3000))
				continue;
			if (!pattern_check(f->mem[r] + pg * 4096, r * PAGES_PER + pg, &v) || v != 1) {
				const uint64_t *w = (const void *)(f->mem[r] + pg * 4096);

				if (ok)
					tap_diag("region %d page %llu holds page %llu version %llu",
						 r, (unsigned long long)pg, (unsigned long long)w[0],
						 (unsigned long long)w[1]);
				ok = false;
			}
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	*secs = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	return ok;
}

static bool all_pages_match(struct fc *f)
{
	for (int r = 0; r < REGIONS; r++)
		for (uint64_t pg = 0; pg < PAGES_PER; pg++) {
			uint64_t v;

			if (!pattern_check(f->mem[r] + pg * 4096, r * PAGES_PER + pg, &v) || v != 1)
				return false;
		}
	return true;
}

/* The missing faults rwpd served for the Firecracker guest it is restoring now. */
static long long fc_faults(struct rwpd_run *d)
{
	char *s = rwpd_run_status(d);
	struct json_object *root = s ? json_tokener_parse(s) : NULL, *guests, *g, *v;
	long long n = -1;

	if (root && json_object_object_get_ex(root, "guests", &guests)) {
		for (size_t i = 0; i < json_object_array_length(guests); i++) {
			g = json_object_array_get_idx(guests, i);
			if (json_object_object_get_ex(g, "kind", &v) &&
			    !strcmp(json_object_get_string(v), "firecracker") &&
			    json_object_object_get_ex(g, "faults", &v) &&
			    json_object_object_get_ex(v, "missing", &v))
				n = json_object_get_int64(v);
		}
	}
	json_object_put(root);
	free(s);
	return n;
}

static void fc_exit(struct fc *f)
{
	close(f->sock);
	close(f->uffd);
	for (int i = 0; i < REGIONS; i++)
		munmap(f->mem[i], (size_t)REGION_MB << 20);
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/rwp-fc-XXXXXX", mem[96], sock[96], conf[256], ws[200];
	struct rwpd_run d = { 0 };
	struct fc f1 = { 0 }, f2 = { 0 };
	long long faults1 = -1, faults2 = -1;
	double t1 = 0, t2 = 0;
	int fd;

	(void)argc;
	tap_init();
	CHECK(mkdtemp(dir), out, "mkdtemp");
	snprintf(mem, sizeof(mem), "%s/snapshot.mem", dir);
	snprintf(sock, sizeof(sock), "%s/fc.sock", dir);
	/* the snapshot's memory file: page p of the guest holds pattern p */
	fd = open(mem, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	CHECK(fd >= 0, out, "memory file");
	for (uint64_t p = 0; p < REGIONS * PAGES_PER; p++) {
		uint8_t page[4096];

		pattern_fill(page, p, 1);
		CHECK(pwrite(fd, page, 4096, p * 4096) == 4096, out, "write memory file");
	}
	close(fd);
	snprintf(conf, sizeof(conf), "firecracker = %s=%s", sock, mem);
	CHECK(!rwpd_run_start(&d, rwpd_path_near(argv[0]), conf), out, "start rwpd");

	for (int i = 0; i < REGIONS; i++)
		f1.mem[i] = mmap(NULL, (size_t)REGION_MB << 20, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(!handoff(&f1, sock), out, "first handoff");
	tap_ok(workload(&f1, &t1), "first restore: the working set matches the memory file");
	faults1 = fc_faults(&d);
	/* (the whole memory is checked on the second restore: here it would be recorded too) */
	fc_exit(&f1);
	/* rwpd saves the working set when Firecracker goes away */
	snprintf(ws, sizeof(ws), "ls %s/ws/*.ws >/dev/null 2>&1", d.dir);
	for (int i = 0; i < 100 && system(ws); i++)
		usleep(50000);
	tap_ok(!system(ws), "the working set of the first restore was recorded");

	for (int i = 0; i < REGIONS; i++)
		f2.mem[i] = mmap(NULL, (size_t)REGION_MB << 20, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(!handoff(&f2, sock), out, "second handoff");
	tap_ok(workload(&f2, &t2), "second restore: the working set matches the memory file");
	faults2 = fc_faults(&d);
	tap_diag("working set touched with %lld faults in %.3f s first, %lld faults in %.3f s "
		 "after replay", faults1, t1, faults2, t2);
	/*
	 * The guest runs while the replay installs its working set, as Firecracker's does:
	 * what it touches first still faults, more so on a busy machine (a few % when idle).
	 */
	tap_ok(faults1 > 0 && faults2 >= 0 && faults2 * 3 < faults1,
	       "the second restore replays the working set: %lld faults instead of %lld",
	       faults2, faults1);
	tap_ok(all_pages_match(&f2), "second restore: every page matches the memory file");
	fc_exit(&f2);
out:
	tap_ok(rwpd_run_stop(&d, SIGTERM) == 0, "rwpd stops cleanly");
	rwpd_run_clean(&d);
	snprintf(ws, sizeof(ws), "rm -rf %s", dir);
	if (system(ws))
		tap_diag("could not remove %s", dir);
	return tap_done();
}
