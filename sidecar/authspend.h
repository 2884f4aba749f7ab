/*
 * The spend keys' part of the auth snapshot that comes from Redis rather
 * than Postgres: the "b" records, a booked-through watermark per stream
 * (docs/auth-sync.md). nginx keeps its own not-yet-booked requests of each
 * spend key and drops them from its counts once a loaded snapshot's
 * watermark for their stream is at or past the stream id Redis gave their
 * event: the snapshot's counts hold them from then on, so a request is
 * counted once.
 *
 * The watermark W of a stream is taken before the database is read for
 * the snapshot: every entry with an id <= W has been booked and committed
 * (XACK follows COMMIT). W = the group's last-delivered-id when nothing is
 * pending, else the smallest pending id minus one; "0-0" when the stream or
 * the group does not exist yet.
 */
#ifndef SIDECAR_AUTHSPEND_H
#define SIDECAR_AUTHSPEND_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#define AUTHSPEND_ID_MAX  48    /* "<ms>-<seq>": two uint64 and a dash, with room */

/*
 * The stream id just before id ("5-3" -> "5-2", "5-0" -> "4-18446744073709551615",
 * "0-0" -> "0-0"), into out. Returns 0, or -1 when id is not "<ms>-<seq>".
 */
int authspend_id_before(const char *id, size_t len, char *out, size_t size);

/*
 * W of group from EXEC's two replies: XINFO GROUPS <stream> and the
 * XPENDING <stream> <group> summary (an error reply: no such stream or
 * group, W "0-0"). *held is set to 1 when entries are pending. Returns 0, or
 * -1 on a reply of an unexpected shape.
 */
int authspend_compute(const redisReply *groups, const redisReply *pending, const char *group,
                      char *out, size_t size, int *held);

/*
 * Reads the watermark of (stream, group) in one MULTI/EXEC and appends its
 * "b <stream> <id>\n" record to *text (malloc'd, grown; *text may be NULL).
 * *held is set to 1 when entries were pending (the watermark is held back
 * by them: it moves once they are booked). Returns 0, -1 on a Redis failure
 * (logged; the connection is to be dropped), -2 when the stream name cannot
 * be published (spaces) or out of memory (logged).
 */
int authspend_watermark(redisContext *rc, const char *stream, const char *group,
                        char **text, int *held);

#endif
