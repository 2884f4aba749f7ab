/*
 * Every answer the gateway gives itself instead of the provider's: HTTP
 * status, machine code and message, as sent in
 *   {"error":{"message":"...","code":"...","status":...}}
 * The code is what clients and $lava_error see; docs/directives.md lists
 * each (status, code) pair once, and t/unit/check_refusal.c fails when the
 * two disagree. Codes and messages are client-visible: change them only on
 * purpose.
 *
 * LAVA_REFUSAL(name, status, code, message) per row; a row may share its
 * code with another (one code, several messages). A NULL message means the
 * sender supplies one (the parser's own explanation: lava_url_strerror,
 * lava_token_strerror). Rows from lava_error (error_page) carry the status
 * nginx had decided; theirs is the one they are documented with.
 */
#ifndef LAVA_REFUSAL_H
#define LAVA_REFUSAL_H

#define LAVA_REFUSALS(LAVA_REFUSAL)                                          \
                                                                             \
    /* access phase: the target */                                           \
    LAVA_REFUSAL(INVALID_PATH, 400, "invalid_path",                          \
        "the request path must start with the forward endpoint, unencoded")  \
    LAVA_REFUSAL(NOT_FOUND, 404, "not_found", "no such endpoint")            \
    LAVA_REFUSAL(MISSING_U, 400, "missing_u",                                \
        "the \"u\" query parameter with the provider URL is required")       \
    LAVA_REFUSAL(INVALID_U, 400, "invalid_u", NULL)                          \
    LAVA_REFUSAL(HOST_NOT_ALLOWED, 403, "host_not_allowed",                  \
        "the host of \"u\" is not a configured provider")                    \
                                                                             \
    /* access phase: the forward token and the auth snapshot */              \
    LAVA_REFUSAL(MISSING_TOKEN, 401, "missing_token",                        \
        "a forward token is required (Authorization: Bearer <token>)")       \
    LAVA_REFUSAL(INVALID_TOKEN, 401, "invalid_token", NULL)                  \
    LAVA_REFUSAL(INSUFFICIENT_BALANCE, 402, "insufficient_balance",          \
        "the customer's wallet balance is at or below its minimum; "         \
        "add funds to continue")                                             \
    LAVA_REFUSAL(WALLET_RESERVATION, 402, "insufficient_balance",            \
        "the customer's wallet balance, less what its requests in flight "   \
        "may cost, does not cover this request's maximum cost (its output "  \
        "token limit at the model's rate); lower max_tokens or add funds")   \
    LAVA_REFUSAL(AUTH_UNAVAILABLE, 503, "auth_unavailable",                  \
        "the gateway has not loaded its key data yet; retry shortly")        \
    LAVA_REFUSAL(MERCHANT_DISABLED, 401, "merchant_disabled",                \
        "the merchant is disabled")                                          \
    LAVA_REFUSAL(UNKNOWN_CUSTOMER, 401, "unknown_customer",                  \
        "the token's customer_id is unknown")                                \
    LAVA_REFUSAL(CUSTOMER_DISABLED, 403, "customer_disabled",                \
        "the customer is disabled")                                          \
    LAVA_REFUSAL(UNKNOWN_METER, 400, "unknown_meter",                        \
        "the token's meter_slug is unknown")                                 \
    LAVA_REFUSAL(INVALID_KEY, 401, "invalid_key",                            \
        "the secret key is not valid")                                       \
    LAVA_REFUSAL(RESTRICTED_BILLING, 403, "restricted_key",                  \
        "a restricted secret key cannot set disable_billing: the "           \
        "customer's wallet pays")                                            \
    LAVA_REFUSAL(RESTRICTED_CUSTOMER, 403, "restricted_key",                 \
        "a restricted secret key bills a customer: the token needs "         \
        "customer_id and meter_slug")                                        \
    LAVA_REFUSAL(PROVIDER_KEY_REQUIRED, 401, "provider_key_required",        \
        "no managed key is configured for this provider: send your own key " \
        "in X-Provider-API-Key")                                             \
                                                                             \
    /* rewrite and access phase: spend keys (ngx_http_lava_spendkey.c,     \
     * docs/spend-keys.md) */                                                \
    LAVA_REFUSAL(KEY_EXPIRED, 401, "key_expired",                            \
        "the spend key has expired")                                         \
    LAVA_REFUSAL(KEY_PAUSED, 401, "key_paused",                              \
        "the spend key is paused")                                           \
    LAVA_REFUSAL(KEY_REVOKED, 401, "key_revoked",                            \
        "the spend key was revoked")                                         \
    LAVA_REFUSAL(PROVIDER_NOT_ALLOWED, 403, "provider_not_allowed",          \
        "the spend key does not allow this provider")                        \
    LAVA_REFUSAL(MODEL_NOT_ALLOWED, 403, "model_not_allowed",                \
        "the spend key does not allow this model")                           \
    LAVA_REFUSAL(MODEL_NOT_PRICED, 403, "model_not_priced",                  \
        "the model has no price and unpriced models are refused")            \
    LAVA_REFUSAL(RATE_LIMIT_EXCEEDED, 429, "rate_limit_exceeded",            \
        "the spend key's rate limit (requests per minute) is reached; "      \
        "retry after the seconds in Retry-After")                            \
    LAVA_REFUSAL(REQUEST_LIMIT_EXCEEDED, 429, "request_limit_exceeded",      \
        "the spend key's request limit for this cycle is reached")           \
    LAVA_REFUSAL(SPEND_LIMIT_EXCEEDED, 402, "spend_limit_exceeded",          \
        "the spend key's spend limit for this cycle is reached")             \
                                                                             \
    /* access phase: the endpoint policy, managed keys only                \
     * (ngx_http_lava_policy.c) */                                           \
    LAVA_REFUSAL(ENDPOINT_NOT_METERED, 403, "endpoint_not_metered",          \
        "the gateway does not meter this endpoint, so it is not served "     \
        "with the managed provider key; send your own key in "               \
        "X-Provider-API-Key")                                                \
    LAVA_REFUSAL(BACKGROUND_NOT_METERED, 403, "background_not_metered",      \
        "\"background\": true is not served with the managed provider key: " \
        "its usage appears only after the answer")                           \
    LAVA_REFUSAL(TOOL_NOT_METERED, 403, "tool_not_metered",                  \
        "the request asks for a server-side tool the provider bills in a "   \
        "unit the gateway cannot count, so it is not served with the "       \
        "managed provider key; send your own key in X-Provider-API-Key")     \
    LAVA_REFUSAL(SEARCH_NOT_METERED, 403, "tool_not_metered",                \
        "Chat Completions web search (a search model, web_search_options, "  \
        "search_parameters) is billed per search and the answer does not "  \
        "count them: use the Responses API web_search tool, or your own key")\
    LAVA_REFUSAL(PROMPT_NOT_METERED, 403, "tool_not_metered",                \
        "a stored prompt (\"prompt\") may carry tools the gateway cannot "   \
        "see, so it is not served with the managed provider key")            \
    LAVA_REFUSAL(TOOLS_UNREAD, 403, "tool_not_metered",                      \
        "the request body is too large to be checked for server-side "       \
        "tools, so it is not served with the managed provider key")          \
                                                                             \
    /* access phase: x-lava-metadata (lava_metadata_check) */                \
    LAVA_REFUSAL(METADATA_TOO_LARGE, 400, "invalid_metadata",                \
        "x-lava-metadata is larger than 4096 bytes")                         \
    LAVA_REFUSAL(METADATA_NOT_OBJECT, 400, "invalid_metadata",               \
        "x-lava-metadata must be a JSON object")                             \
    LAVA_REFUSAL(METADATA_BAD_KEY, 400, "invalid_metadata",                  \
        "x-lava-metadata keys must be 1 to 64 characters of "                \
        "A-Z a-z 0-9 _ . : -")                                               \
                                                                             \
    /* access phase: what the usage event cannot carry (the max of its     \
     * row in lava_event_fields.h; ngx_http_lava_access.c asserts that the  \
     * numbers here are those of the table) */                              \
    LAVA_REFUSAL(METHOD_TOO_LONG, 400, "method_too_long",                    \
        "the request method is longer than 32 bytes")                        \
    LAVA_REFUSAL(ENDPOINT_TOO_LONG, 414, "endpoint_too_long",                \
        "the path of the provider URL is longer than 2048 bytes")            \
    LAVA_REFUSAL(MODEL_TOO_LONG, 400, "model_too_long",                      \
        "the model name is longer than 256 bytes")                           \
                                                                             \
    /* access phase: the request body of a metered endpoint */               \
    LAVA_REFUSAL(INVALID_JSON_BODY, 400, "invalid_json_body",                \
        "the request body must be a JSON object (UTF-8, no lone "            \
        "surrogate escapes) for this endpoint to be metered")                \
    LAVA_REFUSAL(INVALID_MULTIPART_BODY, 400, "invalid_multipart_body",      \
        "the multipart/form-data body cannot be read for its model field")   \
    LAVA_REFUSAL(BODY_TOO_LARGE_TO_METER, 413, "body_too_large_to_meter",    \
        "the request body is larger than the gateway reads to meter it, so " \
        "it is not served with the managed provider key")                    \
    LAVA_REFUSAL(MODEL_REQUIRED, 400, "model_required",                      \
        "the request names no model and the provider's answer does not "     \
        "either: name the model to be served with the managed provider key") \
                                                                             \
    /* the unified and rewrite endpoints (ngx_http_lava_api.c) */            \
    LAVA_REFUSAL(UNKNOWN_MODEL, 400, "unknown_model",                        \
        "the model names no provider and no priced model: use "              \
        "\"provider/model\", for example \"anthropic/claude-sonnet-4-5\"")   \
    LAVA_REFUSAL(MODEL_NO_CHAT, 400, "unknown_model",                        \
        "the gateway knows no chat endpoint of this model's provider")       \
    /* a spend key on the unified endpoint of the other request_shape     \
     * (the message names the key's endpoint) */                            \
    LAVA_REFUSAL(REQUEST_SHAPE_NOT_ALLOWED, 403, "request_shape_not_allowed",\
        "the spend key's request_shape is not this endpoint's")              \
    LAVA_REFUSAL(TRANSLATION_UNSUPPORTED, 400, "translation_unsupported",    \
        "the request cannot be translated into the provider's format")      \
    /* a lava_api request's fallbacks (ngx_http_lava_fallback.c; the      \
     * message names the member and what is wrong) */                      \
    LAVA_REFUSAL(INVALID_FALLBACKS, 400, "invalid_fallbacks",                \
        "fallbacks must be a list of {\"url\", \"model\"}")                  \
    /* the provider's JSON answer, not the request: served and billed, its  \
     * body cannot be given in the client's shape (sent by                   \
     * ngx_http_lava_xlate_filter.c with the translator's reason) */         \
    LAVA_REFUSAL(TRANSLATION_FAILED, 502, "translation_failed",              \
        "the provider's answer cannot be translated into the client's "      \
        "format")                                                            \
                                                                             \
    /* rewrite phase: lava_event_spool_full refuse */                        \
    LAVA_REFUSAL(EVENT_SPOOL_FULL, 503, "event_spool_full",                  \
        "the gateway cannot record usage at the moment; retry later")        \
                                                                             \
    /* lava_error: errors nginx produced, by the status it chose */          \
    LAVA_REFUSAL(PROVIDER_TIMEOUT, 504, "provider_timeout",                  \
        "the provider did not answer in time")                               \
    LAVA_REFUSAL(PROVIDER_UNREACHABLE, 502, "provider_unreachable",          \
        "the provider could not be reached or its TLS certificate could "    \
        "not be verified")                                                   \
    LAVA_REFUSAL(UNAVAILABLE, 503, "unavailable",                            \
        "the gateway is temporarily unavailable")                            \
    LAVA_REFUSAL(GATEWAY_ERROR, 500, "gateway_error",                        \
        "the gateway failed to handle the request")                          \
                                                                             \
    /* lava_error: requests nginx refused itself (server-level error_page,  \
     * conf/lava-server.conf; the forward location's, lava-forward.conf)    \
     * before or while reading them */                                      \
    LAVA_REFUSAL(BAD_REQUEST, 400, "bad_request",                            \
        "the request is malformed (request line, headers, Transfer-Encoding "\
        "or chunked body)")                                                  \
    LAVA_REFUSAL(HEADER_TOO_LARGE, 400, "request_header_too_large",          \
        "a request header or cookie is too large")                           \
    LAVA_REFUSAL(METHOD_NOT_ALLOWED, 405, "method_not_allowed",              \
        "the method is not allowed here")                                    \
    LAVA_REFUSAL(REQUEST_TIMEOUT, 408, "request_timeout",                    \
        "the request body was not received in time")                         \
    LAVA_REFUSAL(LENGTH_REQUIRED, 411, "length_required",                    \
        "the request needs a Content-Length")                                \
    LAVA_REFUSAL(BODY_TOO_LARGE, 413, "body_too_large",                      \
        "the request body is larger than the gateway accepts")               \
    LAVA_REFUSAL(URI_TOO_LARGE, 414, "uri_too_large",                        \
        "the request line is too large")                                     \
    LAVA_REFUSAL(NOT_IMPLEMENTED, 501, "not_implemented",                    \
        "the request uses a Transfer-Encoding the gateway does not "         \
        "support")                                                           \
    LAVA_REFUSAL(VERSION_NOT_SUPPORTED, 505, "http_version_not_supported",   \
        "the HTTP version is not supported")


typedef enum {
#define LAVA_REFUSAL_ENUM(name, status, code, message)  LAVA_REFUSAL_##name,
    LAVA_REFUSALS(LAVA_REFUSAL_ENUM)
#undef LAVA_REFUSAL_ENUM
    LAVA_REFUSAL_COUNT
} lava_refusal_e;

#endif
