/*
 * lava-sidecar reconcile: compares what nginx sent with what the ledger
 * holds, and reports missing, duplicate and dead-lettered requests.
 *
 *   lava-sidecar [-c config] reconcile [--ids FILE] [--since TIME]
 *                                      [--until TIME] [--list N]
 *
 * What nginx sent is read from the stream (every entry still in it: the
 * sidecar trims acknowledged entries after trim_retain_ms) and, with --ids,
 * from a list of request ids (one per line, or any text with one req_... id
 * per line, such as an access log with $lava_request_id; "-" is stdin). The
 * list also covers what never reached Redis: an id there that is neither in
 * the ledger, nor dead-lettered, nor waiting in the stream is missing (still
 * in a spool file of a worker, or lost).
 *
 * Every request id of the stream is one of: booked, dead-lettered, pending
 * (delivered to a sidecar, not acknowledged yet), not yet delivered, or
 * missing (acknowledged but in neither table: must never happen). Requests
 * sent more than once (at-least-once delivery) are counted, and the ledger is
 * checked for a request charged twice and for its invariants (ledger_check).
 * --since/--until (Postgres timestamps) limit the ledger side of --ids.
 *
 * Exit status: 0 everything is accounted for; 1 something is missing or
 * charged twice, or an invariant fails; 2 usage, connection or query error.
 */
#ifndef SIDECAR_RECONCILE_H
#define SIDECAR_RECONCILE_H

#include "config.h"

int reconcile_main(const config_t *cfg, int argc, char **argv);

#endif
