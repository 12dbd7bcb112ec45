#include "http.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "creds.h"
#include "cond_wait.h"
#include "err.h"
#include "log.h"
#include "strbuf.h"

#define BACKOFF_BASE_MS 200
#define BACKOFF_MAX_MS  20000

struct s3http_client {
    const s3_params *rc; /* = &params */
    s3_params params;    /* a copy; its strings are the caller's */
    char *scheme;        /* "http" or "https" */
    char *hostport;      /* endpoint host[:port] */
    char *basepath;      /* endpoint path without trailing '/', "" when none */
    char *prefix;        /* "" or ending with '/' */
    int virtual_style;
    s3_creds creds; /* sodium memory; the access key too, as it names the account */
};

struct s3http_conn {
    const s3http_client *c;
    CURL *h;
    CURLM *m; /* runs H, so that waits can look at signals; keeps the connection */
    atomic_int *cancel;
    char errbuf[CURL_ERROR_SIZE];
};

/* ---- client ---------------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_init_rc;

static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int parse_endpoint(s3http_client *c, const char *ep)
{
    const char *p = strstr(ep, "://");
    if (!p)
        return err_set(ERR_USAGE, "endpoint %s is not a URL", ep);
    const char *host = p + 3, *slash = strchr(host, '/');
    size_t hl = slash ? (size_t)(slash - host) : strlen(host);
    if (hl == 0)
        return err_set(ERR_USAGE, "endpoint %s has no host", ep);
    c->scheme = strndup(ep, (size_t)(p - ep));
    c->hostport = strndup(host, hl);
    c->basepath = strdup(slash ? slash : "");
    if (!c->scheme || !c->hostport || !c->basepath)
        return err_set(ERR_FAIL, "out of memory");
    for (char *h = c->hostport; *h; h++)
        *h = (char)tolower((unsigned char)*h);
    size_t bl = strlen(c->basepath);
    while (bl > 0 && c->basepath[bl - 1] == '/')
        c->basepath[--bl] = '\0';
    return 0;
}

s3http_client *s3http_client_new(const s3_params *rc)
{
    if (sodium_init() < 0) {
        err_set(ERR_FAIL, "libsodium cannot be initialised");
        return NULL;
    }
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc < 0) {
        err_set(ERR_FAIL, "libcurl cannot be initialised");
        return NULL;
    }
    if (!rc->endpoint || !rc->bucket || !rc->region) {
        err_set(ERR_USAGE, "endpoint, region and bucket must be set");
        return NULL;
    }
    s3http_client *c = calloc(1, sizeof *c);
    if (!c) {
        err_set(ERR_FAIL, "out of memory");
        return NULL;
    }
    c->params = *rc;
    c->rc = &c->params;
    if (parse_endpoint(c, rc->endpoint) < 0)
        goto fail;
    c->virtual_style = rc->url_style && strcmp(rc->url_style, "virtual") == 0;
    const char *pre = rc->prefix ? rc->prefix : "";
    size_t pl = strlen(pre);
    if (asprintf(&c->prefix, "%s%s", pre, pl && pre[pl - 1] != '/' ? "/" : "") < 0) {
        c->prefix = NULL;
        err_set(ERR_FAIL, "out of memory");
        goto fail;
    }
    if (s3_creds_load(&c->creds, rc->credentials, rc->profile) < 0)
        goto fail;
    return c;
fail:
    s3http_client_free(c);
    return NULL;
}

void s3http_client_free(s3http_client *c)
{
    if (!c)
        return;
    free(c->scheme);
    free(c->hostport);
    free(c->basepath);
    free(c->prefix);
    s3_creds_free(&c->creds);
    free(c);
}

char *s3http_key(const s3http_client *c, const char *name)
{
    char *k;
    if (asprintf(&k, "%s%s", c->prefix, name) < 0) {
        err_set(ERR_FAIL, "out of memory");
        return NULL;
    }
    return k;
}

const char *s3http_prefix(const s3http_client *c)
{
    return c->prefix;
}

const s3_params *s3http_config(const s3http_client *c)
{
    return c->rc;
}

s3http_conn *s3http_conn_new(const s3http_client *c, atomic_int *cancel)
{
    s3http_conn *conn = calloc(1, sizeof *conn);
    if (!conn || !(conn->h = curl_easy_init()) || !(conn->m = curl_multi_init())) {
        if (conn)
            curl_easy_cleanup(conn->h);
        free(conn);
        err_set(ERR_FAIL, "out of memory (curl handle)");
        return NULL;
    }
    conn->c = c;
    conn->cancel = cancel;
    return conn;
}

void s3http_conn_free(s3http_conn *conn)
{
    if (!conn)
        return;
    curl_multi_cleanup(conn->m);
    curl_easy_cleanup(conn->h);
    free(conn);
}

/* ---- one request --------------------------------------------------------- */

