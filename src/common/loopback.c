/* Loopback host names, shared by the HTTP client checks and the HTTP server (no dependencies). */
#include <string.h>

#include "internal.h"

bool dmcp__host_is_loopback(const char *host)
{
    if (host == NULL) {
        return false;
    }
    if (dmcp__ascii_casecmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0 ||
        strcmp(host, "::1") == 0) {
        return true;
    }
    /* 127.0.0.0/8 written as a dotted quad. */
    if (strncmp(host, "127.", 4) != 0) {
        return false;
    }
    int dots = 0;
    int digits = 0;
    for (const char *p = host + 4; *p != '\0'; p++) {
        if (*p == '.') {
            if (digits == 0) {
                return false;
            }
            dots++;
            digits = 0;
        } else if (*p >= '0' && *p <= '9') {
            if (++digits > 3) {
                return false;
            }
        } else {
            return false;
        }
    }
    return dots == 2 && digits > 0;
}
