/*
 * Worker 0 keeps the auth snapshot in lava_auth_zone current
 * (docs/auth-sync.md); the zone and the lookup are ngx_http_lava_auth.c.
 *
 * Worker 0 polls GET <prefix>:version on its own Redis connection. When the
 * version differs from the loaded one it fetches <prefix>:snapshot, checks
 * the whole text (lib/lava_authsnap.c), builds the new tables in one fresh
 * block of the zone and only then swaps the block pointer under the zone's
 * slab mutex: a reader sees the old snapshot or the new one, never a mix.
 * The old block is freed under the same lock, so no reader can still be
 * inside it. A bad snapshot or a full zone keeps the old snapshot. The zone
 * and its snapshot survive a reload (the init_zone data argument), and
 * outages of Redis or Postgres. With lava_auth_file, the last snapshot
 * loaded is also kept on disk; the master loads it into a new zone before
 * the workers start (ngx_http_lava_auth_restore()), so that every worker
 * authenticates from its first request, Redis up or not.
 */


#include "ngx_http_lava_auth.h"
#include "ngx_http_lava_redis.h"


/* worker 0 only */
typedef struct {
    ngx_http_lava_redis_t       *redis;
    ngx_shm_zone_t              *zone;
    ngx_event_t                  poll;
    ngx_msec_t                   interval;
    ngx_str_t                    version_key;    /* cycle pool */
    ngx_str_t                    snapshot_key;
    ngx_str_t                    file;       /* lava_auth_file; len 0 none */
    ngx_log_t                   *log;
    uint64_t                     fetching;   /* version the GET is for */
    uint64_t                     applied;    /* version key last applied */
    uint64_t                     rejected;   /* version key refused */
    unsigned                     has_applied:1;
    unsigned                     has_rejected:1;
    unsigned                     busy:1;     /* a GET awaits its reply */
    unsigned                     missing_logged:1;
    unsigned                     error_logged:1;
    unsigned                     file_logged:1;
} ngx_http_lava_auth_poller_t;


static void ngx_http_lava_auth_poll_handler(ngx_event_t *ev);
static void ngx_http_lava_auth_ready(ngx_http_lava_redis_t *rd);
static void ngx_http_lava_auth_poll(ngx_http_lava_auth_poller_t *p);
static void ngx_http_lava_auth_reply(ngx_http_lava_redis_t *rd,
    redisReply *reply, void *privdata);
static void ngx_http_lava_auth_version_reply(ngx_http_lava_auth_poller_t *p,
    redisReply *reply);
static void ngx_http_lava_auth_snapshot_reply(ngx_http_lava_auth_poller_t *p,
    redisReply *reply);
static void ngx_http_lava_auth_save(ngx_http_lava_auth_poller_t *p,
    u_char *text, size_t len);
static ngx_uint_t ngx_http_lava_auth_file_missing(
    ngx_http_lava_auth_poller_t *p);


static ngx_http_lava_auth_poller_t  ngx_http_lava_auth_poller;

/* privdata of the two GETs */
static char  ngx_http_lava_auth_get_version;
static char  ngx_http_lava_auth_get_snapshot;


/* poller (worker 0) */

static void
ngx_http_lava_auth_poll_handler(ngx_event_t *ev)
{
    ngx_http_lava_auth_poller_t  *p = ev->data;

    /* an exiting worker 0 leaves polling to its successor */
    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    ngx_http_lava_auth_poll(p);

    ngx_add_timer(&p->poll, p->interval);
}


static void
ngx_http_lava_auth_ready(ngx_http_lava_redis_t *rd)
{
    /* at start and after an outage, do not wait for the next tick */
    ngx_http_lava_auth_poll(ngx_http_lava_redis_data(rd));
}


static void
ngx_http_lava_auth_poll(ngx_http_lava_auth_poller_t *p)
{
    size_t       argvlen[2];
    const char  *argv[2];

    if (p->busy || !ngx_http_lava_redis_ready(p->redis)) {
        return;
    }

    argv[0] = "GET";
    argvlen[0] = 3;
    argv[1] = (const char *) p->version_key.data;
    argvlen[1] = p->version_key.len;

    if (ngx_http_lava_redis_command(p->redis, &ngx_http_lava_auth_get_version,
                                    2, argv, argvlen)
        == NGX_OK)
    {
        p->busy = 1;
    }
}


