/*
 * Spool records (lib/lava_spool_record.c): what the writer encodes the
 * reader gives back, byte for byte; a record read back from a damaged file
 * is refused with the reason the spool logs (cut short at every byte,
 * lengths over the bound, every checksum byte, argc and string lengths that
 * do not fill the payload), and nothing is read outside the bytes given.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "lava_spool_record.h"


typedef struct {
    size_t        argc;
    const char   *argv[LAVA_SPOOL_ARGS_MAX];
    size_t        argvlen[LAVA_SPOOL_ARGS_MAX];
} rec_t;


/* an event as log.c spools it (docs/events.md field names) */
static const char  *event[] = {
    "v", "1",
    "request_id", "req_01JDQ8ZK7X9M4V2T6R3N5P8W0C",
    "ts_ms", "1732400000123",
    "merchant_id", "mer_5a1f0c2e9b7d4a3c8e6f1b2d",
    "customer_id", "cus_0b7e2d4f6a8c1e3b5d7f9a2c",
    "provider", "openai",
    "model", "gpt-4o-mini",
    "input_tokens", "1000",
    "usage_raw", "{\"prompt_tokens\":1200,\"completion_tokens\":500}",
    "tap_flags", "",
};

#define EVENT_ARGC  (sizeof(event) / sizeof(event[0]))


static size_t
encode(unsigned char **buf, size_t argc, const char **argv)
{
    size_t  i, size, argvlen[LAVA_SPOOL_ARGS_MAX + 2];

    for (i = 0; i < argc; i++) {
        argvlen[i] = strlen(argv[i]);
    }

    size = lava_spool_record_size(argc, argvlen);
    *buf = malloc(size);
    ck_assert_ptr_nonnull(*buf);
    ck_assert_uint_eq(lava_spool_record_encode(*buf, argc, argv, argvlen),
                      size);

    return size;
}


/* parse from an exact-size copy of the first n bytes */
static int
parse(const unsigned char *p, size_t n, size_t *need, rec_t *r)
{
    int             rc;
    unsigned char  *copy;

    copy = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, p, n);

    rc = lava_spool_record_parse(copy, n, need, &r->argc, r->argv,
                                 r->argvlen);

    /* the strings pointed into the copy */
    free(copy);

    return rc;
}


static void
put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char) v;
    p[1] = (unsigned char) (v >> 8);
    p[2] = (unsigned char) (v >> 16);
    p[3] = (unsigned char) (v >> 24);
}


/* a record with this payload and a right checksum */
static size_t
raw(unsigned char *buf, const unsigned char *payload, size_t len)
{
    put32(buf, (uint32_t) len);
    put32(buf + 4, lava_spool_crc32(payload, len));
    memcpy(buf + LAVA_SPOOL_REC_HDR, payload, len);

    return LAVA_SPOOL_REC_HDR + len;
}


START_TEST(test_crc32)
{
    /* the common CRC-32 check value: the one nginx and zlib compute, so
     * files written before the code moved are read back */
    ck_assert_uint_eq(lava_spool_crc32((const unsigned char *) "123456789", 9),
                      0xcbf43926u);
    ck_assert_uint_eq(lava_spool_crc32((const unsigned char *) "", 0), 0);
    ck_assert_uint_eq(lava_spool_crc32((const unsigned char *) "a", 1),
                      0xe8b7be43u);
}
END_TEST


START_TEST(test_roundtrip)
{
    int             rc;
    rec_t           r;
    size_t          i, size, need;
    unsigned char  *buf;

    size = encode(&buf, EVENT_ARGC, event);

    rc = lava_spool_record_parse(buf, size, &need, &r.argc, r.argv, r.argvlen);
    ck_assert_int_eq(rc, LAVA_SPOOL_REC_OK);
    ck_assert_uint_eq(need, size);
    ck_assert_uint_eq(r.argc, EVENT_ARGC);

    for (i = 0; i < EVENT_ARGC; i++) {
        ck_assert_uint_eq(r.argvlen[i], strlen(event[i]));
        ck_assert_int_eq(memcmp(r.argv[i], event[i], r.argvlen[i]), 0);
        ck_assert(r.argv[i] >= (const char *) buf
                  && r.argv[i] + r.argvlen[i] <= (const char *) buf + size);
    }

    /* bytes after the record are the next one's: not read */
    buf = realloc(buf, size + 3);
    ck_assert_ptr_nonnull(buf);
    memcpy(buf + size, "xyz", 3);
    ck_assert_int_eq(parse(buf, size + 3, &need, &r), LAVA_SPOOL_REC_OK);
    ck_assert_uint_eq(need, size);

    free(buf);

    /* an event of no strings at all is a record too */
    size = encode(&buf, 0, NULL);
    ck_assert_uint_eq(size, LAVA_SPOOL_REC_HDR + 4);
    ck_assert_int_eq(parse(buf, size, &need, &r), LAVA_SPOOL_REC_OK);
    ck_assert_uint_eq(r.argc, 0);
    free(buf);
}
END_TEST


