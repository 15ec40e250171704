/*
 * 2025-era sessions kept in a shared store (issue 10, docs/scaling.md), so that every instance
 * behind a balancer serves every session:
 *   key  <prefix>s:{<session id>}  the record (JSON, below), SET with the idle TTL at
 *                                initialize, re-written when this instance changes it, its TTL
 *                                refreshed with EXPIRE at most every TOUCH_EVERY seconds
 *   chan <prefix>inv             "u <id>": re-read the record; "d <id>": it was deleted
 *                                (copies end, GET streams close); "g <id> <msg>": a message
 *                                for the session's standalone stream, wherever it is held
 *   key  <prefix>statekey        the shared 2026 requestState HMAC key (SET NX at first start)
 * An instance caches the record in its local session table; a cached copy is re-read when a
 * message says it changed, or after the subscription was re-made (messages may have been
 * missed: the epoch moves on). The principal binding is in the record, so the binding check
 * of http_era25.c refuses a session to another principal on every instance.
 * Without a shared store nothing here runs: the local table is all there is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mcp/mcp_internal.h"
#include "store/store.h"

#define TOUCH_EVERY 5      /* seconds between two idle-TTL refreshes of one record */
#define RECORD_MAX 65536   /* bytes of one session record */
#define ATTRS_MAX 8192     /* bytes of a session's attrs object */
#define CHANNEL "inv"
#define STATE_KEY_NAME "statekey"

dmcp_status dmcp_server_set_store(dmcp_server *srv, dmcp_store *store)
{
    if (srv == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    if (atomic_load(&srv->started)) {
        return DMCP_E_STATE;
    }
    srv->store = store;
    return DMCP_OK;
}

bool dmcp__sstore_on(const dmcp_server *srv)
{
    return dmcp__store_shared(srv->store);
}

static unsigned idle_ttl(const dmcp_server *srv)
{
    return srv->idle_seconds > 0 ? srv->idle_seconds : 3600;
}

static bool valid_id(const char *id)
{
    if (id == NULL || strlen(id) != DMCP__SESSION_ID_LEN) {
        return false;
    }
    for (const char *p = id; *p != '\0'; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
            return false;
        }
    }
    return true;
}

/* "s:{<id>}": the braces are a Redis Cluster hash tag, so a session's record and its stream
 * logs ("ev:{<id>}:<n>") hash to one slot (one shard); plain Redis ignores them. */
#define SESSION_KEY_LEN (DMCP__SESSION_ID_LEN + 5)
static void key_of(const char *id, char buf[SESSION_KEY_LEN])
{
    snprintf(buf, SESSION_KEY_LEN, "s:{%s}", id);
}

/* ---- the record ---- */

static json_t *record_of(dmcp__session *s)
{
    pthread_mutex_lock(&s->mu);
    json_t *rec = json_pack(
        "{s:i, s:s?, s:s, s:b, s:b, s:i, s:O?, s:O?, s:O?, s:O?}", "v", 1, "binding", s->binding,
        "version", s->version, "initialized", atomic_load(&s->initialized), "ready",
        s->client_ready, "log_level", atomic_load(&s->log_level), "caps", s->client_caps, "info",
        s->client_info, "subs", s->subs, "attrs", s->attrs);
    pthread_mutex_unlock(&s->mu);
    return rec;
}

static json_t *parse_record(const char *val, size_t len)
{
    if (len > RECORD_MAX) {
        return NULL;
    }
    json_error_t e;
    json_t *rec = json_loadb(val, len, JSON_REJECT_DUPLICATES, &e);
    if (!json_is_object(rec) || json_integer_value(json_object_get(rec, "v")) != 1 ||
        !json_is_string(json_object_get(rec, "version"))) {
        json_decref(rec);
        return NULL;
    }
    return rec;
}

static json_t *object_or_null(json_t *rec, const char *name)
{
    json_t *v = json_object_get(rec, name);
    return json_is_object(v) ? json_deep_copy(v) : NULL;
}

