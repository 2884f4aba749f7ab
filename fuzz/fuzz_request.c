/*
 * Request side of the meter (lib/lava_meter.c): the client's
 * request path and body. Input: one byte (endpoint), one byte (provider
 * usage format), then "METHOD /path\n" and the body. Checks: the route stays
 * inside the path and knows its endpoint and format; the inspection keeps
 * its model terminated and says what the tools are (lib/lava_tools.c),
 * and reads what a whole-body jansson parse reads (lava_request_inspect_full:
 * the same result, the same fields; the prompt text counted at least as
 * large, larger only for duplicate members);
 * the include_usage rewrite never writes past the documented len + 64
 * bytes and, when it rewrites a JSON object, yields a JSON object with
 * stream_options.include_usage true.
 */
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "lava_meter.h"
#include "lava_tools.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char       *p, *nl, *sp, *body;
    size_t            n, blen, out_len;
    lava_route_t      rt;
    lava_request_t    rq;
    lava_endpoint_e   ep;
    lava_usage_format_e fmt;
    char             *out;
    json_t           *in_doc, *doc, *v;
    int               rc;

    if (size < 2) {
        return 0;
    }
    ep = (lava_endpoint_e) (data[0] % (LAVA_EP_CALL + 1));
    fmt = (lava_usage_format_e) (data[1] % (LAVA_USAGE_NONE + 1));
    p = (const char *) data + 2;
    n = size - 2;

    nl = memchr(p, '\n', n);
    if (nl) {
        sp = memchr(p, ' ', (size_t) (nl - p));
        if (sp) {
            memset(&rt, 0, sizeof(rt));
            lava_meter_route(fmt, p, (size_t) (sp - p), sp + 1, (size_t) (nl - sp - 1), &rt);
            FUZZ_CHECK((unsigned) rt.ep <= LAVA_EP_CALL, "route endpoint");
            FUZZ_CHECK((unsigned) rt.fmt <= LAVA_USAGE_NONE, "route format");
            FUZZ_CHECK(rt.model == NULL || (rt.model >= sp + 1 && rt.model + rt.model_len <= nl),
                       "route model inside the path");
        }
        body = nl + 1;
        blen = n - (size_t) (nl + 1 - p);
    } else {
        body = p;
        blen = n;
    }

    memset(&rq, 0, sizeof(rq));
    rc = lava_request_inspect(&rq, ep, body, blen);
    FUZZ_CHECK(rc == 0 || rc == -1, "inspect result");
    {
        lava_request_t  full;
        int             frc;

        frc = lava_request_inspect_full(&full, ep, body, blen);
        FUZZ_CHECK(rc == frc, "the scanner and jansson disagree on the body");
        FUZZ_CHECK(rq.text_bytes >= full.text_bytes, "prompt text counted short");
        full.text_bytes = rq.text_bytes;
        FUZZ_CHECK(memcmp(&rq, &full, sizeof(rq)) == 0,
                   "the scanner and jansson read different fields");
    }
    FUZZ_CHECK(memchr(rq.model, '\0', sizeof(rq.model)) != NULL, "model not terminated");
    FUZZ_CHECK(rq.tools >= LAVA_TOOLS_OK && rq.tools <= LAVA_TOOLS_STORED_PROMPT,
               "tools result");

    out = malloc(blen + 64);
    FUZZ_CHECK(out != NULL, "malloc");
    out_len = 0;
    rc = lava_request_add_include_usage(body, blen, out, blen + 64, &out_len);
    FUZZ_CHECK(rc >= -1 && rc <= 1, "rewrite result");
    if (rc == 1) {
        FUZZ_CHECK(out_len <= blen + 64, "rewrite length");
        in_doc = json_loadb(body, blen, 0, NULL);
        if (in_doc && json_is_object(in_doc)) {
            doc = json_loadb(out, out_len, 0, NULL);
            FUZZ_CHECK(doc && json_is_object(doc), "rewritten body is not a JSON object");
            v = json_object_get(json_object_get(doc, "stream_options"), "include_usage");
            FUZZ_CHECK(json_is_true(v), "include_usage not true after the rewrite");
            json_decref(doc);
        }
        json_decref(in_doc);
    }
    free(out);
    return 0;
}
