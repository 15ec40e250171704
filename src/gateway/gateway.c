/*
 * The gateway's set-up and life cycle: a dmcp_server protected by the glue (validator +
 * dmcp_protect_authorizer_new), with a forwarder (route.c) in front of the configured
 * upstreams, whose capabilities are probed once at start.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dmcp/auth.h>
#include <dmcp/descope.h>
#include <dmcp/protect.h>
#include <dmcp/forward.h>
#include <dmcp/signer.h>
#include <dmcp/store.h>

#include "gateway/gw_internal.h"

/* The stdio upstream (upstream_stdio.c) may be absent from a build: weak, then NULL. */
__attribute__((weak)) dmcp_status dmcp__gw_stdio_upstream_new(const char *const *argv,
                                                              const dmcp_gw_upstream_options *o,
                                                              dmcp_gw_upstream **out,
                                                              dmcp_error *err);

static dmcp_status cfg_fail(dmcp_error *err, dmcp_status st, const char *what, const char *detail)
{
    if (err != NULL) {
        char d[160];
        snprintf(d, sizeof(d), "%s", detail != NULL ? detail : "");
        memset(err, 0, sizeof(*err));
        err->status = st;
        snprintf(err->message, sizeof(err->message), "%.80s%s%s", what, d[0] ? ": " : "", d);
    }
    return st;
}

dmcp_status dmcp_gateway_config_check(const json_t *config, dmcp_error *err)
{
    gw_config *c = NULL;
    dmcp_status st = gw_config_parse(config, &c, err);
    if (st == DMCP_OK && c->as_key_file != NULL) {
        /* The assertion key: a file that is not an acceptable key fails the check, not the
         * start (the message names the file, never its contents). */
        dmcp_signer *s = NULL;
        st = dmcp_signer_new_file(c->as_key_file, &s, err);
        if (st != DMCP_OK) {
            st = DMCP_E_CONFIG;
        }
        dmcp_signer_free(s);
    }
    gw_config_free(c);
    return st;
}

/* ---- session end -> the closer thread (the runtime's callback must not block) ---- */

/* Queued as "e<id>" (ended: upstream sessions end too) or "r<id>" (released here only). */
static void queue_close(dmcp_gateway *gw, char kind, const char *sid)
{
    size_t n = strlen(sid);
    char *id = malloc(n + 2);
    if (id == NULL) {
        return;
    }
    id[0] = kind;
    memcpy(id + 1, sid, n + 1);
    pthread_mutex_lock(&gw->qmu);
    if (gw->qn == gw->qcap) {
        size_t cap = gw->qcap ? gw->qcap * 2 : 64;
        char **nq = realloc(gw->q, cap * sizeof(*nq));
        if (nq == NULL) {
            pthread_mutex_unlock(&gw->qmu);
            free(id);
            return;
        }
        gw->q = nq;
        gw->qcap = cap;
    }
    gw->q[gw->qn++] = id;
    pthread_cond_signal(&gw->qcv);
    pthread_mutex_unlock(&gw->qmu);
}

static void on_session_end(void *ud, const char *sid)
{
    queue_close(ud, 'e', sid);
}

static void on_session_release(void *ud, const char *sid)
{
    queue_close(ud, 'r', sid);
}

static void *closer_loop(void *arg)
{
    dmcp_gateway *gw = arg;
    pthread_mutex_lock(&gw->qmu);
    for (;;) {
        while (gw->qn == 0 && !gw->qstop) {
            pthread_cond_wait(&gw->qcv, &gw->qmu);
        }
        if (gw->qn == 0 && gw->qstop) {
            break;
        }
        char *id = gw->q[--gw->qn];
        pthread_mutex_unlock(&gw->qmu);
        gw_csess *c = gw_sessmap_take(gw->map, id + 1);
        if (c != NULL) {
            c->release_only = id[0] == 'r';
        }
        gw_csess_unref(c, gw_close_csess, gw); /* closes unless a request still holds it */
        free(id);
        pthread_mutex_lock(&gw->qmu);
    }
    pthread_mutex_unlock(&gw->qmu);
    return NULL;
}

/* ---- upstreams and their capabilities ---- */

static dmcp_status make_upstreams(dmcp_gateway *gw, dmcp_error *err)
{
    const gw_config *c = gw->cfg;
    for (size_t i = 0; i < c->n_ups; i++) {
        const gw_upcfg *u = &c->ups[i];
        dmcp_gw_upstream_options o = {c->connect_timeout_ms, c->request_timeout_ms, 0, u->headers,
                                      u->n_headers, u->max_children, u->idle_seconds};
        dmcp_status st;
        if (u->url != NULL) {
            st = dmcp__gw_http_upstream_new(u->url, &o, &gw->ups[i], err);
        } else if (dmcp__gw_stdio_upstream_new != NULL) {
            st = dmcp__gw_stdio_upstream_new((const char *const *)u->command, &o, &gw->ups[i], err);
        } else {
            return cfg_fail(err, DMCP_E_CONFIG, "stdio upstreams are not part of this build",
                            u->name);
        }
        if (st != DMCP_OK) {
            return st;
        }
        gw->ups[i]->name = strdup(u->name);
        gw->ups[i]->prefix = strdup(u->prefix);
        gw->n_ups = i + 1;
    }
    return DMCP_OK;
}

