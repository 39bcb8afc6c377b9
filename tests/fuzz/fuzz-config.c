// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: rwpd_config_parse() over arbitrary bytes. A parse either fails with
 * "line N: ..." (N within the input) or yields a configuration whose strings are all
 * terminated and whose counts and values are within their limits.
 */
#include "../../daemon/config.h"
#include "../../lib/proto/codec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct rwpd_config c;

#define TERMINATED(s) (memchr((s), '\0', sizeof(s)) != NULL)

static void check_policy(const struct rwpd_policy_conf *p)
{
	if ((p->set & RWPD_CONF_INTERVAL) &&
	    (p->interval_ms < 1 || p->interval_ms > RWPD_INTERVAL_MS_MAX))
		abort();
	if ((p->set & RWPD_CONF_MIN_IDLE) && (p->min_idle < 1 || p->min_idle > RWPD_MIN_IDLE_MAX))
		abort();
	if ((p->set & RWPD_CONF_REFAULT) && p->refault_ppm > RWPD_REFAULT_PPM_MAX)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rwpd_policy_conf pol;
	char err[256];
	unsigned int i, line, lines = 1;
	int ret;

	ret = rwpd_config_parse((const char *)data, size, &c, err, sizeof(err));
	if (ret) {
		for (i = 0; i < size; i++)
			lines += data[i] == '\n';
		if (ret != -EINVAL || sscanf(err, "line %u: ", &line) != 1 || !line || line > lines)
			abort();
		return 0;
	}
	if (!TERMINATED(c.socket) || !TERMINATED(c.state_dir) || !TERMINATED(c.ws_dir) ||
	    c.socket[0] != '/' || c.nr_tiers > RWP_TIERS_MAX || c.nr_fc > RWPD_CONF_MAX_FC ||
	    c.nr_guests > RWPD_CONF_MAX_GUESTS)
		abort();
	check_policy(&c.policy);
	for (i = 0; i < c.nr_tiers; i++) {
		if (!TERMINATED(c.tiers[i].target) || c.tiers[i].demote_age > RWPD_MIN_IDLE_MAX)
			abort();
		if (i + 1 == c.nr_tiers && c.tiers[i].demote_age)
			abort();
	}
	for (i = 0; i < c.nr_fc; i++)
		if (!TERMINATED(c.fc[i].socket) || !TERMINATED(c.fc[i].mem_file) ||
		    c.fc[i].socket[0] != '/' || c.fc[i].mem_file[0] != '/')
			abort();
	for (i = 0; i < c.nr_guests; i++) {
		if (!TERMINATED(c.guests[i].name) || !c.guests[i].name[0])
			abort();
		check_policy(&c.guests[i].policy);
		rwpd_config_policy(&c, c.guests[i].name, &pol);
		check_policy(&pol);
	}
	return 0;
}
