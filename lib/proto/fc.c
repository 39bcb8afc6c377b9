// SPDX-License-Identifier: MIT
/*
 * Firecracker's uffd handoff: its JSON region list (libjson-c) and its one-fd message.
 *
 * The JSON comes from a process we are about to serve pages to, but it is still bytes off
 * a socket: it is parsed strictly (no trailing bytes, no NULs, bounded depth) and every
 * number is range-checked before a region is believed.
 */
#define _GNU_SOURCE
#include "fc.h"
#include "errmsg.h"
#include "transport.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#define JSON_DEPTH 8	     /* array > object > value, with room for new nested fields */
#define PAGE_MAX (1ULL << 30) /* 1 GiB hugetlbfs pages */

/*
 * A non-negative integer field. json-c saturates what does not fit 64 bits to
 * UINT64_MAX, and no field may be that large anyway: it is refused as out of range.
 */
static int get_u64(json_object *obj, unsigned int i, const char *key, bool required,
		   uint64_t *v, bool *present, char *err, size_t errlen)
{
	json_object *o;

	if (present)
		*present = false;
	if (!json_object_object_get_ex(obj, key, &o)) {
		if (!required)
			return 0;
		return fail(err, errlen, EBADMSG, "region %u: no \"%s\"", i, key);
	}
	if (!json_object_is_type(o, json_type_int))
		return fail(err, errlen, EBADMSG, "region %u: \"%s\" is not an integer", i, key);
	if (json_object_get_int64(o) < 0)
		return fail(err, errlen, EINVAL, "region %u: \"%s\" is negative", i, key);
	*v = json_object_get_uint64(o);
	if (*v == UINT64_MAX)
		return fail(err, errlen, EINVAL, "region %u: \"%s\" is out of range", i, key);
	if (present)
		*present = true;
	return 0;
}

static int page_size_of(json_object *obj, unsigned int i, uint64_t *ps, char *err,
			size_t errlen)
{
	uint64_t a = 0, b = 0;
	bool has_a, has_b;
	int ret;

	ret = get_u64(obj, i, "page_size", false, &a, &has_a, err, errlen);
	if (!ret)
		/* "kib" is a misnomer kept for compatibility: the value is in bytes */
		ret = get_u64(obj, i, "page_size_kib", false, &b, &has_b, err, errlen);
	if (ret)
		return ret;
	if (has_a && has_b && a != b)
		return fail(err, errlen, EINVAL,
			    "region %u: page_size %llu but page_size_kib %llu", i,
			    (unsigned long long)a, (unsigned long long)b);
	*ps = has_a ? a : has_b ? b : RWPD_FC_PAGE_DEFAULT;
	if (*ps < 4096 || *ps > PAGE_MAX || (*ps & (*ps - 1)))
		return fail(err, errlen, EINVAL,
			    "region %u: page size %llu is not a power of two in [4 KiB, 1 GiB]",
			    i, (unsigned long long)*ps);
	return 0;
}

static int parse_region(json_object *obj, unsigned int i, struct rwpd_fc_region *r,
			char *err, size_t errlen)
{
	json_object *gm;
	int ret;

	if (!json_object_is_type(obj, json_type_object))
		return fail(err, errlen, EBADMSG, "region %u is not an object", i);
	if (json_object_object_get_ex(obj, "is_guest_memfd", &gm) && json_object_get_boolean(gm))
		return fail(err, errlen, EOPNOTSUPP,
			    "region %u is guest_memfd: that handoff is not supported", i);
	ret = get_u64(obj, i, "base_host_virt_addr", true, &r->host_addr, NULL, err, errlen);
	if (!ret)
		ret = get_u64(obj, i, "size", true, &r->size, NULL, err, errlen);
	if (!ret)
		ret = get_u64(obj, i, "offset", true, &r->offset, NULL, err, errlen);
	if (!ret)
		ret = page_size_of(obj, i, &r->page_size, err, errlen);
	if (ret)
		return ret;
	if (!r->size)
		return fail(err, errlen, EINVAL, "region %u: size 0", i);
	if ((r->host_addr | r->size | r->offset) & (r->page_size - 1))
		return fail(err, errlen, EINVAL,
			    "region %u: address, size and offset must be multiples of the "
			    "page size %llu", i, (unsigned long long)r->page_size);
	if (r->host_addr + r->size < r->host_addr)
		return fail(err, errlen, EINVAL, "region %u: address + size overflows", i);
	/* an offset into a file: off_t */
	if (r->offset > (uint64_t)INT64_MAX - r->size)
		return fail(err, errlen, EINVAL, "region %u: offset + size overflows", i);
	return 0;
}