static void
ngx_http_lava_auth_reply(ngx_http_lava_redis_t *rd, redisReply *reply,
    void *privdata)
{
    size_t                        n;
    u_char                        err[128];
    ngx_http_lava_auth_poller_t  *p = ngx_http_lava_redis_data(rd);

    p->busy = 0;

    if (reply == NULL) {
        return;             /* connection lost; polled again once ready */
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        if (!p->error_logged) {
            n = ngx_http_lava_redis_errstr(reply, err, sizeof(err));
            ngx_log_error(NGX_LOG_ERR, p->log, 0,
                          "lava auth: reading the snapshot from redis "
                          "failed (%*s), keeping the loaded one", n, err);
            p->error_logged = 1;
        }

        return;
    }

    p->error_logged = 0;

    if (privdata == &ngx_http_lava_auth_get_version) {
        ngx_http_lava_auth_version_reply(p, reply);

    } else {
        ngx_http_lava_auth_snapshot_reply(p, reply);
    }
}


static void
ngx_http_lava_auth_version_reply(ngx_http_lava_auth_poller_t *p,
    redisReply *reply)
{
    uint64_t                  v, loaded;
    ngx_uint_t                has_loaded;
    size_t                    argvlen[2];
    const char               *argv[2];
    ngx_slab_pool_t          *shpool;
    ngx_http_lava_auth_sh_t  *sh;

    if (reply->type == REDIS_REPLY_NIL) {
        if (!p->missing_logged) {
            ngx_log_error(NGX_LOG_WARN, p->log, 0,
                          "lava auth: no snapshot published yet "
                          "(\"%V\" is not set)", &p->version_key);
            p->missing_logged = 1;
        }

        return;
    }

    if (reply->type != REDIS_REPLY_STRING
        || lava_authsnap_u64(reply->str, reply->len, &v) != LAVA_AUTHSNAP_OK)
    {
        if (!p->missing_logged) {
            ngx_log_error(NGX_LOG_ERR, p->log, 0,
                          "lava auth: \"%V\" does not hold a version number",
                          &p->version_key);
            p->missing_logged = 1;
        }

        return;
    }

    p->missing_logged = 0;

    if ((p->has_applied && v == p->applied)
        || (p->has_rejected && v == p->rejected))
    {
        return;
    }

    shpool = (ngx_slab_pool_t *) p->zone->shm.addr;
    sh = p->zone->data;

    ngx_shmtx_lock(&shpool->mutex);

    has_loaded = (sh->snap != NULL);
    loaded = has_loaded ? sh->snap->version : 0;

    ngx_shmtx_unlock(&shpool->mutex);

    if (has_loaded && loaded == v
        && (p->has_applied || !ngx_http_lava_auth_file_missing(p)))
    {
        /* loaded by a previous worker 0 (before a reload) or by the master
         * at start; fetched once more only to write a missing file (the
         * master read Redis because it was missing or unusable) */
        p->applied = v;
        p->has_applied = 1;
        return;
    }

    argv[0] = "GET";
    argvlen[0] = 3;
    argv[1] = (const char *) p->snapshot_key.data;
    argvlen[1] = p->snapshot_key.len;

    if (ngx_http_lava_redis_command(p->redis,
                                    &ngx_http_lava_auth_get_snapshot,
                                    2, argv, argvlen)
        == NGX_OK)
    {
        p->fetching = v;
        p->busy = 1;
    }
}


static void
ngx_http_lava_auth_snapshot_reply(ngx_http_lava_auth_poller_t *p,
    redisReply *reply)
{
    if (reply->type != REDIS_REPLY_STRING) {
        if (!p->missing_logged) {
            ngx_log_error(NGX_LOG_ERR, p->log, 0,
                          "lava auth: \"%V\" is set but \"%V\" holds no "
                          "snapshot", &p->version_key, &p->snapshot_key);
            p->missing_logged = 1;
        }

        return;
    }

    /* a refused version is not fetched again: one error per version */

    if (ngx_http_lava_auth_load(p->zone, p->log, p->fetching,
                                (u_char *) reply->str, reply->len)
        != NGX_OK)
    {
        p->rejected = p->fetching;
        p->has_rejected = 1;
        return;
    }

    p->applied = p->fetching;
    p->has_applied = 1;
    p->has_rejected = 0;

    if (p->file.len) {
        ngx_http_lava_auth_save(p, (u_char *) reply->str, reply->len);
    }
}


/* snapshot */

/*
 * Builds the snapshot text into a fresh block of the zone and swaps it in.
 * version: the one the text is expected to have, for the messages (0: the
 * text's own, for the file). Worker 0 calls it, and the master at zone
 * init (ngx_http_lava_auth_restore()).
 */