START_TEST(test_truncated)
{
    rec_t           r;
    size_t          n, size, need;
    unsigned char  *buf;

    size = encode(&buf, EVENT_ARGC, event);

    for (n = 0; n < size; n++) {
        ck_assert_int_eq(parse(buf, n, &need, &r), LAVA_SPOOL_REC_AGAIN);
        ck_assert_uint_eq(need, n < LAVA_SPOOL_REC_HDR ? LAVA_SPOOL_REC_HDR
                                                       : size);
        ck_assert_uint_eq(r.argc, 0);
    }

    free(buf);
}
END_TEST


START_TEST(test_lengths)
{
    rec_t          r;
    size_t         need;
    uint32_t       len;
    unsigned char  hdr[LAVA_SPOOL_REC_HDR];

    memset(hdr, 0, sizeof(hdr));

    /* below 4 (no room for argc): the zeros of a torn write */
    for (len = 0; len < 4; len++) {
        put32(hdr, len);
        ck_assert_int_eq(parse(hdr, sizeof(hdr), &need, &r),
                         LAVA_SPOOL_REC_TORN);
    }

    put32(hdr, LAVA_SPOOL_RECORD_MAX);
    ck_assert_int_eq(parse(hdr, sizeof(hdr), &need, &r), LAVA_SPOOL_REC_AGAIN);
    ck_assert_uint_eq(need, LAVA_SPOOL_REC_HDR + LAVA_SPOOL_RECORD_MAX);

    put32(hdr, LAVA_SPOOL_RECORD_MAX + 1);
    ck_assert_int_eq(parse(hdr, sizeof(hdr), &need, &r),
                     LAVA_SPOOL_REC_BAD_LENGTH);
    put32(hdr, UINT32_MAX);
    ck_assert_int_eq(parse(hdr, sizeof(hdr), &need, &r),
                     LAVA_SPOOL_REC_BAD_LENGTH);

    ck_assert_str_eq(lava_spool_record_strerror(LAVA_SPOOL_REC_TORN),
                     "record cut short");
    ck_assert_str_eq(lava_spool_record_strerror(LAVA_SPOOL_REC_AGAIN),
                     "record cut short");
    ck_assert_str_eq(lava_spool_record_strerror(LAVA_SPOOL_REC_BAD_LENGTH),
                     "bad record length");
    ck_assert_str_eq(lava_spool_record_strerror(LAVA_SPOOL_REC_BAD_CHECKSUM),
                     "bad checksum");
    ck_assert_str_eq(lava_spool_record_strerror(LAVA_SPOOL_REC_BAD_RECORD),
                     "bad record");
}
END_TEST


START_TEST(test_checksum)
{
    rec_t           r;
    size_t          i, size, need;
    unsigned char  *buf;

    size = encode(&buf, EVENT_ARGC, event);

    /* any payload byte or checksum byte changed */
    for (i = 4; i < size; i++) {
        buf[i] ^= 0x20;
        ck_assert_msg(parse(buf, size, &need, &r)
                      == LAVA_SPOOL_REC_BAD_CHECKSUM, "byte %zu", i);
        buf[i] ^= 0x20;
    }

    ck_assert_int_eq(parse(buf, size, &need, &r), LAVA_SPOOL_REC_OK);
    free(buf);
}
END_TEST


START_TEST(test_bad_payload)
{
    rec_t          r;
    size_t         i, n, need;
    unsigned char  buf[4096], pl[2048];

    /* argc odd */
    put32(pl, 1);
    put32(pl + 4, 1);
    pl[8] = 'v';
    n = raw(buf, pl, 9);
    ck_assert_int_eq(parse(buf, n, &need, &r), LAVA_SPOOL_REC_BAD_RECORD);

    /* argc over the bound, and argc that the payload cannot hold */
    put32(pl, LAVA_SPOOL_ARGS_MAX + 2);
    n = raw(buf, pl, 4);
    ck_assert_int_eq(parse(buf, n, &need, &r), LAVA_SPOOL_REC_BAD_RECORD);
    put32(pl, UINT32_MAX - 1);
    n = raw(buf, pl, 4);
    ck_assert_int_eq(parse(buf, n, &need, &r), LAVA_SPOOL_REC_BAD_RECORD);
    put32(pl, 2);
    n = raw(buf, pl, 4);
    ck_assert_int_eq(parse(buf, n, &need, &r), LAVA_SPOOL_REC_BAD_RECORD);

    /* a string length past the payload, by one and by a lot */
    put32(pl, 2);
    put32(pl + 4, 1);
    pl[8] = 'v';
    put32(pl + 9, 2);
    pl[13] = '1';
    n = raw(buf, pl, 14);
    ck_assert_int_eq(parse(buf, n, &need, &r), LAVA_SPOOL_REC_BAD_RECORD);
    put32(pl + 9, UINT32_MAX);
    n = raw(buf, pl, 14);
    ck_assert_int_eq(parse(buf, n, &need, &r), LAVA_SPOOL_REC_BAD_RECORD);

    /* the string length cut short, and bytes left after the strings */
    put32(pl + 9, 1);
    n = raw(buf, pl, 12);
    ck_assert_int_eq(parse(buf, n, &need, &r), LAVA_SPOOL_REC_BAD_RECORD);
    n = raw(buf, pl, 14);
    ck_assert_int_eq(parse(buf, n, &need, &r), LAVA_SPOOL_REC_OK);
    ck_assert_uint_eq(r.argc, 2);
    pl[14] = 'x';
    n = raw(buf, pl, 15);
    ck_assert_int_eq(parse(buf, n, &need, &r), LAVA_SPOOL_REC_BAD_RECORD);

    /* exactly LAVA_SPOOL_ARGS_MAX empty strings */
    put32(pl, LAVA_SPOOL_ARGS_MAX);
    for (i = 0; i < LAVA_SPOOL_ARGS_MAX; i++) {
        put32(pl + 4 + 4 * i, 0);
    }
    n = raw(buf, pl, 4 + 4 * LAVA_SPOOL_ARGS_MAX);
    ck_assert_int_eq(parse(buf, n, &need, &r), LAVA_SPOOL_REC_OK);
    ck_assert_uint_eq(r.argc, LAVA_SPOOL_ARGS_MAX);
}
END_TEST


