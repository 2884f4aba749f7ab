/*
 * Signals and time for the sidecar's single-threaded loop. SIGTERM/SIGINT
 * (drain and stop) and SIGHUP (reload) are blocked and read from a
 * signalfd, so they are handled between steps, never inside one. Waits
 * (backoff) poll the signalfd, so a stop request cuts them short.
 */
#ifndef SIDECAR_LOOP_H
#define SIDECAR_LOOP_H

#include <poll.h>
#include <stdint.h>

extern int loop_stop;      /* SIGTERM or SIGINT seen: finish the batch, exit */
extern int loop_reload;    /* SIGHUP seen: reload config and rates */

int loop_init(void);       /* blocks the signals, opens the signalfd */
void loop_poll_signals(void);

/* Sleeps up to ms, returning early when a signal arrives. */
void loop_sleep_ms(int ms);

/*
 * Descriptors served while the loop waits (the metrics responder): fill()
 * sets up to max pollfds, ready() serves whatever is ready without ever
 * waiting. One watcher; a wait still lasts its full time.
 */
#define LOOP_WATCH_MAX  16

typedef int (*loop_fill_pt)(struct pollfd *pfd, int max, void *data);
typedef void (*loop_ready_pt)(void *data);

void loop_watch(loop_fill_pt fill, loop_ready_pt ready, void *data);

int64_t loop_now_ms(void); /* monotonic */

/* Exponential backoff for reconnects: 100 ms doubling up to 5 s. */
typedef struct {
    int  next_ms;
} backoff_t;

void backoff_reset(backoff_t *b);
void backoff_wait(backoff_t *b);

#endif
