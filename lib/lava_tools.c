/*
 * Server-side tools in a request body (see lava_tools.h).
 *
 * Per endpoint, the tools that pass with a managed key:
 *
 *   Chat Completions  "function", "custom": the client runs them. Every
 *                     other type (Groq's browser_search, code_interpreter,
 *                     ...) is a server tool billed per call that the answer
 *                     does not count.
 *   Responses         "function", "custom", and the client-run
 *                     "computer_use_preview", "local_shell", "apply_patch";
 *                     "web_search" (and its dated name) is counted from the
 *                     answer's web_search_call items. Not "web_search_preview"
 *                     (billed per call at a price that depends on the model
 *                     in a way the answer does not show), "file_search",
 *                     "code_interpreter", "image_generation", "mcp",
 *                     "shell" (hosted containers) or anything else.
 *   Anthropic         custom tools (no type, or "custom") and the client-run
 *                     bash_, text_editor_, computer_, memory_ versions;
 *                     web_search_20250305/20260209 and
 *                     web_fetch_20250910/20260209, counted from
 *                     usage.server_tool_use; code_execution_* only beside a
 *                     20260209 web search or fetch tool (then free, billed
 *                     by container time otherwise). Top-level "mcp_servers"
 *                     (the MCP connector) is not served.
 *   Cohere chat       v1 "connectors" (run at Cohere, not counted) are not
 *                     served; tools are the client's.
 *   Gemini            each Tool object's members: function declarations,
 *                     googleSearch and googleSearchRetrieval (counted from
 *                     groundingMetadata), codeExecution and urlContext
 *                     (billed as tokens), computerUse (client-run), in the
 *                     camelCase or snake_case spelling Google accepts. Not
 *                     googleMaps, fileSearch, retrieval, enterpriseWebSearch
 *                     or anything else.
 */

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "lava_tools.h"


/* type is prefix followed by a date, "_20250124" style: YYYYMMDD */
static int
lava_tools_versioned(const char *type, const char *prefix)
{
    size_t  n, i;

    n = strlen(prefix);

    if (strncmp(type, prefix, n) != 0 || strlen(type + n) != 8) {
        return 0;
    }

    for (i = n; type[i]; i++) {
        if (!isdigit((unsigned char) type[i])) {
            return 0;
        }
    }

    return 1;
}


static int
lava_tools_in(const char *s, const char *const *set)
{
    for ( /* void */ ; *set; set++) {
        if (strcmp(s, *set) == 0) {
            return 1;
        }
    }

    return 0;
}


/*
 * The "type" of a tool object: NULL when it has none; *bad set when the
 * tool is not an object, the type is not a string, or a key differs from
 * "type" only in letter case (a case-insensitive parser may read that one).
 */
static const char *
lava_tools_type(json_t *tool, int *bad)
{
    json_t      *v, *t;
    const char  *key;

    if (!json_is_object(tool)) {
        *bad = 1;
        return NULL;
    }

    t = NULL;

    json_object_foreach(tool, key, v) {
        if (strcmp(key, "type") == 0) {
            t = v;

        } else if (strcasecmp(key, "type") == 0) {
            *bad = 1;
        }
    }

    if (t == NULL || json_is_null(t)) {
        return NULL;
    }

    if (!json_is_string(t)) {
        *bad = 1;
        return NULL;
    }

    return json_string_value(t);
}


/* the OpenAI search models: every request searches, billed per search */
static int
lava_tools_search_model(const char *model)
{
    char    lower[LAVA_USAGE_MODEL_MAX];
    size_t  i;

    for (i = 0; model[i] && i < sizeof(lower) - 1; i++) {
        lower[i] = (char) tolower((unsigned char) model[i]);
    }

    lower[i] = '\0';

    return strstr(lower, "search-preview") != NULL
           || strstr(lower, "search-api") != NULL;
}


static lava_tools_e
lava_tools_openai(json_t *tools, int responses)
{
    int          bad;
    size_t       i;
    json_t      *tool;
    const char  *type;

    static const char *const  chat[] = { "function", "custom", NULL };

    static const char *const  resp[] = {
        "function", "custom", "computer_use_preview", "local_shell",
        "apply_patch", "web_search", "web_search_2025_08_26", NULL
    };

    json_array_foreach(tools, i, tool) {
        bad = 0;
        type = lava_tools_type(tool, &bad);

        if (bad || type == NULL
            || !lava_tools_in(type, responses ? resp : chat))
        {
            return LAVA_TOOLS_UNCOUNTED;
        }
    }

    return LAVA_TOOLS_OK;
}


