/*
 * Provider table: the lava_provider directive, the managed key file, the
 * host lookup, and the check that every provider upstream resolves to public
 * addresses only.
 */

#include "ngx_http_lava_module.h"
#include "lava_keys.h"


typedef struct {
    const char  *name;
    ngx_uint_t   value;
} ngx_http_lava_name_t;


static ngx_http_lava_name_t  ngx_http_lava_auth_formats[] = {
    { "bearer",          NGX_HTTP_LAVA_AUTH_BEARER },
    { "x-api-key",       NGX_HTTP_LAVA_AUTH_X_API_KEY },
    { "x-goog-api-key",  NGX_HTTP_LAVA_AUTH_X_GOOG_API_KEY },
    { "xi-api-key",      NGX_HTTP_LAVA_AUTH_XI_API_KEY },
    { "none",            NGX_HTTP_LAVA_AUTH_NONE },
    { NULL, 0 }
};


static ngx_int_t
ngx_http_lava_lookup_name(ngx_http_lava_name_t *names, ngx_str_t *s,
    ngx_uint_t *value)
{
    for ( /* void */ ; names->name; names++) {
        if (ngx_strlen(names->name) == s->len
            && ngx_strncmp(names->name, s->data, s->len) == 0)
        {
            *value = names->value;
            return NGX_OK;
        }
    }

    return NGX_ERROR;
}


