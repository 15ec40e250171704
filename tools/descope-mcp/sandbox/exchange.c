/* What every sandbox endpoint reads from a request and writes into its response: headers,
 * query parameters, JSON / text bodies and the two error shapes (OAuth and Descope). Apart
 * from server.c so the endpoints depend on these values, not on the server that routes to them. */
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "sandbox.h"

const char *sbx_header(const sbx_req *q, const char *name)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)q->conn, MHD_HEADER_KIND, name);
}

const char *sbx_query(const sbx_req *q, const char *name)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)q->conn, MHD_GET_ARGUMENT_KIND,
                                       name);
}

void sbx_resp_json(sbx_resp *r, unsigned status, json_t *steal)
{
    free(r->body);
    r->body = steal != NULL ? json_dumps(steal, JSON_COMPACT) : NULL;
    json_decref(steal);
    r->status = r->body != NULL ? status : 500;
    r->ctype = "application/json";
}

void sbx_resp_text(sbx_resp *r, unsigned status, const char *ctype, const char *text)
{
    free(r->body);
    r->body = strdup(text);
    r->status = r->body != NULL ? status : 500;
    r->ctype = ctype;
}

void sbx_resp_oauth_error(sbx_resp *r, unsigned status, const char *error, const char *desc)
{
    /* RFC 6749 §5.2 error response. */
    sbx_resp_json(r, status,
                  json_pack("{s:s,s:s}", "error", error, "error_description", desc));
}

void sbx_resp_descope_error(sbx_resp *r, unsigned status, const char *code, const char *desc,
                            const char *msg)
{
    /* wire §5.4: {"errorCode","errorDescription","errorMessage"} */
    sbx_resp_json(r, status, json_pack("{s:s,s:s,s:s}", "errorCode", code, "errorDescription",
                                       desc, "errorMessage", msg));
}