static lava_tools_e
lava_tools_anthropic(json_t *tools)
{
    int          bad, code_execution, free_code;
    size_t       i;
    json_t      *tool;
    const char  *type;

    static const char *const  client[] = {
        "bash_", "text_editor_", "computer_", "memory_", NULL
    };

    static const char *const  counted[] = {
        "web_search_20250305", "web_search_20260209",
        "web_fetch_20250910", "web_fetch_20260209", NULL
    };

    static const char *const  frees_code[] = {
        "web_search_20260209", "web_fetch_20260209", NULL
    };

    const char *const  *c;

    code_execution = free_code = 0;

    json_array_foreach(tools, i, tool) {
        bad = 0;
        type = lava_tools_type(tool, &bad);

        if (bad) {
            return LAVA_TOOLS_UNCOUNTED;
        }

        if (type == NULL || strcmp(type, "custom") == 0) {
            /* a tool the client defines and runs */
            continue;
        }

        if (lava_tools_in(type, counted)) {
            free_code |= lava_tools_in(type, frees_code);
            continue;
        }

        if (lava_tools_versioned(type, "code_execution_")) {
            code_execution = 1;
            continue;
        }

        for (c = client; *c; c++) {
            if (lava_tools_versioned(type, *c)) {
                break;
            }
        }

        if (*c == NULL) {
            return LAVA_TOOLS_UNCOUNTED;
        }
    }

    /* code execution is billed by container time, except beside the
     * dynamic-filtering web tools */
    return (code_execution && !free_code) ? LAVA_TOOLS_UNCOUNTED
                                          : LAVA_TOOLS_OK;
}


static lava_tools_e
lava_tools_gemini(json_t *tools)
{
    size_t       i;
    json_t      *tool, *v;
    const char  *key;

    static const char *const  known[] = {
        "functionDeclarations", "function_declarations",
        "googleSearch", "google_search",
        "googleSearchRetrieval", "google_search_retrieval",
        "codeExecution", "code_execution",
        "urlContext", "url_context",
        "computerUse", "computer_use",
        NULL
    };

    json_array_foreach(tools, i, tool) {
        if (!json_is_object(tool)) {
            return LAVA_TOOLS_UNCOUNTED;
        }

        json_object_foreach(tool, key, v) {
            if (!json_is_null(v) && !lava_tools_in(key, known)) {
                return LAVA_TOOLS_UNCOUNTED;
            }
        }
    }

    return LAVA_TOOLS_OK;
}


/* a member that is present and not null */
static int
lava_tools_set(json_t *root, const char *key)
{
    json_t  *v;

    v = json_object_get(root, key);

    return v != NULL && !json_is_null(v);
}


lava_tools_e
lava_tools_check_plain(lava_endpoint_e ep, const char *model)
{
    /* what lava_tools_check() answers when none of its members is there:
     * only the model can still ask for a search */
    if ((ep == LAVA_EP_CHAT || ep == LAVA_EP_RESPONSES)
        && lava_tools_search_model(model))
    {
        return LAVA_TOOLS_SEARCH_CHAT;
    }

    return LAVA_TOOLS_OK;
}


lava_tools_e
lava_tools_check(json_t *root, lava_endpoint_e ep, const char *model)
{
    json_t  *tools;

    if (!json_is_object(root)) {
        return LAVA_TOOLS_OK;
    }

    switch (ep) {

    case LAVA_EP_CHAT:
    case LAVA_EP_RESPONSES:
    case LAVA_EP_MESSAGES:
    case LAVA_EP_GENERATE:
        break;

    case LAVA_EP_COHERE_CHAT:
        /* v1 connectors (the web-search connector) run at Cohere: no
         * per-call count in the answer; v1 and v2 tools are the client's */
        tools = json_object_get(root, "connectors");

        if (tools == NULL || json_is_null(tools)
            || (json_is_array(tools) && json_array_size(tools) == 0))
        {
            return LAVA_TOOLS_OK;
        }

        return LAVA_TOOLS_UNCOUNTED;

    default:
        return LAVA_TOOLS_OK;
    }

    if ((ep == LAVA_EP_CHAT || ep == LAVA_EP_RESPONSES)
        && (lava_tools_search_model(model)
            || lava_tools_set(root, "web_search_options")
            || lava_tools_set(root, "search_parameters")))
    {
        return LAVA_TOOLS_SEARCH_CHAT;
    }

    if (ep == LAVA_EP_RESPONSES && lava_tools_set(root, "prompt")) {
        return LAVA_TOOLS_STORED_PROMPT;
    }

    if (ep == LAVA_EP_MESSAGES && lava_tools_set(root, "mcp_servers")) {
        return LAVA_TOOLS_UNCOUNTED;
    }

    tools = json_object_get(root, "tools");

    if (tools == NULL || json_is_null(tools)) {
        return LAVA_TOOLS_OK;
    }

    if (!json_is_array(tools)) {
        /* the provider refuses it, or reads it some way of its own */
        return LAVA_TOOLS_UNCOUNTED;
    }

    switch (ep) {

    case LAVA_EP_CHAT:
        return lava_tools_openai(tools, 0);

    case LAVA_EP_RESPONSES:
        return lava_tools_openai(tools, 1);

    case LAVA_EP_MESSAGES:
        return lava_tools_anthropic(tools);

    default:
        return lava_tools_gemini(tools);
    }
}
