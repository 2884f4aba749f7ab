/*
 * Version 2 stream entries (docs/events.md, "Version 2"): the payload codec
 * of lib/lava_event_v2.c, and the sidecar's decoding of a version 2 entry
 * into the same event, with the same content hash, as the version 1 entry
 * it stands for.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "event.h"
#include "lava_event_v2.h"

#define MAXKV  (2 * EVENT_MAX_FIELDS + 4)

typedef struct {
    const char  *argv[MAXKV];
    size_t       argvlen[MAXKV];
    size_t       argc;
} args_t;

static void
arg(args_t *a, const char *k, const char *v)
{
    a->argv[a->argc] = k;
    a->argvlen[a->argc++] = strlen(k);
    a->argv[a->argc] = v;
    a->argvlen[a->argc++] = strlen(v);
}

/* the version 1 entry of check_event.c's good() */
static args_t
v1(void)
{
    args_t a = { .argc = 0 };

    arg(&a, "v", "1");
    arg(&a, "request_id", "req_01JDQ8ZK7X9M4V2T6R3N5P8W0C");
    arg(&a, "ts_ms", "1732400000123");
    arg(&a, "duration_ms", "842");
    arg(&a, "ttfb_ms", "120");
    arg(&a, "merchant_id", "mer_acme");
    arg(&a, "customer_id", "cus_alice");
    arg(&a, "meter", "chat");
    arg(&a, "payer", "customer");
    arg(&a, "key_source", "managed");
    arg(&a, "provider", "openai");
    arg(&a, "host", "api.openai.com");
    arg(&a, "endpoint", "/v1/chat/completions");
    arg(&a, "method", "POST");
    arg(&a, "model", "gpt-4o-mini");
    arg(&a, "status", "200");
    arg(&a, "outcome", "complete");
    arg(&a, "stream", "1");
    arg(&a, "usage_source", "reported");
    arg(&a, "input_tokens", "1000");
    arg(&a, "cached_input_tokens", "200");
    arg(&a, "output_tokens", "500");
    arg(&a, "usage_raw", "{\"prompt_tokens\":1200,\n\"completion_tokens\":500}");
    arg(&a, "metadata", "{\"k\":\"a:1:b\\n\"}");
    arg(&a, "bytes_out", "4096");
    return a;
}

static int
decode_args(const args_t *a, event_t *ev, char *err)
{
    sv_t    kv[MAXKV];
    size_t  i;

    for (i = 0; i < a->argc; i++) {
        kv[i] = (sv_t) { a->argv[i], a->argvlen[i] };
    }
    memset(ev, 0, sizeof(*ev));
    ev->stream_id = (sv_t) { "1-0", 3 };
    return event_decode(ev, kv, a->argc / 2, err, 256);
}

/* the version 2 entry of a version 1 one, as ngx_http_lava_event_v2.c
 * writes it; payload in buf */
static args_t
v2_of(args_t *a, char *buf)
{
    args_t  e = { .argc = 0 };
    size_t  n;

    n = lava_event_v2_size(a->argc, a->argv, a->argvlen);
    ck_assert_uint_eq(lava_event_v2_pack(buf, a->argc, a->argv, a->argvlen), n);
    buf[n] = '\0';
    arg(&e, "v", "2");
    arg(&e, "request_id", a->argv[3]);
    arg(&e, "e", buf);
    return e;
}

START_TEST(pack_and_read_back)
{
    args_t       a = v1();
    char         buf[4096];
    const char  *name, *value;
    size_t       nlen, vlen, i, n;
    lava_event_v2_reader_t rd;

    arg(&a, "tap_flags", "");                /* empty: left out */
    n = lava_event_v2_pack(buf, a.argc, a.argv, a.argvlen);
    ck_assert_uint_eq(n, lava_event_v2_size(a.argc, a.argv, a.argvlen));
    ck_assert(memcmp(buf, "ts_ms:13:1732400000123\nduration_ms:3:842\n", 41) == 0);

    lava_event_v2_reader_init(&rd, buf, n);
    /* v and request_id are not in the payload; the rest in order */
    for (i = 4; i + 1 < a.argc; i += 2) {
        if (a.argvlen[i + 1] == 0) {
            continue;
        }
        ck_assert_int_eq(lava_event_v2_next(&rd, &name, &nlen, &value, &vlen), 1);
        ck_assert(nlen == a.argvlen[i] && memcmp(name, a.argv[i], nlen) == 0);
        ck_assert(vlen == a.argvlen[i + 1] && memcmp(value, a.argv[i + 1], vlen) == 0);
    }
    ck_assert_int_eq(lava_event_v2_next(&rd, &name, &nlen, &value, &vlen), 0);
    ck_assert_int_eq(lava_event_v2_next(&rd, &name, &nlen, &value, &vlen), 0);
}
END_TEST

