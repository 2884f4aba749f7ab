/*
 * Server-side tools in a request body: whether every tool the request asks
 * the provider to run on its own servers is one whose billed unit the
 * gateway counts (docs/providers.md, "Server-side tools"). Tools the client
 * runs itself (functions) cost tokens only and always pass.
 *
 * The check is an allowlist per endpoint: a tool type the gateway does not
 * know -- a new server tool, a type written in another letter case, a tool
 * object without a type -- is uncounted. Pure C, no I/O; the body is the
 * jansson document lava_request_inspect read (escaped keys decoded, the
 * last of duplicate members kept, as the providers' parsers do).
 */
#ifndef LAVA_TOOLS_H
#define LAVA_TOOLS_H

#include <jansson.h>

#include "lava_usage.h"

typedef enum {
    LAVA_TOOLS_OK = 0,          /* no tool, or only counted ones */
    LAVA_TOOLS_UNCOUNTED,       /* a server-side tool billed in a unit the
                                   gateway cannot count, or one it does
                                   not know */
    LAVA_TOOLS_SEARCH_CHAT,     /* Chat Completions web search (a search
                                   model, web_search_options, xAI
                                   search_parameters): billed per search,
                                   and the answer does not say how many */
    LAVA_TOOLS_STORED_PROMPT    /* Responses "prompt": a stored prompt may
                                   carry tools the body does not show */
} lava_tools_e;

/*
 * root: the request body (a JSON object) of endpoint ep; model: the model
 * it names ("" none). Returns what the tools are.
 */
lava_tools_e lava_tools_check(json_t *root, lava_endpoint_e ep,
    const char *model);

/*
 * The same for a body that has none of the members lava_tools_check()
 * reads ("tools", "connectors", "web_search_options", "search_parameters",
 * "prompt", "mcp_servers"): the request scanner's answer without a jansson
 * document (lib/lava_request_scan.c).
 */
lava_tools_e lava_tools_check_plain(lava_endpoint_e ep, const char *model);

#endif
