/*
 * Server-to-client requests from a tool handler (sampling/createMessage, elicitation/create,
 * roots/list): correlation by runtime-generated ids, the client's capability, live-stream and
 * session requirements, timeout (with notifications/cancelled), cancellation of the call,
 * session end, JSON-RPC error answers, stray answers ignored.
 *
 * The handler runs on a thread of its own (as on the HTTP stream worker); the test plays the
 * client: it reads the request from the live sink and answers through the dispatcher.
 */
#include <pthread.h>
#include <time.h>

#include "mcp_test.h"

typedef struct live {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    json_t *msgs;
} live;

static dmcp_status live_send(dmcp__sink *s, json_t *msg)
{
    live *l = s->ud;
    pthread_mutex_lock(&l->mu);
    json_array_append_new(l->msgs, msg);
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    return DMCP_OK;
}

/* Waits (at most 5 s) for the n-th message (0-based) with this method; returns a copy. */
static json_t *wait_msg(live *l, const char *method, size_t nth)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 5;
    json_t *found = NULL;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        size_t seen = 0, i;
        json_t *m;
        json_array_foreach(l->msgs, i, m)
        {
            const char *mm = json_string_value(json_object_get(m, "method"));
            if (mm != NULL && strcmp(mm, method) == 0 && seen++ == nth) {
                found = json_deep_copy(m);
                break;
            }
        }
        if (found != NULL || pthread_cond_timedwait(&l->cv, &l->mu, &deadline) != 0) {
            break;
        }
    }
    pthread_mutex_unlock(&l->mu);
    return found;
}

static size_t count_method(live *l, const char *method)
{
    size_t n = 0, i;
    json_t *m;
    pthread_mutex_lock(&l->mu);
    json_array_foreach(l->msgs, i, m)
    {
        const char *mm = json_string_value(json_object_get(m, "method"));
        n += mm != NULL && strcmp(mm, method) == 0;
    }
    pthread_mutex_unlock(&l->mu);
    return n;
}

/* Tool: args.kind chooses the request; args.timeout its timeout. Reports "<STATUS> <json>". */
static dmcp_status h_ask(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)ud;
    const char *kind = json_string_value(json_object_get(args, "kind"));
    unsigned timeout = (unsigned)json_integer_value(json_object_get(args, "timeout"));
    json_t *out = NULL;
    dmcp_status st;
    if (strcmp(kind, "sample") == 0) {
        json_t *p = json_pack("{s:[{s:s,s:{s:s,s:s}}],s:i}", "messages", "role", "user", "content",
                              "type", "text", "text", "hi", "maxTokens", 10);
        st = dmcp_call_sample(call, p, timeout, &out);
        json_decref(p);
    } else if (strcmp(kind, "elicit") == 0) {
        json_t *schema = json_pack("{s:s,s:{s:{s:s}}}", "type", "object", "properties", "name",
                                   "type", "string");
        st = dmcp_call_elicit(call, "Your name?", schema, timeout, &out);
        json_decref(schema);
    } else if (strcmp(kind, "elicit-bad-schema") == 0) {
        json_t *schema = json_pack("{s:s}", "type", "string");
        st = dmcp_call_elicit(call, "Your name?", schema, timeout, &out);
        json_decref(schema);
    } else if (strcmp(kind, "roots") == 0) {
        st = dmcp_call_request(call, "roots/list", NULL, timeout, &out);
    } else if (strcmp(kind, "bogus-method") == 0) {
        st = dmcp_call_request(call, "tools/call", NULL, timeout, &out);
    } else {
        st = dmcp_call_sample(call, NULL, timeout, &out); /* no messages: invalid */
    }
    char *js = out != NULL ? json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    char text[1024];
    snprintf(text, sizeof(text), "%s %s", dmcp_status_name(st), js != NULL ? js : "null");
    free(js);
    json_decref(out);
    return dmcp_result_add_text(res, text);
}

typedef struct env {
    dmcp_server *srv;
    mt_env e;
    live l;
    pthread_t th;
    json_t *answer;
    char request[512];
} env;