typedef struct {
    const s3http_request *r;
    s3http_response *resp;
    size_t body_cap;
    int overflow;  /* a 2xx answer larger than it may be */
    int error_cut; /* an error answer past S3HTTP_MAX_ERROR_BODY: not read further */
    int sink_stop; /* the sink refused more bytes, or the Range was ignored */
    int bad;       /* a header that breaks the rules (BAD_*, see http.h) */
    /* Content-Range of the answer: "bytes FIRST-LAST/TOTAL" (TOTAL "*": not
     * TOTAL_KNOWN), its text as sent (escaped, cut) for messages */
    int cr_seen, cr_parsed, cr_total_known;
    uint64_t cr_first, cr_last, cr_total;
    char cr_text[120];
    int range_bad;    /* a 206 that is not the range asked for (see http.h) */
    size_t sent;      /* of the request body */
    double answer_at; /* monotonic time of the answer's first byte, 0 before */
} xfer;

enum { BAD_NONE, BAD_ETAG_LONG, BAD_ETAG_CONTROL, BAD_LENGTH, BAD_RANGE };

static const char *bad_text(int bad)
{
    switch (bad) {
    case BAD_ETAG_CONTROL:
        return "the ETag header holds control characters";
    case BAD_LENGTH:
        return "the Content-Length header is not a number";
    case BAD_RANGE:
        return "the Content-Range header is malformed";
    default:
        return "a malformed header";
    }
}

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int is_2xx(long status)
{
    return status >= 200 && status < 300;
}

static size_t on_body(char *data, size_t sz, size_t nm, void *ud)
{
    xfer *x = ud;
    s3http_response *resp = x->resp;
    size_t n = sz * nm;
    if (x->r->sink && is_2xx(resp->status)) {
        if ((x->r->want_partial && resp->status != 206) ||
            x->r->sink(x->r->sink_ctx, data, n) < 0) {
            x->sink_stop = 1;
            return 0;
        }
        resp->body_len += n;
        return n;
    }
    if (x->r->out && is_2xx(resp->status)) {
        if (n > x->r->out_cap - resp->body_len) {
            x->overflow = 1;
            return 0;
        }
        memcpy((char *)x->r->out + resp->body_len, data, n);
        resp->body_len += n;
        return n;
    }
    size_t max = is_2xx(resp->status) ? S3HTTP_MAX_BODY : S3HTTP_MAX_ERROR_BODY;
    if (n > max - resp->body_len) {
        /* an error's status says enough; its body is not worth more */
        if (is_2xx(resp->status))
            x->overflow = 1;
        else
            x->error_cut = 1;
        return 0;
    }
    if (resp->body_len + n + 1 > x->body_cap) {
        size_t cap = x->body_cap ? x->body_cap : 4096;
        while (cap < resp->body_len + n + 1)
            cap *= 2;
        char *nb = realloc(resp->body, cap);
        if (!nb) {
            x->overflow = 1;
            return 0;
        }
        resp->body = nb;
        x->body_cap = cap;
    }
    memcpy(resp->body + resp->body_len, data, n);
    resp->body_len += n;
    resp->body[resp->body_len] = '\0';
    return n;
}

/* When the header line DATA (N bytes, not NUL-terminated) is field NAME:
 * 1 and its value (blanks and the line end trimmed) in *V, *VLEN. */
