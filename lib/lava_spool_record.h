/*
 * Records of the event spool (lava_event_spool, ngx_http_lava_spool.h): the
 * file format, encoded by the worker that spools an event and decoded when
 * the file is read back, by the same worker or by another process after a
 * crash or a restart. The bytes come from disk: a crash can cut the last
 * record short (or leave zeros where it was to be), a disk or a person can
 * damage any of them. Pure C, no I/O: the caller reads the file and hands
 * the bytes in, limits are explicit, the strings stay in the caller's
 * buffer.
 *
 * A file is an 8-byte magic, then records
 *
 *     u32 length, u32 crc32 (of the payload), payload
 *     payload: u32 argc, then argc times (u32 length, bytes)
 *
 * little endian; argc (even) counts the field and value strings of one
 * event. The CRC is the common CRC-32 (zlib's, nginx's ngx_crc32_long).
 *
 * Decoding is one record at a time from its first byte, hiredis style: with
 * too few bytes the decoder says how many it needs (LAVA_SPOOL_REC_AGAIN);
 * a refused record ends the file for the caller (it does not look for the
 * next one), which is where the error sticks.
 */

#ifndef LAVA_SPOOL_RECORD_H
#define LAVA_SPOOL_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define LAVA_SPOOL_MAGIC         "LAVASPL1"
#define LAVA_SPOOL_MAGIC_LEN     8
#define LAVA_SPOOL_REC_HDR       8                  /* length, crc32 */
/* field and value strings of one event, upper bound (log.c writes <= 96) */
#define LAVA_SPOOL_ARGS_MAX      256
/* largest payload read back; the writer keeps whole records (header
 * included) within it */
#define LAVA_SPOOL_RECORD_MAX    (4 * 1024 * 1024)

enum {
    LAVA_SPOOL_REC_OK = 0,
    LAVA_SPOOL_REC_AGAIN,          /* *need bytes from the record's start */
    LAVA_SPOOL_REC_TORN,           /* a length below 4: the zeros a write
                                      cut short by a crash can leave */
    LAVA_SPOOL_REC_BAD_LENGTH,     /* a length over LAVA_SPOOL_RECORD_MAX */
    LAVA_SPOOL_REC_BAD_CHECKSUM,
    LAVA_SPOOL_REC_BAD_RECORD      /* argc odd or over the bound, or the
                                      strings do not fill the payload */
};


/* 1: the file starts with the magic */
int lava_spool_magic_ok(const unsigned char *p, size_t n);

/* Bytes of the record (header included) holding these strings. */
size_t lava_spool_record_size(size_t argc, const size_t *argvlen);

/*
 * Writes the record of argc strings (at most LAVA_SPOOL_ARGS_MAX) into buf,
 * of at least lava_spool_record_size() bytes; returns its size.
 */
size_t lava_spool_record_encode(unsigned char *buf, size_t argc,
    const char **argv, const size_t *argvlen);

/*
 * Decodes the record at p (n bytes available). LAVA_SPOOL_REC_OK: *argc
 * strings in argv/argvlen (LAVA_SPOOL_ARGS_MAX entries given by the
 * caller), pointing into p, and *need is the record's size. AGAIN: *need
 * bytes are needed (8 for the header, then the whole record). Anything else:
 * the record is refused.
 */
int lava_spool_record_parse(const unsigned char *p, size_t n, size_t *need,
    size_t *argc, const char **argv, size_t *argvlen);

/* "bad checksum"..., for logs (the reason only, never record bytes) */
const char *lava_spool_record_strerror(int rc);

uint32_t lava_spool_crc32(const unsigned char *p, size_t n);

#endif /* LAVA_SPOOL_RECORD_H */