/* Copies the record's fields into the local session (the binding is fixed at adoption). */
static void apply(dmcp__session *s, json_t *rec)
{
    pthread_mutex_lock(&s->mu);
    if (!atomic_load(&s->initialized) || json_is_true(json_object_get(rec, "initialized"))) {
        snprintf(s->version, sizeof(s->version), "%s",
                 json_string_value(json_object_get(rec, "version")));
    }
    if (json_is_true(json_object_get(rec, "initialized"))) {
        atomic_store(&s->initialized, true);
    }
    s->client_ready = s->client_ready || json_is_true(json_object_get(rec, "ready"));
    json_int_t lv = json_integer_value(json_object_get(rec, "log_level"));
    if (lv >= 0 && lv <= 7) {
        atomic_store(&s->log_level, (int)lv);
    }
    json_t *caps = object_or_null(rec, "caps"), *info = object_or_null(rec, "info");
    json_t *subs = object_or_null(rec, "subs"), *attrs = object_or_null(rec, "attrs");
    json_decref(s->client_caps);
    s->client_caps = caps;
    json_decref(s->client_info);
    s->client_info = info;
    json_decref(s->subs);
    s->subs = subs;
    json_decref(s->attrs);
    s->attrs = attrs;
    pthread_mutex_unlock(&s->mu);
}

static void announce_change(dmcp_server *srv, char kind, const char *id)
{
    /* "<kind> <id> <tag>": the publisher skips its own (its copy is the newest already). */
    char msg[DMCP__SESSION_ID_LEN + 32];
    int n = snprintf(msg, sizeof(msg), "%c %s %lld", kind, id, (long long)srv->store_tag);
    (void)dmcp__store_publish(srv->store, CHANNEL, msg, (size_t)n);
}

dmcp_status dmcp__sstore_save(dmcp_server *srv, dmcp__session *sess, bool announce)
{
    if (!dmcp__sstore_on(srv)) {
        return DMCP_OK;
    }
    atomic_store(&sess->store_dirty, false);
    json_t *rec = record_of(sess);
    if (rec == NULL) {
        return DMCP_E_NOMEM;
    }
    json_t *attrs = json_object_get(rec, "attrs");
    if (attrs != NULL) {
        char *a = json_dumps(attrs, JSON_COMPACT);
        if (a == NULL || strlen(a) > ATTRS_MAX) {
            json_object_del(rec, "attrs"); /* over its cap: not shared */
        }
        free(a);
    }
    size_t len = 0;
    char *val = dmcp__json_dump(rec, &len);
    json_decref(rec);
    if (val == NULL) {
        return DMCP_E_NOMEM;
    }
    if (len > RECORD_MAX) {
        free(val);
        return DMCP_E_TOO_LARGE;
    }
    char key[SESSION_KEY_LEN];
    key_of(sess->id, key);
    dmcp_status st = dmcp__store_set(srv->store, key, val, len, idle_ttl(srv), false);
    free(val);
    if (st == DMCP_OK) {
        atomic_store(&sess->store_touched, (long long)time(NULL));
        atomic_store(&sess->store_epoch, atomic_load(&srv->store_epoch));
        if (announce) {
            announce_change(srv, 'u', sess->id);
        }
    } else {
        atomic_store(&sess->store_dirty, true);
    }
    return st;
}

dmcp_status dmcp__sstore_flush(dmcp_server *srv, dmcp__session *sess)
{
    if (!dmcp__sstore_on(srv) || !atomic_load(&sess->store_dirty)) {
        return DMCP_OK;
    }
    return dmcp__sstore_save(srv, sess, true);
}

dmcp_status dmcp__sstore_end(dmcp_server *srv, dmcp__session *sess)
{
    if (!dmcp__sstore_on(srv)) {
        return DMCP_OK;
    }
    char key[SESSION_KEY_LEN];
    key_of(sess->id, key);
    dmcp_status st = dmcp__store_del(srv->store, key);
    if (st == DMCP_OK) {
        announce_change(srv, 'd', sess->id);
    }
    return st;
}