static int header_is(const char *data, size_t n, const char *name, const char **v, size_t *vlen)
{
    size_t nl = strlen(name);
    if (n <= nl || strncasecmp(data, name, nl) != 0 || data[nl] != ':')
        return 0;
    const char *p = data + nl + 1, *end = data + n;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *v = p;
    *vlen = (size_t)(end - p);
    return 1;
}

/* A decimal number of LEN bytes at V; -1 when it is anything else. */
static int parse_u64(const char *v, size_t len, uint64_t *out)
{
    char num[24];
    if (len == 0 || len >= sizeof num)
        return -1;
    for (size_t i = 0; i < len; i++)
        if (v[i] < '0' || v[i] > '9')
            return -1;
    memcpy(num, v, len);
    num[len] = '\0';
    errno = 0;
    unsigned long long u = strtoull(num, NULL, 10);
    if (errno)
        return -1;
    *out = u;
    return 0;
}

/* "bytes FIRST-LAST/TOTAL" (TOTAL may be "*") of LEN bytes at V into X. */
static void parse_content_range(xfer *x, const char *v, size_t len)
{
    const char *end = v + len, *dash, *slash;
    char raw[sizeof x->cr_text];
    size_t n = len < sizeof raw - 1 ? len : sizeof raw - 1;
    memcpy(raw, v, n);
    raw[n] = '\0';
    strbuf_printable_copy(x->cr_text, sizeof x->cr_text, raw);
    x->cr_seen = 1;
    x->cr_parsed = 0;
    if (len < 6 || strncmp(v, "bytes ", 6) != 0)
        return;
    v += 6;
    if (!(dash = memchr(v, '-', (size_t)(end - v))) ||
        !(slash = memchr(dash, '/', (size_t)(end - dash))))
        return;
    if (parse_u64(v, (size_t)(dash - v), &x->cr_first) < 0 ||
        parse_u64(dash + 1, (size_t)(slash - dash - 1), &x->cr_last) < 0)
        return;
    x->cr_total_known = !(end - slash == 2 && slash[1] == '*');
    if (x->cr_total_known && parse_u64(slash + 1, (size_t)(end - slash - 1), &x->cr_total) < 0)
        return;
    x->cr_parsed = 1;
}

/* 1 when the 206 in X holds the range its request asked for (http.h). */
static int range_matches(const xfer *x)
{
    const s3http_request *r = x->r;
    if (!x->cr_parsed || !x->cr_total_known)
        return 0;
    if (x->cr_first != r->range_first || x->cr_last < x->cr_first || x->cr_last > r->range_last ||
        x->cr_total != r->range_total)
        return 0;
    return !x->resp->has_length || x->resp->content_length == x->cr_last - x->cr_first + 1;
}

/* Header lines arrive one per call, not NUL-terminated, up to curl's own
 * limit (100 KB): parsed in place, never copied into a fixed buffer. */
