/*
 * Disk spool of a worker's usage events (lava_event_spool).
 *
 * Events go to the spool when the worker's memory queue is full (Redis away
 * or slow) and, at worker exit, the events Redis has not acknowledged yet.
 * They are read back, oldest first, when Redis takes events again; files that
 * other processes left behind (a worker that exited or crashed, a previous
 * nginx run, a machine reboot) are claimed and replayed by exactly one worker.
 *
 * Files: <dir>/<ms>-<pid>-<seq>.spool, where <ms> is the wall-clock time the
 * oldest event in the file was queued, so names sort in event order. Each is
 * append-only: an 8-byte magic, then one length-prefixed record with a
 * CRC-32 per event (the format, its encoder and its decoder:
 * lib/lava_spool_record.h). A record cut short at the end of a file (a crash
 * during write) ends the file; a record with a bad checksum ends it too, and
 * the file is kept renamed to *.corrupt for inspection once the records
 * before it are acknowledged.
 *
 * Ownership: a process holds an exclusive flock(2) on every file it writes or
 * replays. The kernel drops the lock when the process ends, however it ends;
 * a file is claimable exactly when nobody holds its lock. A finished file is
 * unlinked before its lock is released, and a claimer that wins the lock of a
 * file with no links left skips it, so no file is replayed twice.
 *
 * Durability: each record is one write(2), so it survives the worker or
 * nginx being killed; dirty files are fdatasync()ed at most once a second
 * and when closed, so a power loss can lose the last second of spooled
 * events (like Redis with appendfsync everysec), or as much as was written
 * while a slow disk finished the previous fdatasync(). That fdatasync() runs
 * in nginx's thread pool (lava_event_spool_thread_pool,
 * ngx_http_lava_fsync.h), not in the worker's event loop.
 *
 * Memory: the spool object and its segment list are malloc()ed per worker
 * and freed by ngx_http_lava_spool_close() at process exit.
 */

#ifndef NGX_HTTP_LAVA_SPOOL_H
#define NGX_HTTP_LAVA_SPOOL_H

#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_lava_module.h"
#include "lava_spool_record.h"


/* field and value strings of one event, upper bound (log.c writes <= 96) */
#define NGX_HTTP_LAVA_SPOOL_ARGS_MAX     LAVA_SPOOL_ARGS_MAX


typedef struct ngx_http_lava_spool_s      ngx_http_lava_spool_t;
typedef struct ngx_http_lava_spool_seg_s  ngx_http_lava_spool_seg_t;


/* One event read back: pointers into the spool's read buffer, valid until
 * the next call of ngx_http_lava_spool_next(). */
typedef struct {
    ngx_uint_t                   argc;
    const char                  *argv[NGX_HTTP_LAVA_SPOOL_ARGS_MAX];
    size_t                       argvlen[NGX_HTTP_LAVA_SPOOL_ARGS_MAX];
    ngx_http_lava_spool_seg_t   *seg;       /* ack it here once stored */
} ngx_http_lava_spool_rec_t;


/* counters of this worker since it started */
typedef struct {
    ngx_uint_t                   written;    /* records appended */
    ngx_uint_t                   read;       /* records read back */
    ngx_uint_t                   claimed;    /* files of others taken over */
    off_t                        bytes;      /* own files on disk now */
    ngx_msec_t                   sync_max_ms; /* slowest fdatasync() */
} ngx_http_lava_spool_stats_t;


/* ngx_http_lava_spool_conf() (configuration time) is declared in
 * ngx_http_lava_module.h. */

/* Worker start; NULL when the spool is off or on allocation failure. */
ngx_http_lava_spool_t *ngx_http_lava_spool_create(ngx_cycle_t *cycle,
    ngx_http_lava_main_conf_t *lmcf);

/*
 * Appends one event (argc field and value strings). born_ms: wall-clock ms
 * the event was queued. NGX_OK written; NGX_DECLINED the spool bound
 * (lava_event_spool_max) is reached; NGX_ERROR it could not be written
 * (logged once per outage).
 */
ngx_int_t ngx_http_lava_spool_append(ngx_http_lava_spool_t *sp,
    ngx_uint_t argc, const char **argv, const size_t *argvlen,
    uint64_t born_ms);

/* Bytes that may still be appended (0 for a second after a failed write). */
off_t ngx_http_lava_spool_room(ngx_http_lava_spool_t *sp);

/* Records written and not read back yet: new events must queue behind them. */
ngx_uint_t ngx_http_lava_spool_unread(ngx_http_lava_spool_t *sp);

/* The next record, oldest first: NGX_OK, or NGX_DONE when none is unread. */
ngx_int_t ngx_http_lava_spool_next(ngx_http_lava_spool_t *sp,
    ngx_http_lava_spool_rec_t *rec);

/* A record read from seg was stored in Redis; finished files are removed. */
void ngx_http_lava_spool_ack(ngx_http_lava_spool_t *sp,
    ngx_http_lava_spool_seg_t *seg);

/*
 * Takes over the oldest spool file nobody holds (left by a process that is
 * gone). NGX_OK one was claimed (its records are now unread); NGX_DECLINED
 * none is left.
 */
ngx_int_t ngx_http_lava_spool_claim(ngx_http_lava_spool_t *sp);

/*
 * Process exit: writes one event still held in memory to this worker's exit
 * file (opened on the first call; no bound applies, memory is bounded).
 */
ngx_int_t ngx_http_lava_spool_exit_append(ngx_http_lava_spool_t *sp,
    ngx_uint_t argc, const char **argv, const size_t *argvlen,
    uint64_t born_ms);

/* Process exit: syncs and closes every file, which releases them to other
 * workers, and frees the spool. */
void ngx_http_lava_spool_close(ngx_http_lava_spool_t *sp);

void ngx_http_lava_spool_stats(ngx_http_lava_spool_t *sp,
    ngx_http_lava_spool_stats_t *st);

#endif /* NGX_HTTP_LAVA_SPOOL_H */
