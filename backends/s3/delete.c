#include "delete.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "strbuf.h"

int s3del_can_carry(const char *key)
{
    size_t len = strlen(key);
    if (len == 0 || len > S3_MAX_KEY || strbuf_has_control(key, len) ||
        strstr(key, "\xef\xbf\xbe") || strstr(key, "\xef\xbf\xbf"))
        return 0;
    int ascii = 1;
    for (size_t i = 0; i < len && ascii; i++)
        ascii = (unsigned char)key[i] < 0x80;
    if (ascii)
        return 1;
    /* what strbuf_put_printable leaves as it is, is valid UTF-8 */
    strbuf b;
    strbuf_init(&b, 0);
    int same = strbuf_put_printable(&b, key, len) == 0 && b.len == len;
    strbuf_free(&b);
    return same;
}

char *s3del_body(const char *const *keys, size_t n, size_t *len)
{
    strbuf b;
    strbuf_init(&b, 0);
    strbuf_puts(&b, "<Delete><Quiet>true</Quiet>");
    for (size_t i = 0; i < n; i++) {
        if (!s3del_can_carry(keys[i])) {
            char shown[300];
            strbuf_printable_copy(shown, sizeof shown, keys[i]);
            strbuf_free(&b);
            err_set(ERR_FAIL, "%s: a key that XML cannot carry", shown);
            return NULL;
        }
        strbuf_puts(&b, "<Object><Key>");
        for (const char *p = keys[i]; *p; p++) {
            switch (*p) {
            case '&':
                strbuf_puts(&b, "&amp;");
                break;
            case '<':
                strbuf_puts(&b, "&lt;");
                break;
            case '>':
                strbuf_puts(&b, "&gt;");
                break;
            case '"':
                strbuf_puts(&b, "&quot;");
                break;
            case '\'':
                strbuf_puts(&b, "&apos;");
                break;
            default:
                strbuf_append(&b, p, 1);
            }
        }
        strbuf_puts(&b, "</Key></Object>");
    }
    strbuf_puts(&b, "</Delete>");
    *len = b.len;
    return strbuf_take(&b); /* NULL with err set after a failed append */
}

/* The answer of a server without DeleteObjects (a minimal S3 clone). */
static int unsupported(const s3http_response *resp)
{
    static const char *const codes[] = {"NotImplemented", "UnsupportedOperation",
                                        "MethodNotAllowed", NULL};
    if (resp->status == 501 || resp->status == 405)
        return 1;
    for (size_t i = 0; resp->status == 400 && codes[i]; i++)
        if (strcmp(resp->err_code, codes[i]) == 0)
            return 1;
    return 0;
}

/* The request failed as a whole: every key gets its error. */
static int fail_all(const char *const *keys, size_t n, char **errors)
{
    for (size_t i = 0; i < n; i++) {
        free(errors[i]);
        if (asprintf(&errors[i], "%s: %s", keys[i], err_msg()) < 0) {
            errors[i] = NULL;
            return err_set(ERR_FAIL, "out of memory");
        }
    }
    return (int)n;
}

/* The answer's <Error> entries into ERRORS; how many keys were not
 * removed. */
static int map_errors(const s3_params *cfg, const char *const *keys, size_t n,
                      const s3xml_delete *d, char **errors)
{
    size_t unknown = 0;
    const char *first_unknown = NULL;
    for (size_t j = 0; j < d->n; j++) {
        const s3xml_delete_error *e = &d->errors[j];
        int matched = 0;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(keys[i], e->key) != 0)
                continue;
            matched = 1;
            if (errors[i])
                continue; /* named twice: the first answer stands */
            char code[64], msg[400];
            strbuf_printable_copy(code, sizeof code,
                                  *e->code ? e->code : "an error without a Code");
            strbuf_printable_copy(msg, sizeof msg, e->message);
            /* the key quoted is ours, not the server's */
            if (asprintf(&errors[i], "%s: %s%s%s", keys[i], code, *msg ? ": " : "", msg) < 0) {
                errors[i] = NULL;
                return err_set(ERR_FAIL, "out of memory");
            }
        }
        if (!matched && !unknown++)
            first_unknown = e->key;
    }
    if (unknown) {
        char shown[300];
        strbuf_printable_copy(shown, sizeof shown, first_unknown);
        log_warn("remote %s: the answer to DeleteObjects names %zu error%s for key%s that %s "
                 "not asked for, such as \"%s\"",
                 cfg->name, unknown, unknown == 1 ? "" : "s", unknown == 1 ? "" : "s",
                 unknown == 1 ? "was" : "were", shown);
        /* Quiet answers list no deletions: an error that names no key of
         * ours may be about any of them, so none is known to be gone (the
         * next prune tries again; a manifest is never taken as removed
         * before its archive goes) */
        for (size_t i = 0; i < n; i++)
            if (!errors[i] && asprintf(&errors[i],
                                       "%s: not known to be deleted: the server answered an error "
                                       "for a key it did not name as ours (\"%s\")",
                                       keys[i], shown) < 0) {
                errors[i] = NULL;
                return err_set(ERR_FAIL, "out of memory");
            }
    }
    int failed = 0;
    for (size_t i = 0; i < n; i++)
        failed += errors[i] != NULL;
    return failed;
}

int s3del_batch(s3http_conn *conn, const s3http_client *c, const char *const *keys, size_t n,
                char **errors)
{
    const s3_params *cfg = s3http_config(c);
    size_t len = 0;
    char *body = s3del_body(keys, n, &len);
    if (!body)
        return -1;
    char md5[32];
    sigv4_md5_base64(body, len, md5);
    sigv4_param q = {"delete", ""};
    sigv4_header h[] = {{"Content-MD5", md5}, {"Content-Type", "application/xml"}};
    /* a DeleteObjects may be sent again: its keys are gone or not, so the
     * retries of http.h apply as to any request */
    s3http_request req = {.method = "POST",
                          .query = &q,
                          .n_query = 1,
                          .headers = h,
                          .n_headers = 2,
                          .body = body,
                          .body_len = len};
    s3http_response resp;
    int rc = s3http_perform(conn, &req, &resp);
    if (rc < 0 && backend_cancelled(&cfg->cancel)) {
        rc = -1;
    } else if (rc < 0 && unsupported(&resp)) {
        rc = S3DEL_UNSUPPORTED;
    } else {
        s3xml_delete d;
        memset(&d, 0, sizeof d);
        if (rc == 0 && s3xml_parse_delete(resp.body, resp.body_len, &d) < 0)
            rc = err_prefix("POST %s?delete: ", cfg->bucket);
        rc = rc < 0 ? fail_all(keys, n, errors) : map_errors(cfg, keys, n, &d, errors);
        s3xml_delete_free(&d);
    }
    s3http_response_free(&resp);
    free(body);
    return rc;
}
