// SPDX-License-Identifier: MIT
/*
 * What every verb shares: common options, errors as exit statuses, a connection made
 * on first use, STATUS parsed, and GUEST arguments resolved to ids.
 */
#include "rwpctl.h"

#include "../lib/proto/wire.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <json-c/json.h>

static FILE *err_out;

void ctl_err_to(FILE *f)
{
	err_out = f;
}

int ctl_err(int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	/* formatted first, written once: a message never comes out in pieces */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(err_out ? err_out : stderr, "rwpctl: %s\n", msg);
	return code;
}

int ctl_usage(const struct rwpctl_cmd *cmd, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "rwpctl %s: %s\nusage: rwpctl %s %s\n(rwpctl help %s for more)\n",
		cmd->name, msg, cmd->name, cmd->args, cmd->name);
	return RWPCTL_EUSAGE;
}

static int common_opt(struct rwpctl *ctl, const struct rwpctl_cmd *cmd, int opt, char **argv)
{
	switch (opt) {
	case 'S':
		ctl->socket = optarg;
		return RWPCTL_NEXT;
	case 'T':
		if (parse_timeout(optarg, &ctl->timeout_ms))
			return ctl_usage(cmd, "--timeout: '%s' is not a number of seconds",
					 optarg);
		return RWPCTL_NEXT;
	case 'h':
		rwpctl_print_help(cmd, true);
		return RWPCTL_OK;
	case ':':
		return ctl_usage(cmd, "%s needs a value", argv[optind - 1]);
	default:
		return ctl_usage(cmd, "unknown option %s", argv[optind - 1]);
	}
}

int ctl_next_opt(struct rwpctl *ctl, const struct rwpctl_cmd *cmd, int argc, char **argv,
		 const struct option *opts, int *status)
{
	int opt;

	*status = RWPCTL_NEXT;
	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (opt) {
		case 'S':
		case 'T':
		case 'h':
		case ':':
		case '?':
			*status = common_opt(ctl, cmd, opt, argv);
			if (*status != RWPCTL_NEXT)
				return 0;
			break;
		default:
			return opt;
		}
	}
	return 0;
}

static int connect_once(struct rwpctl *ctl, int timeout_ms)
{
	int ret;

	if (ctl->connected)
		return RWPCTL_OK;
	ret = rwpctl_connect(&ctl->client, ctl->socket, timeout_ms);
	if (ret)
		return ctl_err(RWPCTL_EREACH, "%s", ctl->client.err);
	ctl->connected = true;
	return RWPCTL_OK;
}

int ctl_call(struct rwpctl *ctl, unsigned int type, const void *payload, size_t len,
	     struct rwpctl_reply *r, int default_timeout_ms)
{
	int timeout = ctl->timeout_ms >= 0 ? ctl->timeout_ms : default_timeout_ms;
	/* HELLO is quick whatever follows: a hung rwpd must not hang evict at connect */
	int ret = connect_once(ctl, ctl->timeout_ms >= 0 ? ctl->timeout_ms : RWPCTL_TIMEOUT_MS);

	if (ret)
		return ret;
	/* this request may want another timeout than the last */
	if (ctl->client.timeout_ms != timeout) {
		struct timeval tv = { timeout / 1000, (timeout % 1000) * 1000 };

		if (timeout <= 0)
			tv = (struct timeval){ 0 };
		setsockopt(ctl->client.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		ctl->client.timeout_ms = timeout;
	}
	ret = rwpctl_request(&ctl->client, type, payload, len, r);
	if (ret) {
		/* the connection is no longer in step with its replies */
		ctl_close(ctl);
		return ctl_err(RWPCTL_EREACH, "%s", ctl->client.err);
	}
	if (r->status < 0) {
		ctl_err(RWPCTL_EDAEMON, "rwpd: %s (%s)", r->len ? r->text : "request refused",
			strerror(-r->status));
		rwpctl_reply_free(r);
		return RWPCTL_EDAEMON;
	}
	return RWPCTL_OK;
}

int ctl_status(struct rwpctl *ctl, uint64_t id, struct json_object **root)
{
	struct rwpd_status_req q = { .guest_id = id, .format = RWPD_FMT_JSON };
	struct json_tokener *tok;
	struct rwpctl_reply r;
	int ret;

	*root = NULL;
	ret = ctl_call(ctl, RWPD_STATUS, &q, sizeof(q), &r, RWPCTL_TIMEOUT_MS);
	if (ret)
		return ret;
	tok = json_tokener_new();
	if (!tok) {
		rwpctl_reply_free(&r);
		return ctl_err(RWPCTL_EDAEMON, "out of memory");
	}
	*root = json_tokener_parse_ex(tok, r.text, (int)r.len);
	if (!*root || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != r.len || !json_object_is_type(*root, json_type_object) ||
	    !json_object_is_type(jget(*root, "guests"), json_type_array)) {
		json_object_put(*root);
		*root = NULL;
		ret = ctl_err(RWPCTL_EDAEMON, "rwpd's STATUS is not the JSON rwpctl expects");
	}
	json_tokener_free(tok);
	rwpctl_reply_free(&r);
	return ret;
}

/* An id is all digits; anything else is a name (rwpctl(1), GUEST). */
static bool is_id(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

int ctl_guest(struct rwpctl *ctl, const char *arg, uint64_t *id)
{
	struct json_object *root, *guests;
	size_t n;
	int ret;

	if (is_id(arg)) {
		if (parse_u64(arg, 1, UINT64_MAX, id))
			return ctl_err(RWPCTL_EUSAGE, "'%s' is not a guest id (1 and up)", arg);
		return RWPCTL_OK;
	}
	if (strlen(arg) >= RWPD_NAME_LEN)
		return ctl_err(RWPCTL_EUSAGE, "'%s' is longer than a guest name can be", arg);
	ret = ctl_status(ctl, 0, &root);
	if (ret)
		return ret;
	guests = jget(root, "guests");
	n = json_object_array_length(guests);
	ret = RWPCTL_EDAEMON;
	for (size_t i = 0; i < n && ret; i++) {
		struct json_object *g = json_object_array_get_idx(guests, i);

		if (!strcmp(js(g, "name"), arg)) {
			*id = ju(g, "id");
			ret = RWPCTL_OK;
		}
	}
	json_object_put(root);
	if (ret)
		ctl_err(ret, "no guest named '%s' (rwpctl status lists them)", arg);
	return ret;
}

void ctl_close(struct rwpctl *ctl)
{
	if (ctl->connected)
		rwpctl_close(&ctl->client);
	ctl->connected = false;
}