static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static int check_set(const struct rwpd_fc_region *r, size_t n, char *err, size_t errlen)
{
	size_t i, j;

	for (i = 1; i < n; i++)
		if (r[i].page_size != r[0].page_size)
			return fail(err, errlen, EINVAL,
				    "region %zu: page size %llu, region 0 has %llu", i,
				    (unsigned long long)r[i].page_size,
				    (unsigned long long)r[0].page_size);
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++) {
			if (overlap(r[i].host_addr, r[i].size, r[j].host_addr, r[j].size))
				return fail(err, errlen, EINVAL,
					    "regions %zu and %zu overlap in memory", i, j);
			if (overlap(r[i].offset, r[i].size, r[j].offset, r[j].size))
				return fail(err, errlen, EINVAL,
					    "regions %zu and %zu overlap in the memory file", i, j);
		}
	return 0;
}

static int parse_array(json_object *root, struct rwpd_fc_region *out, size_t max, char *err,
		       size_t errlen)
{
	size_t i, n;
	int ret;

	if (!json_object_is_type(root, json_type_array))
		return fail(err, errlen, EBADMSG, "not a JSON array of region mappings");
	n = json_object_array_length(root);
	if (!n)
		return fail(err, errlen, EINVAL, "no regions");
	if (n > max || n > RWPD_MAX_REGIONS)
		return fail(err, errlen, E2BIG, "%zu regions, at most %zu", n,
			    max < RWPD_MAX_REGIONS ? max : (size_t)RWPD_MAX_REGIONS);
	for (i = 0; i < n; i++) {
		ret = parse_region(json_object_array_get_idx(root, i), i, &out[i], err, errlen);
		if (ret)
			return ret;
	}
	ret = check_set(out, n, err, errlen);
	return ret ? ret : (int)n;
}

static bool blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			return false;
	return true;
}

int rwpd_fc_parse(const char *json, size_t len, struct rwpd_fc_region *out, size_t max,
		  char *err, size_t errlen)
{
	struct json_tokener *tok;
	json_object *root;
	size_t end;
	int ret;

	if (errlen)
		err[0] = '\0';
	if (len > RWPD_FC_JSON_MAX)
		return fail(err, errlen, E2BIG, "%zu bytes of JSON, at most %d", len,
			    RWPD_FC_JSON_MAX);
	/* json-c would stop at a NUL and call the rest trailing bytes; say it plainly */
	if (memchr(json, '\0', len))
		return fail(err, errlen, EBADMSG, "NUL byte in the JSON");
	tok = json_tokener_new_ex(JSON_DEPTH);
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, json, (int)len);
	if (!root) {
		enum json_tokener_error e = json_tokener_get_error(tok);

		ret = fail(err, errlen, EBADMSG, "JSON: %s",
			   e == json_tokener_continue ? "cut short" :
							json_tokener_error_desc(e));
		goto out;
	}
	end = json_tokener_get_parse_end(tok);
	if (end > len || !blank(json + end, len - end)) {
		ret = fail(err, errlen, EBADMSG, "bytes after the JSON at offset %zu", end);
		goto out;
	}
	ret = parse_array(root, out, max, err, errlen);
out:
	json_object_put(root);
	json_tokener_free(tok);
	return ret;
}

int rwpd_fc_check_file(const struct rwpd_fc_region *r, size_t n, uint64_t file_size,
		       char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (r[i].offset > file_size || r[i].size > file_size - r[i].offset)
			return fail(err, errlen, EINVAL,
				    "region %zu ends at %llu, past the memory file's %llu bytes", i,
				    (unsigned long long)r[i].offset + r[i].size,
				    (unsigned long long)file_size);
	return 0;
}

/*
 * One recvmsg is the whole handoff: Firecracker sends it in one sendmsg, and an AF_UNIX
 * stream keeps a sendmsg below about 32 KiB in one skb, with the fd on it. A region list
 * within RWPD_MAX_REGIONS is a few KiB.
 */
int rwpd_fc_recv(int sock, char *buf, size_t cap, size_t *len, int *uffd)
{
	int fds[RWPD_MAX_FDS];
	unsigned int nfds;
	ssize_t n;

	n = rwpd_recv(sock, buf, cap, fds, RWPD_MAX_FDS, &nfds);
	if (n < 0)
		return (int)n;
	if (n == 0)
		return -ECONNRESET;
	if (nfds != 1 || (size_t)n >= cap) {
		rwpd_close_fds(fds, nfds);
		return nfds != 1 ? -EBADMSG : -EMSGSIZE;
	}
	*len = (size_t)n;
	*uffd = fds[0];
	return 0;
}

int rwpd_fd_is_uffd(int fd)
{
	static const char want[] = "anon_inode:[userfaultfd]";
	char path[64], link[64];
	ssize_t n;

	(void)snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link));
	if (n < 0)
		return -errno;
	return (size_t)n == sizeof(want) - 1 && !memcmp(link, want, n);
}