/* Ends the local copy of a session the store no longer has. */
static void drop_local(dmcp_server *srv, dmcp__session *s)
{
    dmcp__sessions_end(srv->sessions, s);
    srv->store_up.wake(s);
    dmcp__session_unref(s);
}

dmcp__session *dmcp__sstore_find(dmcp_server *srv, const char *id, dmcp_status *st)
{
    *st = DMCP_E_NOT_FOUND;
    if (!dmcp__sstore_on(srv)) {
        dmcp__session *s = dmcp__sessions_find(srv->sessions, id);
        if (s != NULL) {
            *st = DMCP_OK;
        }
        return s;
    }
    if (!valid_id(id)) {
        return NULL;
    }
    dmcp__session *s = dmcp__sessions_find(srv->sessions, id);
    unsigned epoch = atomic_load(&srv->store_epoch);
    char key[SESSION_KEY_LEN];
    key_of(id, key);
    if (s != NULL && !atomic_load(&s->store_stale) && atomic_load(&s->store_epoch) == epoch) {
        /* The hot path: the cached copy, with its TTL refreshed now and then. */
        long long now = (long long)time(NULL), was = atomic_load(&s->store_touched);
        if (now - was >= TOUCH_EVERY &&
            atomic_compare_exchange_strong(&s->store_touched, &was, now)) {
            dmcp_status e = atomic_load(&s->store_dirty)
                                ? dmcp__sstore_save(srv, s, true)
                                : dmcp__store_expire(srv->store, key, idle_ttl(srv));
            if (e == DMCP_E_NOT_FOUND) {
                drop_local(srv, s); /* expired or deleted in the store */
                return NULL;
            }
            if (e != DMCP_OK) {
                atomic_store(&s->store_touched, was); /* try again on the next request */
                dmcp__session_unref(s);
                *st = DMCP_E_UNREACHABLE;
                return NULL;
            }
        }
        *st = DMCP_OK;
        return s;
    }
    /* A miss, or a copy to re-read. */
    char *val = NULL;
    size_t len = 0;
    dmcp_status g = dmcp__store_get(srv->store, key, &val, &len);
    json_t *rec = g == DMCP_OK ? parse_record(val, len) : NULL;
    free(val);
    if (g == DMCP_E_UNREACHABLE || g == DMCP_E_UPSTREAM || g == DMCP_E_NOMEM) {
        dmcp__session_unref(s);
        *st = DMCP_E_UNREACHABLE;
        return NULL;
    }
    if (rec == NULL) {
        if (s != NULL) {
            drop_local(srv, s);
        }
        return NULL;
    }
    if (s == NULL) {
        const char *binding = json_string_value(json_object_get(rec, "binding"));
        dmcp_status a = dmcp__sessions_adopt(srv->sessions, id, binding, &s);
        if (a != DMCP_OK) {
            json_decref(rec);
            *st = a;
            return NULL;
        }
    }
    apply(s, rec);
    json_decref(rec);
    atomic_store(&s->store_stale, false);
    atomic_store(&s->store_epoch, epoch);
    atomic_store(&s->store_touched, (long long)time(NULL) - TOUCH_EVERY + 1);
    *st = DMCP_OK;
    return s;
}

/* ---- server->client requests across instances ---- */

#define ANSWER_MAX 1048576 /* bytes of one forwarded answer */

json_int_t dmcp__sstore_out_id(dmcp_server *srv, dmcp__session *sess)
{
    /* Holds sess->mu. Shared: tag << 24 | counter, under 2^53 (JSON numbers stay exact). */
    json_int_t n = ++sess->next_out_id;
    return dmcp__sstore_on(srv) ? (srv->store_tag << 24) | (n & 0xffffff) : n;
}

