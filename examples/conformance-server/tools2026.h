#ifndef CONFORMANCE_TOOLS2026_H
#define CONFORMANCE_TOOLS2026_H
#include <dmcp/dmcp.h>
/* Registers the 2026-07-28 fixtures (tools2026.c); 0 on success. */
int add_tools_2026(dmcp_server *srv);
#endif
