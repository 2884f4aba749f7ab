/*
 * Decoding of stream entries (docs/events.md version 1): a well-formed
 * entry, then one broken field at a time, each of which must be refused.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "event.h"

#define MAXKV  (2 * EVENT_MAX_FIELDS + 4)

typedef struct {
    sv_t    kv[MAXKV];
    size_t  npairs;
} entry_t;

static void
add(entry_t *e, const char *k, const char *v)
{
    e->kv[2 * e->npairs] = (sv_t) { k, strlen(k) };
    e->kv[2 * e->npairs + 1] = (sv_t) { v, strlen(v) };
    e->npairs++;
}

static void
set(entry_t *e, const char *k, const char *v)
{
    size_t i;

    for (i = 0; i < e->npairs; i++) {
        if (strcmp(e->kv[2 * i].p, k) == 0) {
            e->kv[2 * i + 1] = (sv_t) { v, strlen(v) };
            return;
        }
    }
    add(e, k, v);
}

static void
drop(entry_t *e, const char *k)
{
    size_t i;

    for (i = 0; i < e->npairs; i++) {
        if (strcmp(e->kv[2 * i].p, k) == 0) {
            memmove(&e->kv[2 * i], &e->kv[2 * i + 2], (e->npairs - i - 1) * 2 * sizeof(sv_t));
            e->npairs--;
            return;
        }
    }
}

static entry_t
good(void)
{
    entry_t e = { .npairs = 0 };

    add(&e, "v", "1");
    add(&e, "request_id", "req_01JDQ8ZK7X9M4V2T6R3N5P8W0C");
    add(&e, "ts_ms", "1732400000123");
    add(&e, "duration_ms", "842");
    add(&e, "ttfb_ms", "120");
    add(&e, "merchant_id", "mer_acme");
    add(&e, "customer_id", "cus_alice");
    add(&e, "meter", "chat");
    add(&e, "payer", "customer");
    add(&e, "key_source", "managed");
    add(&e, "provider", "openai");
    add(&e, "host", "api.openai.com");
    add(&e, "endpoint", "/v1/chat/completions");
    add(&e, "method", "POST");
    add(&e, "model", "gpt-4o-mini");
    add(&e, "status", "200");
    add(&e, "outcome", "complete");
    add(&e, "stream", "1");
    add(&e, "usage_source", "reported");
    add(&e, "input_tokens", "1000");
    add(&e, "cached_input_tokens", "200");
    add(&e, "output_tokens", "500");
    add(&e, "usage_raw", "{\"prompt_tokens\":1200,\"completion_tokens\":500}");
    add(&e, "metadata", "");
    add(&e, "bytes_out", "4096");
    return e;
}

static int
decode(entry_t *e, event_t *ev, char *err)
{
    memset(ev, 0, sizeof(*ev));
    ev->stream_id = (sv_t) { "1-0", 3 };
    return event_decode(ev, e->kv, e->npairs, err, 256);
}

START_TEST(decodes_a_good_entry)
{
    entry_t e = good();
    event_t ev;
    char    err[256] = "";

    ck_assert_msg(decode(&e, &ev, err) == 0, "decode failed: %s", err);
    ck_assert_int_eq(ev.v, 1);
    ck_assert_int_eq(ev.ts_ms, 1732400000123LL);
    ck_assert_int_eq(ev.duration_ms, 842);
    ck_assert_int_eq(ev.ttfb_ms, 120);
    ck_assert_int_eq(ev.payer, PAYER_CUSTOMER);
    ck_assert_int_eq(ev.key_source, KEY_MANAGED);
    ck_assert_int_eq(ev.outcome, OUTCOME_COMPLETE);
    ck_assert_int_eq(ev.usage_source, USAGE_REPORTED);
    ck_assert_int_eq(ev.status, 200);
    ck_assert_int_eq(ev.stream, 1);
    ck_assert_int_eq(ev.usage.input_tokens, 1000);
    ck_assert_int_eq(ev.usage.cached_input_tokens, 200);
    ck_assert_int_eq(ev.usage.output_tokens, 500);
    ck_assert_int_eq(ev.usage.reasoning_tokens, 0);
    ck_assert_int_eq(ev.bytes_out, 4096);
    ck_assert_int_eq(ev.metadata.n, 0);              /* empty means absent */
    ck_assert_int_eq(ev.stream_id.n, 3);              /* kept from the caller */
    ck_assert_int_eq(ev.model.n, 11);
    ck_assert(memcmp(ev.model.p, "gpt-4o-mini", 11) == 0);
}
END_TEST