void dmcp__sstore_forward_response(dmcp_server *srv, dmcp__session *sess, const json_t *msg)
{
    if (!dmcp__sstore_on(srv) || sess == NULL || sess->id[0] == '\0') {
        return;
    }
    size_t len = 0;
    char *body = dmcp__json_dump(msg, &len);
    if (body == NULL || len > ANSWER_MAX) {
        free(body);
        return;
    }
    char *m = malloc(len + DMCP__SESSION_ID_LEN + 4);
    if (m != NULL) {
        int n = snprintf(m, DMCP__SESSION_ID_LEN + 4, "r %s ", sess->id);
        memcpy(m + n, body, len);
        (void)dmcp__store_publish(srv->store, CHANNEL, m, (size_t)n + len);
    }
    free(m);
    free(body);
}

dmcp_status dmcp__sstore_send_unsolicited(dmcp_server *srv, const char *sid, json_t *msg)
{
    if (!dmcp__sstore_on(srv)) {
        json_decref(msg);
        return DMCP_E_STATE;
    }
    size_t len = 0;
    char *body = dmcp__json_dump(msg, &len);
    json_decref(msg);
    if (body == NULL) {
        return DMCP_E_NOMEM;
    }
    if (len > ANSWER_MAX) {
        free(body);
        return DMCP_E_TOO_LARGE;
    }
    char *m = malloc(len + DMCP__SESSION_ID_LEN + 4);
    dmcp_status st = DMCP_E_NOMEM;
    if (m != NULL) {
        int n = snprintf(m, DMCP__SESSION_ID_LEN + 4, "g %s ", sid);
        memcpy(m + n, body, len);
        st = dmcp__store_publish(srv->store, CHANNEL, m, (size_t)n + len);
    }
    free(m);
    free(body);
    return st;
}

/* "g <sid> <message>": delivered when this instance holds the session's standalone stream. */
static void on_unsolicited(dmcp_server *srv, const char *id, const char *body, size_t len)
{
    if (len > ANSWER_MAX) {
        return;
    }
    dmcp__session *s = dmcp__sessions_find(srv->sessions, id);
    if (s == NULL) {
        return;
    }
    pthread_mutex_lock(&s->mu);
    bool here = s->get_stream != NULL;
    pthread_mutex_unlock(&s->mu);
    json_error_t e;
    json_t *msg = here ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &e) : NULL;
    if (json_is_object(msg)) {
        (void)srv->store_up.unsolicited(s, msg); /* takes msg */
    } else {
        json_decref(msg);
    }
    dmcp__session_unref(s);
}

static void on_answer(dmcp_server *srv, const char *id, const char *body, size_t len)
{
    if (len > ANSWER_MAX) {
        return;
    }
    dmcp__session *s = dmcp__sessions_find(srv->sessions, id);
    if (s == NULL) {
        return;
    }
    json_error_t e;
    json_t *msg = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
    if (json_is_object(msg)) {
        (void)srv->store_up.answer(s, msg);
    }
    json_decref(msg);
    dmcp__session_unref(s);
}

/* ---- resumable streams: event logs and live events ---- */

#define STREAM_LOG_EVENTS 256 /* events kept per stream */
#define STREAM_LOG_TTL 300    /* seconds a stream's log outlives its last event */

dmcp_status dmcp__sstore_stream_event(dmcp_server *srv, const char *sid, unsigned long stream_no,
                                      unsigned long seq, bool final, const char *text, size_t len)
{
    if (!dmcp__sstore_on(srv)) {
        return DMCP_OK;
    }
    char key[128], head[160];
    snprintf(key, sizeof(key), "ev:{%s}:%lu", sid, stream_no);
    int hn = snprintf(head, sizeof(head), "e %s %lu ", sid, stream_no);
    char *buf = malloc((size_t)hn + 48 + len);
    if (buf == NULL) {
        return DMCP_E_NOMEM;
    }
    memcpy(buf, head, (size_t)hn);
    int en = snprintf(buf + hn, 48, "%lu %d ", seq, final ? 1 : 0);
    memcpy(buf + hn + en, text, len);
    /* the list entry is the message without its "e <sid> <stream> " head */
    dmcp_status st = dmcp__store_log_append(srv->store, key, buf + hn, (size_t)en + len,
                                            STREAM_LOG_EVENTS, STREAM_LOG_TTL, CHANNEL, buf,
                                            (size_t)(hn + en) + len);
    free(buf);
    return st;
}

