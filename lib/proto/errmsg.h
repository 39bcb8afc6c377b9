/* SPDX-License-Identifier: MIT */
/* Decoders' refusals: a message into the caller's buffer (if any), and -code. */
#ifndef RWP_PROTO_ERRMSG_H
#define RWP_PROTO_ERRMSG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

__attribute__((format(printf, 4, 5))) static inline int fail(char *err, size_t errlen,
							     int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (errlen)
		(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -code;
}

#endif
