/*
 * Server-side tools in request bodies (lib/lava_tools.c), read through
 * lava_request_inspect as the module reads them: each case is a body of an
 * endpoint and what its tools are.
 */
#include <string.h>

#include "unit.h"
#include "lava_meter.h"
#include "lava_tools.h"

typedef struct {
    lava_endpoint_e   ep;
    const char       *body;
    lava_tools_e      expect;
} tools_case_t;

static const tools_case_t  cases[] = {
    /* nothing asked for */
    { LAVA_EP_CHAT, "{\"model\":\"gpt-4o\",\"messages\":[]}", LAVA_TOOLS_OK },
    { LAVA_EP_RESPONSES, "{\"model\":\"gpt-5\",\"tools\":null}", LAVA_TOOLS_OK },
    { LAVA_EP_RESPONSES, "{\"model\":\"gpt-5\",\"tools\":[]}", LAVA_TOOLS_OK },

    /* Chat Completions: client tools only */
    { LAVA_EP_CHAT, "{\"tools\":[{\"type\":\"function\",\"function\":{}}]}",
      LAVA_TOOLS_OK },
    { LAVA_EP_CHAT, "{\"tools\":[{\"type\":\"custom\"}]}", LAVA_TOOLS_OK },
    { LAVA_EP_CHAT, "{\"tools\":[{\"type\":\"browser_search\"}]}",
      LAVA_TOOLS_UNCOUNTED },
    { LAVA_EP_CHAT, "{\"tools\":[{\"type\":\"web_search\"}]}",
      LAVA_TOOLS_UNCOUNTED },
    { LAVA_EP_CHAT, "{\"web_search_options\":{}}", LAVA_TOOLS_SEARCH_CHAT },
    { LAVA_EP_CHAT, "{\"web_search_options\":null}", LAVA_TOOLS_OK },
    { LAVA_EP_CHAT, "{\"model\":\"gpt-4o-mini-search-preview-2025-03-11\"}",
      LAVA_TOOLS_SEARCH_CHAT },
    { LAVA_EP_CHAT, "{\"model\":\"GPT-5-Search-API\"}", LAVA_TOOLS_SEARCH_CHAT },
    { LAVA_EP_CHAT, "{\"search_parameters\":{\"mode\":\"auto\"}}",
      LAVA_TOOLS_SEARCH_CHAT },

    /* Responses */
    { LAVA_EP_RESPONSES, "{\"tools\":[{\"type\":\"web_search\"},"
      "{\"type\":\"function\",\"name\":\"f\"},{\"type\":\"local_shell\"},"
      "{\"type\":\"apply_patch\"},{\"type\":\"computer_use_preview\"}]}",
      LAVA_TOOLS_OK },
    { LAVA_EP_RESPONSES, "{\"tools\":[{\"type\":\"web_search_2025_08_26\"}]}",
      LAVA_TOOLS_OK },
    { LAVA_EP_RESPONSES, "{\"tools\":[{\"type\":\"web_search_preview\"}]}",
      LAVA_TOOLS_UNCOUNTED },
    { LAVA_EP_RESPONSES, "{\"tools\":[{\"type\":\"file_search\"}]}",
      LAVA_TOOLS_UNCOUNTED },
    { LAVA_EP_RESPONSES, "{\"tools\":[{\"type\":\"code_interpreter\"}]}",
      LAVA_TOOLS_UNCOUNTED },
    { LAVA_EP_RESPONSES, "{\"tools\":[{\"type\":\"image_generation\"}]}",
      LAVA_TOOLS_UNCOUNTED },
    { LAVA_EP_RESPONSES, "{\"tools\":[{\"type\":\"mcp\"}]}",
      LAVA_TOOLS_UNCOUNTED },
    { LAVA_EP_RESPONSES, "{\"tools\":[{\"type\":\"shell\"}]}",
      LAVA_TOOLS_UNCOUNTED },
    { LAVA_EP_RESPONSES, "{\"tools\":[{\"type\":\"WEB_SEARCH\"}]}",
      LAVA_TOOLS_UNCOUNTED },
    { LAVA_EP_RESPONSES, "{\"tools\":[{\"name\":\"f\"}]}",
      LAVA_TOOLS_UNCOUNTED },
    { LAVA_EP_RESPONSES, "{\"tools\":[{\"type\":7}]}", LAVA_TOOLS_UNCOUNTED },
    { LAVA_EP_RESPONSES, "{\"tools\":[\"web_search\"]}", LAVA_TOOLS_UNCOUNTED },
    { LAVA_EP_RESPONSES, "{\"tools\":{\"type\":\"web_search\"}}",
      LAVA_TOOLS_UNCOUNTED },
    { LAVA_EP_RESPONSES,
      "{\"tools\":[{\"type\":\"web_search\",\"TYPE\":\"file_search\"}]}",
      LAVA_TOOLS_UNCOUNTED },
    /* the last of duplicate members, escaped keys and values decoded */
    { LAVA_EP_RESPONSES, "{\"tools\":[{\"type\":\"web_search\"}],"
      "\"tools\":[{\"type\":\"file_search\"}]}", LAVA_TOOLS_UNCOUNTED },
    { LAVA_EP_RESPONSES, "{\"tools\":[{\"type\":\"file_search\"}],"
      "\"tools\":[{\"type\":\"web_search\"}]}", LAVA_TOOLS_OK },
    { LAVA_EP_RESPONSES, "{\"tool\\u0073\":[{\"type\":\"mcp\"}]}",
      LAVA_TOOLS_UNCOUNTED },
    { LAVA_EP_RESPONSES, "{\"tools\":[{\"typ\\u0065\":\"mcp\"}]}",
      LAVA_TOOLS_UNCOUNTED },
    { LAVA_EP_RESPONSES, "{\"tools\":[{\"type\":\"web\\u005fsearch\"}]}",
      LAVA_TOOLS_OK },
    { LAVA_EP_RESPONSES, "{\"prompt\":{\"id\":\"pmpt_1\"}}",
      LAVA_TOOLS_STORED_PROMPT },

    /* Anthropic */
    { LAVA_EP_MESSAGES, "{\"tools\":[{\"name\":\"f\",\"input_schema\":{}},"
      "{\"type\":\"custom\",\"name\":\"g\"},{\"type\":\"bash_20250124\"},"
      "{\"type\":\"text_editor_20250728\"},{\"type\":\"computer_20250124\"},"
      "{\"type\":\"memory_20250818\"}]}", LAVA_TOOLS_OK },
    { LAVA_EP_MESSAGES, "{\"tools\":[{\"type\":\"web_search_20250305\"},"
      "{\"type\":\"web_fetch_20250910\"}]}", LAVA_TOOLS_OK },
    { LAVA_EP_MESSAGES, "{\"tools\":[{\"type\":\"code_execution_20250825\"}]}",
      LAVA_TOOLS_UNCOUNTED },
    { LAVA_EP_MESSAGES, "{\"tools\":[{\"type\":\"code_execution_20250825\"},"
      "{\"type\":\"web_fetch_20260209\"}]}", LAVA_TOOLS_OK },
    { LAVA_EP_MESSAGES, "{\"tools\":[{\"type\":\"code_execution_20250825\"},"
      "{\"type\":\"web_search_20250305\"}]}", LAVA_TOOLS_UNCOUNTED },
    { LAVA_EP_MESSAGES, "{\"tools\":[{\"type\":\"web_search_20990101\"}]}",
      LAVA_TOOLS_UNCOUNTED },
    { LAVA_EP_MESSAGES, "{\"tools\":[{\"type\":\"bash_2025012\"}]}",
      LAVA_TOOLS_UNCOUNTED },
    { LAVA_EP_MESSAGES, "{\"tools\":[{\"type\":\"bash_2025012x\"}]}",
      LAVA_TOOLS_UNCOUNTED },
    { LAVA_EP_MESSAGES,
      "{\"tools\":[{\"type\":\"tool_search_tool_bm25_20251119\"}]}",
      LAVA_TOOLS_UNCOUNTED },
    { LAVA_EP_MESSAGES, "{\"mcp_servers\":[{\"url\":\"https://x\"}]}",
      LAVA_TOOLS_UNCOUNTED },
    { LAVA_EP_MESSAGES, "{\"tools\":[{\"type\":null,\"name\":\"f\"}]}",
      LAVA_TOOLS_OK },

    /* Gemini */
    { LAVA_EP_GENERATE, "{\"tools\":[{\"functionDeclarations\":[]},"
      "{\"google_search\":{}},{\"googleSearchRetrieval\":{}},"
      "{\"codeExecution\":{},\"url_context\":{}},{\"computerUse\":{}},{}]}",
      LAVA_TOOLS_OK },
    { LAVA_EP_GENERATE, "{\"tools\":[{\"googleMaps\":{}}]}",
      LAVA_TOOLS_UNCOUNTED },
    { LAVA_EP_GENERATE, "{\"tools\":[{\"googleSearch\":{},\"fileSearch\":{}}]}",
      LAVA_TOOLS_UNCOUNTED },
    { LAVA_EP_GENERATE, "{\"tools\":[{\"GoogleSearch\":{}}]}",
      LAVA_TOOLS_UNCOUNTED },
    { LAVA_EP_GENERATE, "{\"tools\":[{\"googleMaps\":null}]}", LAVA_TOOLS_OK },
    { LAVA_EP_GENERATE, "{\"tools\":[[]]}", LAVA_TOOLS_UNCOUNTED },

    /* Cohere */
    { LAVA_EP_COHERE_CHAT, "{\"tools\":[{\"name\":\"f\"}],\"connectors\":[]}",
      LAVA_TOOLS_OK },
    { LAVA_EP_COHERE_CHAT, "{\"connectors\":[{\"id\":\"web-search\"}]}",
      LAVA_TOOLS_UNCOUNTED },
    { LAVA_EP_COHERE_CHAT, "{\"connectors\":{}}", LAVA_TOOLS_UNCOUNTED },

    /* endpoints without server tools */
    { LAVA_EP_EMBEDDINGS, "{\"tools\":[{\"type\":\"mcp\"}]}", LAVA_TOOLS_OK },
};


START_TEST(test_tools_cases)
{
    size_t          i;
    lava_request_t  rq;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_msg(lava_request_inspect(&rq, cases[i].ep, cases[i].body,
                                           strlen(cases[i].body))
                      == 0, "case %zu: %s not read", i, cases[i].body);
        ck_assert_msg(rq.tools == (int) cases[i].expect,
                      "case %zu: %s is %d, expected %d", i, cases[i].body,
                      rq.tools, (int) cases[i].expect);
    }
}
END_TEST


/* a key that is "tools" but for its letter case: a case-insensitive parser
 * may take it, so the body is not read as metered at all */
START_TEST(test_tools_case_twin)
{
    lava_request_t  rq;
    const char     *body = "{\"tools\":[],\"Tools\":[{\"type\":\"mcp\"}]}";

    ck_assert_int_eq(lava_request_inspect(&rq, LAVA_EP_RESPONSES, body,
                                          strlen(body)), -1);
}
END_TEST


Suite *
make_suite(void)
{
    Suite  *s = suite_create("tools");
    TCase  *tc = tcase_create("tools");

    tcase_add_test(tc, test_tools_cases);
    tcase_add_test(tc, test_tools_case_twin);
    suite_add_tcase(s, tc);

    return s;
}
