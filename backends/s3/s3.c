#include "s3.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "delete.h"
#include "err.h"
#include "http.h"
#include "log.h"
#include "multipart.h"
#include "strbuf.h"

#define READ_FIFO    (4u * 1024u * 1024u) /* bytes received ahead of the reader */
#define LIST_PAGE    "1000"               /* entries asked for per listing page (S3's most) */
#define WARN_SKIPPED 10                   /* warnings per listing about unprintable names */

typedef struct {
    s3http_client *c;
    s3http_conn *conn; /* list, stat, remove: one caller at a time (MU) */
    pthread_mutex_t mu;
    int warned_no_uploads;
    /* the bucket answered (a listing, an object): a HEAD's 404 is then the
     * object's, not the bucket's */
    atomic_int bucket_seen;
    /* the server has no DeleteObjects: one DELETE per object */
    atomic_int no_batch_delete;
} s3_remote;

/* A reader streams one ranged GET (from the offset to the end) on its own
 * thread into a bounded FIFO; when the connection drops, the GET is issued
 * again from the first byte not received. */
typedef struct {
    const s3_params *rc;
    s3http_conn *conn;
    char *key;
    uint64_t size, off; /* object size; next byte to receive (thread's) */
    atomic_int cancel;
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    uint8_t *fifo;
    size_t head, len;
    int done, failed, closing;
    int too_long; /* the server sent more than the range asked for */
    err_saved err;
} s3_reader;

static void *s3_open(const s3_params *rc)
{
    s3_remote *r = calloc(1, sizeof *r);
    if (!r) {
        err_set(ERR_FAIL, "out of memory");
        return NULL;
    }
    if (!(r->c = s3http_client_new(rc)))
        goto fail;
    if (!(r->conn = s3http_conn_new(r->c, NULL)))
        goto fail;
    pthread_mutex_init(&r->mu, NULL);
    return r;
fail:
    s3http_client_free(r->c);
    free(r);
    return NULL;
}

