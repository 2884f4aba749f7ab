/*
 * Redis connections (hiredis 0.14, blocking). The URL may hold a
 * password: it is never logged; errors name host and port.
 */
#ifndef SIDECAR_RCONN_H
#define SIDECAR_RCONN_H

#include <hiredis/hiredis.h>

/* Connects, AUTHs and SELECTs as the URL says; timeout_ms bounds every
 * later reply too. NULL on failure (logged). */
redisContext *rconn_open(const char *url, int timeout_ms);
void rconn_close(redisContext **c);

/* A reply that is an error, or no reply at all (connection lost). */
int rconn_failed(redisContext *c, redisReply *r, const char *what);

#endif