/* Opens a session on each upstream once to learn what it offers; merges the capabilities. */
static void probe(dmcp_gateway *gw)
{
    json_t *caps = json_object();
    for (size_t i = 0; i < gw->n_ups; i++) {
        dmcp_gw_open_params p = {.timeout_ms = gw->cfg->connect_timeout_ms > 0
                                                   ? gw->cfg->connect_timeout_ms * 2
                                                   : 10000};
        dmcp_gw_usession *us = NULL;
        json_t *init = NULL;
        dmcp_error err = {0};
        if (gw->ups[i]->ops->open(gw->ups[i], &p, &us, &init, &err) != DMCP_OK) {
            fprintf(stderr,
                    "descope-mcp gateway: upstream %s is not reachable now (%s); assuming it "
                    "offers tools\n",
                    gw->cfg->ups[i].name, err.message);
            if (json_object_get(caps, "tools") == NULL) {
                json_object_set_new(caps, "tools", json_pack("{s:b}", "listChanged", 1));
            }
            continue;
        }
        gw->ups[i]->ops->close(us);
        const json_t *uc = json_object_get(init, "capabilities");
        static const char *const families[] = {"tools", "prompts", "resources", "completions"};
        for (size_t k = 0; k < 4; k++) {
            const json_t *f = json_object_get(uc, families[k]);
            if (!json_is_object(f)) {
                continue;
            }
            json_t *have = json_object_get(caps, families[k]);
            if (have == NULL) {
                json_object_set_new(caps, families[k], json_deep_copy(f));
            } else {
                /* listChanged / subscribe: true when any upstream has it */
                const char *key;
                json_t *v;
                json_object_foreach((json_t *)f, key, v)
                {
                    if (json_is_true(v)) {
                        json_object_set(have, key, v);
                    }
                }
            }
        }
        const json_t *ins = json_object_get(init, "instructions");
        if (gw->n_ups == 1 && json_is_string(ins) && json_string_length(ins) < 16384) {
            gw->instructions = json_incref((json_t *)ins);
        }
        json_decref(init);
    }
    if (json_object_get(caps, "tools") == NULL) {
        json_object_set_new(caps, "tools", json_object());
    }
    gw->caps = caps;
}

/* ---- the server ---- */

/*
 * HTTP workers. Blocking forwards hold their worker until the upstream answers: 16 of them.
 * With start (a stdio upstream) no forward blocks one: as many as the CPUs this process may
 * run on, at least 2 (a request still waits on its worker for the validator's first key
 * fetch, before any key is known), at most 16; each serves many connections per wake-up.
 */
static unsigned http_workers(bool async)
{
    if (!async) {
        return 16;
    }
    cpu_set_t set;
    unsigned n = sched_getaffinity(0, sizeof(set), &set) == 0 ? (unsigned)CPU_COUNT(&set) : 2;
    return n < 2 ? 2 : n > 16 ? 16 : n;
}