static void s3_close(void *impl)
{
    s3_remote *r = impl;
    s3http_conn_free(r->conn);
    s3http_client_free(r->c);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* A request on the remote's shared connection. */
static int shared_perform(s3_remote *r, const s3http_request *req, s3http_response *resp)
{
    pthread_mutex_lock(&r->mu);
    int rc = s3http_perform(r->conn, req, resp);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

/* ---- writer -------------------------------------------------------------- */

static void *s3_writer_open(void *impl, const char *name, uint64_t size_hint)
{
    s3_remote *r = impl;
    char *key = s3http_key(r->c, name);
    if (!key)
        return NULL;
    s3mp *u = s3mp_open(r->c, key, size_hint);
    free(key);
    return u;
}

static int s3_writer_write(void *w, const void *buf, size_t len)
{
    return s3mp_write(w, buf, len);
}

static int s3_writer_commit(void *w)
{
    return s3mp_commit(w);
}

static void s3_writer_abort(void *w)
{
    s3mp_abort(w);
}

/* ---- reader -------------------------------------------------------------- */

static int perform_on(s3_remote *r, s3http_conn *conn, const s3http_request *req,
                      s3http_response *resp)
{
    return conn ? s3http_perform(conn, req, resp) : shared_perform(r, req, resp);
}

/* A HEAD of KEY answered 404, which has no body and so no reason: 0 when
 * the object is missing, -1 with the error set when the bucket is (a
 * wrong bucket, endpoint or region must not read as "no such object":
 * fetch and verify would call the archive missing).  A ranged GET of the
 * key names the cause; asked until the bucket has answered once. */
static int missing_object(s3_remote *r, s3http_conn *conn, const char *key)
{
    if (atomic_load(&r->bucket_seen))
        return 0;
    static const long answers[] = {404, 416, 0};
    sigv4_header range = {"Range", "bytes=0-0"};
    char one[1];
    s3http_request req = {.method = "GET",
                          .key = key,
                          .headers = &range,
                          .n_headers = 1,
                          .out = one,
                          .out_cap = sizeof one,
                          .accept = answers};
    s3http_response resp;
    if (perform_on(r, conn, &req, &resp) < 0) {
        s3http_response_free(&resp);
        if (backend_cancelled(&s3http_config(r->c)->cancel))
            return -1; /* interrupted: not an answer */
        err_clear();   /* no better answer than the HEAD's */
        return 0;
    }
    s3xml_error e;
    int is_err = 0;
    if (resp.status == 404 && !resp.body_cut)
        is_err = s3xml_parse_error(resp.body, resp.body_len, &e);
    long status = resp.status;
    s3http_response_free(&resp);
    if (is_err < 0) {
        err_clear(); /* not XML: no better answer than the HEAD's */
        return 0;
    }
    int rc = 0;
    if (is_err == 1 && strcmp(e.code, "NoSuchBucket") == 0) {
        const s3_params *cfg = s3http_config(r->c);
        rc = err_set(ERR_FAIL,
                     "bucket %s does not exist at %s (GET %s: HTTP 404 NoSuchBucket): check "
                     "bucket, endpoint and region",
                     cfg->bucket, cfg->endpoint, key);
    } else if (status != 404 || (is_err == 1 && strcmp(e.code, "NoSuchKey") == 0)) {
        atomic_store(&r->bucket_seen, 1); /* the bucket answered for the key */
    }
    if (is_err == 1)
        s3xml_error_free(&e);
    return rc;
}

/* HEAD KEY: 1 and size/mtime when it exists, 0 when not, -1 on error. */
static int head(s3_remote *r, s3http_conn *conn, const char *key, uint64_t *size, time_t *mtime)
{
    static const long ok404[] = {404, 0};
    s3http_request req = {.method = "HEAD", .key = key, .accept = ok404};
    s3http_response resp;
    int rc = perform_on(r, conn, &req, &resp);
    s3http_response_free(&resp);
    if (rc < 0)
        return -1;
    if (resp.status == 404)
        return missing_object(r, conn, key) < 0 ? -1 : 0;
    atomic_store(&r->bucket_seen, 1);
    if (!resp.has_length)
        return err_set(ERR_FAIL, "HEAD %s: the answer has no Content-Length", key);
    *size = resp.content_length;
    if (mtime)
        *mtime = resp.last_modified;
    return 1;
}

static void reader_free(s3_reader *rd)
{
    if (rd->started) {
        pthread_mutex_lock(&rd->mu);
        rd->closing = 1;
        pthread_cond_broadcast(&rd->cond);
        pthread_mutex_unlock(&rd->mu);
        atomic_store(&rd->cancel, 1);
        pthread_join(rd->thread, NULL);
    }
    pthread_mutex_destroy(&rd->mu);
    pthread_cond_destroy(&rd->cond);
    s3http_conn_free(rd->conn);
    free(rd->key);
    free(rd->fifo);
    free(rd);
}

/* The GET's bytes into the FIFO; waits while it is full. */
static int reader_push(void *ctx, const void *data, size_t len)
{
    s3_reader *rd = ctx;
    const uint8_t *p = data;
    pthread_mutex_lock(&rd->mu);
    if (len > rd->size - rd->off) {
        /* never more than the object's size, whatever the server sends */
        rd->too_long = 1;
        pthread_mutex_unlock(&rd->mu);
        return -1;
    }
    while (len > 0) {
        while (rd->len == READ_FIFO && !rd->closing && !backend_cancelled(&rd->rc->cancel))
            s3http_cond_wait(&rd->cond, &rd->mu);
        if (rd->closing || backend_cancelled(&rd->rc->cancel)) {
            pthread_mutex_unlock(&rd->mu);
            return -1;
        }
        size_t tail = (rd->head + rd->len) % READ_FIFO;
        size_t n = READ_FIFO - rd->len;
        if (n > READ_FIFO - tail)
            n = READ_FIFO - tail;
        if (n > len)
            n = len;
        memcpy(rd->fifo + tail, p, n);
        rd->len += n;
        rd->off += n;
        p += n;
        len -= n;
        pthread_cond_broadcast(&rd->cond);
    }
    pthread_mutex_unlock(&rd->mu);
    return 0;
}

static void *reader_main(void *arg)
{
    s3_reader *rd = arg;
    int drops = 0, shorts = 0, rc = 0;
    while (rd->off < rd->size && !atomic_load(&rd->cancel)) {
        char range[64];
        uint64_t from = rd->off;
        snprintf(range, sizeof range, "bytes=%llu-%llu", (unsigned long long)from,
                 (unsigned long long)(rd->size - 1));
        sigv4_header h = {"Range", range};
        s3http_request req = {.method = "GET",
                              .key = rd->key,
                              .headers = &h,
                              .n_headers = 1,
                              .sink = reader_push,
                              .sink_ctx = rd,
                              .want_partial = from > 0,
                              .check_range = 1,
                              .range_first = from,
                              .range_last = rd->size - 1,
                              .range_total = rd->size};
        s3http_response resp;
        rc = s3http_perform(rd->conn, &req, &resp);
        s3http_response_free(&resp);
        if (atomic_load(&rd->cancel))
            break;
        if (s3http_signal_check(rd->rc, rd->key) < 0) {
            rc = -1;
            break;
        }
        if (rd->too_long) {
            rc = err_set(ERR_FAIL, "GET %s %s: the server sent more bytes than asked for", rd->key,
                         range);
            break;
        }
        if (rc == 0 && rd->off == from) {
            rc = err_set(ERR_FAIL, "GET %s %s: an empty answer", rd->key, range);
            break;
        }
        if (rc == 0) {
            /* a shorter answer than asked for: ask for the rest, as long as
             * the answers bring more than a few bytes each */
            uint64_t got = rd->off - from;
            shorts = got < S3_SHORT_ANSWER && rd->off < rd->size ? shorts + 1 : 0;
            if (shorts > S3_MAX_SHORT_ANSWERS) {
                rc = err_set(ERR_FAIL,
                             "GET %s: the server answered %d ranged GETs in a row with fewer "
                             "than %d bytes each (the last: %llu of %llu bytes asked for): a "
                             "download would take a request every few bytes",
                             rd->key, shorts, S3_SHORT_ANSWER, (unsigned long long)got,
                             (unsigned long long)(rd->size - from));
                break;
            }
            continue;
        }
        if (rd->off == from)
            break; /* nothing received: s3http_perform has done the retrying */
        /* the connection dropped mid-way: resume where the bytes stopped;
         * consecutive drops that bring little are bounded by the retries */
        drops = rd->off - from >= 1024 * 1024 ? 0 : drops + 1;
        if (drops > (rd->rc->retries > 0 ? rd->rc->retries : 0))
            break;
        log_warn("remote %s: %s; resuming at byte %llu", rd->rc->name, err_msg(),
                 (unsigned long long)rd->off);
        for (int i = 0; i <= drops && !backend_cancelled(&rd->rc->cancel); i++) {
            struct timespec ts = {0, 100000000L};
            nanosleep(&ts, NULL);
        }
        rc = 0;
    }
    pthread_mutex_lock(&rd->mu);
    if (rc < 0 && !atomic_load(&rd->cancel)) {
        rd->failed = 1;
        err_save(&rd->err);
    }
    rd->done = 1;
    pthread_cond_broadcast(&rd->cond);
    pthread_mutex_unlock(&rd->mu);
    return NULL;
}

static void *s3_reader_open(void *impl, const char *name, uint64_t offset)
{
    s3_remote *r = impl;
    s3_reader *rd = calloc(1, sizeof *rd);
    if (!rd) {
        err_set(ERR_FAIL, "out of memory");
        return NULL;
    }
    rd->rc = s3http_config(r->c);
    pthread_mutex_init(&rd->mu, NULL);
    pthread_cond_init(&rd->cond, NULL);
    if (!(rd->key = s3http_key(r->c, name)) || !(rd->conn = s3http_conn_new(r->c, &rd->cancel)))
        goto fail;
    int ex = head(r, rd->conn, rd->key, &rd->size, NULL);
    if (ex < 0)
        goto fail;
    if (ex == 0) {
        err_set(ERR_FAIL, "%s: no such object", rd->key);
        goto fail;
    }
    if (offset > rd->size) {
        err_set(ERR_FAIL, "%s: offset %llu is beyond its end (%llu bytes)", rd->key,
                (unsigned long long)offset, (unsigned long long)rd->size);
        goto fail;
    }
    rd->off = offset;
    if (!(rd->fifo = malloc(READ_FIFO))) {
        err_set(ERR_FAIL, "out of memory");
        goto fail;
    }
    if (pthread_create(&rd->thread, NULL, reader_main, rd) != 0) {
        err_set(ERR_FAIL, "cannot start a download thread");
        goto fail;
    }
    rd->started = 1;
    return rd;
fail:
    reader_free(rd);
    return NULL;
}

static ssize_t s3_reader_read(void *impl, void *buf, size_t len)
{
    s3_reader *rd = impl;
    pthread_mutex_lock(&rd->mu);
    while (rd->len == 0 && !rd->done) {
        if (backend_cancelled(&rd->rc->cancel)) {
            pthread_mutex_unlock(&rd->mu);
            return s3http_signal_check(rd->rc, rd->key);
        }
        s3http_cond_wait(&rd->cond, &rd->mu);
    }
    if (rd->len == 0) {
        int failed = rd->failed;
        err_saved e = rd->err;
        pthread_mutex_unlock(&rd->mu);
        return failed ? err_restore(&e) : 0;
    }
    size_t n = rd->len < len ? rd->len : len;
    if (n > READ_FIFO - rd->head)
        n = READ_FIFO - rd->head;
    memcpy(buf, rd->fifo + rd->head, n);
    rd->head = (rd->head + n) % READ_FIFO;
    rd->len -= n;
    pthread_cond_broadcast(&rd->cond);
    pthread_mutex_unlock(&rd->mu);
    return (ssize_t)n;
}

static void s3_reader_close(void *impl)
{
    reader_free(impl);
}

/* ---- listing --------------------------------------------------------------- */

/* One listing: its entries and what was skipped. */
typedef struct {
    backend_entry *e;
    size_t n, cap;
    size_t skipped; /* unprintable or over-long names */
} listing;

/* 1 when S goes to a terminal unchanged (no control characters, C1
 * controls or broken UTF-8: see strbuf_put_printable). */
static int printable(const char *s)
{
    size_t len = strlen(s);
    if (!strbuf_has_control(s, len)) {
        int plain = 1;
        for (size_t i = 0; i < len && plain; i++)
            plain = (unsigned char)s[i] < 0x80;
        if (plain)
            return 1;
    }
    strbuf b;
    strbuf_init(&b, 0);
    int same = strbuf_put_printable(&b, s, len) == 0 && b.len == len;
    strbuf_free(&b);
    return same;
}

/* A name from the server that must not reach the terminal or the catalog
 * raw: skipped, with a warning that shows it escaped. */
static void skip_name(s3_remote *r, listing *l, const char *key, int upload, const char *why)
{
    if (l->skipped++ >= WARN_SKIPPED)
        return;
    char shown[300];
    strbuf_printable_copy(shown, sizeof shown, key);
    log_warn("remote %s: skipping %s \"%s\": %s", s3http_config(r->c)->name,
             upload ? "the unfinished upload of" : "object", shown, why);
}

/* Append the page's items whose names (after the remote's prefix) are plain
 * names to L. */
static int add_items(s3_remote *r, const s3xml_list *page, int uploads, listing *l)
{
    const char *pre = s3http_prefix(r->c);
    size_t pl = strlen(pre);
    for (size_t i = 0; i < page->n; i++) {
        const s3xml_item *it = &page->items[i];
        if (strncmp(it->key, pre, pl) != 0)
            continue;
        const char *name = it->key + pl;
        if (!*name || strchr(name, '/'))
            continue; /* a "directory" below the prefix: not ours */
        if (it->bad_key) {
            skip_name(r, l, it->key, uploads, "the name is not a valid url-encoded key");
            continue;
        }
        if (strlen(it->key) > S3_MAX_KEY) {
            skip_name(r, l, it->key, uploads, "longer than S3 allows (1024 bytes)");
            continue;
        }
        if (!printable(it->key)) {
            skip_name(r, l, it->key, uploads, "the name holds control characters or invalid UTF-8");
            continue;
        }
        if (uploads && (!it->upload_id || !*it->upload_id || strlen(it->upload_id) > S3XML_MAX_ID ||
                        !printable(it->upload_id))) {
            skip_name(r, l, it->key, uploads, "its upload id is missing or not printable");
            continue;
        }
        if (l->n >= S3_LIST_MAX_ENTRIES)
            return err_set(ERR_FAIL,
                           "more than %d entries under the prefix (the limit for one listing): "
                           "give the backups a prefix of their own",
                           S3_LIST_MAX_ENTRIES);
        if (l->n == l->cap) {
            size_t nc = l->cap ? l->cap * 2 : 64;
            backend_entry *ne = realloc(l->e, nc * sizeof *ne);
            if (!ne)
                return err_set(ERR_FAIL, "out of memory");
            l->e = ne;
            l->cap = nc;
        }
        backend_entry *e = &l->e[l->n];
        memset(e, 0, sizeof *e);
        e->name = strdup(name);
        e->size = it->size;
        e->mtime = it->mtime;
        e->incomplete = uploads;
        if (uploads)
            e->upload_id = strdup(it->upload_id);
        if (!e->name || (uploads && !e->upload_id)) {
            free(e->name);
            free(e->upload_id);
            return err_set(ERR_FAIL, "out of memory");
        }
        l->n++;
    }
    return 0;
}

static void page_clear(s3xml_list *page)
{
    for (size_t i = 0; i < page->n; i++) {
        free(page->items[i].key);
        free(page->items[i].upload_id);
    }
    page->n = 0;
}

/* SHA-256 (hex) of a continuation marker: the token or key marker NEXT
 * and the upload id marker NEXT_UP (may be NULL), length-prefixed so that
 * no two pairs give the same text. */
static void marker_digest(const char *next, const char *next_up, char out[65])
{
    strbuf b;
    strbuf_init(&b, 0);
    strbuf_printf(&b, "%zu:%s%s%s", strlen(next), next, next_up ? "+" : "-",
                  next_up ? next_up : "");
    sigv4_sha256_hex(strbuf_str(&b), b.len, out);
    strbuf_free(&b);
}

static int list_pages(s3_remote *r, const char *full_prefix, int uploads, listing *l)
{
    const s3_params *cfg = s3http_config(r->c);
    s3xml_list page;
    memset(&page, 0, sizeof page);
    char *tok = NULL, *upmark = NULL;
    /* digests of every marker of this listing: a server that loops over
     * a few pages is caught the first time one comes back */
    char(*markers)[65] = calloc(S3_LIST_MAX_PAGES, sizeof *markers);
    size_t n_markers = 0;
    int rc = -1;
    if (!markers) {
        err_set(ERR_FAIL, "out of memory");
        goto out;
    }
    for (int pages = 1;; pages++) {
        /* every page costs a request: a server that never says the end
         * (or repeats itself) must not hold the run */
        if (pages > S3_LIST_MAX_PAGES) {
            err_set(ERR_FAIL,
                    "listing %s in bucket %s: still truncated after %d pages (the limit for "
                    "one listing)",
                    full_prefix, cfg->bucket, S3_LIST_MAX_PAGES);
            goto out;
        }
        sigv4_param q[8];
        size_t nq = 0;
        /* delimiter: what lies below a '/' comes as one CommonPrefixes
         * entry, not as every object of that subtree; encoding-type: keys
         * with control characters arrive %-encoded (see xml.h) */
        if (uploads) {
            q[nq++] = (sigv4_param){"uploads", ""};
            q[nq++] = (sigv4_param){"prefix", full_prefix};
            q[nq++] = (sigv4_param){"delimiter", "/"};
            q[nq++] = (sigv4_param){"encoding-type", "url"};
            q[nq++] = (sigv4_param){"max-uploads", LIST_PAGE};
            if (tok) {
                q[nq++] = (sigv4_param){"key-marker", tok};
                q[nq++] = (sigv4_param){"upload-id-marker", upmark ? upmark : ""};
            }
        } else {
            q[nq++] = (sigv4_param){"list-type", "2"};
            q[nq++] = (sigv4_param){"prefix", full_prefix};
            q[nq++] = (sigv4_param){"delimiter", "/"};
            q[nq++] = (sigv4_param){"encoding-type", "url"};
            q[nq++] = (sigv4_param){"max-keys", LIST_PAGE};
            if (tok)
                q[nq++] = (sigv4_param){"continuation-token", tok};
        }
        /* s3rver has no ListMultipartUploads (501): objects only, then */
        static const long not_impl[] = {501, 0};
        s3http_request req = {
            .method = "GET", .query = q, .n_query = nq, .accept = uploads ? not_impl : NULL};
        s3http_response resp;
        int prc = shared_perform(r, &req, &resp);
        if (prc == 0 && resp.status == 501) {
            if (!r->warned_no_uploads)
                log_debug("remote %s: the server cannot list multipart uploads (HTTP 501); "
                          "unfinished uploads are not shown",
                          cfg->name);
            r->warned_no_uploads = 1;
            s3http_response_free(&resp);
            break;
        }
        if (prc == 0) {
            prc = s3xml_parse_list(resp.body, resp.body_len, &page);
            if (prc < 0)
                err_prefix("GET %s?%s: ", cfg->bucket, uploads ? "uploads" : "list-type=2");
        }
        s3http_response_free(&resp);
        if (prc < 0 || add_items(r, &page, uploads, l) < 0)
            goto out;
        page_clear(&page);
        if (!page.truncated)
            break;
        const char *next = uploads ? page.next_key_marker : page.next_token;
        const char *next_up = uploads ? page.next_upload_id_marker : NULL;
        if (!next || !*next) {
            err_set(ERR_FAIL, "listing %s: truncated page without a continuation marker",
                    full_prefix);
            goto out;
        }
        if (strlen(next) > S3_LIST_MAX_TOKEN || (next_up && strlen(next_up) > S3_LIST_MAX_TOKEN)) {
            err_set(ERR_FAIL, "listing %s: a continuation marker longer than %d bytes", full_prefix,
                    S3_LIST_MAX_TOKEN);
            goto out;
        }
        char digest[65];
        marker_digest(next, next_up, digest);
        int again = 0;
        for (size_t i = 0; i < n_markers && !again; i++)
            again = strcmp(markers[i], digest) == 0;
        if (n_markers < S3_LIST_MAX_PAGES)
            memcpy(markers[n_markers++], digest, sizeof digest);
        if (again) {
            char shown[120];
            strbuf_printable_copy(shown, sizeof shown, next);
            err_set(ERR_FAIL,
                    "listing %s: the server sent the same continuation marker twice (\"%s\"): "
                    "the listing would never end",
                    full_prefix, shown);
            goto out;
        }
        free(tok);
        free(upmark);
        tok = upmark = NULL;
        if (!(tok = strdup(next)) || (next_up && !(upmark = strdup(next_up)))) {
            err_set(ERR_FAIL, "out of memory");
            goto out;
        }
    }
    rc = 0;
out:
    free(markers);
    free(tok);
    free(upmark);
    s3xml_list_free(&page);
    if (rc == 0)
        atomic_store(&r->bucket_seen, 1);
    return rc;
}

static int s3_list(void *impl, const char *prefix, backend_entry **out, size_t *n)
{
    s3_remote *r = impl;
    char *full = s3http_key(r->c, prefix);
    listing l = {.e = *out, .n = *n};
    if (!full)
        return -1;
    int rc = list_pages(r, full, 0, &l);
    if (rc == 0)
        rc = list_pages(r, full, 1, &l);
    free(full);
    if (l.skipped > WARN_SKIPPED)
        log_warn("remote %s: %zu more names skipped (unprintable or too long)",
                 s3http_config(r->c)->name, l.skipped - WARN_SKIPPED);
    if (rc < 0) {
        backend_entries_free(l.e, l.n);
        l.e = NULL;
        l.n = 0;
    }
    *out = l.e;
    *n = l.n;
    return rc;
}

static int s3_stat(void *impl, const char *name, backend_entry *out)
{
    s3_remote *r = impl;
    char *key = s3http_key(r->c, name);
    if (!key)
        return -1;
    uint64_t size = 0;
    time_t mtime = 0;
    int ex = head(r, NULL, key, &size, &mtime);
    free(key);
    if (ex <= 0)
        return ex;
    memset(out, 0, sizeof *out);
    if (!(out->name = strdup(name)))
        return err_set(ERR_FAIL, "out of memory");
    out->size = size;
    out->mtime = mtime;
    return 1;
}

static int s3_remove(void *impl, const char *name)
{
    s3_remote *r = impl;
    char *key = s3http_key(r->c, name);
    if (!key)
        return -1;
    static const long gone[] = {404, 0};
    s3http_request req = {.method = "DELETE", .key = key, .accept = gone};
    s3http_response resp;
    int rc = shared_perform(r, &req, &resp);
    s3http_response_free(&resp);
    free(key);
    return rc;
}

/* NAMES[0..N) that DeleteObjects can carry go in batches of
 * S3DEL_MAX_KEYS; the others, and all of them on a server without
 * DeleteObjects, one DELETE each.  The run's signals are looked at before
 * every request. */
static int s3_remove_many(void *impl, const char *const *names, size_t n, char **errors)
{
    s3_remote *r = impl;
    const s3_params *cfg = s3http_config(r->c);
    char **keys = calloc(n, sizeof *keys);
    const char **bkeys = calloc(S3DEL_MAX_KEYS, sizeof *bkeys);
    char **berrs = calloc(S3DEL_MAX_KEYS, sizeof *berrs);
    size_t *bidx = calloc(S3DEL_MAX_KEYS, sizeof *bidx);
    unsigned char *done = calloc(n, 1);
    int failed = 0, rc = -1;
    if (!keys || !bkeys || !berrs || !bidx || !done) {
        err_set(ERR_FAIL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (!(keys[i] = s3http_key(r->c, names[i])))
            goto out;
    for (size_t next = 0; next < n && !atomic_load(&r->no_batch_delete);) {
        size_t k = 0;
        for (; next < n && k < S3DEL_MAX_KEYS; next++) {
            if (!s3del_can_carry(keys[next]))
                continue;
            bidx[k] = next;
            bkeys[k++] = keys[next];
        }
        if (k == 0)
            break;
        if (s3http_signal_check(cfg, "removing objects") < 0)
            goto out;
        pthread_mutex_lock(&r->mu);
        int brc = s3del_batch(r->conn, r->c, bkeys, k, berrs);
        pthread_mutex_unlock(&r->mu);
        if (brc == S3DEL_UNSUPPORTED) {
            if (!atomic_exchange(&r->no_batch_delete, 1))
                log_debug("remote %s: %s: the server does not implement DeleteObjects; removing "
                          "one object per request",
                          cfg->name, err_msg());
            err_clear();
            break;
        }
        for (size_t j = 0; j < k; j++) {
            errors[bidx[j]] = berrs[j];
            berrs[j] = NULL;
            done[bidx[j]] = 1;
        }
        if (brc < 0)
            goto out;
        failed += brc;
    }
    for (size_t i = 0; i < n; i++) {
        if (done[i])
            continue;
        if (s3http_signal_check(cfg, keys[i]) < 0)
            goto out;
        if (s3_remove(r, names[i]) == 0)
            continue;
        if (backend_cancelled(&cfg->cancel))
            goto out;
        if (!(errors[i] = strdup(err_msg()))) {
            err_set(ERR_FAIL, "out of memory");
            goto out;
        }
        failed++;
    }
    rc = failed;
out:
    for (size_t i = 0; keys && i < n; i++)
        free(keys[i]);
    free(keys);
    free(bkeys);
    free(berrs);
    free(bidx);
    free(done);
    return rc;
}

static int s3_remove_incomplete(void *impl, const backend_entry *e)
{
    s3_remote *r = impl;
    if (!e->upload_id || !*e->upload_id)
        return err_set(ERR_FAIL, "%s: not an incomplete upload", e->name);
    char *key = s3http_key(r->c, e->name);
    if (!key)
        return -1;
    /* 501 / 405: a server that cannot abort uploads - said by the caller */
    static const long gone[] = {404, 405, 501, 0};
    sigv4_param q = {"uploadId", e->upload_id};
    s3http_request req = {
        .method = "DELETE", .key = key, .query = &q, .n_query = 1, .accept = gone};
    s3http_response resp;
    int rc = shared_perform(r, &req, &resp);
    if (rc == 0 && (resp.status == 405 || resp.status == 501))
        rc = 1;
    s3http_response_free(&resp);
    free(key);
    return rc;
}

/* The cause of a failed probe, from the answer. */
static const char *probe_cause(const s3http_response *resp)
{
    const char *code = resp->err_code;
    if (resp->status == 0)
        return "cannot reach the server";
    if (resp->status < 300)
        return "no usable answer"; /* cut, or past a limit of http.h */
    if (strcmp(code, "NoSuchBucket") == 0)
        return "the bucket does not exist";
    if (strcmp(code, "InvalidAccessKeyId") == 0)
        return "the server does not know the access key";
    if (strcmp(code, "SignatureDoesNotMatch") == 0)
        return "the signature does not match (wrong secret key?)";
    if (strcmp(code, "AuthorizationHeaderMalformed") == 0 ||
        strcmp(code, "PermanentRedirect") == 0 || resp->status == 301)
        return "the bucket is not served by this endpoint and region";
    if (strcmp(code, "AccessDenied") == 0 || resp->status == 403)
        return "access denied (the credentials may not list the bucket)";
    if (resp->status == 404)
        return "not found (wrong endpoint or bucket?)";
    return "the server refused the request";
}

/* Whether the credentials may write under the prefix: a multipart upload
 * of S3_PROBE_NAME created and aborted at once (two requests; no object is
 * ever written, and an upload is not listed as one).  Credentials that may
 * write but not abort pass, with a warning: a failed backup would leave its
 * upload behind. */
static int write_probe(s3_remote *r)
{
    const s3_params *rc = s3http_config(r->c);
    const char *pre = s3http_prefix(r->c);
    char *key = s3http_key(r->c, S3_PROBE_NAME);
    if (!key)
        return -1;
    sigv4_param q = {"uploads", ""};
    s3http_request req = {.method = "POST", .key = key, .query = &q, .n_query = 1};
    s3http_response resp;
    char *id = NULL;
    int ok = shared_perform(r, &req, &resp);
    if (ok < 0 && backend_cancelled(&rc->cancel)) {
        err_prefix("endpoint %s, bucket %s: ", rc->endpoint, rc->bucket);
    } else if (ok < 0 && (strcmp(resp.err_code, "AccessDenied") == 0 || resp.status == 403)) {
        err_prefix("endpoint %s, bucket %s: the credentials can read but not write %s%s "
                   "(a test upload was refused): ",
                   rc->endpoint, rc->bucket, *pre ? "under " : "in the bucket", pre);
    } else if (ok < 0) {
        err_prefix("endpoint %s, bucket %s: cannot write %s%s: %s: ", rc->endpoint, rc->bucket,
                   *pre ? "under " : "in the bucket", pre, probe_cause(&resp));
    } else if (!(id = s3xml_parse_upload_id(resp.body, resp.body_len))) {
        ok = err_prefix("endpoint %s, bucket %s: the answer to a test upload (POST %s?uploads) "
                        "is not S3's: ",
                        rc->endpoint, rc->bucket, key);
    }
    s3http_response_free(&resp);
    if (id) {
        static const long gone[] = {404, 405, 0};
        sigv4_param aq = {"uploadId", id};
        s3http_request ab = {.method = "DELETE",
                             .key = key,
                             .query = &aq,
                             .n_query = 1,
                             .accept = gone,
                             .cleanup = 1};
        if (shared_perform(r, &ab, &resp) < 0)
            log_warn("remote %s: the credentials can write but cannot abort uploads (%s): a "
                     "failed backup would leave its upload behind; the test upload %s of %s "
                     "remains",
                     rc->name, err_msg(), id, key);
        else if (resp.status == 405)
            log_debug("remote %s: the server cannot abort uploads (HTTP 405): the test upload "
                      "%s of %s remains until the server drops it",
                      rc->name, id, key);
        s3http_response_free(&resp);
        err_clear();
        free(id);
    }
    free(key);
    return ok;
}

/* Reach the store and the bucket with the credentials: one ListObjectsV2
 * of at most one key under the prefix (also what a policy limited to the
 * prefix allows); then whether they may write there (write_probe). */
static int s3_probe(void *impl)
{
    s3_remote *r = impl;
    const s3_params *rc = s3http_config(r->c);
    sigv4_param q[] = {{"list-type", "2"}, {"max-keys", "1"}, {"prefix", s3http_prefix(r->c)}};
    s3http_request req = {.method = "GET", .query = q, .n_query = 3};
    s3http_response resp;
    int ok = shared_perform(r, &req, &resp);
    if (ok < 0 && backend_cancelled(&rc->cancel)) {
        err_prefix("endpoint %s, bucket %s: ", rc->endpoint, rc->bucket);
    } else if (ok < 0) {
        err_prefix("endpoint %s, bucket %s: %s: ", rc->endpoint, rc->bucket, probe_cause(&resp));
    } else {
        /* a proxy or web server may answer 200 with anything */
        s3xml_list page;
        memset(&page, 0, sizeof page);
        if ((ok = s3xml_parse_list(resp.body, resp.body_len, &page)) < 0)
            err_prefix("endpoint %s, bucket %s: the answer is not an S3 listing: ", rc->endpoint,
                       rc->bucket);
        s3xml_list_free(&page);
    }
    s3http_response_free(&resp);
    if (ok < 0)
        return -1;
    atomic_store(&r->bucket_seen, 1);
    return write_probe(r);
}

static const backend_cancel *s3_cancel_hook(void *impl)
{
    s3_remote *r = impl;
    return &s3http_config(r->c)->cancel;
}

const backend_ops s3_backend_ops = {
    .type = "s3",
    .close = s3_close,
    .writer_open = s3_writer_open,
    .writer_write = s3_writer_write,
    .writer_commit = s3_writer_commit,
    .writer_abort = s3_writer_abort,
    .reader_open = s3_reader_open,
    .reader_read = s3_reader_read,
    .reader_close = s3_reader_close,
    .list = s3_list,
    .stat = s3_stat,
    .remove = s3_remove,
    .remove_many = s3_remove_many,
    .remove_incomplete = s3_remove_incomplete,
    .probe = s3_probe,
    .cancel_hook = s3_cancel_hook,
};

backend *s3_backend_open(const s3_params *p, unsigned flags)
{
    (void)flags;
    return backend_wrap(&s3_backend_ops, p->name, s3_open(p));
}