static size_t on_header(char *data, size_t sz, size_t nm, void *ud)
{
    xfer *x = ud;
    s3http_response *resp = x->resp;
    size_t n = sz * nm;
    const char *v;
    size_t vl;
    uint64_t u;
    if (!x->answer_at)
        x->answer_at = now_mono();
    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        /* a new response (after 100 Continue or a redirect): start over */
        const char *sp = memchr(data, ' ', n);
        size_t left = sp ? n - (size_t)(sp + 1 - data) : 0;
        resp->status = 0;
        if (left >= 3 && parse_u64(sp + 1, 3, &u) == 0)
            resp->status = (long)u;
        resp->etag[0] = '\0';
        resp->has_length = 0;
        resp->has_captured = 0;
        x->bad = BAD_NONE;
        x->cr_seen = x->cr_parsed = 0;
        return n;
    }
    if (n <= 2 && (data[0] == '\r' || data[0] == '\n')) {
        /* the end of this answer's head: a 206 must be the range asked
         * for before a byte of its body is taken */
        if (x->r->check_range && resp->status == 206 && !range_matches(x)) {
            x->range_bad = 1;
            return 0;
        }
        return n;
    }
    if (header_is(data, n, "etag", &v, &vl)) {
        if (vl > S3HTTP_MAX_ETAG) {
            x->bad = BAD_ETAG_LONG;
        } else if (strbuf_has_control(v, vl)) {
            x->bad = BAD_ETAG_CONTROL;
        } else {
            memcpy(resp->etag, v, vl);
            resp->etag[vl] = '\0';
        }
    } else if (header_is(data, n, "content-length", &v, &vl)) {
        if (parse_u64(v, vl, &u) < 0) {
            x->bad = BAD_LENGTH;
        } else {
            resp->content_length = u;
            resp->has_length = 1;
        }
    } else if (header_is(data, n, "content-range", &v, &vl)) {
        parse_content_range(x, v, vl);
        if (!x->cr_parsed)
            x->bad = BAD_RANGE;
        else if (x->cr_total_known)
            resp->total_size = x->cr_total;
    } else if (header_is(data, n, "last-modified", &v, &vl)) {
        char date[64];
        resp->last_modified = 0;
        if (vl < sizeof date) {
            memcpy(date, v, vl);
            date[vl] = '\0';
            time_t t = curl_getdate(date, NULL);
            resp->last_modified = t < 0 ? 0 : t;
        }
    } else if (x->r->capture && header_is(data, n, x->r->capture, &v, &vl)) {
        if (vl <= S3HTTP_MAX_CAPTURE && !strbuf_has_control(v, vl)) {
            memcpy(resp->captured, v, vl);
            resp->captured[vl] = '\0';
            resp->has_captured = 1;
        }
    }
    return n;
}

static size_t on_read(char *buf, size_t sz, size_t nm, void *ud)
{
    xfer *x = ud;
    size_t n = sz * nm, left = x->r->body_len - x->sent;
    if (n > left)
        n = left;
    memcpy(buf, (const char *)x->r->body + x->sent, n);
    x->sent += n;
    return n;
}

static int on_seek(void *ud, curl_off_t off, int origin)
{
    xfer *x = ud;
    if (origin != SEEK_SET || off < 0 || (size_t)off > x->r->body_len)
        return CURL_SEEKFUNC_CANTSEEK;
    x->sent = (size_t)off;
    return CURL_SEEKFUNC_OK;
}

/* URL and canonical path of KEY (NULL: the bucket) for QUERY. */
static int build_url(const s3http_client *c, const char *key, const char *query, char **url,
                     char **path, char **host)
{
    char *ekey = sigv4_uri_encode(key ? key : "", 1);
    if (!ekey)
        return -1;
    int rc;
    *url = *path = *host = NULL;
    if (c->virtual_style) {
        rc = asprintf(host, "%s.%s", c->rc->bucket, c->hostport);
        if (rc >= 0)
            rc = asprintf(path, "%s/%s", c->basepath, ekey);
    } else {
        rc = asprintf(host, "%s", c->hostport);
        if (rc >= 0)
            rc = asprintf(path, "%s/%s%s%s", c->basepath, c->rc->bucket, key ? "/" : "", ekey);
    }
    if (rc >= 0)
        rc = asprintf(url, "%s://%s%s%s%s", c->scheme, *host, *path, *query ? "?" : "", query);
    free(ekey);
    if (rc < 0) {
        free(*host);
        free(*path);
        *url = *path = *host = NULL;
        return err_set(ERR_FAIL, "out of memory");
    }
    return 0;
}

static struct curl_slist *add_header(struct curl_slist *l, int *oom, const char *name,
                                     const char *value)
{
    char *h;
    if (*oom || asprintf(&h, "%s: %s", name, value) < 0) {
        *oom = 1;
        return l;
    }
    struct curl_slist *nl = curl_slist_append(l, h);
    /* the Authorization line is derived from the secret: wipe our copy */
    sodium_memzero(h, strlen(h));
    free(h);
    if (!nl)
        *oom = 1;
    return nl ? nl : l;
}

static int has_header(const s3http_request *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return 1;
    return 0;
}

/* Seconds a buffered answer may take from its first byte. */
static double answer_time(const s3_params *rc)
{
    long io = rc->io_timeout > 0 ? rc->io_timeout : 60L;
    return io * 5 > S3HTTP_ANSWER_TIME ? (double)io * 5 : (double)S3HTTP_ANSWER_TIME;
}