ngx_int_t
ngx_http_lava_auth_load(ngx_shm_zone_t *zone, ngx_log_t *log,
    uint64_t version, u_char *text, size_t len)
{
    size_t                    size;
    lava_authsnap_t          *snap, *old;
    ngx_slab_pool_t          *shpool;
    lava_authsnap_parse_t     ps;
    ngx_http_lava_auth_sh_t  *sh;

    shpool = (ngx_slab_pool_t *) zone->shm.addr;
    sh = zone->data;

    if (len > zone->shm.size) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "lava auth: snapshot of version %uL (%uz bytes) is "
                      "larger than lava_auth_zone \"%V\", keeping the "
                      "previous snapshot",
                      version, len, &zone->shm.name);
        return NGX_ERROR;
    }

    if (lava_authsnap_count(&ps, (char *) text, len) != LAVA_AUTHSNAP_OK) {
        goto invalid;
    }

    if (version == 0) {
        version = ps.version;
    }

    size = lava_authsnap_size(&ps);

    snap = ngx_slab_alloc(shpool, size);
    if (snap == NULL) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "lava auth: lava_auth_zone \"%V\" is full, snapshot "
                      "of version %uL needs %uz bytes next to the loaded "
                      "one, keeping the previous snapshot",
                      &zone->shm.name, ps.version, size);
        return NGX_ERROR;
    }

    if (lava_authsnap_build(&ps, (char *) text, len, snap, size) == NULL) {
        ngx_slab_free(shpool, snap);
        goto invalid;
    }

    /* readers hold the same mutex: none is inside the old block after this */
    ngx_shmtx_lock(&shpool->mutex);

    old = sh->snap;
    sh->snap = snap;

    if (old) {
        ngx_slab_free_locked(shpool, old);
    }

    ngx_shmtx_unlock(&shpool->mutex);

    ngx_http_lava_status_auth_loaded(ps.version);

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "lava auth: snapshot version %uL loaded (%uz keys, "
                  "%uz customers, %uz meters, %uz spend keys, %uz bytes)",
                  ps.version, ps.merchants, ps.customers, ps.meters,
                  ps.spendkeys - ps.revoked, size);

    return NGX_OK;

invalid:

    /* the reason and line number only: the text holds ids and hashes */
    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "lava auth: snapshot of version %uL rejected at line %uz: "
                  "%s, keeping the previous snapshot",
                  version, ps.line, ps.err);

    return NGX_ERROR;
}


/*
 * lava_auth_file: the last snapshot loaded from Redis is kept on disk, so
 * that an nginx started while Redis is away (a restart, a reboot) still
 * knows the keys instead of answering 503 auth_unavailable. Written to a
 * temporary name and renamed over the file: a reader sees a whole snapshot
 * or the previous one; one cut short by a crash fails the parser (it must
 * end with "end") and is not used. The file holds ids and SHA-256 hashes of
 * secret keys, never the keys: mode 0600 all the same.
 */
static void
ngx_http_lava_auth_save(ngx_http_lava_auth_poller_t *p, u_char *text,
    size_t len)
{
    u_char    *tmp;
    size_t     off;
    ssize_t    n;
    ngx_fd_t   fd;

    tmp = ngx_alloc(p->file.len + sizeof(".tmp"), p->log);
    if (tmp == NULL) {
        return;
    }

    ngx_sprintf(tmp, "%V.tmp%Z", &p->file);

    fd = ngx_open_file(tmp, NGX_FILE_WRONLY, NGX_FILE_TRUNCATE,
                       NGX_FILE_OWNER_ACCESS);
    if (fd == NGX_INVALID_FILE) {
        goto failed;
    }

    for (off = 0; off < len; off += (size_t) n) {
        n = ngx_write_fd(fd, text + off, len - off);

        if (n == -1 && ngx_errno == NGX_EINTR) {
            n = 0;
            continue;
        }

        if (n <= 0) {
            (void) ngx_close_file(fd);
            (void) ngx_delete_file(tmp);
            goto failed;
        }
    }

    if (ngx_close_file(fd) == NGX_FILE_ERROR
        || ngx_rename_file(tmp, p->file.data) == NGX_FILE_ERROR)
    {
        (void) ngx_delete_file(tmp);
        goto failed;
    }

    ngx_free(tmp);
    p->file_logged = 0;
    return;

failed:

    if (!p->file_logged) {
        ngx_log_error(NGX_LOG_ERR, p->log, ngx_errno,
                      "lava auth: writing the snapshot to \"%V\" failed, "
                      "an nginx started without redis will not know the "
                      "keys", &p->file);
        p->file_logged = 1;
    }

    ngx_free(tmp);
}


/* 1: lava_auth_file is set but holds no snapshot to start from (absent,
 * empty, not a regular file) */
