/*
 * fdatasync() of a few files off the event loop (lava_event_spool_thread_pool).
 *
 * An fdatasync() waits for the disk: 1 to 10 ms on an idle one, seconds on a
 * busy or failing one. Run in a worker's event loop, it stalls every request
 * of that worker for as long. Here a batch of files is synced by one task in
 * nginx's thread pool (ngx_thread_task_post, as "aio threads" does); the
 * worker is told in its event loop when the batch is done.
 *
 * The task syncs dup()s of the caller's descriptors and closes them itself,
 * so the caller may close or unlink its files while the task runs. A dup()
 * shares the flock(2) of its file: a spool file finished meanwhile keeps its
 * lock until the task closes the dup, which only delays another worker's
 * claim of a file that has no link left (and that it would skip anyway).
 *
 * One batch at a time: while one is in flight, the caller waits for its
 * done handler before it posts the next, so a slow disk never queues more
 * than one task per worker.
 *
 * Without thread support in nginx (no --with-threads), with
 * "lava_event_spool_thread_pool off", or when the pool is not there at worker
 * start, ngx_http_lava_fsync_create() returns NULL and the caller syncs in
 * the event loop as before.
 *
 * Memory: the object is ngx_alloc()ed per worker and freed by
 * ngx_http_lava_fsync_free() at process exit, except while a task is in
 * flight: then the thread may still write to it and it is left to the exit.
 */

#ifndef NGX_HTTP_LAVA_FSYNC_H
#define NGX_HTTP_LAVA_FSYNC_H

#include <ngx_config.h>
#include <ngx_core.h>


#define NGX_HTTP_LAVA_FSYNC_MAX       8     /* files per batch */
#define NGX_HTTP_LAVA_FSYNC_NAME_LEN  64    /* for the log only */


typedef struct ngx_http_lava_fsync_s  ngx_http_lava_fsync_t;


/* A batch: filled by ngx_http_lava_fsync_add(), results written by the task
 * and read by the done handler. */
typedef struct {
    ngx_uint_t                   n;
    ngx_fd_t                     fd[NGX_HTTP_LAVA_FSYNC_MAX];   /* dup()s */
    ngx_err_t                    err[NGX_HTTP_LAVA_FSYNC_MAX];  /* 0: synced */
    ngx_msec_t                   took_ms[NGX_HTTP_LAVA_FSYNC_MAX];
    u_char                       name[NGX_HTTP_LAVA_FSYNC_MAX]
                                     [NGX_HTTP_LAVA_FSYNC_NAME_LEN];
} ngx_http_lava_fsync_batch_t;


/* Runs in the event loop when a posted batch is done. */
typedef void (*ngx_http_lava_fsync_done_pt)(void *data,
    ngx_http_lava_fsync_batch_t *batch);


/*
 * Configuration time: name is the lava_event_spool_thread_pool value (len 0:
 * not set, the "default" pool). Registers the pool with nginx, which refuses
 * an undeclared name other than "default" ("unknown thread pool").
 */
char *ngx_http_lava_fsync_conf(ngx_conf_t *cf, ngx_str_t *name);

/* Worker start; NULL: sync in the event loop (see above). */
ngx_http_lava_fsync_t *ngx_http_lava_fsync_create(ngx_cycle_t *cycle,
    ngx_str_t *name, ngx_http_lava_fsync_done_pt done, void *data);

/* A batch is in flight: its done handler has not run yet. */
ngx_uint_t ngx_http_lava_fsync_busy(ngx_http_lava_fsync_t *fs);

/*
 * Adds a file to the next batch. NGX_OK added; NGX_DECLINED the batch is
 * full or one is in flight; NGX_ERROR dup() failed (logged).
 */
ngx_int_t ngx_http_lava_fsync_add(ngx_http_lava_fsync_t *fs, ngx_fd_t fd,
    u_char *name);

/*
 * Posts the batch. NGX_OK posted (the done handler runs later; an empty batch
 * is not posted and NGX_OK returned); NGX_ERROR the thread pool refused it:
 * the batch is dropped (its dup()s closed), sync in the event loop instead.
 */
ngx_int_t ngx_http_lava_fsync_post(ngx_http_lava_fsync_t *fs);

/* Process exit. */
void ngx_http_lava_fsync_free(ngx_http_lava_fsync_t *fs);

#endif /* NGX_HTTP_LAVA_FSYNC_H */
