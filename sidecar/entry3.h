/*
 * The events of one stream entry. An entry of version 3 (lib/lava_event_v3.h,
 * docs/events.md "Version 3") carries several events in its field e, each
 * a request_id pair followed by the event's version 2 payload; every other
 * entry is one event. batch.c books each event on its own, as the version 2
 * entry (v "2", request_id, e) it stands for: priced, booked or
 * dead-lettered alone, under a stream id of its own ("<entry id>/<k>", k
 * from 1), so that two poison events of one entry are two dead letters and
 * a redelivered entry finds each of them again (dead_letters is unique on
 * (stream, stream_id)).
 */
#ifndef SIDECAR_ENTRY3_H
#define SIDECAR_ENTRY3_H

#include <stddef.h>

#include "event.h"
#include "lava_event_v3.h"

#define ENTRY3_PAIRS        3      /* v, request_id, e: one event's pairs */
#define ENTRY3_SID_MAX      (48 + 12)  /* "<ms>-<seq>/<k>" and a NUL */

/*
 * The events kv (npairs pairs, the entry's fields) carries. 0 when it is
 * not of version 3 (one event, decoded as today); n >= 1 for a well-formed
 * version 3 entry, and when ev is not NULL (room for 2 * n strings, n from
 * an earlier call) ev[2k] is event k's request id and ev[2k + 1] its
 * version 2 payload, both pointing into kv's strings; -1 for a malformed
 * one (reason in err): the entry is poison as a whole.
 */
long entry3_split(const sv_t *kv, size_t npairs, sv_t *ev, char *err, size_t errsize);

/* the version 2 entry of an event (request id, payload): out holds
 * 2 * ENTRY3_PAIRS strings, pointing to rid, payload and constants */
void entry3_event(const sv_t *rid, const sv_t *payload, sv_t *out);

/* "<id>/<k + 1>" into sid (ENTRY3_SID_MAX bytes); its length */
size_t entry3_stream_id(const sv_t *id, size_t k, char *sid);

#endif
