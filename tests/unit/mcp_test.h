/* In-process helpers for the MCP runtime tests: run messages through the dispatcher. */
#ifndef DMCP_MCP_TEST_H
#define DMCP_MCP_TEST_H

#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "dmcp/server.h"
#include "mcp/mcp_internal.h"

/* A sink that collects notifications into a JSON array. */
static inline dmcp_status mt_collect(dmcp__sink *sink, json_t *msg)
{
    json_array_append_new((json_t *)sink->ud, msg);
    return DMCP_OK;
}

typedef struct mt_env {
    dmcp_server *srv;
    dmcp__session *sess;
    json_t *notes;
    dmcp__sink sink;
    dmcp__rpc_ctx ctx;
} mt_env;

static inline void mt_env_init(mt_env *e, dmcp_server *srv)
{
    memset(e, 0, sizeof(*e));
    e->srv = srv;
    e->sess = dmcp__session_new_local();
    assert_non_null(e->sess);
    e->notes = json_array();
    e->sink.send = mt_collect;
    e->sink.ud = e->notes;
    e->ctx.srv = srv;
    e->ctx.sess = e->sess;
    e->ctx.version = DMCP_PROTOCOL_2025_11_25;
    e->ctx.sink = &e->sink;
}

static inline void mt_env_free(mt_env *e)
{
    dmcp__session_unref(e->sess);
    json_decref(e->notes);
}

/* Parses text (must be valid) and processes it; returns the answer (may be NULL). */
static inline json_t *mt_send(mt_env *e, const char *text)
{
    int code = 0;
    json_t *body = dmcp__jsonrpc_parse(text, strlen(text), DMCP_MAX_BODY_BYTES, &code);
    assert_non_null(body);
    json_t *ans = dmcp__process(&e->ctx, body);
    json_decref(body);
    return ans;
}

static inline void mt_initialize(mt_env *e, const char *version)
{
    char buf[256];
    snprintf(buf, sizeof(buf),
             "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":"
             "{\"protocolVersion\":\"%s\",\"capabilities\":{},"
             "\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}",
             version);
    json_t *r = mt_send(e, buf);
    assert_non_null(json_object_get(r, "result"));
    json_decref(r);
}

/* error.code of an answer, or 0 when it has a result. */
static inline int mt_error_code(const json_t *ans)
{
    const json_t *err = json_object_get(ans, "error");
    return err != NULL ? (int)json_integer_value(json_object_get(err, "code")) : 0;
}

static inline const json_t *mt_result(const json_t *ans)
{
    return json_object_get(ans, "result");
}

/* The text of the first content block of a tools/call answer. */
static inline const char *mt_text(const json_t *ans)
{
    const json_t *c = json_array_get(json_object_get(mt_result(ans), "content"), 0);
    return json_string_value(json_object_get(c, "text"));
}

static inline bool mt_is_error(const json_t *ans)
{
    return json_is_true(json_object_get(mt_result(ans), "isError"));
}

#endif
