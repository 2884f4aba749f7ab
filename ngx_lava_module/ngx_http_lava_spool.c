/*
 * Disk spool of a worker's usage events (ngx_http_lava_spool.h).
 *
 * A worker's files form one list in reading order: files claimed from other
 * processes and the worker's own files, oldest first. Appends go to the
 * newest own file (the active one). A file is finished, and removed, once
 * every record in it was read back and acknowledged by Redis and nothing more
 * will be appended to it; until then it stays on disk, so a worker that dies
 * with records read but not acknowledged leaves them for another worker (they
 * are sent again: delivery is at-least-once, request_id de-duplicates).
 *
 * Every operation is a small write(2), pread(2) or rename/unlink on a local
 * directory; the only call that waits for the disk is the fdatasync() of the
 * sync timer, once a second at most. It runs in nginx's thread pool
 * (ngx_http_lava_fsync.h), so a slow disk does not stall the worker's
 * requests; in the event loop only without threads, with
 * "lava_event_spool_thread_pool off", if the pool refuses the task, and at
 * process exit. Its duration is recorded (sync_max_ms) and logged when slow.
 */

#include <dirent.h>
#include <sys/file.h>

#include "ngx_http_lava_spool.h"
#include "ngx_http_lava_fsync.h"


#define NGX_HTTP_LAVA_SPOOL_MAGIC_LEN    LAVA_SPOOL_MAGIC_LEN
#define NGX_HTTP_LAVA_SPOOL_SEG_MAX      (16 * 1024 * 1024)
#define NGX_HTTP_LAVA_SPOOL_SYNC_MS      1000
#define NGX_HTTP_LAVA_SPOOL_SLOW_SYNC_MS 100
/* an empty file nobody holds is removed when older than this */
#define NGX_HTTP_LAVA_SPOOL_STALE_SEC    60
#define NGX_HTTP_LAVA_SPOOL_NAME_LEN     64
#define NGX_HTTP_LAVA_SPOOL_PATH_MAX     PATH_MAX
#define NGX_HTTP_LAVA_SPOOL_SCAN_MAX     1024       /* names looked at per claim */
/* after a failed write, the spool counts as full this long */
#define NGX_HTTP_LAVA_SPOOL_ERROR_MS     1000


struct ngx_http_lava_spool_seg_s {
    ngx_queue_t                  link;       /* sp->segs, reading order */
    ngx_fd_t                     fd;         /* flock()ed while open */
    u_char                       name[NGX_HTTP_LAVA_SPOOL_NAME_LEN];
    off_t                        size;       /* bytes in the file */
    off_t                        read_off;   /* next record to read */
    ngx_uint_t                   unacked;    /* read, not acknowledged yet */
    unsigned                     own:1;      /* written by this process */
    unsigned                     sealed:1;   /* nothing more is appended */
    unsigned                     dirty:1;    /* written since fdatasync() */
    unsigned                     corrupt:1;  /* kept as *.corrupt at the end */
};


struct ngx_http_lava_spool_s {
    ngx_str_t                    dir;        /* NUL-terminated; lmcf owns it */
    off_t                        max;        /* bytes of own files */
    ngx_log_t                   *log;
    ngx_queue_t                  segs;
    ngx_http_lava_spool_seg_t   *active;     /* own, appends go here */
    ngx_http_lava_spool_seg_t   *exit;       /* written at process exit */
    ngx_uint_t                   seq;        /* file names of this process */
    off_t                        unread;     /* bytes of records not read */

    u_char                      *rbuf;       /* read buffer, malloc()ed */
    size_t                       rsize;
    u_char                      *wbuf;       /* record being written */
    size_t                       wsize;

    ngx_event_t                  sync;       /* fdatasync timer */
    ngx_http_lava_fsync_t       *fsync;      /* NULL: in the event loop */
    ngx_msec_t                   error_at;   /* last failed write */

    ngx_http_lava_spool_stats_t  stats;

    unsigned                     error_logged:1;
};


static ngx_http_lava_spool_seg_t *ngx_http_lava_spool_open_own(
    ngx_http_lava_spool_t *sp, uint64_t born_ms);
static ngx_int_t ngx_http_lava_spool_write(ngx_http_lava_spool_t *sp,
    ngx_http_lava_spool_seg_t *seg, ngx_uint_t argc, const char **argv,
    const size_t *argvlen);
static void ngx_http_lava_spool_finish(ngx_http_lava_spool_t *sp,
    ngx_http_lava_spool_seg_t *seg);