dmcp_status dmcp__sstore_stream_log(dmcp_server *srv, const char *sid, unsigned long stream_no,
                                    char ***items, size_t **lens, size_t *n)
{
    char key[128];
    snprintf(key, sizeof(key), "ev:{%s}:%lu", sid, stream_no);
    return dmcp__store_range(srv->store, key, STREAM_LOG_EVENTS, items, lens, n);
}

/* ---- server-wide notifications ---- */

#define NOTIFY_MAX 4096 /* bytes of method + uri */

void dmcp__sstore_broadcast_notify(dmcp_server *srv, const char *method, const char *uri)
{
    if (!dmcp__sstore_on(srv) || !srv->store_listening) {
        return;
    }
    /* "n <tag> <method> <uri>": the tag lets the publisher skip its own message. */
    char msg[NOTIFY_MAX + 64];
    int n = snprintf(msg, sizeof(msg), "n %lld %s %s", (long long)srv->store_tag, method,
                     uri != NULL ? uri : "");
    if (n > 0 && (size_t)n < sizeof(msg)) {
        (void)dmcp__store_publish(srv->store, CHANNEL, msg, (size_t)n);
    }
}

static void on_notify(dmcp_server *srv, const char *msg, size_t len)
{
    if (len > NOTIFY_MAX + 64) {
        return;
    }
    char buf[NOTIFY_MAX + 65];
    memcpy(buf, msg, len);
    buf[len] = '\0';
    char *end = NULL;
    long long tag = strtoll(buf + 2, &end, 10);
    if (end == NULL || *end != ' ' || tag == (long long)srv->store_tag) {
        return; /* malformed, or our own (delivered already) */
    }
    char *method = end + 1, *sp = strchr(method, ' ');
    if (sp == NULL || strncmp(method, "notifications/", 14) != 0) {
        return;
    }
    *sp = '\0';
    const char *uri = sp + 1;
    bool with_uri = strcmp(method, "notifications/resources/updated") == 0;
    if (with_uri && *uri == '\0') {
        return;
    }
    srv->store_up.notify(srv, method, with_uri ? uri : NULL);
}

/* ---- invalidation ---- */

