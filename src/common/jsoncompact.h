/* Compact re-serialisation of a JSON text without building a value (jsoncompact.c). */
#ifndef DMCP_JSONCOMPACT_H
#define DMCP_JSONCOMPACT_H

#include <stdbool.h>
#include <stddef.h>

#include "internal.h"

/*
 * Appends to out the bytes json_dumps(json_loadb(in, JSON_REJECT_DUPLICATES),
 * JSON_COMPACT | JSON_PRESERVE_ORDER) gives, for an input jansson accepts. Returns false (out
 * as it was) for what it does not reproduce itself (see the file's comment): then use jansson.
 * Thread-safety: reentrant.
 */
bool dmcp__json_compact(const unsigned char *in, size_t len, dmcp__buf *out);

#endif