static ngx_int_t ngx_http_lava_spool_rbuf(ngx_http_lava_spool_t *sp,
    size_t size);
static void ngx_http_lava_spool_stop_reading(ngx_http_lava_spool_t *sp,
    ngx_http_lava_spool_seg_t *seg, const char *why, ngx_uint_t torn);
static void ngx_http_lava_spool_sync_handler(ngx_event_t *ev);
static void ngx_http_lava_spool_sync_seg(ngx_http_lava_spool_t *sp,
    ngx_http_lava_spool_seg_t *seg);
static ngx_int_t ngx_http_lava_spool_sync_post(ngx_http_lava_spool_t *sp);
static void ngx_http_lava_spool_sync_done(void *data,
    ngx_http_lava_fsync_batch_t *b);
static void ngx_http_lava_spool_sync_took(ngx_http_lava_spool_t *sp,
    u_char *name, ngx_err_t err, ngx_msec_t took);
static u_char *ngx_http_lava_spool_path(ngx_http_lava_spool_t *sp,
    u_char *buf, size_t size, u_char *name, const char *suffix);


char *
ngx_http_lava_spool_conf(ngx_conf_t *cf, ngx_http_lava_main_conf_t *lmcf)
{
    ngx_path_t  *path;

    if (lmcf->spool_dir.len == 0) {
        return NGX_CONF_OK;
    }

    if (ngx_conf_full_name(cf->cycle, &lmcf->spool_dir, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* room for "/<name>.corrupt" after it, and a C string */
    if (lmcf->spool_dir.len > NGX_HTTP_LAVA_SPOOL_PATH_MAX - 2 * NGX_HTTP_LAVA_SPOOL_NAME_LEN)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"lava_event_spool\" path is too long");
        return NGX_CONF_ERROR;
    }

    if (lmcf->spool_max < 256 * 1024) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"lava_event_spool_max\" must be at least 256k");
        return NGX_CONF_ERROR;
    }

    path = ngx_pcalloc(cf->pool, sizeof(ngx_path_t));
    if (path == NULL) {
        return NGX_CONF_ERROR;
    }

    /* ngx_create_paths() makes it at start and gives it to the worker user */
    path->name = lmcf->spool_dir;
    path->conf_file = cf->conf_file->file.name.data;
    path->line = cf->conf_file->line;

    if (ngx_add_path(cf, &path) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_lava_fsync_conf(cf, &lmcf->spool_thread_pool) != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* a C string for open(2) and opendir(3) */
    path->name.data = ngx_pnalloc(cf->pool, lmcf->spool_dir.len + 1);
    if (path->name.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(path->name.data, lmcf->spool_dir.data, lmcf->spool_dir.len);
    path->name.data[lmcf->spool_dir.len] = '\0';
    lmcf->spool_dir.data = path->name.data;

    return NGX_CONF_OK;
}


ngx_http_lava_spool_t *
ngx_http_lava_spool_create(ngx_cycle_t *cycle, ngx_http_lava_main_conf_t *lmcf)
{
    ngx_http_lava_spool_t  *sp;

    if (lmcf->spool_dir.len == 0) {
        return NULL;
    }

    sp = ngx_calloc(sizeof(ngx_http_lava_spool_t), cycle->log);
    if (sp == NULL) {
        return NULL;
    }

    sp->dir = lmcf->spool_dir;
    sp->max = lmcf->spool_max;
    sp->log = cycle->log;
    ngx_queue_init(&sp->segs);

    ngx_http_lava_timer_init(&sp->sync, ngx_http_lava_spool_sync_handler, sp,
                             cycle->log);

    sp->fsync = ngx_http_lava_fsync_create(cycle, &lmcf->spool_thread_pool,
                                           ngx_http_lava_spool_sync_done, sp);

    return sp;
}


ngx_uint_t
ngx_http_lava_spool_unread(ngx_http_lava_spool_t *sp)
{
    return sp->unread > 0;
}


ngx_int_t
ngx_http_lava_spool_append(ngx_http_lava_spool_t *sp, ngx_uint_t argc,
    const char **argv, const size_t *argvlen, uint64_t born_ms)
{
    off_t                       size;
    ngx_http_lava_spool_seg_t  *seg;

    if (sp->error_at
        && ngx_current_msec - sp->error_at < NGX_HTTP_LAVA_SPOOL_ERROR_MS)
    {
        return NGX_ERROR;
    }

    size = lava_spool_record_size(argc, argvlen);

    if (sp->stats.bytes + size + NGX_HTTP_LAVA_SPOOL_MAGIC_LEN > sp->max) {
        return NGX_DECLINED;
    }

    seg = sp->active;

    if (seg == NULL) {
        seg = ngx_http_lava_spool_open_own(sp, born_ms);
        if (seg == NULL) {
            sp->error_at = ngx_current_msec ? ngx_current_msec : 1;
            return NGX_ERROR;
        }

        sp->active = seg;
    }

    if (ngx_http_lava_spool_write(sp, seg, argc, argv, argvlen) != NGX_OK) {
        sp->error_at = ngx_current_msec ? ngx_current_msec : 1;
        return NGX_ERROR;
    }

    sp->unread += size;
    sp->error_at = 0;

    if (sp->error_logged) {
        ngx_log_error(NGX_LOG_NOTICE, sp->log, 0,
                      "lava spool: writing to \"%s\" works again",
                      sp->dir.data);
        sp->error_logged = 0;
    }

    if (seg->size >= NGX_HTTP_LAVA_SPOOL_SEG_MAX) {
        /* the next append starts a file that can be removed on its own */
        seg->sealed = 1;
        sp->active = NULL;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_lava_spool_exit_append(ngx_http_lava_spool_t *sp, ngx_uint_t argc,
    const char **argv, const size_t *argvlen, uint64_t born_ms)
{
    if (sp->exit == NULL) {
        sp->exit = ngx_http_lava_spool_open_own(sp, born_ms);
        if (sp->exit == NULL) {
            return NGX_ERROR;
        }

        /* not read back by this process: it is for the others */
        ngx_queue_remove(&sp->exit->link);
        sp->exit->sealed = 1;
    }

    return ngx_http_lava_spool_write(sp, sp->exit, argc, argv, argvlen);
}


static ngx_http_lava_spool_seg_t *
ngx_http_lava_spool_open_own(ngx_http_lava_spool_t *sp, uint64_t born_ms)
{
    u_char                      path[NGX_HTTP_LAVA_SPOOL_PATH_MAX], *p;
    ssize_t                     n;
    ngx_fd_t                    fd;
    ngx_uint_t                  tries;
    ngx_http_lava_spool_seg_t  *seg;

    seg = ngx_calloc(sizeof(ngx_http_lava_spool_seg_t), sp->log);
    if (seg == NULL) {
        return NULL;
    }

    for (tries = 0; /* void */; tries++) {
        p = ngx_snprintf(seg->name, NGX_HTTP_LAVA_SPOOL_NAME_LEN - 1,
                         "%013uL-%P-%ui.spool", born_ms, ngx_pid, sp->seq++);
        *p = '\0';

        ngx_http_lava_spool_path(sp, path, sizeof(path), seg->name, NULL);

        fd = open((char *) path, O_RDWR|O_CREAT|O_EXCL|O_APPEND|O_CLOEXEC,
                  0600);
        if (fd != NGX_INVALID_FILE) {
            break;
        }

        if (ngx_errno != NGX_EEXIST || tries == 16) {
            if (!sp->error_logged) {
                ngx_log_error(NGX_LOG_ERR, sp->log, ngx_errno,
                              "lava spool: open(\"%s\") failed", path);
                sp->error_logged = 1;
            }

            ngx_free(seg);
            return NULL;
        }
    }

    /*
     * Another worker looking for files to claim may hold the lock of this
     * new, empty file for the moment it takes to see it is empty: wait for
     * that moment rather than fail.
     */
    if (flock(fd, LOCK_EX) == -1) {
        ngx_log_error(NGX_LOG_ERR, sp->log, ngx_errno,
                      "lava spool: flock(\"%s\") failed", path);
        (void) unlink((char *) path);
        (void) close(fd);
        ngx_free(seg);
        return NULL;
    }

    n = write(fd, LAVA_SPOOL_MAGIC, LAVA_SPOOL_MAGIC_LEN);
    if (n != NGX_HTTP_LAVA_SPOOL_MAGIC_LEN) {
        if (!sp->error_logged) {
            ngx_log_error(NGX_LOG_ERR, sp->log, n == -1 ? ngx_errno : 0,
                          "lava spool: write to \"%s\" failed", path);
            sp->error_logged = 1;
        }

        (void) unlink((char *) path);
        (void) close(fd);
        ngx_free(seg);
        return NULL;
    }

    seg->fd = fd;
    seg->size = NGX_HTTP_LAVA_SPOOL_MAGIC_LEN;
    seg->read_off = NGX_HTTP_LAVA_SPOOL_MAGIC_LEN;
    seg->own = 1;
    seg->dirty = 1;

    sp->stats.bytes += seg->size;

    ngx_queue_insert_tail(&sp->segs, &seg->link);

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, sp->log, 0,
                   "lava spool: created \"%s\"", path);

    return seg;
}


static ngx_int_t
ngx_http_lava_spool_write(ngx_http_lava_spool_t *sp,
    ngx_http_lava_spool_seg_t *seg, ngx_uint_t argc, const char **argv,
    const size_t *argvlen)
{
    u_char   *p;
    size_t    size;
    ssize_t   n;

    if (argc > LAVA_SPOOL_ARGS_MAX) {
        return NGX_ERROR;
    }

    size = lava_spool_record_size(argc, argvlen);

    if (size > LAVA_SPOOL_RECORD_MAX) {
        ngx_log_error(NGX_LOG_ERR, sp->log, 0,
                      "lava spool: event of %uz bytes is too big", size);
        return NGX_ERROR;
    }

    if (size > sp->wsize) {
        p = ngx_alloc(ngx_max(size, 4096), sp->log);
        if (p == NULL) {
            return NGX_ERROR;
        }

        ngx_free(sp->wbuf);
        sp->wbuf = p;
        sp->wsize = ngx_max(size, 4096);
    }

    (void) lava_spool_record_encode(sp->wbuf, argc, argv, argvlen);

    /* one write(2) per record: a crash can only cut the last one short */
    n = write(seg->fd, sp->wbuf, size);

    if (n != (ssize_t) size) {
        if (!sp->error_logged) {
            ngx_log_error(NGX_LOG_ERR, sp->log, n == -1 ? ngx_errno : 0,
                          "lava spool: write of %uz bytes to \"%s/%s\" "
                          "failed (%z written)", size, sp->dir.data,
                          seg->name, n);
            sp->error_logged = 1;
        }

        /* a partial record would end the file for its reader: cut it off */
        if (n > 0 && ftruncate(seg->fd, seg->size) == -1) {
            ngx_log_error(NGX_LOG_ALERT, sp->log, ngx_errno,
                          "lava spool: ftruncate(\"%s/%s\") failed",
                          sp->dir.data, seg->name);
            seg->sealed = 1;
            if (sp->active == seg) {
                sp->active = NULL;
            }
        }

        return NGX_ERROR;
    }

    seg->size += size;
    seg->dirty = 1;
    sp->stats.bytes += size;
    sp->stats.written++;

    if (!sp->sync.timer_set) {
        ngx_add_timer(&sp->sync, NGX_HTTP_LAVA_SPOOL_SYNC_MS);
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_lava_spool_next(ngx_http_lava_spool_t *sp,
    ngx_http_lava_spool_rec_t *rec)
{
    size_t                      need, argc;
    ssize_t                     n;
    ngx_int_t                   rc;
    ngx_queue_t                *q;
    ngx_http_lava_spool_seg_t  *seg;

    for (q = ngx_queue_head(&sp->segs);
         q != ngx_queue_sentinel(&sp->segs);
         q = ngx_queue_next(q))
    {
        seg = ngx_queue_data(q, ngx_http_lava_spool_seg_t, link);

        if (seg->read_off >= seg->size) {
            continue;
        }

        /* the header, then the whole record: lib/lava_spool_record.c */

        if (ngx_http_lava_spool_rbuf(sp, LAVA_SPOOL_REC_HDR) != NGX_OK) {
            return NGX_DONE;
        }

        n = pread(seg->fd, sp->rbuf, LAVA_SPOOL_REC_HDR, seg->read_off);

        if (n != LAVA_SPOOL_REC_HDR) {
            ngx_http_lava_spool_stop_reading(sp, seg,
                                             n == -1 ? "read failed"
                                                     : "record cut short",
                                             n != -1);
            goto again;
        }

        rc = lava_spool_record_parse(sp->rbuf, LAVA_SPOOL_REC_HDR, &need,
                                     &argc, rec->argv, rec->argvlen);

        if (rc == LAVA_SPOOL_REC_AGAIN) {
            if (seg->read_off + (off_t) need > seg->size) {
                ngx_http_lava_spool_stop_reading(sp, seg, "record cut short",
                                                 1);
                goto again;
            }

            if (ngx_http_lava_spool_rbuf(sp, need) != NGX_OK) {
                return NGX_DONE;
            }

            n = pread(seg->fd, sp->rbuf + LAVA_SPOOL_REC_HDR,
                      need - LAVA_SPOOL_REC_HDR,
                      seg->read_off + LAVA_SPOOL_REC_HDR);

            if (n != (ssize_t) (need - LAVA_SPOOL_REC_HDR)) {
                ngx_http_lava_spool_stop_reading(sp, seg,
                                                 n == -1 ? "read failed"
                                                         : "record cut short",
                                                 n != -1);
                goto again;
            }

            rc = lava_spool_record_parse(sp->rbuf, need, &need, &argc,
                                         rec->argv, rec->argvlen);
        }

        if (rc != LAVA_SPOOL_REC_OK) {
            /* a length below 4 is the zeros a torn write leaves */
            ngx_http_lava_spool_stop_reading(sp, seg,
                                             lava_spool_record_strerror(rc),
                                             rc == LAVA_SPOOL_REC_TORN);
            goto again;
        }

        rec->argc = argc;
        rec->seg = seg;

        seg->read_off += need;
        seg->unacked++;
        sp->unread -= need;
        sp->stats.read++;

        if (seg->read_off >= seg->size && sp->active == seg) {
            /* read to the end: new events start a new file, so that this
             * one can go once its records are acknowledged */
            seg->sealed = 1;
            sp->active = NULL;
        }

        return NGX_OK;

    again:

        /* the loop goes on with the next file; this one ends when acked */
        if (seg->unacked == 0) {
            q = ngx_queue_prev(q);
            ngx_http_lava_spool_finish(sp, seg);
        }
    }

    return NGX_DONE;
}


/* The read buffer holds at least size bytes; the header read is kept. */
static ngx_int_t
ngx_http_lava_spool_rbuf(ngx_http_lava_spool_t *sp, size_t size)
{
    u_char  *p;

    if (size <= sp->rsize) {
        return NGX_OK;
    }

    size = ngx_max(size, 65536);

    p = ngx_alloc(size, sp->log);
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (sp->rbuf) {
        ngx_memcpy(p, sp->rbuf, LAVA_SPOOL_REC_HDR);
        ngx_free(sp->rbuf);
    }

    sp->rbuf = p;
    sp->rsize = size;

    return NGX_OK;
}


/*
 * The rest of a file cannot be read: it ends here. torn: the last record
 * was cut short, as a crash during its write leaves it; that event was never
 * queued completely, so nothing is lost. Anything else is kept as *.corrupt.
 */
static void
ngx_http_lava_spool_stop_reading(ngx_http_lava_spool_t *sp,
    ngx_http_lava_spool_seg_t *seg, const char *why, ngx_uint_t torn)
{
    off_t       rest;
    ngx_uint_t  level;

    rest = seg->size - seg->read_off;

    if (!torn && !seg->own) {
        seg->corrupt = 1;
    }

    level = torn ? NGX_LOG_WARN : NGX_LOG_ERR;

    ngx_log_error(level, sp->log, 0,
                  "lava spool: \"%s/%s\": %s at offset %O, the last %O bytes "
                  "are not replayed%s", sp->dir.data, seg->name, why,
                  seg->read_off, rest,
                  seg->corrupt ? " (the file is kept as *.corrupt)" : "");

    sp->unread -= rest;
    seg->read_off = seg->size;
    seg->sealed = 1;

    if (sp->active == seg) {
        sp->active = NULL;
    }
}


void
ngx_http_lava_spool_ack(ngx_http_lava_spool_t *sp,
    ngx_http_lava_spool_seg_t *seg)
{
    if (seg->unacked) {
        seg->unacked--;
    }

    if (seg->unacked == 0 && seg->sealed && seg->read_off >= seg->size) {
        ngx_http_lava_spool_finish(sp, seg);
    }
}


/* Every record was read and acknowledged: the file goes, then its lock. */
static void
ngx_http_lava_spool_finish(ngx_http_lava_spool_t *sp,
    ngx_http_lava_spool_seg_t *seg)
{
    u_char  path[NGX_HTTP_LAVA_SPOOL_PATH_MAX], to[NGX_HTTP_LAVA_SPOOL_PATH_MAX];

    ngx_http_lava_spool_path(sp, path, sizeof(path), seg->name, NULL);

    if (seg->corrupt) {
        ngx_http_lava_spool_path(sp, to, sizeof(to), seg->name, ".corrupt");

        if (rename((char *) path, (char *) to) == -1) {
            ngx_log_error(NGX_LOG_ERR, sp->log, ngx_errno,
                          "lava spool: rename(\"%s\", \"%s\") failed",
                          path, to);
        }

    } else if (unlink((char *) path) == -1) {
        ngx_log_error(NGX_LOG_ERR, sp->log, ngx_errno,
                      "lava spool: unlink(\"%s\") failed", path);
    }

    if (!seg->own) {
        ngx_log_error(NGX_LOG_NOTICE, sp->log, 0,
                      "lava spool: \"%s\" replayed", path);
    }

    /* after the unlink: a claimer that gets the lock now finds no link */
    (void) close(seg->fd);

    if (seg->own) {
        sp->stats.bytes -= seg->size;
    }

    if (sp->active == seg) {
        sp->active = NULL;
    }

    ngx_queue_remove(&seg->link);
    ngx_free(seg);
}


static int
ngx_http_lava_spool_cmp(const void *a, const void *b)
{
    return ngx_strcmp(*(u_char **) a, *(u_char **) b);
}


ngx_int_t
ngx_http_lava_spool_claim(ngx_http_lava_spool_t *sp)
{
    DIR                        *dir;
    u_char                     *names, **sorted, path[NGX_HTTP_LAVA_SPOOL_PATH_MAX];
    u_char                      magic[NGX_HTTP_LAVA_SPOOL_MAGIC_LEN];
    size_t                      len;
    ssize_t                     n;
    ngx_fd_t                    fd;
    ngx_int_t                   rc;
    ngx_uint_t                  i, k, mine;
    ngx_queue_t                *q;
    struct stat                 st;
    struct dirent              *de;
    ngx_http_lava_spool_seg_t  *seg;

    dir = opendir((char *) sp->dir.data);
    if (dir == NULL) {
        if (!sp->error_logged) {
            ngx_log_error(NGX_LOG_ERR, sp->log, ngx_errno,
                          "lava spool: opendir(\"%s\") failed", sp->dir.data);
            sp->error_logged = 1;
        }

        return NGX_DECLINED;
    }

    names = ngx_alloc(NGX_HTTP_LAVA_SPOOL_SCAN_MAX
                      * (NGX_HTTP_LAVA_SPOOL_NAME_LEN + sizeof(u_char *)),
                      sp->log);
    if (names == NULL) {
        (void) closedir(dir);
        return NGX_DECLINED;
    }

    sorted = (u_char **) (names + NGX_HTTP_LAVA_SPOOL_SCAN_MAX
                                  * NGX_HTTP_LAVA_SPOOL_NAME_LEN);
    k = 0;

    while (k < NGX_HTTP_LAVA_SPOOL_SCAN_MAX && (de = readdir(dir)) != NULL) {
        len = ngx_strlen(de->d_name);

        if (len <= sizeof(".spool") - 1 || len >= NGX_HTTP_LAVA_SPOOL_NAME_LEN
            || ngx_strcmp(de->d_name + len - (sizeof(".spool") - 1), ".spool")
               != 0)
        {
            continue;
        }

        mine = 0;

        for (q = ngx_queue_head(&sp->segs);
             q != ngx_queue_sentinel(&sp->segs);
             q = ngx_queue_next(q))
        {
            seg = ngx_queue_data(q, ngx_http_lava_spool_seg_t, link);

            if (ngx_strcmp(seg->name, de->d_name) == 0) {
                mine = 1;
                break;
            }
        }

        if (mine) {
            continue;
        }

        sorted[k] = names + k * NGX_HTTP_LAVA_SPOOL_NAME_LEN;
        ngx_memcpy(sorted[k], de->d_name, len + 1);
        k++;
    }

    (void) closedir(dir);

    /* oldest first: names start with the time of their first event */
    ngx_qsort(sorted, k, sizeof(u_char *), ngx_http_lava_spool_cmp);

    rc = NGX_DECLINED;

    for (i = 0; i < k; i++) {
        ngx_http_lava_spool_path(sp, path, sizeof(path), sorted[i], NULL);

        fd = open((char *) path, O_RDWR|O_CLOEXEC);
        if (fd == NGX_INVALID_FILE) {
            continue;                   /* replayed and removed meanwhile */
        }

        /* held: its writer or another replayer is alive */
        if (flock(fd, LOCK_EX|LOCK_NB) == -1) {
            (void) close(fd);
            continue;
        }

        if (fstat(fd, &st) == -1 || st.st_nlink == 0) {
            /* finished by the worker that held it just before */
            (void) close(fd);
            continue;
        }

        if (st.st_size <= NGX_HTTP_LAVA_SPOOL_MAGIC_LEN) {
            /* no record: a file whose writer died at once, or one being
             * created this instant (its writer waits for our lock) */
            if (ngx_time() - st.st_mtime > NGX_HTTP_LAVA_SPOOL_STALE_SEC) {
                (void) unlink((char *) path);
            }

            (void) close(fd);
            continue;
        }

        n = pread(fd, magic, sizeof(magic), 0);

        if (n != (ssize_t) sizeof(magic)
            || !lava_spool_magic_ok(magic, sizeof(magic)))
        {
            u_char  to[NGX_HTTP_LAVA_SPOOL_PATH_MAX];

            ngx_http_lava_spool_path(sp, to, sizeof(to), sorted[i],
                                     ".corrupt");
            ngx_log_error(NGX_LOG_ERR, sp->log, 0,
                          "lava spool: \"%s\" is not a spool file, "
                          "renamed to \"%s\"", path, to);
            (void) rename((char *) path, (char *) to);
            (void) close(fd);
            continue;
        }

        seg = ngx_calloc(sizeof(ngx_http_lava_spool_seg_t), sp->log);
        if (seg == NULL) {
            (void) close(fd);
            break;
        }

        ngx_memcpy(seg->name, sorted[i], ngx_strlen(sorted[i]) + 1);
        seg->fd = fd;
        seg->size = st.st_size;
        seg->read_off = NGX_HTTP_LAVA_SPOOL_MAGIC_LEN;
        seg->sealed = 1;

        ngx_queue_insert_tail(&sp->segs, &seg->link);

        sp->unread += seg->size - seg->read_off;
        sp->stats.claimed++;

        ngx_log_error(NGX_LOG_NOTICE, sp->log, 0,
                      "lava spool: replaying \"%s\" (%O bytes) left by "
                      "another process", path, seg->size);

        rc = NGX_OK;
        break;
    }

    ngx_free(names);

    return rc;
}


void
ngx_http_lava_spool_close(ngx_http_lava_spool_t *sp)
{
    u_char                      path[NGX_HTTP_LAVA_SPOOL_PATH_MAX];
    ngx_queue_t                *q;
    ngx_http_lava_spool_seg_t  *seg;

    if (sp->sync.timer_set) {
        ngx_del_timer(&sp->sync);
    }

    /* a batch in flight syncs its own copies of the descriptors; what was
     * written since is synced below, in this thread: the process is going */
    ngx_http_lava_fsync_free(sp->fsync);
    sp->fsync = NULL;

    if (sp->exit) {
        ngx_queue_insert_tail(&sp->segs, &sp->exit->link);
        sp->exit = NULL;
    }

    while (!ngx_queue_empty(&sp->segs)) {
        q = ngx_queue_head(&sp->segs);
        seg = ngx_queue_data(q, ngx_http_lava_spool_seg_t, link);
        ngx_queue_remove(q);

        if (seg->own && seg->size <= NGX_HTTP_LAVA_SPOOL_MAGIC_LEN) {
            /* nothing in it */
            ngx_http_lava_spool_path(sp, path, sizeof(path), seg->name, NULL);
            (void) unlink((char *) path);

        } else if (seg->dirty) {
            ngx_http_lava_spool_sync_seg(sp, seg);
        }

        /* releases the lock: another process replays what is left */
        (void) close(seg->fd);
        ngx_free(seg);
    }

    ngx_free(sp->rbuf);
    ngx_free(sp->wbuf);
    ngx_free(sp);
}


void
ngx_http_lava_spool_stats(ngx_http_lava_spool_t *sp,
    ngx_http_lava_spool_stats_t *st)
{
    *st = sp->stats;
}


off_t
ngx_http_lava_spool_room(ngx_http_lava_spool_t *sp)
{
    if (sp->error_at
        && ngx_current_msec - sp->error_at < NGX_HTTP_LAVA_SPOOL_ERROR_MS)
    {
        return 0;
    }

    return sp->max - sp->stats.bytes;
}


static void
ngx_http_lava_spool_sync_handler(ngx_event_t *ev)
{
    ngx_queue_t                *q;
    ngx_http_lava_spool_t      *sp = ev->data;
    ngx_http_lava_spool_seg_t  *seg;

    if (sp->fsync) {
        if (ngx_http_lava_fsync_busy(sp->fsync)) {
            return;                     /* its done handler sets the timer */
        }

        if (ngx_http_lava_spool_sync_post(sp) == NGX_OK) {
            return;
        }

        /* the pool refused the task: this once in the event loop */
    }

    for (q = ngx_queue_head(&sp->segs);
         q != ngx_queue_sentinel(&sp->segs);
         q = ngx_queue_next(q))
    {
        seg = ngx_queue_data(q, ngx_http_lava_spool_seg_t, link);

        if (seg->dirty) {
            ngx_http_lava_spool_sync_seg(sp, seg);
        }
    }
}


/*
 * The dirty files go to the thread pool in one batch. A file counts as clean
 * once posted: what is written to it from now on sets it dirty again and is
 * synced by the next batch. NGX_ERROR: nothing was posted.
 */
static ngx_int_t
ngx_http_lava_spool_sync_post(ngx_http_lava_spool_t *sp)
{
    ngx_uint_t                  n, k;
    ngx_queue_t                *q;
    ngx_http_lava_spool_seg_t  *seg;

    n = 0;

    for (q = ngx_queue_head(&sp->segs);
         q != ngx_queue_sentinel(&sp->segs);
         q = ngx_queue_next(q))
    {
        seg = ngx_queue_data(q, ngx_http_lava_spool_seg_t, link);

        if (!seg->dirty) {
            continue;
        }

        /* a full batch or a failed dup(): the rest go with the next one */
        if (ngx_http_lava_fsync_add(sp->fsync, seg->fd, seg->name) != NGX_OK) {
            break;
        }

        n++;
    }

    if (n == 0 || ngx_http_lava_fsync_post(sp->fsync) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the same first n dirty files, in the same order */
    k = 0;

    for (q = ngx_queue_head(&sp->segs);
         q != ngx_queue_sentinel(&sp->segs) && k < n;
         q = ngx_queue_next(q))
    {
        seg = ngx_queue_data(q, ngx_http_lava_spool_seg_t, link);

        if (seg->dirty) {
            seg->dirty = 0;
            k++;
        }
    }

    return NGX_OK;
}


/* In the event loop: a batch of the thread pool is done. */
static void
ngx_http_lava_spool_sync_done(void *data, ngx_http_lava_fsync_batch_t *b)
{
    ngx_http_lava_spool_t *sp = data;

    ngx_uint_t                  i;
    ngx_queue_t                *q;
    ngx_http_lava_spool_seg_t  *seg;

    for (i = 0; i < b->n; i++) {
        ngx_http_lava_spool_sync_took(sp, b->name[i], b->err[i],
                                      b->took_ms[i]);
    }

    /* written while the batch ran, or left out of a full batch */
    for (q = ngx_queue_head(&sp->segs);
         q != ngx_queue_sentinel(&sp->segs);
         q = ngx_queue_next(q))
    {
        seg = ngx_queue_data(q, ngx_http_lava_spool_seg_t, link);

        if (seg->dirty) {
            if (!sp->sync.timer_set) {
                ngx_add_timer(&sp->sync, NGX_HTTP_LAVA_SPOOL_SYNC_MS);
            }

            break;
        }
    }
}


/* In the event loop, as before threads: at exit, without a pool. */
static void
ngx_http_lava_spool_sync_seg(ngx_http_lava_spool_t *sp,
    ngx_http_lava_spool_seg_t *seg)
{
    ngx_err_t   err;
    ngx_msec_t  start;

    ngx_time_update();
    start = ngx_current_msec;

    err = fdatasync(seg->fd) == -1 ? ngx_errno : 0;

    ngx_time_update();

    ngx_http_lava_spool_sync_took(sp, seg->name, err,
                                  ngx_current_msec - start);

    seg->dirty = 0;
}


static void
ngx_http_lava_spool_sync_took(ngx_http_lava_spool_t *sp, u_char *name,
    ngx_err_t err, ngx_msec_t took)
{
    if (err) {
        ngx_log_error(NGX_LOG_ERR, sp->log, err,
                      "lava spool: fdatasync(\"%s/%s\") failed",
                      sp->dir.data, name);
    }

    if (took > sp->stats.sync_max_ms) {
        sp->stats.sync_max_ms = took;
    }

    if (took >= NGX_HTTP_LAVA_SPOOL_SLOW_SYNC_MS) {
        ngx_log_error(NGX_LOG_WARN, sp->log, 0,
                      "lava spool: fdatasync(\"%s/%s\") took %M ms",
                      sp->dir.data, name, took);
    }
}


static u_char *
ngx_http_lava_spool_path(ngx_http_lava_spool_t *sp, u_char *buf, size_t size,
    u_char *name, const char *suffix)
{
    u_char  *p;

    p = ngx_snprintf(buf, size - 1, "%V/%s%s", &sp->dir, name,
                     suffix ? suffix : "");
    *p = '\0';

    return buf;
}