/* host names only: lower-case letters, digits, '-' and '.' */
static ngx_int_t
ngx_http_lava_valid_host(ngx_str_t *host)
{
    u_char      c;
    ngx_uint_t  i;

    if (host->len == 0 || host->len > 253) {
        return NGX_ERROR;
    }

    for (i = 0; i < host->len; i++) {
        c = host->data[i];

        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
            || c == '-' || c == '.')
        {
            continue;
        }

        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * lava_provider <name> upstream=<upstream> auth=<format> usage=<format>
 *               [custom] <host> [<host> ...];
 */
char *
ngx_http_lava_provider_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_lava_main_conf_t *lmcf = conf;

    int                        fmt;
    ngx_str_t                 *value, s, *host;
    ngx_uint_t                 i;
    ngx_http_lava_provider_t  *p;

    value = cf->args->elts;

    if (!lava_keys_name_valid((char *) value[1].data, value[1].len)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid lava_provider name \"%V\": a lower-case "
                           "letter, then lower-case letters, digits, \"-\" "
                           "and \"_\", at most %d bytes", &value[1],
                           LAVA_KEYS_NAME_MAX);
        return NGX_CONF_ERROR;
    }

    p = lmcf->providers.elts;
    for (i = 0; i < lmcf->providers.nelts; i++) {
        if (p[i].name.len == value[1].len
            && ngx_strncmp(p[i].name.data, value[1].data, value[1].len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate lava_provider \"%V\"", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    p = ngx_array_push(&lmcf->providers);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(p, sizeof(ngx_http_lava_provider_t));
    p->name = value[1];
    p->auth = NGX_HTTP_LAVA_AUTH_BEARER;
    p->usage = LAVA_USAGE_OPENAI;

    p->hosts = ngx_array_create(cf->pool, 2, sizeof(ngx_str_t));
    if (p->hosts == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "upstream=", 9) == 0) {
            p->upstream.data = value[i].data + 9;
            p->upstream.len = value[i].len - 9;
            continue;
        }

        if (ngx_strncmp(value[i].data, "auth=", 5) == 0) {
            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            if (s.len == 9 && ngx_strncmp(s.data, "query-key", 9) == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "auth=query-key in lava_provider \"%V\" "
                                   "would put the key into the upstream URL, "
                                   "which nginx logs: use a header format",
                                   &p->name);
                return NGX_CONF_ERROR;
            }

            if (ngx_http_lava_lookup_name(ngx_http_lava_auth_formats, &s,
                                          &p->auth)
                != NGX_OK)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "unknown auth format \"%V\" in "
                                   "lava_provider \"%V\"", &s, &p->name);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "usage=", 6) == 0) {
            fmt = lava_usage_format_from_name((char *) value[i].data + 6,
                                              value[i].len - 6);
            if (fmt < 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "unknown usage format \"%V\" in "
                                   "lava_provider \"%V\"", &value[i],
                                   &p->name);
                return NGX_CONF_ERROR;
            }

            p->usage = fmt;
            continue;
        }

        if (value[i].len == 6 && ngx_strncmp(value[i].data, "custom", 6) == 0)
        {
            p->custom = 1;
            continue;
        }

        if (ngx_strlchr(value[i].data, value[i].data + value[i].len, '=')) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unknown parameter \"%V\" in lava_provider "
                               "\"%V\"", &value[i], &p->name);
            return NGX_CONF_ERROR;
        }

        ngx_strlow(value[i].data, value[i].data, value[i].len);

        if (ngx_http_lava_valid_host(&value[i]) != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid host \"%V\" in lava_provider \"%V\"",
                               &value[i], &p->name);
            return NGX_CONF_ERROR;
        }

        host = ngx_array_push(p->hosts);
        if (host == NULL) {
            return NGX_CONF_ERROR;
        }

        *host = value[i];
    }

    if (p->upstream.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "lava_provider \"%V\" has no upstream=", &p->name);
        return NGX_CONF_ERROR;
    }

    if (p->hosts->nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "lava_provider \"%V\" has no host", &p->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * The key file (lava_provider_keys), read by lib/lava_keys.c. Keys never
 * reach a log line; errors name the line number only.
 */
static ngx_int_t
ngx_http_lava_read_keys(ngx_conf_t *cf, ngx_http_lava_main_conf_t *lmcf)
{
    u_char                    *p;
    size_t                     n;
    ssize_t                    rd;
    ngx_fd_t                   fd;
    ngx_int_t                  rc;
    ngx_uint_t                 i, found;
    lava_keys_t                kr;
    ngx_file_info_t            fi;
    lava_keys_entry_t          e;
    ngx_http_lava_provider_t  *pr;

    if (ngx_conf_full_name(cf->cycle, &lmcf->keys_file, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    fd = ngx_open_file(lmcf->keys_file.data, NGX_FILE_RDONLY, NGX_FILE_OPEN,
                       0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "cannot open lava_provider_keys \"%V\"",
                           &lmcf->keys_file);
        return NGX_ERROR;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR
        || ngx_file_size(&fi) > LAVA_KEYS_FILE_MAX)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "lava_provider_keys \"%V\" is not a readable file "
                           "of at most 1 MiB", &lmcf->keys_file);
        ngx_close_file(fd);
        return NGX_ERROR;
    }

    /* the operator's provider keys: the master reads them as root, nobody
     * else has to */
    if (fi.st_mode & (S_IRGRP|S_IWGRP|S_IROTH|S_IWOTH)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "lava_provider_keys \"%V\" is readable or "
                           "writable by group or others (mode 0%ui%ui%ui): "
                           "run \"chmod 600 %V\"", &lmcf->keys_file,
                           (ngx_uint_t) (fi.st_mode >> 6) & 7,
                           (ngx_uint_t) (fi.st_mode >> 3) & 7,
                           (ngx_uint_t) fi.st_mode & 7, &lmcf->keys_file);
        ngx_close_file(fd);
        return NGX_ERROR;
    }

    n = (size_t) ngx_file_size(&fi);

    p = ngx_pnalloc(cf->pool, n + 1);
    if (p == NULL) {
        ngx_close_file(fd);
        return NGX_ERROR;
    }

    rd = ngx_read_fd(fd, p, n);
    ngx_close_file(fd);

    if (rd != (ssize_t) n) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "cannot read lava_provider_keys \"%V\"",
                           &lmcf->keys_file);
        return NGX_ERROR;
    }

    /* the keys point into p, in the configuration pool */
    rc = lava_keys_init(&kr, (char *) p, n);

    while (rc == LAVA_KEYS_OK) {
        rc = lava_keys_next(&kr, &e);

        if (rc != LAVA_KEYS_OK) {
            break;
        }

        found = 0;
        pr = lmcf->providers.elts;

        for (i = 0; i < lmcf->providers.nelts; i++) {
            if (pr[i].name.len == e.name_len
                && ngx_strncmp(pr[i].name.data, e.name, e.name_len) == 0)
            {
                pr[i].key.data = (u_char *) e.key;
                pr[i].key.len = e.key_len;
                found = 1;
                break;
            }
        }

        if (found) {
            continue;
        }

        /* the first field is copied only when it cannot be a key written
         * first ("sk-... openai") */
        if (lava_keys_name_valid(e.name, e.name_len)) {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "lava_provider_keys \"%V\" line %uz names "
                               "unknown provider \"%*s\"", &lmcf->keys_file,
                               e.line, e.name_len, e.name);

        } else {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "lava_provider_keys \"%V\" line %uz: its "
                               "first field is not a provider name (expected "
                               "\"<provider> <key>\"); line ignored",
                               &lmcf->keys_file, e.line);
        }
    }

    if (rc != LAVA_KEYS_DONE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid line %uz in lava_provider_keys \"%V\": "
                           "expected \"<provider> <key>\" with a key of "
                           "printable characters", kr.line,
                           &lmcf->keys_file);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* loopback, private, link-local, CGNAT, multicast, reserved, unspecified */
