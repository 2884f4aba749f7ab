/*
 * fdatasync() of a few files in nginx's thread pool (ngx_http_lava_fsync.h).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#if (NGX_THREADS)
#include <ngx_thread_pool.h>
#endif

#include "ngx_http_lava_fsync.h"


#if (NGX_THREADS)

struct ngx_http_lava_fsync_s {
    ngx_thread_pool_t             *pool;
    ngx_thread_task_t              task;     /* ctx: the batch below */
    ngx_http_lava_fsync_batch_t    batch;
    ngx_http_lava_fsync_done_pt    done;
    void                          *data;
    ngx_log_t                     *log;
    unsigned                       busy:1;   /* posted, done not run yet */
};


static void ngx_http_lava_fsync_thread(void *data, ngx_log_t *log);
static void ngx_http_lava_fsync_event(ngx_event_t *ev);
static void ngx_http_lava_fsync_drop(ngx_http_lava_fsync_t *fs);


static ngx_uint_t
ngx_http_lava_fsync_off(ngx_str_t *name)
{
    return name->len == 3 && ngx_strncmp(name->data, "off", 3) == 0;
}


char *
ngx_http_lava_fsync_conf(ngx_conf_t *cf, ngx_str_t *name)
{
    if (ngx_http_lava_fsync_off(name)) {
        return NGX_CONF_OK;
    }

    /* nginx checks at the end of the configuration that the pool exists */
    if (ngx_thread_pool_add(cf, name->len ? name : NULL) == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_http_lava_fsync_t *
ngx_http_lava_fsync_create(ngx_cycle_t *cycle, ngx_str_t *name,
    ngx_http_lava_fsync_done_pt done, void *data)
{
    ngx_str_t               dflt = ngx_string("default");
    ngx_thread_pool_t      *pool;
    ngx_http_lava_fsync_t  *fs;

    if (ngx_http_lava_fsync_off(name)) {
        return NULL;
    }

    pool = ngx_thread_pool_get(cycle, name->len ? name : &dflt);
    if (pool == NULL) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "lava spool: thread pool \"%V\" not found, fdatasync() "
                      "runs in the event loop", name->len ? name : &dflt);
        return NULL;
    }

    fs = ngx_calloc(sizeof(ngx_http_lava_fsync_t), cycle->log);
    if (fs == NULL) {
        return NULL;
    }

    fs->pool = pool;
    fs->done = done;
    fs->data = data;
    fs->log = cycle->log;

    fs->task.ctx = &fs->batch;
    fs->task.handler = ngx_http_lava_fsync_thread;
    fs->task.event.handler = ngx_http_lava_fsync_event;
    fs->task.event.data = fs;
    fs->task.event.log = cycle->log;

    return fs;
}


ngx_uint_t
ngx_http_lava_fsync_busy(ngx_http_lava_fsync_t *fs)
{
    return fs->busy;
}


ngx_int_t
ngx_http_lava_fsync_add(ngx_http_lava_fsync_t *fs, ngx_fd_t fd, u_char *name)
{
    ngx_fd_t                      copy;
    ngx_http_lava_fsync_batch_t  *b = &fs->batch;

    if (fs->busy || b->n == NGX_HTTP_LAVA_FSYNC_MAX) {
        return NGX_DECLINED;
    }

    /* the task's own descriptor: the caller may close its own meanwhile */
    copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy == -1) {
        ngx_log_error(NGX_LOG_ERR, fs->log, ngx_errno,
                      "lava spool: dup of \"%s\" for fdatasync() failed",
                      name);
        return NGX_ERROR;
    }

    b->fd[b->n] = copy;
    b->err[b->n] = 0;
    b->took_ms[b->n] = 0;
    ngx_cpystrn(b->name[b->n], name, NGX_HTTP_LAVA_FSYNC_NAME_LEN);
    b->n++;

    return NGX_OK;
}


ngx_int_t
ngx_http_lava_fsync_post(ngx_http_lava_fsync_t *fs)
{
    if (fs->busy || fs->batch.n == 0) {
        return NGX_OK;
    }

    if (ngx_thread_task_post(fs->pool, &fs->task) != NGX_OK) {
        /* logged by nginx (queue overflow) */
        ngx_http_lava_fsync_drop(fs);
        return NGX_ERROR;
    }

    fs->busy = 1;

    return NGX_OK;
}


/* In a thread of the pool: only the batch is touched, no nginx state. */
static void
ngx_http_lava_fsync_thread(void *data, ngx_log_t *log)
{
    ngx_http_lava_fsync_batch_t *b = data;

    ngx_uint_t       i;
    struct timespec  t0, t1;

    for (i = 0; i < b->n; i++) {
        (void) clock_gettime(CLOCK_MONOTONIC, &t0);

        b->err[i] = fdatasync(b->fd[i]) == -1 ? ngx_errno : 0;

        (void) clock_gettime(CLOCK_MONOTONIC, &t1);

        b->took_ms[i] = (ngx_msec_t) ((t1.tv_sec - t0.tv_sec) * 1000
                                      + (t1.tv_nsec - t0.tv_nsec) / 1000000);

        (void) close(b->fd[i]);
        b->fd[i] = NGX_INVALID_FILE;
    }
}


/* Back in the event loop. */
static void
ngx_http_lava_fsync_event(ngx_event_t *ev)
{
    ngx_http_lava_fsync_t *fs = ev->data;

    fs->busy = 0;

    fs->done(fs->data, &fs->batch);

    fs->batch.n = 0;
}


static void
ngx_http_lava_fsync_drop(ngx_http_lava_fsync_t *fs)
{
    ngx_uint_t  i;

    for (i = 0; i < fs->batch.n; i++) {
        (void) close(fs->batch.fd[i]);
    }

    fs->batch.n = 0;
}


void
ngx_http_lava_fsync_free(ngx_http_lava_fsync_t *fs)
{
    if (fs == NULL) {
        return;
    }

    if (fs->busy) {
        /* the thread may still write the batch: left to the process exit */
        return;
    }

    ngx_http_lava_fsync_drop(fs);
    ngx_free(fs);
}


#else /* !(NGX_THREADS) */

/* nginx without threads: every fdatasync() runs in the event loop */

char *
ngx_http_lava_fsync_conf(ngx_conf_t *cf, ngx_str_t *name)
{
    if (name->len
        && !(name->len == 3 && ngx_strncmp(name->data, "off", 3) == 0))
    {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"lava_event_spool_thread_pool\" needs nginx "
                           "built with threads, fdatasync() runs in the "
                           "event loop");
    }

    return NGX_CONF_OK;
}


ngx_http_lava_fsync_t *
ngx_http_lava_fsync_create(ngx_cycle_t *cycle, ngx_str_t *name,
    ngx_http_lava_fsync_done_pt done, void *data)
{
    return NULL;
}


ngx_uint_t
ngx_http_lava_fsync_busy(ngx_http_lava_fsync_t *fs)
{
    return 0;
}


ngx_int_t
ngx_http_lava_fsync_add(ngx_http_lava_fsync_t *fs, ngx_fd_t fd, u_char *name)
{
    return NGX_DECLINED;
}


ngx_int_t
ngx_http_lava_fsync_post(ngx_http_lava_fsync_t *fs)
{
    return NGX_ERROR;
}


void
ngx_http_lava_fsync_free(ngx_http_lava_fsync_t *fs)
{
}

#endif /* NGX_THREADS */