START_TEST(test_big)
{
    rec_t           r;
    char           *big;
    size_t          need, size, argvlen[2];
    const char     *argv[2];
    unsigned char  *buf;

    /* the largest payload read back */
    big = malloc(LAVA_SPOOL_RECORD_MAX);
    ck_assert_ptr_nonnull(big);
    memset(big, 'x', LAVA_SPOOL_RECORD_MAX);

    argv[0] = "usage_raw";
    argvlen[0] = 9;
    argv[1] = big;
    argvlen[1] = LAVA_SPOOL_RECORD_MAX - 4 - 8 - 9;

    size = lava_spool_record_size(2, argvlen);
    ck_assert_uint_eq(size, LAVA_SPOOL_REC_HDR + LAVA_SPOOL_RECORD_MAX);
    buf = malloc(size);
    ck_assert_ptr_nonnull(buf);
    lava_spool_record_encode(buf, 2, argv, argvlen);
    ck_assert_int_eq(lava_spool_record_parse(buf, size, &need, &r.argc,
                                             r.argv, r.argvlen),
                     LAVA_SPOOL_REC_OK);
    ck_assert_uint_eq(r.argvlen[1], argvlen[1]);
    free(buf);

    /* one byte more: refused by its length before anything else is read */
    argvlen[1]++;
    size = lava_spool_record_size(2, argvlen);
    buf = malloc(size);
    ck_assert_ptr_nonnull(buf);
    lava_spool_record_encode(buf, 2, argv, argvlen);
    ck_assert_int_eq(parse(buf, LAVA_SPOOL_REC_HDR, &need, &r),
                     LAVA_SPOOL_REC_BAD_LENGTH);
    free(buf);
    free(big);
}
END_TEST


/* a file: the magic, then records one after the other, as the spool reads */
START_TEST(test_file)
{
    rec_t           r;
    size_t          off, size, need, n, i;
    unsigned char  *rec, file[8192];

    ck_assert(!lava_spool_magic_ok((const unsigned char *) "LAVASPL", 7));
    ck_assert(!lava_spool_magic_ok((const unsigned char *) "LAVASPL2", 8));
    ck_assert(lava_spool_magic_ok((const unsigned char *) "LAVASPL1xx", 10));

    memcpy(file, LAVA_SPOOL_MAGIC, LAVA_SPOOL_MAGIC_LEN);
    off = LAVA_SPOOL_MAGIC_LEN;

    for (i = 0; i < 5; i++) {
        size = encode(&rec, EVENT_ARGC - 2 * i, event);
        memcpy(file + off, rec, size);
        off += size;
        free(rec);
    }

    ck_assert(lava_spool_magic_ok(file, off));

    for (n = 0, i = LAVA_SPOOL_MAGIC_LEN; i < off; n++) {
        ck_assert_int_eq(parse(file + i, off - i, &need, &r),
                         LAVA_SPOOL_REC_OK);
        ck_assert_uint_eq(r.argc, EVENT_ARGC - 2 * n);
        i += need;
    }

    ck_assert_uint_eq(n, 5);
    ck_assert_uint_eq(i, off);
}
END_TEST


Suite *
make_suite(void)
{
    Suite  *s = suite_create("spool_record");
    TCase  *tc = tcase_create("record");

    tcase_add_test(tc, test_crc32);
    tcase_add_test(tc, test_roundtrip);
    tcase_add_test(tc, test_truncated);
    tcase_add_test(tc, test_lengths);
    tcase_add_test(tc, test_checksum);
    tcase_add_test(tc, test_bad_payload);
    tcase_add_test(tc, test_big);
    tcase_add_test(tc, test_file);
    suite_add_tcase(s, tc);

    return s;
}
