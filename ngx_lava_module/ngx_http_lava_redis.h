/*
 * One hiredis async connection driven by the nginx event loop of a worker.
 *
 * Each user (the event queue, the auth poller) owns its own connection, so
 * a slow snapshot download never delays an XADD and every user sees its
 * replies through one callback, in command order.
 *
 * hiredis 0.14 has no timers and no reconnect: this file adds a connect
 * timeout and a reply timeout (both lava_redis_timeout), a handshake that
 * proves Redis answers (AUTH when a password is set, else PING), and
 * reconnects with a capped exponential backoff (100 ms .. 5 s). Nothing here
 * blocks the worker, except ngx_http_lava_redis_drive(), which is meant for
 * process exit only and is bounded by its caller.
 *
 * Memory: the connection object is malloc()ed per worker and lives until
 * ngx_http_lava_redis_destroy_all() at process exit.
 */

#ifndef NGX_HTTP_LAVA_REDIS_H
#define NGX_HTTP_LAVA_REDIS_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "ngx_http_lava_module.h"


typedef struct ngx_http_lava_redis_s  ngx_http_lava_redis_t;

/* The connection became usable: connected, and AUTH or PING answered. */
typedef void (*ngx_http_lava_redis_ready_pt)(ngx_http_lava_redis_t *rd);

/*
 * Called exactly once per command sent with ngx_http_lava_redis_command(),
 * in the order the commands were sent. reply NULL: the connection went away
 * first; Redis may or may not have applied the command. The reply belongs
 * to hiredis and is freed when the callback returns. The callback may send
 * more commands or call ngx_http_lava_redis_fail().
 */
typedef void (*ngx_http_lava_redis_reply_pt)(ngx_http_lava_redis_t *rd,
    redisReply *reply, void *privdata);


/*
 * Creates the connection and starts connecting at once. name ("events",
 * "auth") only appears in log messages. NULL on allocation failure.
 */
ngx_http_lava_redis_t *ngx_http_lava_redis_create(ngx_cycle_t *cycle,
    ngx_http_lava_main_conf_t *lmcf, const char *name,
    ngx_http_lava_redis_ready_pt ready, ngx_http_lava_redis_reply_pt reply,
    void *data);

void *ngx_http_lava_redis_data(ngx_http_lava_redis_t *rd);
ngx_uint_t ngx_http_lava_redis_ready(ngx_http_lava_redis_t *rd);

/*
 * Appends a command to the output buffer (argv is copied). NGX_OK sent;
 * NGX_DECLINED not ready (nothing sent, call again after the ready callback);
 * NGX_ERROR hiredis refused it.
 */
ngx_int_t ngx_http_lava_redis_command(ngx_http_lava_redis_t *rd,
    void *privdata, int argc, const char **argv, const size_t *argvlen);

/*
 * Drops the connection after the caller has logged why (e.g. an error reply
 * that must stop a pipeline), and reconnects after the backoff. Commands
 * still waiting get their NULL replies. Safe inside a reply callback.
 */
void ngx_http_lava_redis_fail(ngx_http_lava_redis_t *rd);

/*
 * Process exit only: waits up to timeout ms for I/O on the connection with
 * poll(2) and runs hiredis on it (nginx's event loop no longer runs). Opens
 * a connection first if there is none (once per process). NGX_OK: call
 * again while there is work; NGX_DONE: no connection to drive.
 */
ngx_int_t ngx_http_lava_redis_drive(ngx_http_lava_redis_t *rd,
    ngx_msec_t timeout);

/*
 * Process exit: closes every connection of this worker for good (waiting
 * callbacks get NULL replies). Never call it from a reply callback.
 */
void ngx_http_lava_redis_destroy_all(void);

/*
 * Copies a printable, bounded form of a reply's text into buf for a log
 * message and returns its length. Only for Redis error replies: their texts
 * never echo command arguments such as the password.
 */
size_t ngx_http_lava_redis_errstr(redisReply *reply, u_char *buf,
    size_t size);

#endif /* NGX_HTTP_LAVA_REDIS_H */
