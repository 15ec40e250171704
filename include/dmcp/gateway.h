/*
 * dmcp/gateway.h - an MCP gateway: Descope (OAuth) auth, per-tool scopes, identity headers and
 * connection tokens in front of any MCP server, reached over Streamable HTTP or stdio.
 *
 * The gateway is an ordinary dmcp_server (the glue's authorizer, sessions, both protocol eras,
 * limits, metrics, access log, graceful drain) whose tools, prompts, resources, completions
 * and logging are forwarded to one or several upstream MCP servers (dmcp_server_set_forwarder).
 * The caller's access token never goes upstream.
 *
 * Library: libdmcp_gateway (static), built from src/gateway on top of libdmcp's public API and
 * libcurl. The configuration is one JSON document (docs/gateway.md has its schema); the
 * descope-mcp gateway command builds it from its flags or reads it from --config.
 *
 *   json_t *cfg = json_load_file("gateway.json", 0, NULL);
 *   dmcp_gateway *gw;
 *   if (dmcp_gateway_new(cfg, &gw, &err) == DMCP_OK) dmcp_gateway_run(gw, &err);
 *   dmcp_gateway_free(gw);
 */
#ifndef DMCP_GATEWAY_H
#define DMCP_GATEWAY_H

#include <jansson.h>

#include "dmcp/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dmcp_gateway dmcp_gateway;

/*
 * Builds a gateway from its configuration: checks it, sets up the validator (fetching the
 * OpenID configuration), the Descope client when connections are configured, the upstreams
 * (each is probed once for its capabilities; an upstream that cannot be reached is assumed to
 * offer tools and is retried per session). DMCP_E_CONFIG with err->message for a bad document.
 * Ownership: config borrowed; *out new, release with dmcp_gateway_free().
 * Thread-safety: one thread.
 */
dmcp_status dmcp_gateway_new(const json_t *config, dmcp_gateway **out, dmcp_error *err);
/* Checks a configuration document only (no network). */
dmcp_status dmcp_gateway_config_check(const json_t *config, dmcp_error *err);
/* Starts serving and returns (port 0 in "listen" = ephemeral: see dmcp_gateway_port). */
dmcp_status dmcp_gateway_start(dmcp_gateway *gw, dmcp_error *err);
unsigned dmcp_gateway_port(const dmcp_gateway *gw);
/* Graceful stop (in-flight requests finish, up to the shutdown timeout). Idempotent. */
void dmcp_gateway_stop(dmcp_gateway *gw);
/* Serves until SIGINT/SIGTERM, then drains (dmcp_server_run). */
dmcp_status dmcp_gateway_run(dmcp_gateway *gw, dmcp_error *err);
/* Stops if needed, closes every upstream session, frees. NULL-safe. */
void dmcp_gateway_free(dmcp_gateway *gw);

#ifdef __cplusplus
}
#endif

#endif /* DMCP_GATEWAY_H */
