// SPDX-License-Identifier: MIT
/*
 * Reading a STATUS document: members by dotted path, with a neutral value for what is
 * missing, so that an older or newer rwpd's document still renders.
 */
#include "rwpctl.h"

#include <string.h>

#include <json-c/json.h>

struct json_object *jget(struct json_object *o, const char *path)
{
	char key[64];

	while (o && *path) {
		size_t n = strcspn(path, ".");

		if (n >= sizeof(key) || !json_object_is_type(o, json_type_object))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		if (!json_object_object_get_ex(o, key, &o))
			return NULL;
		path += n + (path[n] == '.');
	}
	return o;
}

uint64_t ju(struct json_object *o, const char *path)
{
	o = jget(o, path);
	return o && json_object_is_type(o, json_type_int) ? json_object_get_uint64(o) : 0;
}

int64_t ji(struct json_object *o, const char *path)
{
	o = jget(o, path);
	return o && json_object_is_type(o, json_type_int) ? json_object_get_int64(o) : 0;
}

double jd(struct json_object *o, const char *path)
{
	o = jget(o, path);
	if (!o || !(json_object_is_type(o, json_type_double) ||
		    json_object_is_type(o, json_type_int)))
		return 0;
	return json_object_get_double(o);
}

const char *js(struct json_object *o, const char *path)
{
	o = jget(o, path);
	return o && json_object_is_type(o, json_type_string) ? json_object_get_string(o) : "";
}

bool jb(struct json_object *o, const char *path)
{
	o = jget(o, path);
	return o && json_object_is_type(o, json_type_boolean) && json_object_get_boolean(o);
}
