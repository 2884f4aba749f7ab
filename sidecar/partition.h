/*
 * Partitions of one stream by paying customer (docs/operations.md,
 * "Scaling out"): with partitions = N, N sidecars read the same stream,
 * each in its own consumer group, and each books only the entries of its
 * partition, acknowledging the others unread. Every graduated meter count
 * and every wallet is then booked by one sidecar only, so their
 * transactions never wait on each other's row locks (they still share the
 * provider, platform and merchant accounts, which are locked only from the
 * transfers insert to the commit).
 *
 * The partition of an entry is a pure function of its bytes, the same in
 * every sidecar and every version: FNV-1a (32 bit) of the customer_id
 * field's value, else of merchant_id's, else of the entry id, modulo N.
 * The fields are read from the entry's stream fields (version 1) or from
 * its packed field `e` (version 2, docs/events.md), so an event is in the
 * same partition whichever version carried it.
 */
#ifndef SIDECAR_PARTITION_H
#define SIDECAR_PARTITION_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#define PARTITION_MAX  64

uint32_t partition_hash(const char *p, size_t n);

/* The partition (0..nparts-1) of a stream entry [id, [field, value, ...]]
 * as XREADGROUP returns it (fields nil or malformed: by the id). */
int partition_of(const redisReply *entry, int nparts);

/* The partition of one event of a version 3 entry (sidecar/entry3.h): by
 * its payload e (en bytes) as partition_of() reads a version 2 entry's,
 * else by id, the event's own stream id "<entry id>/<k>". */
int partition_of_event(const char *e, size_t en, const char *id, size_t idn, int nparts);

/* The value of name in a packed event ("<name>:<length>:<value>\n" per
 * field); 0 when found, -1 when absent or malformed. */
int partition_packed_field(const char *p, size_t n, const char *name, const char **v,
    size_t *vn);

/* The consumer group of partition part of nparts: the group itself when
 * nparts is 1, else "<group>.p<part>of<nparts>", so that a sidecar of one
 * partition never acknowledges entries in another's group. malloc'd. */
char *partition_group(const char *group, int part, int nparts);

/* The group of partition p, given this sidecar's own group (already
 * derived by partition_group() for part of nparts). malloc'd; NULL when out
 * of memory or when own is not such a name. */
char *partition_sibling(const char *own, int part, int nparts, int p);

#endif