static ngx_int_t
ngx_http_lava_public_in(in_addr_t a)
{
    a = ntohl(a);

    if ((a >> 24) == 0 || (a >> 24) == 10 || (a >> 24) == 127
        || (a & 0xffc00000) == 0x64400000           /* 100.64/10 */
        || (a & 0xffff0000) == 0xa9fe0000           /* 169.254/16 */
        || (a & 0xfff00000) == 0xac100000           /* 172.16/12 */
        || (a & 0xffffff00) == 0xc0000000           /* 192.0.0/24 */
        || (a & 0xffffff00) == 0xc0000200           /* 192.0.2/24 */
        || (a & 0xffff0000) == 0xc0a80000           /* 192.168/16 */
        || (a & 0xfffe0000) == 0xc6120000           /* 198.18/15 */
        || (a & 0xffffff00) == 0xc6336400           /* 198.51.100/24 */
        || (a & 0xffffff00) == 0xcb007100           /* 203.0.113/24 */
        || (a >> 28) >= 0xe)                        /* multicast, 240/4 */
    {
        return 0;
    }

    return 1;
}


static ngx_int_t
ngx_http_lava_public_addr(struct sockaddr *sa)
{
#if (NGX_HAVE_INET6)
    u_char               *b;
    in_addr_t             a4;
    struct sockaddr_in6  *sin6;
#endif

    switch (sa->sa_family) {

    case AF_INET:
        return ngx_http_lava_public_in(((struct sockaddr_in *) sa)->sin_addr
                                       .s_addr);

#if (NGX_HAVE_INET6)
    case AF_INET6:
        sin6 = (struct sockaddr_in6 *) sa;
        b = sin6->sin6_addr.s6_addr;

        if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)
            || IN6_IS_ADDR_V4COMPAT(&sin6->sin6_addr))
        {
            ngx_memcpy(&a4, &b[12], 4);
            return ngx_http_lava_public_in(a4);
        }

        if (b[0] == 0x20 && b[1] == 0x02) {
            /* 6to4 (2002::/16) carries an IPv4 address in bits 16-47 */
            ngx_memcpy(&a4, &b[2], 4);
            return ngx_http_lava_public_in(a4);
        }

        if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x00) {
            /* Teredo (2001::/32): the real peer is hidden in the address */
            return 0;
        }

        if (IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr)
            || IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr)
            || IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr)
            || IN6_IS_ADDR_SITELOCAL(&sin6->sin6_addr)
            || IN6_IS_ADDR_MULTICAST(&sin6->sin6_addr)
            || (b[0] & 0xfe) == 0xfc                      /* fc00::/7 */
            || (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d
                && b[3] == 0xb8)                          /* 2001:db8::/32 */
            || (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff
                && b[3] == 0x9b))                         /* 64:ff9b::/96 */
        {
            return 0;
        }

        return 1;
#endif

    default:
        return 0;
    }
}


