/* A downstream program built against the installed package. */
#include <stdio.h>

#include <dmcp/dmcp.h>

int main(void)
{
    if (!DMCP_VERSION_AT_LEAST(0, 1, 0) || dmcp_version_num() != DMCP_VERSION_NUM) {
        return 1;
    }
    printf("dmcp %s (%s)\n", dmcp_version(), dmcp_strerror(DMCP_E_INVALID_TOKEN));
    return 0;
}