/* one broken payload per row, and the error it gives */
static const struct {
    const char           *payload;
    lava_event_v2_err_e   err;
} bad[] = {
    { ":1:x\n",                   LAVA_EVENT_V2_BAD_NAME },
    { "Model:1:x\n",              LAVA_EVENT_V2_BAD_NAME },
    { "mo del:1:x\n",             LAVA_EVENT_V2_BAD_NAME },
    { "abcdefghijklmnopqrstuvwxyz0123456:1:x\n", LAVA_EVENT_V2_BAD_NAME },   /* 33 */
    { "model",                    LAVA_EVENT_V2_TRUNCATED },
    { "model:",                   LAVA_EVENT_V2_TRUNCATED },
    { "model::x\n",               LAVA_EVENT_V2_BAD_LENGTH },
    { "model:01:x\n",             LAVA_EVENT_V2_BAD_LENGTH },
    { "model:-1:x\n",             LAVA_EVENT_V2_BAD_LENGTH },
    { "model:1x:x\n",             LAVA_EVENT_V2_BAD_LENGTH },
    { "model:123456:x\n",         LAVA_EVENT_V2_BAD_LENGTH },
    { "model:65537:x\n",          LAVA_EVENT_V2_BAD_LENGTH },
    { "model:2:x\n",              LAVA_EVENT_V2_TRUNCATED },   /* "x\n" is 2 bytes, no end */
    { "model:3:x\n",              LAVA_EVENT_V2_TRUNCATED },
    { "model:1:xy",               LAVA_EVENT_V2_BAD_END },
    { "model:1:x\nstatus:3:200",  LAVA_EVENT_V2_TRUNCATED },
    { "model:1:x\n\n",            LAVA_EVENT_V2_BAD_NAME },
};

START_TEST(refuses_bad_payloads)
{
    const char  *name, *value;
    size_t       nlen, vlen;
    int          rc;
    lava_event_v2_reader_t rd;

    lava_event_v2_reader_init(&rd, bad[_i].payload, strlen(bad[_i].payload));
    do {
        rc = lava_event_v2_next(&rd, &name, &nlen, &value, &vlen);
    } while (rc == 1);
    ck_assert_msg(rc == -1, "payload %zu was accepted", (size_t) _i);
    ck_assert_msg(rd.err == bad[_i].err, "payload %zu: error %d (%s), expected %d",
                  (size_t) _i, rd.err, lava_event_v2_strerror(rd.err), bad[_i].err);
    /* sticky */
    ck_assert_int_eq(lava_event_v2_next(&rd, &name, &nlen, &value, &vlen), -1);
}
END_TEST

START_TEST(refuses_oversized_payload)
{
    char   *big = malloc(LAVA_EVENT_V2_MAX + 1);
    lava_event_v2_reader_t rd;

    ck_assert_ptr_nonnull(big);
    memset(big, 'a', LAVA_EVENT_V2_MAX + 1);
    lava_event_v2_reader_init(&rd, big, LAVA_EVENT_V2_MAX + 1);
    ck_assert_int_eq(rd.err, LAVA_EVENT_V2_TOO_LARGE);
    free(big);
}
END_TEST

START_TEST(v2_decodes_as_its_v1_entry)
{
    args_t   a = v1(), b;
    char     buf[4096], err[256] = "";
    event_t  e1, e2;

    ck_assert_msg(decode_args(&a, &e1, err) == 0, "v1: %s", err);
    b = v2_of(&a, buf);
    ck_assert_msg(decode_args(&b, &e2, err) == 0, "v2: %s", err);

    /* the same event: every member but the pointers into the entry */
    ck_assert_int_eq(e2.v, 1);
    ck_assert(memcmp(e1.hash, e2.hash, EVENT_HASH_LEN) == 0);
    ck_assert_int_eq(e2.ts_ms, e1.ts_ms);
    ck_assert_int_eq(e2.duration_ms, 842);
    ck_assert_int_eq(e2.ttfb_ms, 120);
    ck_assert_int_eq(e2.payer, PAYER_CUSTOMER);
    ck_assert_int_eq(e2.status, 200);
    ck_assert_int_eq(e2.stream, 1);
    ck_assert_int_eq(e2.usage.input_tokens, 1000);
    ck_assert_int_eq(e2.usage.cached_input_tokens, 200);
    ck_assert_int_eq(e2.usage.output_tokens, 500);
    ck_assert_int_eq(e2.bytes_out, 4096);
    ck_assert(e2.request_id.n == 30 && memcmp(e2.request_id.p, e1.request_id.p, 30) == 0);
    ck_assert(e2.usage_raw.n == e1.usage_raw.n
              && memcmp(e2.usage_raw.p, e1.usage_raw.p, e1.usage_raw.n) == 0);
    ck_assert(e2.metadata.n == e1.metadata.n
              && memcmp(e2.metadata.p, e1.metadata.p, e1.metadata.n) == 0);
    ck_assert(e2.model.n == 11 && memcmp(e2.model.p, "gpt-4o-mini", 11) == 0);
    ck_assert_int_eq(e2.stream_id.n, 3);
}
END_TEST