static void env_init(env *v, const char *client_caps)
{
    memset(v, 0, sizeof(*v));
    assert_int_equal(dmcp_server_new("s", "1", &v->srv), DMCP_OK);
    dmcp_tool *t;
    assert_int_equal(dmcp_tool_new("ask", h_ask, NULL, &t), DMCP_OK);
    assert_int_equal(dmcp_tool_set_input_schema_json(
                         t, "{\"type\":\"object\",\"properties\":{\"kind\":{\"type\":"
                            "\"string\"},\"timeout\":{\"type\":\"integer\"}}}"),
                     DMCP_OK);
    assert_int_equal(dmcp_server_add_tool(v->srv, t), DMCP_OK);
    mt_env_init(&v->e, v->srv);
    pthread_mutex_init(&v->l.mu, NULL);
    pthread_cond_init(&v->l.cv, NULL);
    v->l.msgs = json_array();
    v->e.sink.send = live_send;
    v->e.sink.ud = &v->l;
    v->e.sink.live = true;
    char buf[512];
    snprintf(buf, sizeof(buf),
             "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":"
             "{\"protocolVersion\":\"2025-11-25\",\"capabilities\":%s}}",
             client_caps);
    json_decref(mt_send(&v->e, buf));
    json_decref(mt_send(&v->e, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}"));
}

static void env_free(env *v)
{
    mt_env_free(&v->e);
    json_decref(v->l.msgs);
    json_decref(v->answer);
    pthread_mutex_destroy(&v->l.mu);
    pthread_cond_destroy(&v->l.cv);
    dmcp_server_free(v->srv);
}

static void *call_thread(void *p)
{
    env *v = p;
    v->answer = mt_send(&v->e, v->request);
    return NULL;
}

/* Starts tools/call ask {kind, timeout} with request id 77 on a thread. */
static void start_call(env *v, const char *kind, unsigned timeout)
{
    snprintf(v->request, sizeof(v->request),
             "{\"jsonrpc\":\"2.0\",\"id\":77,\"method\":\"tools/call\",\"params\":"
             "{\"name\":\"ask\",\"arguments\":{\"kind\":\"%s\",\"timeout\":%u}}}",
             kind, timeout);
    assert_int_equal(pthread_create(&v->th, NULL, call_thread, v), 0);
}

static const char *finish_call(env *v)
{
    pthread_join(v->th, NULL);
    return mt_text(v->answer);
}

/* Answers the request whose id is id with a raw "result"/"error" member. */
static void client_answer(env *v, const json_t *id, const char *member_json)
{
    char buf[512];
    char *ids = json_dumps(id, JSON_ENCODE_ANY);
    snprintf(buf, sizeof(buf), "{\"jsonrpc\":\"2.0\",\"id\":%s,%s}", ids, member_json);
    free(ids);
    json_t *a = mt_send(&v->e, buf);
    assert_null(a); /* a response is never answered (HTTP: 202) */
}

static void test_sampling_round_trip(void **state)
{
    (void)state;
    env v;
    env_init(&v, "{\"sampling\":{}}");
    start_call(&v, "sample", 5000);
    json_t *req = wait_msg(&v.l, "sampling/createMessage", 0);
    assert_non_null(req);
    const json_t *id = json_object_get(req, "id");
    assert_true(json_is_integer(id));
    assert_string_equal(json_string_value(json_object_get(req, "jsonrpc")), "2.0");
    const json_t *params = json_object_get(req, "params");
    assert_int_equal(json_integer_value(json_object_get(params, "maxTokens")), 10);
    /* Stray answers (unknown id, string id of the same digits) are ignored. */
    json_t *other = json_integer(json_integer_value(id) + 1000);
    client_answer(&v, other, "\"result\":{\"x\":1}");
    json_decref(other);
    char sid[32];
    snprintf(sid, sizeof(sid), "%lld", (long long)json_integer_value(id));
    json_t *str = json_string(sid);
    client_answer(&v, str, "\"result\":{\"x\":2}");
    json_decref(str);
    client_answer(&v, id,
                  "\"result\":{\"role\":\"assistant\",\"content\":{\"type\":\"text\","
                  "\"text\":\"hello\"},\"model\":\"m\"}");
    assert_string_equal(finish_call(&v), "DMCP_OK {\"content\":{\"text\":\"hello\",\"type\":"
                                         "\"text\"},\"model\":\"m\",\"role\":\"assistant\"}");
    /* A late duplicate answer is ignored too. */
    client_answer(&v, id, "\"result\":{}");
    json_decref(req);
    env_free(&v);
}

static void test_elicitation_round_trip(void **state)
{
    (void)state;
    env v;
    env_init(&v, "{\"elicitation\":{}}");
    start_call(&v, "elicit", 5000);
    json_t *req = wait_msg(&v.l, "elicitation/create", 0);
    assert_non_null(req);
    const json_t *params = json_object_get(req, "params");
    assert_string_equal(json_string_value(json_object_get(params, "message")), "Your name?");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(params, "requestedSchema"), "type")),
        "object");
    client_answer(&v, json_object_get(req, "id"),
                  "\"result\":{\"action\":\"accept\",\"content\":{\"name\":\"Ada\"}}");
    assert_string_equal(finish_call(&v),
                        "DMCP_OK {\"action\":\"accept\",\"content\":{\"name\":\"Ada\"}}");
    json_decref(req);
    env_free(&v);
}