START_TEST(optional_fields_may_be_absent)
{
    entry_t e = good();
    event_t ev;
    char    err[256];

    drop(&e, "ttfb_ms");
    drop(&e, "bytes_out");
    drop(&e, "input_tokens");
    set(&e, "customer_id", "");
    set(&e, "meter", "");
    set(&e, "payer", "merchant");
    ck_assert_msg(decode(&e, &ev, err) == 0, "decode failed: %s", err);
    ck_assert_int_eq(ev.ttfb_ms, -1);
    ck_assert_int_eq(ev.bytes_out, -1);
    ck_assert_int_eq(ev.usage.input_tokens, 0);
    ck_assert_int_eq(ev.payer, PAYER_MERCHANT);

    /* refused before auth: nobody, nothing */
    e = good();
    set(&e, "payer", "none");
    set(&e, "key_source", "none");
    set(&e, "merchant_id", "");
    set(&e, "customer_id", "");
    set(&e, "outcome", "refused");
    set(&e, "status", "401");
    set(&e, "usage_source", "none");
    ck_assert_msg(decode(&e, &ev, err) == 0, "decode failed: %s", err);
    ck_assert_int_eq(ev.outcome, OUTCOME_REFUSED);
}
END_TEST

START_TEST(unknown_fields_are_ignored)
{
    entry_t e = good();
    event_t ev;
    char    err[256];

    add(&e, "some_later_field", "x");
    ck_assert_int_eq(decode(&e, &ev, err), 0);
}
END_TEST

/* One broken variant per row: field, value (NULL: drop it), reason fragment. */
static const struct {
    const char *field, *value, *reason;
} bad[] = {
    { "v",            "3",                               "unknown event version" },
    { "v",            NULL,                              "field v is missing" },
    { "request_id",   "req_01JDQ8ZK7X9M4V2T6R3N5P8W0",   "malformed request_id" },
    { "request_id",   "req_01JDQ8ZK7X9M4V2T6R3N5P8W0U",  "malformed request_id" },  /* U not Crockford */
    { "request_id",   "req_01jdq8zk7x9m4v2t6r3n5p8w0c",  "malformed request_id" },
    { "request_id",   NULL,                              "request_id is missing" },
    { "ts_ms",        "-1",                              "not a non-negative integer" },
    { "ts_ms",        "+5",                              "not a non-negative integer" },
    { "ts_ms",        "1e3",                             "not a non-negative integer" },
    { "ts_ms",        " 5",                              "not a non-negative integer" },
    { "ts_ms",        "9223372036854775808",             "not a non-negative integer" },
    { "ts_ms",        "99999999999999999",               "after the year 9999" },
    { "ts_ms",        "",                                "ts_ms is empty" },
    { "duration_ms",  NULL,                              "duration_ms is missing" },
    { "input_tokens", "12.5",                            "not a non-negative integer" },
    { "status",       "99",                              "not an http status" },
    { "status",       "600",                             "not an http status" },
    { "payer",        "wallet",                          "unknown value" },
    { "payer",        "",                                "payer is empty" },
    { "key_source",   "mine",                            "unknown value" },
    { "outcome",      "ok",                              "unknown value" },
    { "usage_source", "guessed",                         "unknown value" },
    { "stream",       "true",                            "not 0 or 1" },
    { "merchant_id",  "mer acme",                        "is not an id" },
    { "customer_id",  "cus/alice",                       "is not an id" },
    { "customer_id",  "",                                "payer customer without" },
    { "method",       "",                                "method is empty" },
    { "error",        "an error code much longer than sixty-four bytes is not an error code", "longer than" },
};

START_TEST(refuses_bad_fields)
{
    entry_t e = good();
    event_t ev;
    char    err[256] = "";

    if (bad[_i].value == NULL) {
        drop(&e, bad[_i].field);
    } else {
        set(&e, bad[_i].field, bad[_i].value);
    }
    ck_assert_msg(decode(&e, &ev, err) == -1, "%s=%s was accepted", bad[_i].field,
                  bad[_i].value ? bad[_i].value : "(absent)");
    ck_assert_msg(strstr(err, bad[_i].reason) != NULL, "%s: reason \"%s\" lacks \"%s\"",
                  bad[_i].field, err, bad[_i].reason);
}
END_TEST