/* Run the transfer on CONN's multi handle, waking every S3HTTP_POLL_MS to
 * look at the cancel flag, signals and the answer's deadline: a stalled
 * server never holds the caller longer than that.  CURLE_OK, curl's result,
 * or CURLE_ABORTED_BY_CALLBACK with the error set when we stopped it. */
static CURLcode run_transfer(s3http_conn *conn, const s3http_request *r, xfer *x, const char *url)
{
    CURLM *m = conn->m;
    CURL *h = conn->h;
    CURLcode cc = CURLE_OK;
    double sig_at = 0, limit = answer_time(conn->c->rc);
    const char *what = r->key ? r->key : conn->c->rc->bucket;
    if (curl_multi_add_handle(m, h) != CURLM_OK) {
        err_set(ERR_FAIL, "%s %s: cannot start the transfer", r->method, url);
        return CURLE_FAILED_INIT;
    }
    for (;;) {
        int running = 0;
        CURLMcode mc = curl_multi_perform(m, &running);
        if (mc != CURLM_OK) {
            err_set(ERR_FAIL, "%s %s: %s", r->method, url, curl_multi_strerror(mc));
            cc = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        if (!running) {
            int q;
            CURLMsg *msg;
            while ((msg = curl_multi_info_read(m, &q)))
                if (msg->msg == CURLMSG_DONE && msg->easy_handle == h)
                    cc = msg->data.result;
            break;
        }
        if (conn->cancel && atomic_load(conn->cancel)) {
            err_set(ERR_FAIL, "%s %s: cancelled", r->method, what);
            cc = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        int sig = backend_cancelled(&conn->c->rc->cancel);
        if (sig && r->cleanup && !sig_at)
            sig_at = now_mono();
        if (sig && (!r->cleanup || now_mono() - sig_at > S3HTTP_CLEANUP_GRACE_MS / 1000.0)) {
            err_set(ERR_FAIL, "%s %s: interrupted by signal %d", r->method, what, sig);
            cc = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        if (!r->sink && x->answer_at && now_mono() - x->answer_at > limit) {
            err_set(ERR_FAIL, "%s %s: the answer took longer than %.0f s (the limit for an answer)",
                    r->method, what, limit);
            cc = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        mc = curl_multi_poll(m, NULL, 0, S3HTTP_POLL_MS, NULL);
        if (mc != CURLM_OK) {
            err_set(ERR_FAIL, "%s %s: %s", r->method, url, curl_multi_strerror(mc));
            cc = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
    }
    curl_multi_remove_handle(m, h);
    return cc;
}

/* One attempt; 0 when an HTTP answer arrived (any status), -1 with *CURL_RC
 * set when the transfer failed. */
static int attempt(s3http_conn *conn, const s3http_request *r, s3http_response *resp,
                   const char *body_sha256, CURLcode *curl_rc)
{
    const s3http_client *c = conn->c;
    const s3_params *rc = c->rc;
    char *query = NULL, *url = NULL, *path = NULL, *host = NULL, *auth = NULL;
    struct curl_slist *hl = NULL;
    int oom = 0, ret = -1;
    xfer x = {.r = r, .resp = resp};

    *curl_rc = CURLE_OK;
    if (!(query = sigv4_canonical_query(r->query, r->n_query)) ||
        build_url(c, r->key, query, &url, &path, &host) < 0)
        goto out;
    char date[17];
    sigv4_amz_date(time(NULL), date);
    sigv4_creds cr = {.access_key = c->creds.access_key,
                      .secret_key = c->creds.secret_key,
                      .session_token = c->creds.session_token,
                      .region = rc->region};
    sigv4_request sr = {.method = r->method,
                        .path = path,
                        .query = query,
                        .host = host,
                        .amz_date = date,
                        .payload_sha256 = body_sha256,
                        .headers = r->headers,
                        .n_headers = r->n_headers};
    if (!(auth = sigv4_authorization(&cr, &sr)))
        goto out;
    hl = add_header(hl, &oom, "Host", host);
    hl = add_header(hl, &oom, "x-amz-date", date);
    hl = add_header(hl, &oom, "x-amz-content-sha256", body_sha256);
    if (c->creds.session_token)
        hl = add_header(hl, &oom, "x-amz-security-token", c->creds.session_token);
    for (size_t i = 0; i < r->n_headers; i++)
        hl = add_header(hl, &oom, r->headers[i].name, r->headers[i].value);
    hl = add_header(hl, &oom, "Authorization", auth);
    if (!oom)
        hl = curl_slist_append(hl, "Expect:"); /* no 100-continue round trip */
    if (!oom && !has_header(r, "Content-Type"))
        hl = curl_slist_append(hl, "Content-Type:"); /* none rather than curl's form type */
    if (oom || !hl) {
        err_set(ERR_FAIL, "out of memory");
        goto out;
    }

    CURL *h = conn->h;
    curl_easy_reset(h);
    conn->errbuf[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, conn->errbuf);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT,
                     rc->connect_timeout > 0 ? rc->connect_timeout : 30L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, rc->io_timeout > 0 ? rc->io_timeout : 60L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    if (rc->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, rc->ca_file);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
    if (strcmp(r->method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(r->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(r->method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, &x);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, &x);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body_len);
    } else if (strcmp(r->method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body ? (const char *)r->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    } else {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
    }
    log_debug("s3: %s %s", r->method, url);
    CURLcode cc = run_transfer(conn, r, &x, url);
    if (cc == CURLE_ABORTED_BY_CALLBACK || cc == CURLE_FAILED_INIT) {
        *curl_rc = cc; /* the error is set */
        goto out;
    }
    if (x.range_bad) {
        const char *what = r->key ? r->key : rc->bucket;
        char length[64] = "";
        if (x.cr_parsed && x.cr_last >= x.cr_first && resp->has_length &&
            resp->content_length != x.cr_last - x.cr_first + 1)
            snprintf(length, sizeof length, " and Content-Length %llu",
                     (unsigned long long)resp->content_length);
        if (x.cr_seen)
            err_set(ERR_FAIL,
                    "%s %s: asked for bytes %llu-%llu of %llu, the server answered 206 with "
                    "Content-Range \"%s\"%s: not the bytes asked for",
                    r->method, what, (unsigned long long)r->range_first,
                    (unsigned long long)r->range_last, (unsigned long long)r->range_total,
                    x.cr_text, length);
        else
            err_set(ERR_FAIL,
                    "%s %s: asked for bytes %llu-%llu of %llu, the server answered 206 without a "
                    "Content-Range: cannot tell which bytes it holds",
                    r->method, what, (unsigned long long)r->range_first,
                    (unsigned long long)r->range_last, (unsigned long long)r->range_total);
        *curl_rc = CURLE_WRITE_ERROR;
        goto out;
    }
    if (x.sink_stop && cc != CURLE_OK) {
        err_set(ERR_FAIL, "%s %s: %s", r->method, url,
                resp->status == 200 && r->want_partial ? "the server ignored the Range header"
                                                       : "stopped");
        *curl_rc = CURLE_WRITE_ERROR;
        goto out;
    }
    if (x.overflow && cc != CURLE_OK) {
        err_set(ERR_FAIL, "%s %s: the answer is larger than %zu bytes (the limit for %s)",
                r->method, url, r->out ? r->out_cap : (size_t)S3HTTP_MAX_BODY,
                r->out ? "this request" : "a buffered answer");
        *curl_rc = CURLE_ABORTED_BY_CALLBACK;
        goto out;
    }
    if (cc != CURLE_OK && !x.error_cut) {
        char why[CURL_ERROR_SIZE];
        strbuf_printable_copy(why, sizeof why,
                              conn->errbuf[0] ? conn->errbuf : curl_easy_strerror(cc));
        *curl_rc = cc;
        err_set(ERR_FAIL, "%s %s: %s", r->method, url, why);
        goto out;
    }
    if (x.bad && is_2xx(resp->status)) {
        if (x.bad == BAD_ETAG_LONG)
            err_set(ERR_FAIL, "%s %s: the ETag header is longer than %u bytes (the limit)",
                    r->method, url, (unsigned)S3HTTP_MAX_ETAG);
        else
            err_set(ERR_FAIL, "%s %s: %s", r->method, url, bad_text(x.bad));
        *curl_rc = CURLE_WEIRD_SERVER_REPLY;
        goto out;
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status)
        resp->status = status;
    if (x.error_cut) {
        /* the status is known; the cut body would only mislead the parser */
        free(resp->body);
        resp->body = NULL;
        resp->body_len = 0;
        resp->body_cut = 1;
    }
    ret = 0;
out:
    curl_slist_free_all(hl);
    if (auth) {
        sodium_memzero(auth, strlen(auth));
        free(auth);
    }
    free(query);
    free(url);
    free(path);
    free(host);
    return ret;
}

static int retryable_curl(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return 1;
    default:
        return 0;
    }
}

static int retryable_answer(long status, const char *code)
{
    if (status == 500 || status == 502 || status == 503 || status == 504 || status == 408 ||
        status == 429)
        return 1;
    /* BadDigest / XAmzContentSHA256Mismatch: the body changed on its way */
    return code &&
           (strcmp(code, "SlowDown") == 0 || strcmp(code, "InternalError") == 0 ||
            strcmp(code, "RequestTimeout") == 0 || strcmp(code, "ServiceUnavailable") == 0 ||
            strcmp(code, "BadDigest") == 0 || strcmp(code, "XAmzContentSHA256Mismatch") == 0);
}

static int accepted(const s3http_request *r, long status)
{
    if (is_2xx(status))
        return 1;
    for (const long *a = r->accept; a && *a; a++)
        if (*a == status)
            return 1;
    return 0;
}

/* Sleep for attempt N's backoff (full jitter over the upper half); -1 with
 * the error set when cancelled or interrupted meanwhile. */
static int backoff(s3http_conn *conn, const s3http_request *r, const char *what, int n)
{
    unsigned ms = BACKOFF_BASE_MS;
    for (int i = 0; i < n && ms < BACKOFF_MAX_MS; i++)
        ms *= 2;
    if (ms > BACKOFF_MAX_MS)
        ms = BACKOFF_MAX_MS;
    ms = ms / 2 + randombytes_uniform(ms / 2 + 1);
    while (ms > 0) {
        if (conn->cancel && atomic_load(conn->cancel))
            return err_set(ERR_FAIL, "%s %s: cancelled", r->method, what);
        char ctx[600];
        snprintf(ctx, sizeof ctx, "%s %s", r->method, what);
        if (s3http_signal_check(conn->c->rc, ctx) < 0)
            return -1;
        unsigned step = ms < 50 ? ms : 50;
        struct timespec ts = {0, (long)step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
    return 0;
}

static const char *status_text(long status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 412:
        return "Precondition Failed";
    case 416:
        return "Range Not Satisfiable";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    default:
        return "";
    }
}

/* A HEAD answer has no body, so no reason: ask for the first byte with GET,
 * whose error answer names it (InvalidAccessKeyId, NoSuchBucket...).  0 and
 * *E filled when it did. */
static int explain_head(s3http_conn *conn, const s3http_request *head, s3xml_error *e)
{
    sigv4_header range = {"Range", "bytes=0-0"};
    char one[1];
    s3http_request r = {.method = "GET",
                        .key = head->key,
                        .query = head->query,
                        .n_query = head->n_query,
                        .headers = &range,
                        .n_headers = 1,
                        .out = one,
                        .out_cap = sizeof one};
    s3http_response resp;
    CURLcode cc;
    memset(&resp, 0, sizeof resp);
    err_saved saved;
    err_save(&saved);
    int rc = -1;
    if (attempt(conn, &r, &resp, SIGV4_EMPTY_SHA256, &cc) == 0 && resp.status >= 400 &&
        s3xml_parse_error(resp.body, resp.body_len, e) == 1)
        rc = 0;
    s3http_response_free(&resp);
    err_restore(&saved);
    return rc;
}

/* Set the error of a failed answer: "METHOD WHAT: HTTP STATUS CODE:
 * MESSAGE" with the server's text escaped and cut; *RETRY says whether the
 * answer asks for another attempt. */
static void answer_error(s3http_conn *conn, const s3http_request *r, s3http_response *resp,
                         const char *what, int *retry)
{
    s3xml_error e;
    int is_err = resp->body_cut ? 0 : s3xml_parse_error(resp->body, resp->body_len, &e);
    *retry = retryable_answer(resp->status, is_err == 1 ? e.code : NULL);
    if (is_err != 1 && strcmp(r->method, "HEAD") == 0 && resp->status >= 400 &&
        resp->status < 500 && explain_head(conn, r, &e) == 0)
        is_err = 1;
    if (is_err == 1 && *e.code) {
        char code[sizeof resp->err_code], msg[400];
        strbuf_printable_copy(code, sizeof code, e.code);
        strbuf_printable_copy(msg, sizeof msg, *e.message ? e.message : status_text(resp->status));
        snprintf(resp->err_code, sizeof resp->err_code, "%s", code);
        err_set(ERR_FAIL, "%s %s: HTTP %ld %s: %s", r->method, what, resp->status, code, msg);
    } else {
        if (resp->body_cut)
            err_set(ERR_FAIL, "%s %s: HTTP %ld %s (an error answer longer than %u bytes, not read)",
                    r->method, what, resp->status, status_text(resp->status),
                    (unsigned)S3HTTP_MAX_ERROR_BODY);
        else
            err_set(ERR_FAIL, "%s %s: HTTP %ld %s", r->method, what, resp->status,
                    status_text(resp->status));
    }
    if (is_err == 1)
        s3xml_error_free(&e);
}

int s3http_perform(s3http_conn *conn, const s3http_request *r, s3http_response *resp)
{
    const s3_params *rc = conn->c->rc;
    int retries = rc->retries > 0 ? rc->retries : 0;
    char sha[65], ctx[600];
    const char *what = r->key ? r->key : rc->bucket;

    memset(resp, 0, sizeof *resp);
    snprintf(ctx, sizeof ctx, "%s %s", r->method, what);
    if (!r->cleanup && s3http_signal_check(rc, ctx) < 0)
        return -1;
    if (r->body_sha256)
        snprintf(sha, sizeof sha, "%s", r->body_sha256);
    else
        sigv4_sha256_hex(r->body ? r->body : "", r->body_len, sha);
    for (int n = 0;; n++) {
        CURLcode cc;
        free(resp->body);
        memset(resp, 0, sizeof *resp);
        resp->attempts = n + 1;
        int rc_a = attempt(conn, r, resp, sha, &cc);
        if (conn->cancel && atomic_load(conn->cancel))
            return err_set(ERR_FAIL, "%s: cancelled", ctx);
        if (!r->cleanup && s3http_signal_check(rc, ctx) < 0)
            return -1;
        int retry;
        if (rc_a < 0 && r->sink && resp->body_len > 0)
            return -1; /* the caller resumes after the bytes it got */
        if (rc_a < 0)
            retry = retryable_curl(cc);
        else if (accepted(r, resp->status))
            return 0;
        else
            answer_error(conn, r, resp, what, &retry);
        if (r->cleanup && backend_cancelled(&rc->cancel))
            retry = 0; /* the user is waiting for the exit */
        if (!retry || n >= retries)
            return n > 0 ? err_prefix("after %d attempts: ", n + 1) : -1;
        log_warn("remote %s: %s; retrying (%d of %d)", rc->name, err_msg(), n + 1, retries);
        if (backoff(conn, r, what, n) < 0)
            return -1;
    }
}

void s3http_response_free(s3http_response *resp)
{
    if (!resp)
        return;
    free(resp->body);
    resp->body = NULL;
}

int s3http_signal_check(const s3_params *p, const char *what)
{
    int sig = backend_cancelled(&p->cancel);
    if (!sig)
        return 0;
    return err_set(ERR_FAIL, "%s: interrupted by signal %d", what, sig);
}

void s3http_cond_wait(pthread_cond_t *cond, pthread_mutex_t *mu)
{
    cond_wait_ms(cond, mu, S3HTTP_POLL_MS);
}
