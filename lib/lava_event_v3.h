/*
 * The stream entry of several events, version 3 (docs/events.md,
 * "Version 3"): the version 2 events of one worker, gathered for at most
 * lava_event_batch_wait or lava_event_batch events, written by one XADD of
 * two fields, so that Redis parses, stores, logs and answers one command and
 * two values for many events. An entry of version 3 is
 *
 *     v   "3"
 *     e   for each event, in the order the worker queued them:
 *
 *             "request_id:" <length> ":" <request id> "\n"
 *             <the event's version 2 payload>
 *
 * The whole of e is thus one list of version 2 pairs
 * (<name>:<length>:<value>\n, lib/lava_event_v2.h) in which each
 * request_id pair starts an event: a version 2 payload never holds a
 * request_id (it is a field of the entry there). Each event is the
 * version 2 entry (v "2", request_id, e) it stands for: the sidecar books it
 * as that one, with the same checks and content hash. A writer only
 * gathers entries of version 2; a single event goes as a plain version 2
 * entry.
 */

#ifndef LAVA_EVENT_V3_H
#define LAVA_EVENT_V3_H

#define LAVA_EVENT_V3_VERSION     "3"
#define LAVA_EVENT_V3_SEPARATOR   "request_id"   /* the pair starting an event */

/* most events the module gathers in one entry (lava_event_batch) */
#define LAVA_EVENT_V3_WRITE_MAX   256

/* most events the sidecar reads from one entry; more: the entry is poison
 * (a bound on what one entry can make the sidecar allocate) */
#define LAVA_EVENT_V3_READ_MAX    1024

#endif /* LAVA_EVENT_V3_H */
