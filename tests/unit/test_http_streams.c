/*
 * Streams over real HTTP (loopback, libcurl): a server->client request travels on the call's
 * POST stream and the client's answer comes back as a new POST (202); unrelated notifications
 * go on the standalone GET stream; SSE polling and resumability (retry, GET + Last-Event-ID
 * replays the rest of that stream only for its own session; malformed/unknown ids refused).
 */
#include <curl/curl.h>
#include <pthread.h>
#include <time.h>

#include "mcp_test.h"

static dmcp_server *srv;
static unsigned port;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static dmcp_status t_sample(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)args;
    (void)ud;
    json_t *p = json_pack("{s:[{s:s,s:{s:s,s:s}}],s:i}", "messages", "role", "user", "content",
                          "type", "text", "text", "q", "maxTokens", 5);
    json_t *out = NULL;
    dmcp_status st = dmcp_call_sample(call, p, 5000, &out);
    json_decref(p);
    const char *text = json_string_value(json_object_get(json_object_get(out, "content"), "text"));
    char buf[256];
    snprintf(buf, sizeof(buf), "%s:%s", dmcp_status_name(st), text != NULL ? text : "-");
    json_decref(out);
    return dmcp_result_add_text(res, buf);
}

static dmcp_status t_poll(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)args;
    (void)ud;
    dmcp_call_log(call, DMCP_LOG_INFO, NULL, "before close");
    dmcp_status st = dmcp_call_close_stream(call, 250);
    /* A second close of the same response is refused. */
    dmcp_status again = dmcp_call_close_stream(call, 250);
    sleep_ms(300);
    dmcp_call_log(call, DMCP_LOG_INFO, NULL, "after close");
    char buf[128];
    snprintf(buf, sizeof(buf), "done %s %s", dmcp_status_name(st), dmcp_status_name(again));
    return dmcp_result_add_text(res, buf);
}

static dmcp_status t_plain_close(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)args;
    (void)ud;
    /* Not streaming: the answer is buffered, there is no stream to end early. */
    return dmcp_result_add_text(res, dmcp_status_name(dmcp_call_close_stream(call, 100)));
}

static void add_tool(const char *name, dmcp_tool_fn fn, bool streaming)
{
    dmcp_tool *t;
    assert_int_equal(dmcp_tool_new(name, fn, NULL, &t), DMCP_OK);
    dmcp_tool_set_streaming(t, streaming);
    assert_int_equal(dmcp_server_add_tool(srv, t), DMCP_OK);
}

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    assert_int_equal(dmcp_server_new("streams", "1", &srv), DMCP_OK);
    add_tool("sample", t_sample, true);
    add_tool("poll", t_poll, true);
    add_tool("plain_close", t_plain_close, false);
    assert_int_equal(dmcp_server_set_list_changed(srv, DMCP_LIST_TOOLS), DMCP_OK);
    assert_int_equal(dmcp_server_set_listen(srv, "127.0.0.1", 0), DMCP_OK);
    assert_int_equal(dmcp_server_set_heartbeat(srv, 0), DMCP_OK);
    assert_int_equal(dmcp_server_set_shutdown_timeout(srv, 3), DMCP_OK);
    assert_int_equal(dmcp_server_start(srv, NULL), DMCP_OK);
    port = dmcp_server_port(srv);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dmcp_server_free(srv);
    curl_global_cleanup();
    return 0;
}

/* A response read by a thread, visible to the test while it arrives. */
typedef struct resp {
    pthread_mutex_t mu;
    char body[65536];
    size_t len;
    char hdrs[8192];
    size_t hlen;
    long status;
    bool finished;
} resp;

static size_t on_data(char *p, size_t sz, size_t n, void *ud, bool header)
{
    resp *r = ud;
    size_t len = sz * n;
    pthread_mutex_lock(&r->mu);
    char *dst = header ? r->hdrs : r->body;
    size_t *used = header ? &r->hlen : &r->len;
    size_t cap = header ? sizeof(r->hdrs) : sizeof(r->body);
    size_t take = len < cap - 1 - *used ? len : cap - 1 - *used;
    memcpy(dst + *used, p, take);
    *used += take;
    dst[*used] = '\0';
    pthread_mutex_unlock(&r->mu);
    return len;
}

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    return on_data(p, sz, n, ud, false);
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    return on_data(p, sz, n, ud, true);
}

