/*
 * dmcp/dmcp.h - umbrella header for descope-mcp for C.
 *
 *   dmcp/common.h   status codes, error detail, limits
 *   dmcp/version.h  version macros and dmcp_version()
 *   dmcp/auth.h     access-token validation, scopes, WWW-Authenticate challenges
 *   dmcp/descope.h  Descope connection tokens (outbound apps)
 *   dmcp/server.h   the MCP server runtime (JSON-RPC, lifecycle, tools, HTTP and stdio)
 *   dmcp/protect.h  the glue: protect a server with a validator (PRM, challenges, scopes)
 */
#ifndef DMCP_DMCP_H
#define DMCP_DMCP_H

#include "dmcp/common.h"
#include "dmcp/version.h"
#include "dmcp/auth.h"
#include "dmcp/descope.h"
#include "dmcp/authorizer.h"
#include "dmcp/server.h"
#include "dmcp/forward.h"
#include "dmcp/protect.h"
#include "dmcp/signer.h"
#include "dmcp/store.h"

#endif /* DMCP_DMCP_H */
