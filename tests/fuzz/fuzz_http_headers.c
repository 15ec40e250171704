/*
 * Fuzz target for the HTTP header checks of the Streamable HTTP transport: Host and Origin
 * (DNS rebinding, default loopback rules and an explicit allowlist), Accept, Content-Type.
 * Input: the header value; the first byte picks the check.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/mcp_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static dmcp_server *with_lists(void)
{
    static dmcp_server *srv;
    if (srv == NULL) {
        dmcp_server_new("fuzz", "1", &srv);
        dmcp_server_add_allowed_host(srv, "mcp.example.com");
        dmcp_server_add_allowed_host(srv, "other.example:8443");
        dmcp_server_add_allowed_origin(srv, "https://app.example.com");
    }
    return srv;
}

static dmcp_server *plain(void)
{
    static dmcp_server *srv;
    if (srv == NULL) {
        dmcp_server_new("fuzz", "1", &srv);
    }
    return srv;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096) {
        return 0;
    }
    char *v = malloc(size); /* header values are NUL-terminated strings */
    if (v == NULL) {
        return 0;
    }
    memcpy(v, data + 1, size - 1);
    v[size - 1] = '\0';
    switch (data[0] % 6) {
    case 0:
        (void)dmcp__http_host_allowed(plain(), true, v);
        break;
    case 1:
        (void)dmcp__http_host_allowed(with_lists(), false, v);
        break;
    case 2:
        (void)dmcp__http_origin_allowed(plain(), true, v);
        break;
    case 3:
        (void)dmcp__http_origin_allowed(with_lists(), true, v);
        break;
    case 4:
        (void)dmcp__http_accepts(v, "application/json");
        (void)dmcp__http_accepts(v, "text/event-stream");
        break;
    default:
        (void)dmcp__http_content_type_json(v);
        break;
    }
    free(v);
    return 0;
}
