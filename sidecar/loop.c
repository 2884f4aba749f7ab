#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"

#define BACKOFF_MIN_MS  100
#define BACKOFF_MAX_MS  5000

int loop_stop;
int loop_reload;

static int sfd = -1;

static struct {
    loop_fill_pt   fill;
    loop_ready_pt  ready;
    void          *data;
} watch;

void
loop_watch(loop_fill_pt fill, loop_ready_pt ready, void *data)
{
    watch.fill = fill;
    watch.ready = ready;
    watch.data = data;
}

int
loop_init(void)
{
    sigset_t set;

    signal(SIGPIPE, SIG_IGN);

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);

    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) {
        slog(SLOG_ERROR, "sigprocmask failed: %s", strerror(errno));
        return -1;
    }
    sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0) {
        slog(SLOG_ERROR, "signalfd failed: %s", strerror(errno));
        return -1;
    }
    return 0;
}

void
loop_poll_signals(void)
{
    struct signalfd_siginfo si;

    if (sfd < 0) {
        return;
    }
    while (read(sfd, &si, sizeof(si)) == (ssize_t) sizeof(si)) {
        switch (si.ssi_signo) {
        case SIGTERM:
        case SIGINT:
            if (!loop_stop) {
                slog(SLOG_INFO, "signal %d: draining, then exiting", (int) si.ssi_signo);
            }
            loop_stop = 1;
            break;
        case SIGHUP:
            loop_reload = 1;
            break;
        }
    }
}

void
loop_sleep_ms(int ms)
{
    struct pollfd   pfd[1 + LOOP_WATCH_MAX];
    struct timespec ts;
    int64_t         deadline;
    int             n;

    if (ms <= 0) {
        loop_poll_signals();
        return;
    }
    if (sfd < 0) {
        ts.tv_sec = ms / 1000;
        ts.tv_nsec = (long) (ms % 1000) * 1000000;
        nanosleep(&ts, NULL);
        return;
    }
    deadline = loop_now_ms() + ms;
    for (;;) {
        pfd[0].fd = sfd;
        pfd[0].events = POLLIN;
        pfd[0].revents = 0;
        n = 1;
        if (watch.fill != NULL) {
            n += watch.fill(&pfd[1], LOOP_WATCH_MAX, watch.data);
        }
        (void) poll(pfd, (nfds_t) n, ms);
        loop_poll_signals();
        if (pfd[0].revents != 0) {
            return;                     /* a signal cuts the wait short */
        }
        if (n > 1 && watch.ready != NULL) {
            watch.ready(watch.data);
        }
        ms = (int) (deadline - loop_now_ms());
        if (ms <= 0) {
            return;
        }
    }
}

int64_t
loop_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
backoff_reset(backoff_t *b)
{
    b->next_ms = BACKOFF_MIN_MS;
}

void
backoff_wait(backoff_t *b)
{
    if (b->next_ms < BACKOFF_MIN_MS) {
        b->next_ms = BACKOFF_MIN_MS;
    }
    loop_sleep_ms(b->next_ms);
    b->next_ms = b->next_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : b->next_ms * 2;
}
