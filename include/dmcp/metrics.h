/*
 * dmcp/metrics.h - the library's Prometheus metrics (docs/operations.md lists every family).
 *
 * The library counts what it does (requests, token validations, JWKS fetches, sessions,
 * limit refusals...) in one process-wide registry with bounded labels. A program that serves
 * the metrics itself (its own listener, its own access control) renders them here; servers
 * built with the SDK can also expose them on an opt-in endpoint.
 */
#ifndef DMCP_METRICS_API_H
#define DMCP_METRICS_API_H

#include <stddef.h>

#include "dmcp/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Renders every metric in the Prometheus text exposition format 0.0.4 (serve it with
 * Content-Type "text/plain; version=0.0.4; charset=utf-8"). On DMCP_OK *text is a
 * NUL-terminated string of *len bytes (len may be NULL). Returns DMCP_E_INVALID_ARG when
 * text is NULL, or DMCP_E_NOMEM; on failure *text is NULL.
 * Ownership: *text is new, release with dmcp_free() (it is plain malloc memory, so free()
 * works too).
 * Thread-safety: safe to call from any thread, concurrently with everything else; the values
 * are read without stopping the threads that update them, so families are not a consistent
 * cut of one instant.
 */
DMCP_API DMCP_WARN_UNUSED dmcp_status dmcp_metrics_render(char **text, size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* DMCP_METRICS_API_H */
