/*
 * The multipart/form-data field reader (lib/lava_multipart.c): the model
 * of the audio endpoints, whatever the part order, the piece sizes it is
 * fed in, and the tricks a client could use to make the gateway read
 * another model than the provider does.
 */

#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "lava_multipart.h"


#define CT  "multipart/form-data; boundary=----b0undary"

/* whole body, then byte by byte; both must agree. rc of finish */
static int
scan(const char *ct, const char *name, const char *body, size_t len,
    char *value)
{
    int               rc1, rc2;
    size_t            i;
    lava_multipart_t  mp;

    if (lava_multipart_init(&mp, ct, strlen(ct), name) != 0) {
        return -2;
    }

    (void) lava_multipart_feed(&mp, body, len);
    rc1 = lava_multipart_finish(&mp);
    strcpy(value, mp.value);

    (void) lava_multipart_init(&mp, ct, strlen(ct), name);

    for (i = 0; i < len; i++) {
        (void) lava_multipart_feed(&mp, body + i, 1);
    }

    rc2 = lava_multipart_finish(&mp);
    ck_assert_int_eq(rc1, rc2);
    ck_assert_str_eq(value, mp.value);

    return rc1;
}


static int
scan_str(const char *body, const char *name, char *value)
{
    return scan(CT, name, body, strlen(body), value);
}


START_TEST(test_multipart_model)
{
    char   v[LAVA_MULTIPART_VALUE_MAX];
    char   big[70000];
    size_t n;

    /* the Python SDK: fields first */
    ck_assert_int_eq(scan_str(
        "------b0undary\r\n"
        "Content-Disposition: form-data; name=\"model\"\r\n\r\n"
        "whisper-1\r\n"
        "------b0undary\r\n"
        "Content-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
        "Content-Type: audio/wav\r\n\r\n"
        "RIFF\r\n--\r\n----b0undar\r\r\n\x01\xff data\r\n"
        "------b0undary--\r\n", "model", v), 0);
    ck_assert_str_eq(v, "whisper-1");

    /* the file first (the Node SDK keeps the caller's order), a preamble,
     * CR LF inside the file that almost make a delimiter */
    n = (size_t) snprintf(big, sizeof(big),
        "preamble\r\n------b0undary\r\n"
        "Content-Disposition: form-data; name=\"file\"; filename=\"a.mp3\"\r\n"
        "\r\n");
    memset(big + n, '\r', 1000);
    n += 1000;
    memcpy(big + n, "\r\n------b0undarx", 16);
    n += 16;
    n += (size_t) snprintf(big + n, sizeof(big) - n,
        "\r\n------b0undary\r\n"
        "content-disposition: form-data; name=model\r\n\r\n"
        "gpt-4o-transcribe\r\n"
        "------b0undary  \r\n"
        "Content-Disposition: form-data; name=\"response_format\"\r\n\r\n"
        "json\r\n------b0undary--");
    ck_assert_int_eq(scan(CT, "model", big, n, v), 0);
    ck_assert_str_eq(v, "gpt-4o-transcribe");

    /* ElevenLabs reads model_id; "model" is not it */
    ck_assert_int_eq(scan_str(
        "------b0undary\r\n"
        "Content-Disposition: form-data; name=\"model\"\r\n\r\nx\r\n"
        "------b0undary\r\n"
        "Content-Disposition: form-data; name=\"model_id\"\r\n\r\nscribe_v1\r\n"
        "------b0undary--\r\n", "model_id", v), 0);
    ck_assert_str_eq(v, "scribe_v1");

    /* no such field: complete, empty */
    ck_assert_int_eq(scan_str(
        "------b0undary\r\n"
        "Content-Disposition: form-data; name=\"file\"\r\n\r\nabc\r\n"
        "------b0undary--", "model", v), 0);
    ck_assert_str_eq(v, "");

    /* the same value twice is one value */
    ck_assert_int_eq(scan_str(
        "------b0undary\r\nContent-Disposition: form-data; name=\"model\""
        "\r\n\r\nm\r\n------b0undary\r\nContent-Disposition: form-data; "
        "name=\"model\"\r\n\r\nm\r\n------b0undary--", "model", v), 0);
    ck_assert_str_eq(v, "m");
}
END_TEST