/* a field the sidecar does not know (a row a newer module has): skipped but
 * hashed, exactly as in version 1 */
START_TEST(unknown_packed_fields_are_hashed)
{
    args_t   a = v1(), b;
    char     buf[4096], err[256] = "";
    event_t  e1, e2;

    arg(&a, "spend_key_id", "spk_01JDQ8ZK7X9M4V2T6R3N5P8W0C");
    ck_assert_msg(decode_args(&a, &e1, err) == 0, "v1: %s", err);
    b = v2_of(&a, buf);
    ck_assert_msg(decode_args(&b, &e2, err) == 0, "v2: %s", err);
    ck_assert(memcmp(e1.hash, e2.hash, EVENT_HASH_LEN) == 0);

    a = v1();
    ck_assert_msg(decode_args(&a, &e1, err) == 0, "v1: %s", err);
    ck_assert(memcmp(e1.hash, e2.hash, EVENT_HASH_LEN) != 0);
}
END_TEST

START_TEST(v2_refusals)
{
    args_t   a = v1(), b;
    char     buf[4096], buf2[4096], err[256];
    event_t  ev;
    size_t   n;

    /* no payload */
    b = v2_of(&a, buf);
    b.argc -= 2;
    ck_assert_int_eq(decode_args(&b, &ev, err), -1);
    ck_assert_ptr_nonnull(strstr(err, "field e is missing"));

    /* two payloads */
    b = v2_of(&a, buf);
    arg(&b, "e", buf);
    ck_assert_int_eq(decode_args(&b, &ev, err), -1);
    ck_assert_ptr_nonnull(strstr(err, "field e appears twice"));

    /* a payload that does not parse, cut in the middle of a value */
    b = v2_of(&a, buf);
    n = strlen(buf);
    memcpy(buf2, buf, n - 5);
    buf2[n - 5] = '\0';
    b.argv[5] = buf2;
    b.argvlen[5] = n - 5;
    ck_assert_int_eq(decode_args(&b, &ev, err), -1);
    ck_assert_ptr_nonnull(strstr(err, "field e: payload ends inside a field"));

    /* a field both outside and inside the payload */
    b = v2_of(&a, buf);
    arg(&b, "status", "200");
    ck_assert_int_eq(decode_args(&b, &ev, err), -1);
    ck_assert_ptr_nonnull(strstr(err, "field status appears twice"));

    /* v inside the payload */
    b = v2_of(&a, buf);
    snprintf(buf2, sizeof(buf2), "%sv:1:2\n", buf);
    b.argv[5] = buf2;
    b.argvlen[5] = strlen(buf2);
    ck_assert_int_eq(decode_args(&b, &ev, err), -1);
    ck_assert_ptr_nonnull(strstr(err, "field v appears twice"));

    /* a packed value refused as version 1 refuses it */
    a = v1();
    a.argv[31] = "99";                       /* status */
    a.argvlen[31] = 2;
    ck_assert_str_eq(a.argv[30], "status");
    b = v2_of(&a, buf);
    ck_assert_int_eq(decode_args(&b, &ev, err), -1);
    ck_assert_ptr_nonnull(strstr(err, "not an http status"));

    /* no request id anywhere */
    a = v1();
    b = v2_of(&a, buf);
    b.argv[2] = "x";
    b.argvlen[2] = 1;
    ck_assert_int_eq(decode_args(&b, &ev, err), -1);
    ck_assert_ptr_nonnull(strstr(err, "request_id is missing"));

    /* a NUL byte in a packed value */
    a = v1();
    b = v2_of(&a, buf);
    n = strlen(buf);
    memcpy(buf2, buf, n + 1);
    *strstr(buf2, "gpt-4o-mini") = '\0';
    b.argv[5] = buf2;
    b.argvlen[5] = n;
    ck_assert_int_eq(decode_args(&b, &ev, err), -1);
    ck_assert_ptr_nonnull(strstr(err, "utf-8"));
}
END_TEST

Suite *
make_suite(void)
{
    Suite *s = suite_create("event_v2");
    TCase *tc = tcase_create("v2");

    tcase_add_test(tc, pack_and_read_back);
    tcase_add_loop_test(tc, refuses_bad_payloads, 0, (int) (sizeof(bad) / sizeof(bad[0])));
    tcase_add_test(tc, refuses_oversized_payload);
    tcase_add_test(tc, v2_decodes_as_its_v1_entry);
    tcase_add_test(tc, unknown_packed_fields_are_hashed);
    tcase_add_test(tc, v2_refusals);
    suite_add_tcase(s, tc);
    return s;
}
