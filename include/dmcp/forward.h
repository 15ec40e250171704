/*
 * dmcp/forward.h: forwarding requests of an MCP server to code of your own (gateways and
 * proxies). The runtime keeps authentication, sessions, eras, limits, metrics and the access
 * log; a forwarder answers the method families it takes over.
 */
#ifndef DMCP_FORWARD_H
#define DMCP_FORWARD_H

#include "dmcp/server.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* Forwarding (gateways and proxies)                                                          */
/* ------------------------------------------------------------------------------------------ */

/* Method families a forwarder serves instead of the server's own registries. */
#define DMCP_FORWARD_TOOLS 1u       /* tools/list, tools/call */
#define DMCP_FORWARD_PROMPTS 2u     /* prompts/list, prompts/get */
#define DMCP_FORWARD_RESOURCES 4u   /* resources/list, resources/templates/list, resources/read,
                                       resources/subscribe, resources/unsubscribe */
#define DMCP_FORWARD_COMPLETION 8u  /* completion/complete */
#define DMCP_FORWARD_LOGGING 16u    /* logging/setLevel (also applied to the session here) */

/*
 * Serves one forwarded request. Runs on the thread that serves the request (an HTTP worker,
 * or a stream worker when the answer is an SSE stream), after authentication, the lifecycle
 * gate and per-tool scopes. call is a full call context: principal, session id, protocol
 * version, cancellation, dmcp_call_progress/log/notify, and dmcp_call_request for server->
 * client requests (live only when the answer streams: see dmcp_forwarder.stream).
 * Answer with DMCP_OK and *result (an object, taken), or any other status and *error (a
 * JSON-RPC error object {code, message, data?}, taken); neither set gives -32603.
 */
typedef dmcp_status (*dmcp_forward_fn)(void *userdata, dmcp_call *call, const char *method,
                                       const json_t *params, json_t **result, json_t **error);
/* A notification from the client (other than initialized and cancelled, which the runtime
 * handles; a cancelled request shows as dmcp_call_is_cancelled on its call), or the client's
 * response to a request the forwarder sent with dmcp_server_send_to_session under a string
 * id (the runtime's own requests use integer ids). session_id is NULL outside a session.
 * msg borrowed. */
typedef void (*dmcp_forward_notify_fn)(void *userdata, const char *session_id, const json_t *msg);
/* A session ended (DELETE, idle expiry, eviction, server stop). May run while the runtime
 * holds internal locks: it must not block nor call into the server; hand the work to a thread
 * of your own. With a shared store (dmcp_server_set_store) a session outlives any one
 * instance: session_end then means a DELETE served here, and every other way this instance's
 * copy goes away (evicted, idle here, deleted on another instance, server stop) is reported to
 * session_release instead, with the same rules. */
typedef void (*dmcp_session_end_fn)(void *userdata, const char *session_id);
/* The scopes a forwarded tool requires (checked like dmcp_tool_add_scope's, through the
 * authorizer's authorize_tool, before the forwarder runs). Return the count and point *scopes
 * at an array that stays valid while the server runs; 0 for none. */
typedef size_t (*dmcp_forward_scopes_fn)(void *userdata, const char *tool_name,
                                         const char *const **scopes);

/*
 * Starts a forwarded request whose answer comes later (optional: dmcp_forwarder.start).
 * Offered for a request of a 2025-era session that is answered as one JSON (or buffered SSE)
 * response, not a live stream; request() serves every other one. Return DMCP_OK once the
 * request is taken: answer it exactly once with dmcp_call_answer, from any thread, before or
 * after returning. Until then call, method and params stay valid, and the HTTP worker that
 * offered it serves other connections meanwhile (a forwarder that waits on another process
 * need not hold a thread per request). Any other status: not taken (nothing may have been
 * sent, no answer given): the runtime serves the request with request() on this thread.
 * Notifications sent with dmcp_call_notify before the answer go before it, as request()'s do.
 */
typedef dmcp_status (*dmcp_forward_start_fn)(void *userdata, dmcp_call *call, const char *method,
                                             const json_t *params);

