/*
 * Resumable streams across instances (issue 10, docs/scaling.md). With a shared store, every
 * event of a resumable POST stream is also appended to the stream's log in the store
 * (ev:<session>:<stream>, capped, with a TTL) and published. A GET + Last-Event-ID that lands
 * on an instance which does not hold the stream replays the log from the store, then follows
 * the stream live from the published events until its response: the client resumes on any
 * instance, also after the one it was reading from died. Stream numbers carry the producing
 * instance's tag, so an instance knows a stream is not its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "mcp/http_internal.h"
#include "store/store.h"

/* Parses "<seq> <final> <event>"; false when malformed. */
static bool parse_entry(const char *e, size_t len, unsigned long *seq, bool *final,
                        const char **text, size_t *tlen)
{
    char *end = NULL;
    if (len < 4 || e[0] < '0' || e[0] > '9') {
        return false;
    }
    *seq = strtoul(e, &end, 10);
    if (end == NULL || (size_t)(end - e) + 3 > len || end[0] != ' ' ||
        (end[1] != '0' && end[1] != '1') || end[2] != ' ') {
        return false;
    }
    *final = end[1] == '1';
    *text = end + 3;
    *tlen = len - (size_t)(end + 3 - e);
    return true;
}

/* Delivers one event to a follower in order; holds st->mu. */
static void follow_locked(dmcp__stream *st, unsigned long seq, bool final, const char *text,
                          size_t len)
{
    if (seq <= st->fseq || st->done) {
        return; /* replayed already (or after the end) */
    }
    st->fseq = seq;
    (void)dmcp__stream_push_locked(st, text, len);
    if (final) {
        st->done = true;
        if (st->suspended && st->conn != NULL) {
            st->suspended = false;
            MHD_resume_connection(st->conn);
        }
    }
}

void dmcp__sse_followers_clear(dmcp__http *h)
{
    for (;;) {
        pthread_mutex_lock(&h->mu);
        dmcp__stream *st = h->followers;
        if (st != NULL) {
            h->followers = st->fnext;
            st->fnext = NULL;
        }
        pthread_mutex_unlock(&h->mu);
        if (st == NULL) {
            return;
        }
        dmcp__stream_finish(st);
        dmcp__stream_unref(st);
    }
}

void dmcp__sse_on_store_event(dmcp_server *srv, const char *msg, size_t len)
{
    dmcp__http *h = srv->http;
    /* "e <sid> <stream> <seq> <final> <event>" */
    if (h == NULL || len < DMCP__SESSION_ID_LEN + 4 || msg[DMCP__SESSION_ID_LEN + 2] != ' ') {
        return;
    }
    char sid[DMCP__SESSION_ID_LEN + 1];
    memcpy(sid, msg + 2, DMCP__SESSION_ID_LEN);
    sid[DMCP__SESSION_ID_LEN] = '\0';
    const char *p = msg + DMCP__SESSION_ID_LEN + 3;
    char *end = NULL;
    unsigned long stream_no = strtoul(p, &end, 10);
    if (end == NULL || end >= msg + len || *end != ' ') {
        return;
    }
    unsigned long seq;
    bool final;
    const char *text;
    size_t tlen;
    if (!parse_entry(end + 1, len - (size_t)(end + 1 - msg), &seq, &final, &text, &tlen)) {
        return;
    }
    pthread_mutex_lock(&h->mu);
    dmcp__stream *st = h->followers;
    while (st != NULL && !(st->stream_no == stream_no && strcmp(st->fsid, sid) == 0)) {
        st = st->fnext;
    }
    if (st != NULL) {
        atomic_fetch_add(&st->refs, 1);
    }
    pthread_mutex_unlock(&h->mu);
    if (st == NULL) {
        return;
    }
    pthread_mutex_lock(&st->mu);
    follow_locked(st, seq, final, text, tlen);
    pthread_mutex_unlock(&st->mu);
    dmcp__stream_unref(st);
}

