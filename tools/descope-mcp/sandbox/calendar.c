/*
 * A sample calendar API for the demo: the one Google Calendar v3 call the calendar server
 * makes (events.list), answering only to a google-calendar connection token this sandbox
 * issued. Anything else, including an MCP access token, gets 401: that is how the demo shows
 * the MCP token is never passed through.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox.h"

#define CAL_APP "google-calendar"

static const struct {
    const char *summary;
    int64_t offset; /* seconds after the next full hour */
    int64_t length;
} samples[] = {
    {"Team stand-up", 0, 1800},
    {"Design review", 86400 + 7200, 3600},
    {"Lunch with a customer", 2 * 86400 + 10800, 3600},
    {"Quarterly planning", 3 * 86400, 7200},
    {"1:1 with manager", 4 * 86400 + 3600, 1800},
    {"Dentist", 5 * 86400 + 14400, 3600},
    {"Release party", 7 * 86400 + 18000, 10800},
};

/* The owner (user or tenant) of a valid calendar connection token, or NULL. */
static json_t *token_owner(sbx *s, const char *tok)
{
    static const char *const lists[] = {"users", "tenants"};
    json_t *found = NULL;
    for (size_t l = 0; l < 2; l++) {
        size_t i;
        json_t *o;
        json_array_foreach(json_object_get(s->state, lists[l]), i, o) {
            size_t j;
            json_t *c;
            json_array_foreach(json_object_get(o, "connections"), j, c) {
                json_t *sc = json_object_get(c, "scopes");
                /* Compare every token in constant time; no early exit on a match. */
                if (sbx_secret_eq(tok, json_string_value(json_object_get(c, "access_token"))) &&
                    strcmp(json_string_value(json_object_get(c, "app_id")), CAL_APP) == 0 &&
                    json_integer_value(json_object_get(c, "expiry")) > sbx_now() &&
                    (sbx_array_has(sc, "https://www.googleapis.com/auth/calendar.readonly") ||
                     sbx_array_has(sc, "https://www.googleapis.com/auth/calendar"))) {
                    found = o;
                }
            }
        }
    }
    return found;
}

static void unauthorized(sbx_resp *r)
{
    sbx_resp_json(r, 401,
                  json_pack("{s:{s:i,s:s,s:s}}", "error", "code", 401, "message",
                            "Request had invalid authentication credentials.", "status",
                            "UNAUTHENTICATED"));
    r->www_authenticate = strdup("Bearer realm=\"descope-mcp sandbox calendar\", "
                                 "error=\"invalid_token\"");
}

static void bad_request(sbx_resp *r, const char *msg)
{
    sbx_resp_json(r, 400, json_pack("{s:{s:i,s:s,s:s}}", "error", "code", 400, "message", msg,
                                    "status", "INVALID_ARGUMENT"));
}

void sbx_calendar_events(sbx *s, sbx_req *q, sbx_resp *r)
{
    const char *h = sbx_header(q, "Authorization");
    if (h == NULL || strncmp(h, "Bearer ", 7) != 0 || strlen(h + 7) > 512) {
        unauthorized(r);
        return;
    }
    json_t *owner = token_owner(s, h + 7);
    if (owner == NULL) {
        unauthorized(r);
        return;
    }
    const char *tmin = sbx_query(q, "timeMin");
    const char *maxr = sbx_query(q, "maxResults");
    int64_t min = 0;
    long max = 250;
    if (tmin != NULL && !sbx_parse_rfc3339(tmin, &min)) {
        bad_request(r, "Bad timeMin: expected an RFC 3339 date-time");
        return;
    }
    if (maxr != NULL) {
        char *end = NULL;
        max = strtol(maxr, &end, 10);
        if (end == maxr || *end != '\0' || max < 1 || max > 2500) {
            bad_request(r, "maxResults must be an integer from 1 to 2500");
            return;
        }
    }
    const char *email = json_string_value(json_object_get(owner, "email"));
    if (email == NULL) {
        email = json_string_value(json_object_get(owner, "id"));
    }
    int64_t base = (sbx_now() / 3600 + 1) * 3600;
    json_t *items = json_array();
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]) && (long)json_array_size(items) < max;
         i++) {
        int64_t start = base + samples[i].offset;
        if (start < min) {
            continue;
        }
        char st[32];
        char en[32];
        char id[32];
        sbx_rfc3339(start, st);
        sbx_rfc3339(start + samples[i].length, en);
        snprintf(id, sizeof(id), "sbx%lld", (long long)(start / 60));
        json_array_append_new(
            items, json_pack("{s:s,s:s,s:s,s:s,s:{s:s},s:{s:s},s:{s:s}}", "kind",
                             "calendar#event", "id", id, "status", "confirmed", "summary",
                             samples[i].summary, "start", "dateTime", st, "end", "dateTime", en,
                             "organizer", "email", email));
    }
    sbx_resp_json(r, 200,
                  json_pack("{s:s,s:s,s:s,s:o}", "kind", "calendar#events", "summary", email,
                            "timeZone", "UTC", "items", items));
}