typedef struct req {
    const char *method; /* POST or GET */
    const char *session;
    const char *last_event_id;
    const char *body;
    long timeout_ms;
    resp *r;
} req;

static void *perform(void *arg)
{
    req *q = arg;
    CURL *c = curl_easy_init();
    assert_non_null(c);
    char url[128], line[512];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/mcp", port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    struct curl_slist *h = NULL;
    if (strcmp(q->method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body);
        h = curl_slist_append(h, "Content-Type: application/json");
        h = curl_slist_append(h, "Accept: application/json, text/event-stream");
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        h = curl_slist_append(h, "Accept: text/event-stream");
    }
    if (q->session != NULL) {
        snprintf(line, sizeof(line), "Mcp-Session-Id: %s", q->session);
        h = curl_slist_append(h, line);
    }
    if (q->last_event_id != NULL) {
        snprintf(line, sizeof(line), "Last-Event-ID: %s", q->last_event_id);
        h = curl_slist_append(h, line);
    }
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, q->r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, q->r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, q->timeout_ms > 0 ? q->timeout_ms : 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    pthread_mutex_lock(&q->r->mu);
    q->r->status = status;
    q->r->finished = true;
    pthread_mutex_unlock(&q->r->mu);
    return NULL;
}

/* Case-insensitive substring search (header names). */
static const char *find_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = hay; *p != '\0'; p++) {
        if (dmcp__ascii_ncasecmp(p, needle, n) == 0) {
            return p;
        }
    }
    return NULL;
}

static void resp_init(resp *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
}

static void run(req *q)
{
    resp_init(q->r);
    perform(q);
}

/* Waits (at most 5 s) until the body contains needle; returns a copy of the body. */
static char *wait_body(resp *r, const char *needle)
{
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&r->mu);
        bool found = strstr(r->body, needle) != NULL;
        char *copy = found ? strdup(r->body) : NULL;
        pthread_mutex_unlock(&r->mu);
        if (found) {
            return copy;
        }
        sleep_ms(10);
    }
    fail_msg("timed out waiting for %s", needle);
    return NULL;
}

static void open_session(char *sid, const char *caps)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
             "{\"protocolVersion\":\"2025-11-25\",\"capabilities\":%s,"
             "\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}",
             caps);
    resp r;
    req q = {"POST", NULL, NULL, body, 0, &r};
    run(&q);
    assert_int_equal(r.status, 200);
    const char *h = find_ci(r.hdrs, "mcp-session-id:");
    assert_non_null(h);
    h += strlen("mcp-session-id:");
    while (*h == ' ') {
        h++;
    }
    size_t n = strcspn(h, "\r\n");
    assert_int_equal(n, DMCP__SESSION_ID_LEN);
    memcpy(sid, h, n);
    sid[n] = '\0';
    req n2 = {"POST", sid, NULL, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}",
              0,      &r};
    run(&n2);
    assert_int_equal(r.status, 202);
}

static void test_sampling_over_http(void **state)
{
    (void)state;
    char sid[64];
    open_session(sid, "{\"sampling\":{}}");
    resp call;
    resp_init(&call);
    req q = {"POST",
             sid,
             NULL,
             "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":"
             "{\"name\":\"sample\",\"arguments\":{}}}",
             0,
             &call};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, perform, &q), 0);
    char *seen = wait_body(&call, "sampling/createMessage");
    /* The request is an event on the call's own stream: find its id. */
    const char *data = strstr(seen, "data: {\"jsonrpc\":\"2.0\",\"id\":");
    assert_non_null(data);
    long id = strtol(data + strlen("data: {\"jsonrpc\":\"2.0\",\"id\":"), NULL, 10);
    assert_true(id > 0);
    free(seen);
    char answer[256];
    snprintf(answer, sizeof(answer),
             "{\"jsonrpc\":\"2.0\",\"id\":%ld,\"result\":{\"role\":\"assistant\",\"content\":"
             "{\"type\":\"text\",\"text\":\"pong\"},\"model\":\"m\"}}",
             id);
    resp ack;
    req a = {"POST", sid, NULL, answer, 0, &ack};
    run(&a);
    assert_int_equal(ack.status, 202); /* Transports §2.1: a response POST gets 202 */
    assert_int_equal(ack.len, 0);
    pthread_join(th, NULL);
    assert_int_equal(call.status, 200);
    assert_non_null(find_ci(call.hdrs, "content-type: text/event-stream"));
    assert_non_null(strstr(call.body, "DMCP_OK:pong"));
    /* The result is the stream's last event. */
    assert_true(strstr(call.body, "DMCP_OK:pong") > strstr(call.body, "sampling/createMessage"));
}

