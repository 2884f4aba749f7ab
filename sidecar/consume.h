/*
 * The consumer: reads the group's entries (after each new connection this
 * consumer's own pending entries first, then new ones) and hands them to
 * batch.c; claims the entries of consumers that died with them pending (a
 * periodic job, jobs.c). Entries read a second time (own pending ones,
 * claimed ones) are dead-lettered unread once delivered more than
 * max_deliveries times, the others booked one per transaction. While
 * Postgres books a batch of new entries, the next one is read and decoded
 * (batch_book()'s meanwhile).
 *
 * One consumer per process: the read positions are kept in consume.c.
 */
#ifndef SIDECAR_CONSUME_H
#define SIDECAR_CONSUME_H

#include "jobs.h"
#include "sidecar.h"

/* Read positions at their start: own pending entries first. */
void consume_init(void);

/* Redis connected and the group there; a new connection rereads this
 * consumer's pending entries first. 0, or -1 (logged) without waiting. */
int consume_connect(sidecar_t *s);

/* Reads up to batch_size entries, waiting up to wait_ms, and processes
 * them. 0, or -1 when a stop request came first (nothing acknowledged). */
int consume_read(sidecar_t *s, int wait_ms);

/* The claim job: XAUTOCLAIM entries idle claim_idle_ms in any consumer. */
int consume_claim(sidecar_t *s, job_t *job);

#endif