static dmcp_status make_server(dmcp_gateway *gw, dmcp_error *err)
{
    const gw_config *c = gw->cfg;
    dmcp_protect_options *po = NULL;
    dmcp_authorizer *az = NULL;
    dmcp_status st = dmcp_validator_config_new(&gw->vcfg);
    if (st == DMCP_OK) {
        st = dmcp_validator_config_set_well_known_url(gw->vcfg, c->well_known_url);
    }
    if (st == DMCP_OK) {
        st = dmcp_validator_config_set_mcp_server_url(gw->vcfg, c->mcp_server_url);
    }
    if (st != DMCP_OK) {
        return cfg_fail(err, st, "auth", "well_known_url / mcp_server_url not acceptable");
    }
    st = dmcp_validator_new(gw->vcfg, &gw->validator, err);
    if (st == DMCP_OK) {
        st = dmcp_protect_options_new(&po);
    }
    if (st == DMCP_OK) {
        st = dmcp_protect_options_set_resource(po, c->mcp_server_url);
    }
    for (size_t i = 0; st == DMCP_OK && i < c->n_required; i++) {
        st = dmcp_protect_options_add_required_scope(po, c->required_scopes[i]);
    }
    if (st == DMCP_OK && c->tool_error_mode) {
        st = dmcp_protect_options_set_tool_scope_mode(po, DMCP_TOOL_SCOPE_TOOL_ERROR);
    }
    if (st == DMCP_OK) {
        st = dmcp_protect_options_set_resource_name(po, "MCP gateway (descope-mcp)");
    }
    if (st == DMCP_OK) {
        st = dmcp_protect_authorizer_new(gw->validator, po, &az, err);
    }
    dmcp_protect_options_free(po);
    if (st == DMCP_OK && c->n_conns > 0) {
        st = dmcp_descope_client_new(c->well_known_url, &gw->descope, err);
        if (st == DMCP_OK && c->descope_api_base != NULL) {
            st = dmcp_descope_client_set_api_base(gw->descope, c->descope_api_base);
        }
    }
    if (st == DMCP_OK) {
        st = dmcp_server_new("descope-mcp-gateway", "0.1.0", &gw->srv);
    }
    if (st != DMCP_OK) {
        dmcp_authorizer_free(az);
        return err != NULL && err->message[0] != '\0' ? st : cfg_fail(err, st, "set-up", NULL);
    }
    st = dmcp_server_set_authorizer(gw->srv, az);
    if (st == DMCP_OK && c->store_url != NULL) {
        /* Replicas without affinity: client sessions and their upstream session ids (session
         * attrs) live in the store, so any replica behind a balancer serves any session. */
        st = dmcp_store_open(c->store_url, &gw->store, err);
        if (st == DMCP_OK && c->store_prefix != NULL) {
            st = dmcp_store_set_prefix(gw->store, c->store_prefix);
        }
        if (st == DMCP_OK) {
            st = dmcp_server_set_store(gw->srv, gw->store);
        }
        if (st != DMCP_OK) {
            return err != NULL && err->message[0] != '\0' ? st : cfg_fail(err, st, "store", NULL);
        }
    }
    unsigned methods = DMCP_FORWARD_TOOLS | DMCP_FORWARD_LOGGING;
    if (json_object_get(gw->caps, "prompts") != NULL) {
        methods |= DMCP_FORWARD_PROMPTS;
    }
    if (json_object_get(gw->caps, "resources") != NULL) {
        methods |= DMCP_FORWARD_RESOURCES;
    }
    if (json_object_get(gw->caps, "completions") != NULL) {
        methods |= DMCP_FORWARD_COMPLETION;
    }
    dmcp_forwarder f = {methods,         c->stream,       gw->caps,       gw_forward,
                        gw_client_notification, on_session_end, gw_tool_scopes, gw,
                        on_session_release, NULL};
    /* Requests the upstreams can answer through callbacks (stdio) need no worker thread while
     * they are out: the workers then serve many connections each. */
    bool async = false;
    for (size_t i = 0; i < gw->n_ups; i++) {
        async = async || gw->ups[i]->ops->request_async != NULL;
    }
    if (async) {
        gw->workers = gw_workers_new(gw);
        if (gw->workers != NULL) {
            f.start = gw_forward_start;
            f.notification = gw_client_notification_later;
        }
    }
    if (st == DMCP_OK) {
        st = dmcp_server_set_forwarder(gw->srv, &f);
    }
    if (st == DMCP_OK && gw->instructions != NULL) {
        st = dmcp_server_set_instructions(gw->srv, json_string_value(gw->instructions));
    }
    if (st == DMCP_OK) {
        st = dmcp_server_set_listen_string(gw->srv, c->listen != NULL ? c->listen : "127.0.0.1:8080");
    }
    if (st == DMCP_OK && c->endpoint != NULL) {
        st = dmcp_server_set_endpoint(gw->srv, c->endpoint);
    }
    if (st == DMCP_OK) {
        st = dmcp_server_set_threads(gw->srv, http_workers(f.start != NULL));
    }
    gw->shutdown_s = 10;
    if (st == DMCP_OK) {
        st = dmcp_server_set_shutdown_timeout(gw->srv, gw->shutdown_s);
    }
    if (st == DMCP_OK) {
        st = gw_assertion_setup(gw, err);
    }
    size_t i;
    json_t *pair;
    json_array_foreach(c->server_options, i, pair)
    {
        if (st == DMCP_OK) {
            st = dmcp_server_set_option(gw->srv, json_string_value(json_array_get(pair, 0)),
                                        json_string_value(json_array_get(pair, 1)), err);
        }
    }
    if (st != DMCP_OK && (err == NULL || err->message[0] == '\0')) {
        cfg_fail(err, st, "server set-up", dmcp_strerror(st));
    }
    return st;
}

