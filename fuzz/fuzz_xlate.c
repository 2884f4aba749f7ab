/*
 * JSON body translation (lib/lava_xlate*.c): a client's request, a
 * provider's response or error body, in any of the three shapes, into any
 * other. Input: one control byte (kind = c & 3: 0 request, 1 response,
 * 2 error, 3 request with a Gemini client's stream flag; from = (c >> 2)
 * % 3; to = (c >> 4) % 3), one byte for the error status (400 + b), then
 * the body. Checks: no crash or leak; a success is one JSON object of
 * exactly len bytes in the target's shape (Anthropic bodies carry model and
 * max_tokens, Gemini bodies neither model nor stream, an error body the
 * client's error members); a failure leaves no output and says why in
 * printable ASCII without quotes or backslashes; error bodies always
 * translate. Requests and responses are translated a second time with the
 * fast path off (lib/lava_xlate_fast.c): the same result, byte for byte.
 */
#define _GNU_SOURCE
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "lava_xlate.h"
#include "lava_xlate_int.h"
#include "lava_xlate_same.h"


/* the same call with the fast path off: the same return code and bytes */
static void
fuzz_xlate_general(int kind, lava_fmt_e from, lava_fmt_e to,
    const char *body, size_t len, int stream, int rc,
    const lava_xlate_buf_t *out)
{
    int                    rc2;
    lava_xlate_buf_t       out2;
    lava_xlate_req_info_t  info2;
    char                   err2[256];

    lava_xlate_fast_on = 0;

    if (kind == 0) {
        rc2 = lava_xlate_request(from, to, body, len,
                                 from == LAVA_FMT_GEMINI ? "m" : NULL, &out2,
                                 err2, sizeof(err2));
    } else if (kind == 3) {
        info2.stream = stream;
        rc2 = lava_xlate_request_info(from, to, body, len, "m", &info2, &out2,
                                      err2, sizeof(err2));
    } else {
        rc2 = lava_xlate_response(from, to, body, len, &out2, err2,
                                  sizeof(err2));
    }

    lava_xlate_fast_on = 1;

    FUZZ_CHECK(rc2 == rc, "the fast path and the general path agree");
    FUZZ_CHECK(rc != 0 || lava_xlate_same(out2.data, out2.len, out->data,
                                          out->len),
               "the fast path writes what the general path writes");
    free(out2.data);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                    kind, rc, status;
    lava_fmt_e             from, to;
    lava_xlate_buf_t       out;
    lava_xlate_req_info_t  info;
    const char            *body;
    size_t                 len;
    char                   err[256];
    json_t                *j, *e;

    if (size < 2) {
        return 0;
    }

    kind = data[0] & 3;
    from = (lava_fmt_e) ((data[0] >> 2) % 3);
    to = (lava_fmt_e) ((data[0] >> 4) % 3);
    status = 400 + data[1];
    body = (const char *) data + 2;
    len = size - 2;
    err[0] = '\0';

    switch (kind) {
    case 0:
        rc = lava_xlate_request(from, to, body, len,
                                from == LAVA_FMT_GEMINI ? "m" : NULL, &out,
                                err, sizeof(err));
        break;
    case 3:
        info.stream = data[1] & 1;
        rc = lava_xlate_request_info(from, to, body, len, "m", &info, &out,
                                     err, sizeof(err));
        FUZZ_CHECK(rc != 0 || info.stream == (data[1] & 1),
                   "stream flag from the URL kept");
        FUZZ_CHECK(memchr(info.model, '\0', sizeof(info.model)) != NULL,
                   "model terminated");
        break;
    case 1:
        rc = lava_xlate_response(from, to, body, len, &out, err, sizeof(err));
        break;
    default:
        rc = lava_xlate_error(from, to, status, body, len, &out);
        FUZZ_CHECK(rc == 0, "an error body always translates");
        break;
    }

    if (kind != 2) {
        fuzz_xlate_general(kind, from, to, body, len, data[1] & 1, rc, &out);
    }

    if (rc != 0) {
        FUZZ_CHECK(rc == -1, "return code");
        FUZZ_CHECK(out.data == NULL && out.len == 0, "no output on failure");
        FUZZ_CHECK(err[0] != '\0', "a failure says why");
        for (len = 0; err[len] != '\0'; len++) {
            FUZZ_CHECK(err[len] >= 0x20 && err[len] <= 0x7e && err[len] != '"'
                       && err[len] != '\\', "err is safe in JSON");
        }
        return 0;
    }

    FUZZ_CHECK(out.data != NULL, "output");
    j = json_loadb(out.data, out.len, 0, NULL);

    if (from == to && kind != 2) {
        /* the body as sent (with the model replaced): still an object */
        FUZZ_CHECK(json_is_object(j), "same-format output is an object");

    } else if (kind == 2) {
        FUZZ_CHECK(json_is_object(j), "error output is an object");
        if (from != to) {
            e = json_object_get(j, "error");
            FUZZ_CHECK(json_is_string(json_object_get(e, "message")),
                       "error message");
            if (to == LAVA_FMT_ANTHROPIC) {
                FUZZ_CHECK(json_is_string(json_object_get(j, "type")),
                           "anthropic error type");
            }
            if (to == LAVA_FMT_GEMINI) {
                FUZZ_CHECK(json_integer_value(json_object_get(e, "code"))
                           == status, "gemini error code is the status");
            }
        }

    } else {
        FUZZ_CHECK(json_is_object(j), "output is an object");
        FUZZ_CHECK(strlen(out.data) == out.len, "length");

        if (kind != 1 && to == LAVA_FMT_ANTHROPIC) {
            FUZZ_CHECK(json_is_string(json_object_get(j, "model"))
                       && json_is_integer(json_object_get(j, "max_tokens")),
                       "anthropic request has model and max_tokens");
        }
        if (kind != 1 && to == LAVA_FMT_GEMINI) {
            FUZZ_CHECK(json_object_get(j, "model") == NULL
                       && json_object_get(j, "stream") == NULL,
                       "gemini request has no model or stream member");
        }
        if (kind == 1 && to == LAVA_FMT_OPENAI) {
            FUZZ_CHECK(json_is_array(json_object_get(j, "choices")),
                       "openai response has choices");
        }
    }

    json_decref(j);
    free(out.data);
    return 0;
}