static ngx_uint_t
ngx_http_lava_auth_file_missing(ngx_http_lava_auth_poller_t *p)
{
    ngx_file_info_t  fi;

    if (p->file.len == 0) {
        return 0;
    }

    if (ngx_link_info(p->file.data, &fi) == NGX_FILE_ERROR) {
        return 1;
    }

    return !ngx_is_file(&fi) || ngx_file_size(&fi) == 0;
}


/*
 * At start, with nothing loaded yet: the snapshot kept by lava_auth_file.
 * Called by the master when it creates the zone, before any worker exists,
 * so that every worker authenticates from its first request (the master
 * runs as root: it can read the file worker 0 wrote, mode 0600).
 */
void
ngx_http_lava_auth_restore(ngx_shm_zone_t *zone, ngx_log_t *log,
    ngx_str_t *file)
{
    off_t             size;
    u_char           *buf;
    size_t            off;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_file_info_t   fi;

    /*
     * The master reads, as root, a file in a directory the workers write:
     * no symlink followed, no FIFO waited on (O_NONBLOCK), a regular file
     * only, of at most the zone's size.
     */
    fd = ngx_open_file(file->data, NGX_FILE_RDONLY|NGX_FILE_NONBLOCK
                                   |O_NOFOLLOW, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        if (ngx_errno != NGX_ENOENT) {
            ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                          "lava auth: opening \"%V\" failed", file);
        }

        return;
    }

    buf = NULL;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "lava auth: stat of \"%V\" failed", file);
        goto done;
    }

    size = ngx_file_size(&fi);

    /* ngx_http_lava_auth_load() refuses what the zone cannot hold */
    if (!ngx_is_file(&fi) || size <= 0 || (size_t) size > zone->shm.size) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "lava auth: \"%V\" is not a regular file, is empty or "
                      "is larger than the zone, not used", file);
        goto done;
    }

    buf = ngx_alloc((size_t) size, log);
    if (buf == NULL) {
        goto done;
    }

    for (off = 0; off < (size_t) size; off += (size_t) n) {
        n = ngx_read_fd(fd, buf + off, (size_t) size - off);

        if (n == -1 && ngx_errno == NGX_EINTR) {
            n = 0;
            continue;
        }

        if (n <= 0) {
            ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                          "lava auth: reading \"%V\" failed", file);
            goto done;
        }
    }

    if (ngx_http_lava_auth_load(zone, log, 0, buf, (size_t) size) == NGX_OK) {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "lava auth: snapshot taken from \"%V\" until redis "
                      "has one", file);
    }

done:

    if (buf) {
        ngx_free(buf);
    }

    (void) ngx_close_file(fd);
}


/* init */

ngx_int_t
ngx_http_lava_auth_init_process(ngx_cycle_t *cycle,
    ngx_http_lava_main_conf_t *lmcf)
{
    ngx_str_t                     *prefix;
    ngx_http_lava_auth_poller_t   *p = &ngx_http_lava_auth_poller;

    if (lmcf->auth_zone == NULL || ngx_worker != 0) {
        return NGX_OK;
    }

    ngx_memzero(p, sizeof(ngx_http_lava_auth_poller_t));

    p->zone = lmcf->auth_zone;
    p->interval = lmcf->auth_poll ? lmcf->auth_poll : 1000;
    p->log = cycle->log;

    prefix = &lmcf->auth_prefix;

    p->version_key.len = prefix->len + sizeof(":version") - 1;
    p->version_key.data = ngx_pnalloc(cycle->pool, p->version_key.len);
    p->snapshot_key.len = prefix->len + sizeof(":snapshot") - 1;
    p->snapshot_key.data = ngx_pnalloc(cycle->pool, p->snapshot_key.len);

    if (p->version_key.data == NULL || p->snapshot_key.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(p->version_key.data, "%V:version", prefix);
    ngx_sprintf(p->snapshot_key.data, "%V:snapshot", prefix);

    /* the master loaded lava_auth_file into the zone before the workers
     * started (ngx_http_lava_auth_init_zone()); worker 0 keeps it */
    p->file = lmcf->auth_file;

    ngx_http_lava_timer_init(&p->poll, ngx_http_lava_auth_poll_handler, p,
                             cycle->log);

    p->redis = ngx_http_lava_redis_create(cycle, lmcf, "auth",
                                          ngx_http_lava_auth_ready,
                                          ngx_http_lava_auth_reply, p);
    if (p->redis == NULL) {
        return NGX_ERROR;
    }

    ngx_add_timer(&p->poll, p->interval);

    return NGX_OK;
}