typedef struct dmcp_forwarder {
    unsigned methods;            /* DMCP_FORWARD_* families served by request() */
    bool stream;                 /* answer forwarded requests as a live SSE stream (so
                                    notifications and server->client requests pass as they come)
                                    when the client declared sampling, elicitation or roots, or
                                    gave a progress token; false: only with a progress token.
                                    Otherwise the answer is JSON (notifications collected) */
    const json_t *capabilities;  /* merged over the server's own capabilities (copied); may be
                                    NULL */
    dmcp_forward_fn request;     /* required */
    dmcp_forward_notify_fn notification; /* may be NULL */
    dmcp_session_end_fn session_end;     /* may be NULL */
    dmcp_forward_scopes_fn tool_scopes;  /* may be NULL */
    void *userdata;
    dmcp_session_end_fn session_release; /* may be NULL; see dmcp_session_end_fn */
    dmcp_forward_start_fn start;         /* may be NULL; see dmcp_forward_start_fn */
} dmcp_forwarder;

/*
 * Installs a forwarder: requests of the given families go to fwd->request instead of the
 * server's registries (registered tools etc. of those families are then not served). The
 * runtime stays what it is for everything else: authentication, sessions, eras, limits,
 * metrics, access log. Ownership: fwd is copied (capabilities too). DMCP_E_STATE once started.
 * Thread-safety: configure from one thread.
 */
DMCP_API dmcp_status dmcp_server_set_forwarder(dmcp_server *srv, const dmcp_forwarder *fwd);
/*
 * Answers a request taken by dmcp_forwarder.start: DMCP_OK and result (an object), or any
 * other status and error (a JSON-RPC error object {code, message, data?}); neither gives
 * -32603, as for request(). After it returns the call is gone: read from it first whatever
 * is still needed. A call the server stopped waiting for (it answered the client itself when
 * it stopped) takes the answer and drops it. DMCP_E_STATE for a call that was not taken by
 * start or is already answered (nothing changes; result and error are released either way).
 * Ownership: takes result and error.
 * Thread-safety: any thread, once per taken call.
 */
DMCP_API dmcp_status dmcp_call_answer(dmcp_call *call, dmcp_status status, json_t *result,
                                      json_t *error);

/* Largest key and largest attrs object (compact JSON) of a session, in bytes. */
#define DMCP_SESSION_ATTR_KEY_MAX 64
#define DMCP_SESSION_ATTRS_MAX 8192

/*
 * Session attributes: a small JSON object kept with the call's 2025-era session, for state a
 * forwarder must find again on any instance (a gateway's upstream session ids). With a shared
 * store they are part of the session's record (written through and announced to the other
 * instances when set); without one they live in the process.
 * dmcp_call_session_attr: a new reference to the value under key, or NULL (absent, no session).
 * dmcp_call_set_session_attr: sets key to value (taken; NULL removes the key).
 * DMCP_E_STATE outside a session (stateless or 2026-07-28 requests), DMCP_E_INVALID_ARG for an
 * empty key or one longer than DMCP_SESSION_ATTR_KEY_MAX, DMCP_E_TOO_LARGE when the object
 * would exceed DMCP_SESSION_ATTRS_MAX (nothing changed), DMCP_E_UNREACHABLE when the store
 * cannot be written (the value is kept here and written with the next change).
 * Thread-safety: any thread, while the call runs.
 */
DMCP_API json_t *dmcp_call_session_attr(const dmcp_call *call, const char *key);
DMCP_API dmcp_status dmcp_call_set_session_attr(dmcp_call *call, const char *key, json_t *value);

/*
 * Sends a message (a notification or a server->client request of the forwarder's own making)
 * on a session's standalone stream (HTTP GET stream; stdio output). DMCP_E_NOT_FOUND for an
 * unknown or ended session, DMCP_E_STATE when it has no stream open. With a shared store
 * (dmcp_server_set_store) a session whose stream is not held by this instance gets the message
 * through the store, from the instance that holds it: DMCP_OK then means published (delivery
 * is best effort; no instance may hold a stream), DMCP_E_UNREACHABLE that the store is down.
 * Ownership: takes msg.
 * Thread-safety: any thread while the server runs.
 */
DMCP_API dmcp_status dmcp_server_send_to_session(dmcp_server *srv, const char *session_id,
                                                 json_t *msg);

#ifdef __cplusplus
}
#endif

#endif /* DMCP_FORWARD_H */