dmcp_status dmcp_gateway_new(const json_t *config, dmcp_gateway **out, dmcp_error *err)
{
    *out = NULL;
    dmcp_gateway *gw = calloc(1, sizeof(*gw));
    if (gw == NULL) {
        return cfg_fail(err, DMCP_E_NOMEM, "out of memory", NULL);
    }
    pthread_mutex_init(&gw->qmu, NULL);
    pthread_cond_init(&gw->qcv, NULL);
    dmcp_status st = gw_config_parse(config, &gw->cfg, err);
    if (st == DMCP_OK && (gw->map = gw_sessmap_new()) == NULL) {
        st = cfg_fail(err, DMCP_E_NOMEM, "out of memory", NULL);
    }
    if (st == DMCP_OK) {
        st = make_upstreams(gw, err);
    }
    if (st == DMCP_OK) {
        probe(gw);
        st = make_server(gw, err);
    }
    if (st == DMCP_OK) {
        if (pthread_create(&gw->closer, NULL, closer_loop, gw) != 0) {
            st = cfg_fail(err, DMCP_E_INTERNAL, "cannot start a thread", NULL);
        } else {
            gw->closer_started = true;
        }
    }
    if (st != DMCP_OK) {
        dmcp_gateway_free(gw);
        return st;
    }
    *out = gw;
    return DMCP_OK;
}

dmcp_status dmcp_gateway_start(dmcp_gateway *gw, dmcp_error *err)
{
    return dmcp_server_start(gw->srv, err);
}

unsigned dmcp_gateway_port(const dmcp_gateway *gw)
{
    return gw != NULL ? dmcp_server_port(gw->srv) : 0;
}

void dmcp_gateway_stop(dmcp_gateway *gw)
{
    if (gw != NULL && gw->srv != NULL) {
        long long none = 0;
        long long d = gw_now_ms() + (long long)gw->shutdown_s * 1000 - 1000;
        atomic_compare_exchange_strong(&gw->drain_deadline_ms, &none, d > 0 ? d : 1);
        dmcp_server_stop(gw->srv);
    }
}

dmcp_status dmcp_gateway_run(dmcp_gateway *gw, dmcp_error *err)
{
    /* As dmcp_server_run, but the drain is the gateway's: in-flight forwards finish. */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    dmcp_status st = dmcp_server_start(gw->srv, err);
    if (st == DMCP_OK) {
        fprintf(stderr, "descope-mcp gateway: serving %s on port %u with %zu upstream%s\n",
                gw->cfg->mcp_server_url, dmcp_server_port(gw->srv), gw->n_ups,
                gw->n_ups == 1 ? "" : "s");
        int sig = 0;
        while (sigwait(&set, &sig) != 0) {
        }
        fprintf(stderr, "descope-mcp gateway: draining\n");
        dmcp_gateway_stop(gw);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return st;
}

void dmcp_gateway_free(dmcp_gateway *gw)
{
    if (gw == NULL) {
        return;
    }
    dmcp_server_stop(gw->srv);
    /* What the server took to answer later is answered before it goes: the blocking path's
     * workers finish, and closing the upstream sessions ends the calls still out on them. */
    gw_workers_free(gw->workers);
    gw->workers = NULL;
    gw_csess *c;
    while (gw->map != NULL && (c = gw_sessmap_take_any(gw->map)) != NULL) {
        c->release_only = gw->store != NULL; /* shared: the other replicas carry on with it */
        gw_csess_unref(c, gw_close_csess, gw);
    }
    dmcp_server_free(gw->srv); /* ends every session: their ids reach the closer queue */
    gw->srv = NULL;
    if (gw->closer_started) {
        pthread_mutex_lock(&gw->qmu);
        gw->qstop = true;
        pthread_cond_signal(&gw->qcv);
        pthread_mutex_unlock(&gw->qmu);
        pthread_join(gw->closer, NULL);
    }
    for (size_t i = 0; i < gw->qn; i++) {
        free(gw->q[i]);
    }
    free(gw->q);
    while (gw->map != NULL && (c = gw_sessmap_take_any(gw->map)) != NULL) {
        c->release_only = gw->store != NULL; /* shared: the other replicas carry on with it */
        gw_csess_unref(c, gw_close_csess, gw);
    }
    gw_sessmap_free(gw->map);
    for (size_t i = 0; i < gw->n_ups; i++) {
        dmcp_gw_upstream_free(gw->ups[i]);
    }
    json_decref(gw->caps);
    json_decref(gw->instructions);
    dmcp_descope_client_free(gw->descope);
    dmcp_signer_free(gw->signer);
    dmcp_validator_free(gw->validator);
    dmcp_validator_config_free(gw->vcfg);
    dmcp_store_free(gw->store); /* after the server, which borrowed it */
    gw_config_free(gw->cfg);
    pthread_mutex_destroy(&gw->qmu);
    pthread_cond_destroy(&gw->qcv);
    free(gw);
}