static ngx_int_t
ngx_http_lava_check_upstream(ngx_conf_t *cf, ngx_http_lava_main_conf_t *lmcf,
    ngx_http_lava_provider_t *p)
{
    ngx_http_upstream_rr_peer_t    *peer;
    ngx_http_upstream_rr_peers_t   *peers;

    if (p->uscf->peer.init_upstream != NULL
        && p->uscf->peer.data == NULL)
    {
        /* not a round-robin based balancer we can inspect */
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "upstream \"%V\" of lava_provider \"%V\" has no "
                           "peers to check", &p->upstream, &p->name);
        return NGX_ERROR;
    }

    for (peers = p->uscf->peer.data; peers; peers = peers->next) {
        for (peer = peers->peer; peer; peer = peer->next) {

            if (ngx_http_lava_public_addr(peer->sockaddr)) {
                continue;
            }

            if (lmcf->allow_private_upstreams) {
                continue;
            }

            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "upstream \"%V\" of lava_provider \"%V\" "
                               "resolves to the non-public address %V; "
                               "set \"lava_allow_private_upstreams on\" only "
                               "for local testing", &p->upstream, &p->name,
                               &peer->name);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* each lava_provider_header goes to the headers of its provider */
static ngx_int_t
ngx_http_lava_provider_headers_init(ngx_conf_t *cf,
    ngx_http_lava_main_conf_t *lmcf)
{
    ngx_uint_t                        i, k;
    ngx_table_elt_t                  *h;
    ngx_http_lava_provider_t         *p;
    ngx_http_lava_provider_header_t  *ph;

    if (lmcf->provider_headers == NULL) {
        return NGX_OK;
    }

    p = lmcf->providers.elts;
    ph = lmcf->provider_headers->elts;

    for (i = 0; i < lmcf->provider_headers->nelts; i++) {

        for (k = 0; k < lmcf->providers.nelts; k++) {
            if (p[k].name.len == ph[i].provider.len
                && ngx_strncmp(p[k].name.data, ph[i].provider.data,
                               p[k].name.len) == 0)
            {
                break;
            }
        }

        if (k == lmcf->providers.nelts) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "lava_provider_header names provider \"%V\", "
                               "which is not defined", &ph[i].provider);
            return NGX_ERROR;
        }

        if (p[k].headers == NULL) {
            p[k].headers = ngx_array_create(cf->pool, 2,
                                            sizeof(ngx_table_elt_t));
            if (p[k].headers == NULL) {
                return NGX_ERROR;
            }
        }

        h = ngx_array_push(p[k].headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        *h = ph[i].header;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_lava_providers_init(ngx_conf_t *cf, ngx_http_lava_main_conf_t *lmcf)
{
    ngx_int_t                       rc;
    ngx_str_t                      *host;
    ngx_uint_t                      i, j, k;
    ngx_hash_init_t                 hash;
    ngx_hash_keys_arrays_t          keys;
    ngx_http_lava_provider_t       *p;
    ngx_http_upstream_srv_conf_t  **uscfp;
    ngx_http_upstream_main_conf_t  *umcf;

    if (lmcf->providers.nelts == 0) {
        return NGX_OK;
    }

    if (lmcf->keys_file.len
        && ngx_http_lava_read_keys(cf, lmcf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    umcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_upstream_module);
    uscfp = umcf->upstreams.elts;

    keys.pool = cf->pool;
    keys.temp_pool = cf->temp_pool;

    if (ngx_hash_keys_array_init(&keys, NGX_HASH_SMALL) != NGX_OK) {
        return NGX_ERROR;
    }

    p = lmcf->providers.elts;

    for (i = 0; i < lmcf->providers.nelts; i++) {

        for (k = 0; k < umcf->upstreams.nelts; k++) {
            if (uscfp[k]->host.len == p[i].upstream.len
                && (uscfp[k]->flags & NGX_HTTP_UPSTREAM_CREATE)
                && ngx_strncmp(uscfp[k]->host.data, p[i].upstream.data,
                               p[i].upstream.len) == 0)
            {
                p[i].uscf = uscfp[k];
                break;
            }
        }

        if (p[i].uscf == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "lava_provider \"%V\" names upstream \"%V\", "
                               "which is not defined", &p[i].name,
                               &p[i].upstream);
            return NGX_ERROR;
        }

        if (ngx_http_lava_check_upstream(cf, lmcf, &p[i]) != NGX_OK) {
            return NGX_ERROR;
        }

        host = p[i].hosts->elts;

        for (j = 0; j < p[i].hosts->nelts; j++) {
            rc = ngx_hash_add_key(&keys, &host[j], &p[i],
                                  NGX_HASH_READONLY_KEY);

            if (rc == NGX_BUSY) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "host \"%V\" of lava_provider \"%V\" "
                                   "belongs to another provider too",
                                   &host[j], &p[i].name);
                return NGX_ERROR;
            }

            if (rc != NGX_OK) {
                return NGX_ERROR;
            }
        }
    }

    if (ngx_http_lava_provider_endpoints_init(cf, lmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_lava_provider_headers_init(cf, lmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    hash.hash = &lmcf->hosts;
    hash.key = ngx_hash_key;
    hash.max_size = 1024;
    hash.bucket_size = ngx_align(64, ngx_cacheline_size);
    hash.name = "lava_provider_hosts_hash";
    hash.pool = cf->pool;
    hash.temp_pool = NULL;

    if (ngx_hash_init(&hash, keys.keys.elts, keys.keys.nelts) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_http_lava_provider_t *
ngx_http_lava_provider_find(ngx_http_lava_main_conf_t *lmcf, u_char *host,
    size_t len)
{
    if (lmcf->providers.nelts == 0) {
        return NULL;
    }

    /* the host is lower case already (lava_url_parse) */
    return ngx_hash_find(&lmcf->hosts, ngx_hash_key(host, len), host, len);
}