static void test_capability_required(void **state)
{
    (void)state;
    env v;
    env_init(&v, "{\"elicitation\":{}}"); /* no sampling, no roots */
    start_call(&v, "sample", 5000);
    assert_string_equal(finish_call(&v), "DMCP_E_STATE null");
    json_decref(v.answer);
    start_call(&v, "roots", 5000);
    assert_string_equal(finish_call(&v), "DMCP_E_STATE null");
    assert_int_equal(count_method(&v.l, "sampling/createMessage"), 0);
    assert_int_equal(count_method(&v.l, "roots/list"), 0);
    json_decref(v.answer);
    start_call(&v, "bogus-method", 5000);
    assert_string_equal(finish_call(&v), "DMCP_E_INVALID_ARG null");
    json_decref(v.answer);
    start_call(&v, "elicit-bad-schema", 5000);
    assert_string_equal(finish_call(&v), "DMCP_E_INVALID_ARG null");
    json_decref(v.answer);
    start_call(&v, "sample-no-messages", 5000);
    assert_string_equal(finish_call(&v), "DMCP_E_INVALID_ARG null");
    env_free(&v);
}

static void test_needs_live_stream_and_session(void **state)
{
    (void)state;
    env v;
    env_init(&v, "{\"sampling\":{}}");
    /* A buffered answer (plain HTTP JSON) cannot carry a request before the result. */
    v.e.sink.live = false;
    start_call(&v, "sample", 5000);
    assert_string_equal(finish_call(&v), "DMCP_E_STATE null");
    json_decref(v.answer);
    v.e.sink.live = true;
    /* Stateless: there is no session the answer could reach. */
    v.e.ctx.stateless = true;
    start_call(&v, "sample", 5000);
    assert_string_equal(finish_call(&v), "DMCP_E_STATE null");
    assert_int_equal(count_method(&v.l, "sampling/createMessage"), 0);
    env_free(&v);
}

static void test_timeout(void **state)
{
    (void)state;
    env v;
    env_init(&v, "{\"sampling\":{}}");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    start_call(&v, "sample", 200);
    json_t *req = wait_msg(&v.l, "sampling/createMessage", 0);
    assert_non_null(req);
    assert_string_equal(finish_call(&v), "DMCP_E_TIMEOUT null");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    assert_true(ms >= 190 && ms < 3000);
    /* Cancellation §: the server tells the client it stopped waiting, naming the request. */
    json_t *cn = wait_msg(&v.l, "notifications/cancelled", 0);
    assert_non_null(cn);
    assert_true(json_equal(json_object_get(json_object_get(cn, "params"), "requestId"),
                           json_object_get(req, "id")));
    /* The answer arriving now finds nothing waiting. */
    client_answer(&v, json_object_get(req, "id"), "\"result\":{}");
    json_decref(cn);
    json_decref(req);
    env_free(&v);
}

static void test_cancelled_call(void **state)
{
    (void)state;
    env v;
    env_init(&v, "{\"sampling\":{}}");
    start_call(&v, "sample", 60000);
    json_t *req = wait_msg(&v.l, "sampling/createMessage", 0);
    assert_non_null(req);
    /* The client cancels its tools/call (id 77): the waiting request gives up. */
    assert_null(mt_send(&v.e, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\","
                              "\"params\":{\"requestId\":77}}"));
    assert_string_equal(finish_call(&v), "DMCP_E_CANCELLED null");
    json_t *cn = wait_msg(&v.l, "notifications/cancelled", 0);
    assert_non_null(cn);
    assert_true(json_equal(json_object_get(json_object_get(cn, "params"), "requestId"),
                           json_object_get(req, "id")));
    json_decref(cn);
    json_decref(req);
    json_decref(v.answer);

    /* The session ends (DELETE, stdio EOF): nothing can answer any more. */
    start_call(&v, "sample", 60000);
    req = wait_msg(&v.l, "sampling/createMessage", 1);
    assert_non_null(req);
    dmcp__session_wake_pending(v.e.sess);
    assert_string_equal(finish_call(&v), "DMCP_E_CANCELLED null");
    json_decref(req);
    env_free(&v);
}

static void test_error_answer(void **state)
{
    (void)state;
    env v;
    env_init(&v, "{\"sampling\":{}}");
    start_call(&v, "sample", 5000);
    json_t *req = wait_msg(&v.l, "sampling/createMessage", 0);
    assert_non_null(req);
    client_answer(&v, json_object_get(req, "id"),
                  "\"error\":{\"code\":-1,\"message\":\"User rejected sampling request\"}");
    assert_string_equal(finish_call(&v),
                        "DMCP_E_PROTOCOL {\"code\":-1,\"message\":\"User rejected sampling "
                        "request\"}");
    json_decref(req);
    env_free(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sampling_round_trip),
        cmocka_unit_test(test_elicitation_round_trip),
        cmocka_unit_test(test_capability_required),
        cmocka_unit_test(test_needs_live_stream_and_session),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_cancelled_call),
        cmocka_unit_test(test_error_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
