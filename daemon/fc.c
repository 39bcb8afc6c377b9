// SPDX-License-Identifier: MIT
/*
 * Firecracker's snapshot-restore handoff: Firecracker connects to a stream socket and
 * sends, in one message, a JSON array of its guest memory regions and one userfaultfd.
 * rwpd serves the faults lazily from the snapshot's memory file. The first restore of a
 * memory file records the pages the guest faults in; later restores replay that working
 * set in bulk before the guest asks (REAP).
 *
 * That uffd covers private anonymous memory registered MISSING only, with only
 * EVENT_REMOVE negotiated, and UFFDIO_API cannot be redone: tracking and eviction are
 * impossible through it, only lazy restore. See rwp-protocol(7) for what a VMM hands over
 * in rwp's own protocol to get them.
 */
#include "rwpd.h"
#include "../lib/proto/fc.h"
#include "../lib/proto/transport.h"

#include <errno.h>
#include <linux/userfaultfd.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

int fc_listen(struct rwpd *d)
{
	for (unsigned int i = 0; i < d->cfg.nr_fc; i++) {
		int fd = rwpd_listen(d->cfg.fc[i].socket, SOCK_STREAM, 0600), ret;

		if (fd < 0) {
			rwpd_log(d, RWP_LOG_ERR, "firecracker socket %s: %s", d->cfg.fc[i].socket,
				 strerror(-fd));
			return fd;
		}
		d->fc_src[i] = (struct source){ .kind = SRC_FC_LISTEN, .fd = fd, .idx = i };
		ret = rwpd_watch(d, &d->fc_src[i]);
		if (ret)
			return ret;
		rwpd_log(d, RWP_LOG_INFO, "firecracker restores from %s on %s", d->cfg.fc[i].mem_file,
			 d->cfg.fc[i].socket);
	}
	return 0;
}

/* One working-set file per snapshot memory file (its device, inode, size and mtime). */
static void ws_path_for(struct rwpd *d, const struct stat *st, char *out, size_t n)
{
	snprintf(out, n, "%s/fc-%llx-%llx-%llx-%llx.ws", d->cfg.ws_dir,
		 (unsigned long long)st->st_dev, (unsigned long long)st->st_ino,
		 (unsigned long long)st->st_size, (unsigned long long)st->st_mtime);
}

void fc_accept(struct rwpd *d, struct source *src)
{
	const struct rwpd_fc_conf *fc = &d->cfg.fc[src->idx];
	struct rwpd_fc_region fr[RWPD_MAX_REGIONS];
	struct rwpd_region regions[RWPD_MAX_REGIONS];
	uint64_t offsets[RWPD_MAX_REGIONS];
	char *json = NULL, err[256] = "", name[RWPD_NAME_LEN];
	struct rwpd_peer peer;
	struct guest *g = NULL;
	struct stat st;
	size_t len;
	int conn, uffd = -1, mem = -1, n, ret;

	conn = accept4(src->fd, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0)
		return;
	ret = rwpd_peer_check(conn, &peer);
	if (ret) {
		rwpd_log(d, RWP_LOG_WARN, "firecracker: peer refused: %s", strerror(-ret));
		goto out;
	}
	json = malloc(RWPD_FC_JSON_MAX);
	ret = json ? rwpd_fc_recv(conn, json, RWPD_FC_JSON_MAX, &len, &uffd) : -ENOMEM;
	if (ret) {
		snprintf(err, sizeof(err), "receiving the handoff: %s", strerror(-ret));
		goto out;
	}
	n = rwpd_fc_parse(json, len, fr, RWPD_MAX_REGIONS, err, sizeof(err));
	if (n < 0)
		goto out;
	if (fr[0].page_size != 4096) {
		snprintf(err, sizeof(err), "%llu-byte pages: only 4 KiB Firecracker restores are "
					   "served", (unsigned long long)fr[0].page_size);
		goto out;
	}
	mem = open(fc->mem_file, O_RDONLY | O_CLOEXEC);
	if (mem < 0 || fstat(mem, &st)) {
		snprintf(err, sizeof(err), "memory file %s: %s", fc->mem_file, strerror(errno));
		goto out;
	}
	if (rwpd_fc_check_file(fr, n, st.st_size, err, sizeof(err)))
		goto out;
	for (int i = 0; i < n; i++) {
		regions[i] = (struct rwpd_region){ .addr = fr[i].host_addr, .len = fr[i].size,
						   .mem = RWP_MEM_ANON };
		offsets[i] = fr[i].offset;
	}
	snprintf(name, sizeof(name), "fc-%d", (int)peer.pid);
	struct guest_spec spec = {
		.kind = RWPD_GUEST_FIRECRACKER,
		.name = name,
		.pid = peer.pid,
		.uffd = uffd,
		/* what Firecracker negotiates; UFFDIO_API cannot be asked again */
		.uffd_features = UFFD_FEATURE_EVENT_REMOVE,
		.regions = regions,
		.nr_regions = n,
		.fds = &uffd,
		.nr_fds = 1,
		.image_fd = mem,
		.image_offsets = offsets,
	};

	uffd = -1; /* the guest owns it now, even on failure */
	ret = guest_create(d, &spec, &g, err, sizeof(err));
	if (ret)
		goto out;
	g->conn = conn; /* Firecracker keeps it open for its lifetime: its end is the guest's */
	conn = -1;
	ws_path_for(d, &st, g->ws_path, sizeof(g->ws_path));
	if (!access(g->ws_path, R_OK)) {
		int64_t got = rwp_ws_replay(g->ctx, g->ws_path);

		rwpd_log(d, RWP_LOG_INFO, "guest %llu (%s): replayed %lld pages of %s",
			 (unsigned long long)g->id, g->name, (long long)got, g->ws_path);
	} else {
		g->recording = !rwp_ws_record_start(g->ctx);
	}
	g->conn_src = (struct source){ .kind = SRC_FC_CONN, .fd = g->conn, .g = g };
	rwpd_watch(d, &g->conn_src);
	rwpd_log(d, RWP_LOG_INFO, "guest %llu (%s): firecracker restore of %s, %d regions",
		 (unsigned long long)g->id, g->name, fc->mem_file, n);
out:
	if (err[0])
		rwpd_log(d, RWP_LOG_ERR, "firecracker handoff on %s: %s", fc->socket, err);
	if (uffd >= 0)
		close(uffd);
	if (mem >= 0)
		close(mem);
	if (conn >= 0)
		close(conn);
	free(json);
}

/* Firecracker went away: keep what its guest faulted in, for the next restore. */
void fc_guest_done(struct guest *g)
{
	int64_t n;

	if (!g->recording)
		return;
	g->recording = false;
	n = rwp_ws_record_stop(g->ctx, g->ws_path);
	if (n >= 0)
		rwpd_log(g->d, RWP_LOG_INFO, "guest %llu (%s): recorded a working set of %lld pages "
					    "in %s", (unsigned long long)g->id, g->name,
			 (long long)n, g->ws_path);
	else
		rwpd_log(g->d, RWP_LOG_WARN, "guest %llu: recording the working set: %lld",
			 (unsigned long long)g->id, (long long)n);
}
