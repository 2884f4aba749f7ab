/*
 * The stream entry of several events, version 3 (docs/events.md,
 * "Version 3"): the version 2 events of one worker, gathered for at most
 * lava_event_batch_wait or lava_event_batch events, written by one XADD, so
 * that Redis parses, stores and answers one command for many events. An
 * entry of version 3 is
 *
 *     v           "3"
 *     request_id  the first event's request id
 *     e           the first event's payload, exactly as in version 2
 *     request_id  the second event's
 *     e           ...
 *
 * one (request_id, e) couple per event, in the order the worker queued
 * them. Each couple is the version 2 entry (v "2", request_id, e) it
 * stands for: the sidecar books it as that one, with the same checks and
 * content hash. A writer only gathers entries of version 2; a single event
 * goes as a plain version 2 entry.
 */

#ifndef LAVA_EVENT_V3_H
#define LAVA_EVENT_V3_H

#define LAVA_EVENT_V3_VERSION     "3"

/* most events the module gathers in one entry (lava_event_batch) */
#define LAVA_EVENT_V3_WRITE_MAX   256

/* most events the sidecar reads from one entry; more: the entry is poison
 * (a bound on what one entry can make the sidecar allocate) */
#define LAVA_EVENT_V3_READ_MAX    1024

#endif /* LAVA_EVENT_V3_H */