START_TEST(refuses_duplicate_fields)
{
    entry_t e = good();
    event_t ev;
    char    err[256];

    add(&e, "output_tokens", "1");
    ck_assert_int_eq(decode(&e, &ev, err), -1);
    ck_assert_ptr_nonnull(strstr(err, "appears twice"));
}
END_TEST

START_TEST(refuses_bytes_postgres_cannot_store)
{
    static const char nul[] = { 'g', 'p', 't', '\0', 'x' };
    entry_t e = good();
    event_t ev;
    char    err[256];

    /* a NUL byte */
    e.kv[2 * 14 + 1] = (sv_t) { nul, sizeof(nul) };
    ck_assert_int_eq(decode(&e, &ev, err), -1);
    ck_assert_ptr_nonnull(strstr(err, "utf-8"));

    /* invalid UTF-8: a lone continuation byte, an overlong '/', a surrogate */
    e = good();
    set(&e, "model", "gpt\x80");
    ck_assert_int_eq(decode(&e, &ev, err), -1);
    set(&e, "model", "\xc0\xaf");
    ck_assert_int_eq(decode(&e, &ev, err), -1);
    set(&e, "model", "\xed\xa0\x80");
    ck_assert_int_eq(decode(&e, &ev, err), -1);
    /* valid multi-byte text is fine */
    set(&e, "model", "mod\xc3\xa8le-\xe2\x82\xac-\xf0\x9f\x98\x80");
    ck_assert_msg(decode(&e, &ev, err) == 0, "decode failed: %s", err);
}
END_TEST

START_TEST(hash_ignores_order_and_sees_every_change)
{
    entry_t       e = good(), r = good(), c = good();
    event_t       ev;
    unsigned char h1[EVENT_HASH_LEN], h2[EVENT_HASH_LEN];
    size_t        i;
    char          err[256];

    ck_assert_int_eq(decode(&e, &ev, err), 0);
    memcpy(h1, ev.hash, sizeof(h1));

    /* the same fields in reverse order */
    for (i = 0; i < e.npairs; i++) {
        r.kv[2 * i] = e.kv[2 * (e.npairs - 1 - i)];
        r.kv[2 * i + 1] = e.kv[2 * (e.npairs - 1 - i) + 1];
    }
    ck_assert_int_eq(decode(&r, &ev, err), 0);
    ck_assert(memcmp(h1, ev.hash, sizeof(h1)) == 0);

    /* one digit changed */
    set(&c, "output_tokens", "501");
    ck_assert_int_eq(decode(&c, &ev, err), 0);
    memcpy(h2, ev.hash, sizeof(h2));
    ck_assert(memcmp(h1, h2, sizeof(h1)) != 0);

    /* a value moved across the field boundary: "ab"+"c" vs "a"+"bc" */
    c = good();
    add(&c, "xa", "bc");
    ck_assert_int_eq(decode(&c, &ev, err), 0);
    memcpy(h1, ev.hash, sizeof(h1));
    c = good();
    add(&c, "xab", "c");
    ck_assert_int_eq(decode(&c, &ev, err), 0);
    ck_assert(memcmp(h1, ev.hash, sizeof(h1)) != 0);
}
END_TEST

START_TEST(refuses_empty_and_oversized_entries)
{
    entry_t e = { .npairs = 0 };
    event_t ev;
    char    err[256];
    size_t  i;

    ck_assert_int_eq(decode(&e, &ev, err), -1);

    e = good();
    for (i = e.npairs; i <= EVENT_MAX_FIELDS; i++) {
        add(&e, "x", "y");
    }
    ck_assert_int_eq(decode(&e, &ev, err), -1);
    ck_assert_ptr_nonnull(strstr(err, "more than"));
}
END_TEST

Suite *
make_suite(void)
{
    Suite *s = suite_create("event");
    TCase *tc = tcase_create("decode");

    tcase_add_test(tc, decodes_a_good_entry);
    tcase_add_test(tc, optional_fields_may_be_absent);
    tcase_add_test(tc, unknown_fields_are_ignored);
    tcase_add_loop_test(tc, refuses_bad_fields, 0, (int) (sizeof(bad) / sizeof(bad[0])));
    tcase_add_test(tc, refuses_duplicate_fields);
    tcase_add_test(tc, refuses_bytes_postgres_cannot_store);
    tcase_add_test(tc, hash_ignores_order_and_sees_every_change);
    tcase_add_test(tc, refuses_empty_and_oversized_entries);
    suite_add_tcase(s, tc);
    return s;
}