START_TEST(test_multipart_hostile)
{
    char               v[LAVA_MULTIPART_VALUE_MAX];
    char               big[400];
    lava_multipart_t   mp;

    /* two different values: parsers differ on which wins */
    ck_assert_int_eq(scan_str(
        "------b0undary\r\nContent-Disposition: form-data; name=\"model\""
        "\r\n\r\ncheap\r\n------b0undary\r\nContent-Disposition: form-data; "
        "name=\"model\"\r\n\r\ndear\r\n------b0undary--", "model", v), -1);

    /* truncated: no close delimiter */
    ck_assert_int_eq(scan_str(
        "------b0undary\r\nContent-Disposition: form-data; name=\"model\""
        "\r\n\r\nm\r\n", "model", v), -1);

    /* an encoded value, an extended name */
    ck_assert_int_eq(scan_str(
        "------b0undary\r\nContent-Disposition: form-data; name=\"model\""
        "\r\nContent-Transfer-Encoding: base64\r\n\r\nbQ==\r\n"
        "------b0undary--", "model", v), -1);
    ck_assert_int_eq(scan_str(
        "------b0undary\r\nContent-Disposition: form-data; "
        "name*=UTF-8''model\r\n\r\nm\r\n------b0undary--", "model", v), -1);
    ck_assert_int_eq(scan_str(
        "------b0undary\r\nContent-Disposition: form-data; name=\"a\"; "
        "name=\"model\"\r\n\r\nm\r\n------b0undary--", "model", v), -1);

    /* a value longer than any model */
    memset(big, 'a', sizeof(big));
    {
        static const char  head[] = "------b0undary\r\nContent-Disposition: "
                                    "form-data; name=\"model\"\r\n\r\n";

        memcpy(big, head, sizeof(head) - 1);
    }
    memcpy(big + sizeof(big) - 18, "\r\n------b0undary--", 18);
    ck_assert_int_eq(scan(CT, "model", big, sizeof(big), v), -1);

    /* header block without end */
    memset(big, 'h', sizeof(big));
    memcpy(big, "------b0undary\r\n", 16);
    ck_assert_int_eq(lava_multipart_init(&mp, CT, strlen(CT), "model"), 0);
    {
        int i, rc = 0;

        ck_assert_int_eq(lava_multipart_feed(&mp, big, 16), 0);
        for (i = 0; i < 10 && rc == 0; i++) {
            rc = lava_multipart_feed(&mp, big + 16, sizeof(big) - 16);
        }
        ck_assert_int_eq(rc, -1);
        ck_assert_int_eq(lava_multipart_feed(&mp, "x", 1), -1);
    }

    /* the content type */
    ck_assert_int_eq(lava_multipart_init(&mp, "application/json", 16, "m"),
                     -1);
    ck_assert_int_eq(lava_multipart_init(&mp, "multipart/form-data", 19,
                                         "m"), -1);
    ck_assert_int_eq(lava_multipart_init(&mp,
        "multipart/form-data; boundary=a\rb", 33, "m"), -1);
    ck_assert_int_eq(lava_multipart_init(&mp,
        "Multipart/Form-Data; charset=x; boundary=\"a b:c\"", 48, "m"), 0);
    ck_assert_int_eq(lava_multipart_init(&mp,
        "multipart/form-data; boundary=a; boundary=b", 43, "m"), -1);
    ck_assert_int_eq(lava_multipart_is("multipart/form-data;b=1", 23), 1);
    ck_assert_int_eq(lava_multipart_is("multipart/form-datax", 20), 0);
}
END_TEST


Suite *
make_suite(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("multipart");
    tc = tcase_create("multipart");
    tcase_add_test(tc, test_multipart_model);
    tcase_add_test(tc, test_multipart_hostile);
    suite_add_tcase(s, tc);

    return s;
}