static enum MHD_Result refuse(dmcp__http *h, struct MHD_Connection *c, dmcp__stream *st,
                              struct MHD_Response *r, unsigned status, const char *message,
                              const char *origin, dmcp__stream_ticket *t)
{
    dmcp__stream_unlist_follower(h, st);
    dmcp__stream_finish(st);
    dmcp__stream_unref(st);  /* the caller's reference */
    MHD_destroy_response(r); /* runs dmcp__stream_released: the list's and its own */
    dmcp__ticket_return(h, t);
    if (status == MHD_HTTP_SERVICE_UNAVAILABLE) {
        return dmcp__http_send_json(
            c, status, dmcp__jsonrpc_error(NULL, DMCP_JSONRPC_INTERNAL_ERROR, message, NULL),
            origin, "Retry-After", "1");
    }
    return dmcp__http_send_error(c, status, DMCP_JSONRPC_INVALID_REQUEST, message, origin);
}

enum MHD_Result dmcp__stream_resume_shared(dmcp__http *h, struct MHD_Connection *c,
                                           dmcp__session *sess, unsigned long stream_no,
                                           unsigned long seq, const char *origin,
                                           dmcp__stream_ticket *t)
{
    dmcp__stream *st = NULL;
    struct MHD_Response *r = dmcp__stream_open(h, c, NULL, &st); /* no priming event */
    if (r == NULL) {
        dmcp__ticket_return(h, t);
        return dmcp__http_send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, DMCP_JSONRPC_INTERNAL_ERROR,
                                     "Out of memory", origin);
    }
    /* Listed before the log is read, and locked until the replay is in: a live event that
     * arrives meanwhile waits, then is either already replayed (skipped) or next in order. */
    pthread_mutex_lock(&st->mu);
    st->follower = true;
    st->stream_no = stream_no;
    snprintf(st->fsid, sizeof(st->fsid), "%s", sess->id);
    st->fseq = seq;
    atomic_fetch_add(&st->refs, 1); /* the followers list's */
    pthread_mutex_lock(&h->mu);
    st->fnext = h->followers;
    h->followers = st;
    pthread_mutex_unlock(&h->mu);
    char **items = NULL;
    size_t *lens = NULL, n = 0;
    dmcp_status rc = dmcp__sstore_stream_log(h->srv, sess->id, stream_no, &items, &lens, &n);
    unsigned status = 0;
    const char *why = NULL;
    unsigned long first = 0, last = 0;
    bool f = false;
    const char *text;
    size_t tlen;
    if (rc == DMCP_E_NOT_FOUND) {
        status = MHD_HTTP_NOT_FOUND;
        why = "No stream to resume for this Last-Event-ID";
    } else if (rc != DMCP_OK) {
        status = MHD_HTTP_SERVICE_UNAVAILABLE;
        why = "Service Unavailable: the stream store is unreachable";
    } else if (!parse_entry(items[0], lens[0], &first, &f, &text, &tlen) ||
               !parse_entry(items[n - 1], lens[n - 1], &last, &f, &text, &tlen) ||
               seq + 1 < first || seq > last) {
        status = MHD_HTTP_CONFLICT;
        why = "Last-Event-ID is outside the replay window";
    }
    if (status == 0) { /* the position restated first, as dmcp__stream_resume does (sse.c) */
        char prime[80];
        int pn = snprintf(prime, sizeof(prime), "id: %lu-%lu\ndata: \n\n", stream_no, seq);
        (void)dmcp__stream_push_locked(st, prime, (size_t)pn);
    }
    for (size_t i = 0; status == 0 && i < n; i++) {
        unsigned long s;
        if (parse_entry(items[i], lens[i], &s, &f, &text, &tlen)) {
            follow_locked(st, s, f, text, tlen);
        }
    }
    dmcp__store_items_free(items, lens, n);
    pthread_mutex_unlock(&st->mu);
    if (status != 0) {
        return refuse(h, c, st, r, status, why, origin, t);
    }
    dmcp__stream_hold(st, t);
    dmcp__http_cors(r, origin);
    dmcp__stream_unref(st); /* the caller's reference (the list and the response hold it) */
    return dmcp__http_queue(c, MHD_HTTP_OK, r);
}