static void test_get_stream_notifications(void **state)
{
    (void)state;
    char sid[64], other[64];
    open_session(sid, "{}");
    open_session(other, "{}");
    resp get;
    resp_init(&get);
    req q = {"GET", sid, NULL, NULL, 1500, &get};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, perform, &q), 0);
    /* Wait for the priming event: the stream is registered. */
    free(wait_body(&get, "data: \n\n"));
    assert_int_equal(dmcp_server_notify_list_changed(srv, DMCP_LIST_TOOLS), DMCP_OK);
    free(wait_body(&get, "notifications/tools/list_changed"));
    pthread_join(th, NULL); /* the client's timeout ends it */
    /* Unrelated notifications never appear on a POST answer. */
    resp r;
    req p = {"POST", other, NULL, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ping\"}", 0, &r};
    run(&p);
    assert_int_equal(r.status, 200);
    assert_null(strstr(r.body, "list_changed"));
}

static void test_polling_and_resume(void **state)
{
    (void)state;
    char sid[64], other[64];
    open_session(sid, "{}");
    open_session(other, "{}");
    resp first;
    req q = {"POST",
             sid,
             NULL,
             "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\",\"params\":"
             "{\"name\":\"poll\",\"arguments\":{}}}",
             0,
             &first};
    run(&q);
    /* The response ended early: priming, the first log, the retry hint; no result. */
    assert_int_equal(first.status, 200);
    assert_non_null(strstr(first.body, "before close"));
    assert_non_null(strstr(first.body, "retry: 250\n\n"));
    assert_null(strstr(first.body, "\"id\":6"));
    /* The last event id the client saw (the log notification). */
    const char *idline = strstr(first.body, "id: ");
    const char *last = NULL;
    while (idline != NULL) {
        last = idline;
        idline = strstr(idline + 1, "id: ");
    }
    char lei[64];
    size_t n = strcspn(last + 4, "\n");
    memcpy(lei, last + 4, n);
    lei[n] = '\0';
    unsigned long stream_no = strtoul(lei, NULL, 10);

    /* Refusals: malformed, unknown stream, another session's stream. */
    resp r;
    req bad = {"GET", sid, "nonsense", NULL, 0, &r};
    run(&bad);
    assert_int_equal(r.status, 400);
    char unknown[64];
    snprintf(unknown, sizeof(unknown), "%lu-1", stream_no + 100000);
    req unk = {"GET", sid, unknown, NULL, 0, &r};
    run(&unk);
    assert_int_equal(r.status, 404);
    req foreign = {"GET", other, lei, NULL, 0, &r};
    run(&foreign);
    assert_int_equal(r.status, 404);
    /* An id the stream never reached: 409, and the stream stays resumable. */
    char future[64];
    snprintf(future, sizeof(future), "%lu-999", stream_no);
    req fut = {"GET", sid, future, NULL, 0, &r};
    run(&fut);
    assert_int_equal(r.status, 409);

    /* The real resume replays what came after lei, ending with the result. */
    resp again;
    req res = {"GET", sid, lei, NULL, 0, &again};
    run(&res);
    assert_int_equal(again.status, 200);
    assert_null(strstr(again.body, "before close")); /* already seen: not replayed */
    assert_non_null(strstr(again.body, "after close"));
    assert_non_null(strstr(again.body, "done DMCP_OK DMCP_E_STATE"));
    assert_true(strstr(again.body, "\"id\":6") > strstr(again.body, "after close"));
    /* Resumed and finished: it cannot be resumed a second time. */
    req twice = {"GET", sid, lei, NULL, 0, &r};
    run(&twice);
    assert_int_equal(r.status, 404);

    /* A buffered call has no stream to end early. */
    req plain = {"POST",
                 sid,
                 NULL,
                 "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":"
                 "{\"name\":\"plain_close\",\"arguments\":{}}}",
                 0,
                 &r};
    run(&plain);
    assert_non_null(strstr(r.body, "DMCP_E_STATE"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sampling_over_http),
        cmocka_unit_test(test_get_stream_notifications),
        cmocka_unit_test(test_polling_and_resume),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