static void on_message(void *ud, const char *msg, size_t len)
{
    dmcp_server *srv = ud;
    if (len > 2 && msg[0] == 'n' && msg[1] == ' ') {
        on_notify(srv, msg, len);
        return;
    }
    if (len > 2 && msg[0] == 'e' && msg[1] == ' ') {
        if (srv->store_event != NULL) {
            srv->store_event(srv, msg, len);
        }
        return;
    }
    if (len > DMCP__SESSION_ID_LEN + 3 && (msg[0] == 'r' || msg[0] == 'g') && msg[1] == ' ' &&
        msg[DMCP__SESSION_ID_LEN + 2] == ' ') {
        char rid[DMCP__SESSION_ID_LEN + 1];
        memcpy(rid, msg + 2, DMCP__SESSION_ID_LEN);
        rid[DMCP__SESSION_ID_LEN] = '\0';
        (msg[0] == 'r' ? on_answer : on_unsolicited)(srv, rid, msg + DMCP__SESSION_ID_LEN + 3,
                                                    len - DMCP__SESSION_ID_LEN - 3);
        return;
    }
    if (len < DMCP__SESSION_ID_LEN + 4 || len > DMCP__SESSION_ID_LEN + 30 ||
        (msg[0] != 'u' && msg[0] != 'd') || msg[1] != ' ' || msg[DMCP__SESSION_ID_LEN + 2] != ' ') {
        return;
    }
    char id[DMCP__SESSION_ID_LEN + 1], tag[32];
    memcpy(id, msg + 2, DMCP__SESSION_ID_LEN);
    id[DMCP__SESSION_ID_LEN] = '\0';
    size_t tl = len - DMCP__SESSION_ID_LEN - 3;
    memcpy(tag, msg + DMCP__SESSION_ID_LEN + 3, tl);
    tag[tl] = '\0';
    if (strtoll(tag, NULL, 10) == (long long)srv->store_tag) {
        return; /* our own change (or our own DELETE, already ended here) */
    }
    dmcp__session *s = dmcp__sessions_find(srv->sessions, id);
    if (s != NULL && msg[0] == 'd') {
        /* Ended on another instance: end the copy here now, and close its GET stream, so the
         * client sees DELETE take effect everywhere at once (Transports §2.5). */
        const dmcp__transport *tr = s->transport;
        dmcp__session_ref(s);
        drop_local(srv, s); /* takes one reference */
        if (tr != NULL && tr->end != NULL) {
            tr->end(s);
        }
        dmcp__session_unref(s);
    } else if (s != NULL) {
        atomic_store(&s->store_stale, true); /* the next request re-reads (or drops) it */
        dmcp__session_unref(s);
    }
}

static void on_reset(void *ud)
{
    dmcp_server *srv = ud;
    atomic_fetch_add(&srv->store_epoch, 1);
}

/* The 2026 requestState key, shared: the first instance's random key wins (SET NX). */
static void share_state_key(dmcp_server *srv)
{
    char fresh[65];
    if (dmcp__random_hex(fresh, 32) != DMCP_OK) {
        return;
    }
    dmcp_status st = dmcp__store_set(srv->store, STATE_KEY_NAME, fresh, 64, 0, true);
    char *val = NULL;
    size_t len = 0;
    if (st == DMCP_OK || st == DMCP_E_STATE) {
        st = dmcp__store_get(srv->store, STATE_KEY_NAME, &val, &len);
    }
    if (st == DMCP_OK && len >= 32 && len <= sizeof(srv->state_key)) {
        memcpy(srv->state_key, val, len);
        srv->state_key_len = len;
    } else {
        fprintf(stderr, "dmcp store: the shared requestState key could not be read (%s); this "
                        "instance uses its own\n",
                dmcp_strerror(st));
    }
    if (val != NULL) {
        memset(val, 0, len);
    }
    free(val);
    memset(fresh, 0, sizeof(fresh));
}

dmcp_status dmcp__sstore_start(dmcp_server *srv)
{
    if (!dmcp__sstore_on(srv) || srv->store_listening) {
        return DMCP_OK;
    }
    if (!srv->state_key_set) {
        share_state_key(srv);
    }
    unsigned char t[4];
    if (dmcp__random_bytes(t, sizeof(t)) != DMCP_OK) {
        return DMCP_E_INTERNAL;
    }
    /* 1..2^28-1: with the 24-bit counter the ids stay below 2^53 */
    srv->store_tag = (json_int_t)(((uint32_t)t[0] << 20 | (uint32_t)t[1] << 12 |
                                   (uint32_t)t[2] << 4 | (t[3] & 15)) | 1);
    static const dmcp__store_listener proto = {on_message, on_reset, NULL};
    dmcp__store_listener l = proto;
    l.ud = srv;
    dmcp_status st = dmcp__store_listen(srv->store, CHANNEL, &l);
    srv->store_listening = st == DMCP_OK;
    return st;
}

void dmcp__sstore_stop(dmcp_server *srv)
{
    if (srv->store_listening) {
        dmcp__store_unlisten(srv->store);
        srv->store_listening = false;
    }
}

bool dmcp__sstore_ready(dmcp_server *srv)
{
    return !dmcp__sstore_on(srv) || dmcp__store_up(srv->store);
}
