#include "multipart.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"
#include "log.h"
#include "strbuf.h"

#define MIB        (1024u * 1024u)
#define META_TOKEN "x-amz-meta-n4o-write" /* this write's token, on the object */

typedef struct {
    unsigned number; /* 1-based part number */
    uint8_t *buf;
    size_t len, cap;
} part;

struct s3mp {
    const s3http_client *c;
    const s3_params *rc;
    char *key;
    uint64_t base, size_hint, total;
    s3http_conn *conn; /* this (the writing) thread's: create, complete, abort */
    atomic_int cancel; /* stops the workers' transfers */
    char *upload_id;
    /* random, sent as META_TOKEN with PutObject and CreateMultipartUpload:
     * after a failed final request, tells this write's object from any
     * other under KEY */
    char token[33];
    int no_inm;           /* the server refused If-None-Match (HTTP 501): not sent again */
    int final_sent;       /* PutObject or CompleteMultipartUpload went out */
    long final_status;    /* the status of its last answer (0: none) */
    int looked;           /* after it failed, a HEAD found an object, or could not tell */
    part cur;             /* being filled */
    unsigned next_number; /* of CUR */
    uint64_t cur_size;    /* size CUR is filled to */

    /* shared with the workers, under MU */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    part *queue; /* parts waiting for a worker (FIFO) */
    size_t q_head, q_len;
    part *pool; /* free buffers */
    size_t n_pool, n_bufs, max_bufs;
    char **etags; /* [number - 1] */
    size_t n_etags;
    int closing, failed;
    err_saved err;

    pthread_t *threads;
    int n_threads;
};

uint64_t s3mp_part_size(uint64_t base, unsigned n)
{
    uint64_t s = base;
    for (unsigned g = (n ? n - 1 : 0) / S3MP_GROW_EVERY; g > 0 && s < S3MP_MAX_PART_SIZE; g--)
        s *= 2;
    return s < S3MP_MAX_PART_SIZE ? s : S3MP_MAX_PART_SIZE;
}

uint64_t s3mp_capacity(uint64_t base)
{
    uint64_t t = 0;
    for (unsigned n = 1; n <= S3MP_MAX_PARTS; n++)
        t += s3mp_part_size(base, n);
    return t;
}

uint64_t s3mp_base_size(uint64_t part_size, uint64_t size_hint)
{
    uint64_t base = part_size >= 5 * MIB ? part_size : 8 * MIB;
    if (size_hint) {
        uint64_t need = (size_hint + S3MP_MAX_PARTS - 1001) / (S3MP_MAX_PARTS - 1000);
        need = (need + MIB - 1) / MIB * MIB;
        if (need > base)
            base = need < S3MP_MAX_PART_SIZE ? need : S3MP_MAX_PART_SIZE;
    }
    return base;
}

static uint64_t size_of_part(const s3mp *u, unsigned n)
{
    /* known size: one part size for all of it; beyond the hint (or without
     * one) the growing schedule */
    if (u->size_hint && u->total < u->size_hint)
        return u->base;
    return s3mp_part_size(u->base, n);
}

static int key_exists(s3mp *u);

s3mp *s3mp_open(const s3http_client *c, const char *key, uint64_t size_hint)
{
    const s3_params *rc = s3http_config(c);
    s3mp *u = calloc(1, sizeof *u);
    if (!u || !(u->key = strdup(key))) {
        free(u);
        err_set(ERR_FAIL, "out of memory");
        return NULL;
    }
    u->c = c;
    u->rc = rc;
    u->base = s3mp_base_size(rc->part_size, size_hint);
    u->size_hint = size_hint;
    int par = rc->parallel_parts > 0 ? rc->parallel_parts : 4;
    u->max_bufs = (size_t)par + 1;
    u->n_threads = 0;
    u->next_number = 1;
    unsigned char rnd[16];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(u->token, sizeof u->token, rnd, sizeof rnd);
    pthread_mutex_init(&u->mu, NULL);
    pthread_cond_init(&u->cond, NULL);
    u->queue = calloc(u->max_bufs, sizeof *u->queue);
    u->pool = calloc(u->max_bufs, sizeof *u->pool);
    u->threads = calloc((size_t)par, sizeof *u->threads);
    if (!u->queue || !u->pool || !u->threads || !(u->conn = s3http_conn_new(c, NULL))) {
        err_set(ERR_FAIL, "out of memory");
        s3mp_abort(u);
        return NULL;
    }
    int ex = key_exists(u);
    if (ex != 0) {
        if (ex > 0)
            err_set(ERR_FAIL, "%s already exists", key);
        s3mp_abort(u);
        return NULL;
    }
    return u;
}

/* ---- workers ---------------------------------------------------------------- */

/* PUT BUF as part N; its ETag goes to *ETAG (malloc'd). */
static int put(s3mp *u, s3http_conn *conn, unsigned n, const uint8_t *buf, size_t len, char **etag)
{
    char sha[65], md5[32], num[16];
    sigv4_sha256_hex(buf, len, sha);
    sigv4_md5_base64(buf, len, md5);
    snprintf(num, sizeof num, "%u", n);
    sigv4_param q[] = {{"partNumber", num}, {"uploadId", u->upload_id}};
    sigv4_header h[] = {{"Content-MD5", md5}};
    s3http_request r = {.method = "PUT",
                        .key = u->key,
                        .query = q,
                        .n_query = 2,
                        .headers = h,
                        .n_headers = 1,
                        .body = buf,
                        .body_len = len,
                        .body_sha256 = sha};
    s3http_response resp;
    int rc = s3http_perform(conn, &r, &resp);
    if (rc == 0) {
        if (!resp.etag[0])
            rc = err_set(ERR_FAIL, "PUT %s part %u: the answer has no ETag", u->key, n);
        else if (!(*etag = strdup(resp.etag)))
            rc = err_set(ERR_FAIL, "out of memory");
    }
    s3http_response_free(&resp);
    return rc;
}

static int store_etag(s3mp *u, unsigned n, char *etag)
{
    if (n > u->n_etags) {
        size_t cap = u->n_etags ? u->n_etags : 64;
        while (cap < n)
            cap *= 2;
        char **ne = realloc(u->etags, cap * sizeof *ne);
        if (!ne)
            return -1;
        memset(ne + u->n_etags, 0, (cap - u->n_etags) * sizeof *ne);
        u->etags = ne;
        u->n_etags = cap;
    }
    free(u->etags[n - 1]);
    u->etags[n - 1] = etag;
    return 0;
}

static void fail_locked(s3mp *u)
{
    if (!u->failed) {
        u->failed = 1;
        err_save(&u->err);
        atomic_store(&u->cancel, 1);
    }
    pthread_cond_broadcast(&u->cond);
}

static void *worker_main(void *arg)
{
    s3mp *u = arg;
    s3http_conn *conn = s3http_conn_new(u->c, &u->cancel);
    pthread_mutex_lock(&u->mu);
    if (!conn)
        fail_locked(u);
    for (;;) {
        while (u->q_len == 0 && !u->closing && !u->failed)
            pthread_cond_wait(&u->cond, &u->mu);
        if (u->failed || u->q_len == 0)
            break;
        part p = u->queue[u->q_head];
        u->q_head = (u->q_head + 1) % u->max_bufs;
        u->q_len--;
        pthread_mutex_unlock(&u->mu);

        char *etag = NULL;
        int rc = put(u, conn, p.number, p.buf, p.len, &etag);

        pthread_mutex_lock(&u->mu);
        if (rc == 0 && store_etag(u, p.number, etag) < 0) {
            free(etag);
            rc = err_set(ERR_FAIL, "out of memory");
        }
        if (rc < 0)
            fail_locked(u);
        p.len = 0;
        u->pool[u->n_pool++] = p;
        pthread_cond_broadcast(&u->cond);
    }
    pthread_mutex_unlock(&u->mu);
    s3http_conn_free(conn);
    return NULL;
}

/* ---- the writing side ------------------------------------------------------- */

static int raise_failure(s3mp *u)
{
    pthread_mutex_lock(&u->mu);
    err_saved e = u->err;
    pthread_mutex_unlock(&u->mu);
    return err_restore(&e);
}

static int create_upload(s3mp *u)
{
    sigv4_param q = {"uploads", ""};
    sigv4_header h = {META_TOKEN, u->token};
    s3http_request r = {
        .method = "POST", .key = u->key, .query = &q, .n_query = 1, .headers = &h, .n_headers = 1};
    s3http_response resp;
    int rc = s3http_perform(u->conn, &r, &resp);
    if (rc == 0 && !(u->upload_id = s3xml_parse_upload_id(resp.body, resp.body_len)))
        rc = err_prefix("POST %s?uploads: ", u->key);
    s3http_response_free(&resp);
    if (rc < 0)
        return -1;
    log_debug("remote %s: multipart upload %s of %s started", u->rc->name, u->upload_id, u->key);
    for (size_t i = 0; i + 1 < u->max_bufs; i++) {
        if (pthread_create(&u->threads[i], NULL, worker_main, u) != 0)
            return err_set(ERR_FAIL, "cannot start an upload thread");
        u->n_threads++;
    }
    return 0;
}

/* Hand CUR to the workers (starting the upload first). */
static int dispatch(s3mp *u)
{
    if (u->next_number > S3MP_MAX_PARTS)
        return err_set(ERR_FAIL, "%s: more than %u parts", u->key, S3MP_MAX_PARTS);
    if (s3http_signal_check(u->rc, u->key) < 0)
        return -1;
    if (!u->upload_id && create_upload(u) < 0)
        return -1;
    pthread_mutex_lock(&u->mu);
    if (u->failed) {
        pthread_mutex_unlock(&u->mu);
        return raise_failure(u);
    }
    u->cur.number = u->next_number++;
    u->queue[(u->q_head + u->q_len) % u->max_bufs] = u->cur;
    u->q_len++;
    pthread_cond_broadcast(&u->cond);
    pthread_mutex_unlock(&u->mu);
    memset(&u->cur, 0, sizeof u->cur);
    return 0;
}

/* A free buffer of at least NEED bytes into CUR (waits for a worker to
 * release one when all are in use). */
static int take_buffer(s3mp *u, uint64_t need)
{
    pthread_mutex_lock(&u->mu);
    while (!u->failed && u->n_pool == 0 && u->n_bufs >= u->max_bufs) {
        /* the workers fail on a signal too, but this wait must not
         * depend on them */
        if (backend_cancelled(&u->rc->cancel)) {
            pthread_mutex_unlock(&u->mu);
            return s3http_signal_check(u->rc, u->key);
        }
        s3http_cond_wait(&u->cond, &u->mu);
    }
    if (u->failed) {
        pthread_mutex_unlock(&u->mu);
        return raise_failure(u);
    }
    if (u->n_pool > 0) {
        u->cur = u->pool[--u->n_pool];
    } else {
        memset(&u->cur, 0, sizeof u->cur);
        u->n_bufs++;
    }
    pthread_mutex_unlock(&u->mu);
    u->cur.len = 0;
    if (u->cur.cap < need) {
        free(u->cur.buf);
        u->cur.buf = malloc(need);
        u->cur.cap = u->cur.buf ? need : 0;
        if (!u->cur.buf)
            return err_set(ERR_FAIL, "out of memory (a %llu-byte part buffer)",
                           (unsigned long long)need);
    }
    return 0;
}

int s3mp_write(s3mp *u, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        if (u->cur.buf && u->cur.len == u->cur_size && dispatch(u) < 0)
            return -1;
        if (!u->cur.buf) {
            uint64_t size = size_of_part(u, u->next_number);
            if (u->cur_size && size > u->cur_size)
                log_info("remote %s: %s: part size now %llu MiB from part %u", u->rc->name, u->key,
                         (unsigned long long)(size / MIB), u->next_number);
            if (take_buffer(u, size) < 0)
                return -1;
            u->cur_size = size;
        }
        size_t n = u->cur_size - u->cur.len < len ? (size_t)(u->cur_size - u->cur.len) : len;
        memcpy(u->cur.buf + u->cur.len, p, n);
        u->cur.len += n;
        u->total += n;
        p += n;
        len -= n;
    }
    return 0;
}

static void stop_workers(s3mp *u)
{
    pthread_mutex_lock(&u->mu);
    u->closing = 1;
    pthread_cond_broadcast(&u->cond);
    pthread_mutex_unlock(&u->mu);
    for (int i = 0; i < u->n_threads; i++)
        pthread_join(u->threads[i], NULL);
    u->n_threads = 0;
}

/* 1 when KEY exists, 0 when not, -1 on error. */
static int key_exists(s3mp *u)
{
    static const long ok404[] = {404, 0};
    s3http_request r = {.method = "HEAD", .key = u->key, .accept = ok404};
    s3http_response resp;
    int rc = s3http_perform(u->conn, &r, &resp);
    s3http_response_free(&resp);
    if (rc < 0)
        return -1;
    return resp.status == 404 ? 0 : 1;
}

/* Perform R, the request that makes KEY appear (PutObject or
 * CompleteMultipartUpload), whose last header is If-None-Match: *, so that
 * a server that honours it refuses to replace an object another writer
 * stored since the HEAD before (412).  A server that cannot take it (HTTP
 * 501 NotImplemented) gets the request again without it. */
static int perform_final(s3mp *u, s3http_request *r, s3http_response *resp)
{
    size_t all = r->n_headers;
    for (;;) {
        r->n_headers = u->no_inm ? all - 1 : all;
        int rc = s3http_perform(u->conn, r, resp);
        u->final_sent |= resp->attempts > 0;
        u->final_status = resp->status;
        if (rc == 0 || u->no_inm || resp->status != 501)
            return rc;
        log_info("remote %s: %s: the server does not take If-None-Match (%s); writing without "
                 "it: only the check before (HEAD) guards against another writer of the name",
                 u->rc->name, u->key, err_msg());
        u->no_inm = 1;
        s3http_response_free(resp);
    }
}

/* The whole object (what the first part holds) in one PutObject. */
static int put_object(s3mp *u)
{
    const uint8_t *buf = u->cur.buf ? u->cur.buf : (const uint8_t *)"";
    char sha[65], md5[32];
    sigv4_sha256_hex(buf, u->cur.len, sha);
    sigv4_md5_base64(buf, u->cur.len, md5);
    sigv4_header h[] = {{"Content-MD5", md5}, {META_TOKEN, u->token}, {"If-None-Match", "*"}};
    s3http_request r = {.method = "PUT",
                        .key = u->key,
                        .headers = h,
                        .n_headers = 3,
                        .body = buf,
                        .body_len = u->cur.len,
                        .body_sha256 = sha};
    s3http_response resp;
    int rc = perform_final(u, &r, &resp);
    s3http_response_free(&resp);
    return rc;
}

enum { LANDED_NONE, LANDED_OURS, LANDED_OTHER, LANDED_UNKNOWN };

/* What is under KEY now (HEAD, sent also after a signal): LANDED_OURS when
 * the object carries this write's token and its size.  LANDED_UNKNOWN with
 * the reason in WHY when the HEAD fails.  Keeps this thread's error. */
static int landed(s3mp *u, char *why, size_t cap)
{
    static const long ok404[] = {404, 0};
    s3http_request r = {
        .method = "HEAD", .key = u->key, .accept = ok404, .capture = META_TOKEN, .cleanup = 1};
    s3http_response resp;
    err_saved saved;
    err_save(&saved);
    int what;
    if (s3http_perform(u->conn, &r, &resp) < 0) {
        snprintf(why, cap, "%s", err_msg());
        what = LANDED_UNKNOWN;
    } else if (resp.status == 404) {
        what = LANDED_NONE;
    } else {
        int ours = resp.has_captured && strcmp(resp.captured, u->token) == 0 && resp.has_length &&
                   resp.content_length == u->total;
        what = ours ? LANDED_OURS : LANDED_OTHER;
    }
    s3http_response_free(&resp);
    err_restore(&saved);
    return what;
}

/* Delete KEY (this write's object); -1 with the reason in WHY.  Keeps
 * this thread's error. */
static int unpublish(s3mp *u, char *why, size_t cap)
{
    static const long gone[] = {404, 0};
    s3http_request r = {.method = "DELETE", .key = u->key, .accept = gone, .cleanup = 1};
    s3http_response resp;
    err_saved saved;
    err_save(&saved);
    int rc = s3http_perform(u->conn, &r, &resp);
    if (rc < 0)
        snprintf(why, cap, "%s", err_msg());
    s3http_response_free(&resp);
    err_restore(&saved);
    return rc;
}

/* The final request (PutObject or Complete) failed after it went out; the
 * server may have stored the object all the same: an answer lost on its
 * way (the retry then finds the upload gone, 404 NoSuchUpload, or the name
 * taken, 412), or Ctrl-C while the server was at it.  A HEAD tells: 0 when
 * the object is this write's and the run goes on (committed, with a
 * warning); -1 with the error set otherwise.  This write's object is
 * deleted when a signal says the run is over, and the error says so;
 * whatever is found, or not known, is in the error. */
static int settle(s3mp *u)
{
    char why[700];
    int l = landed(u, why, sizeof why);
    u->looked = l != LANDED_NONE;
    if (l == LANDED_OURS && !backend_cancelled(&u->rc->cancel)) {
        log_warn("remote %s: %s: %s; the server has the object all the same, written by this run "
                 "(%llu bytes): committed",
                 u->rc->name, u->key, err_msg(), (unsigned long long)u->total);
        err_clear();
        return 0;
    }
    if (l == LANDED_OURS) {
        if (unpublish(u, why, sizeof why) == 0)
            return err_suffix("; the server had stored %s all the same; deleted it", u->key);
        return err_suffix("; the server had stored %s all the same and it cannot be deleted (%s): "
                          "delete it by hand",
                          u->key, why);
    }
    if (l == LANDED_UNKNOWN)
        return err_suffix("; whether the server stored %s all the same is not known (%s): look "
                          "in the bucket",
                          u->key, why);
    if (u->final_status == 412) {
        char cause[sizeof why];
        snprintf(cause, sizeof cause, "%s", err_msg());
        return err_set(ERR_FAIL, "%s already exists (%s)", u->key, cause);
    }
    if (l == LANDED_OTHER)
        return err_suffix("; %s exists now, written by someone else: left as it is", u->key);
    return -1;
}

/* The upload could not be aborted, or was gone, after its Complete went
 * out: the server may have completed it meanwhile.  This write failed, so
 * an object of its own is deleted; said either way. */
static void recheck_after_abort(s3mp *u)
{
    char why[700];
    int l = landed(u, why, sizeof why);
    if (l == LANDED_OURS) {
        if (unpublish(u, why, sizeof why) == 0)
            log_warn("remote %s: the server had completed %s all the same; deleted it (this "
                     "write failed)",
                     u->rc->name, u->key);
        else
            log_error("remote %s: the server had completed %s all the same and it cannot be "
                      "deleted (%s): delete it by hand",
                      u->rc->name, u->key, why);
    } else if (l == LANDED_UNKNOWN) {
        log_warn("remote %s: whether the server completed %s all the same is not known (%s): "
                 "look in the bucket",
                 u->rc->name, u->key, why);
    }
}

/* TEXT as XML character data. */
static void put_xml_text(strbuf *b, const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p == '&')
            strbuf_puts(b, "&amp;");
        else if (*p == '<')
            strbuf_puts(b, "&lt;");
        else if (*p == '>')
            strbuf_puts(b, "&gt;");
        else
            strbuf_append(b, p, 1);
    }
}

char *s3mp_complete_body(char *const *etags, size_t n_etags, unsigned parts, size_t *len)
{
    strbuf b;
    /* the ETags came from the server: the body grows with them, whatever
     * their length (each is at most S3HTTP_MAX_ETAG bytes, 5x escaped) */
    strbuf_init(&b, 0);
    strbuf_puts(&b, "<CompleteMultipartUpload>");
    for (unsigned n = 1; n <= parts; n++) {
        const char *etag = n <= n_etags ? etags[n - 1] : NULL;
        if (!etag) {
            strbuf_free(&b);
            err_set(ERR_FAIL, "part %u was not uploaded", n);
            return NULL;
        }
        strbuf_printf(&b, "<Part><PartNumber>%u</PartNumber><ETag>", n);
        put_xml_text(&b, etag);
        strbuf_puts(&b, "</ETag></Part>");
    }
    strbuf_puts(&b, "</CompleteMultipartUpload>");
    *len = b.len;
    return strbuf_take(&b); /* NULL with err set after a failed append */
}

static int complete(s3mp *u, unsigned parts)
{
    size_t len = 0;
    char *body = s3mp_complete_body(u->etags, u->n_etags, parts, &len);
    if (!body)
        return err_prefix("%s: ", u->key);
    sigv4_param q = {"uploadId", u->upload_id};
    sigv4_header h[] = {{"Content-Type", "application/xml"}, {"If-None-Match", "*"}};
    s3http_request r = {.method = "POST",
                        .key = u->key,
                        .query = &q,
                        .n_query = 1,
                        .headers = h,
                        .n_headers = 2,
                        .body = body,
                        .body_len = len};
    s3http_response resp;
    int rc = perform_final(u, &r, &resp);
    /* a 200 whose body is an Error is a failure */
    if (rc == 0 && s3xml_parse_complete(resp.body, resp.body_len, NULL) < 0)
        rc = err_prefix("POST %s?uploadId: ", u->key);
    s3http_response_free(&resp);
    free(body);
    return rc;
}

static void free_all(s3mp *u)
{
    free(u->cur.buf);
    for (size_t i = 0; i < u->n_pool; i++)
        free(u->pool[i].buf);
    for (size_t i = 0; i < u->q_len; i++)
        free(u->queue[(u->q_head + i) % u->max_bufs].buf);
    for (size_t i = 0; i < u->n_etags; i++)
        free(u->etags[i]);
    free(u->etags);
    free(u->queue);
    free(u->pool);
    free(u->threads);
    free(u->upload_id);
    free(u->key);
    s3http_conn_free(u->conn);
    pthread_mutex_destroy(&u->mu);
    pthread_cond_destroy(&u->cond);
    free(u);
}

int s3mp_commit(s3mp *u)
{
    int ex;
    if (!u->upload_id) {
        /* everything fitted in one part: a plain PutObject */
        if ((ex = key_exists(u)) != 0)
            goto exists;
        if (put_object(u) < 0 && (!u->final_sent || settle(u) < 0))
            goto fail;
        log_debug("remote %s: %s written in one request (%llu bytes)", u->rc->name, u->key,
                  (unsigned long long)u->total);
        free_all(u);
        return 0;
    }
    if (u->cur.buf && u->cur.len > 0 && dispatch(u) < 0)
        goto fail;
    stop_workers(u);
    if (u->failed) {
        raise_failure(u);
        goto fail;
    }
    if ((ex = key_exists(u)) != 0)
        goto exists;
    unsigned parts = u->next_number - 1;
    if (complete(u, parts) < 0 && (!u->final_sent || settle(u) < 0))
        goto fail;
    log_debug("remote %s: %s completed: %u parts, %llu bytes", u->rc->name, u->key, parts,
              (unsigned long long)u->total);
    free_all(u);
    return 0;
exists:
    if (ex > 0)
        err_set(ERR_FAIL, "%s already exists", u->key);
fail:
    s3mp_abort(u);
    return -1;
}

void s3mp_abort(s3mp *u)
{
    if (!u)
        return;
    err_saved saved;
    err_save(&saved);
    atomic_store(&u->cancel, 1);
    stop_workers(u);
    if (u->upload_id && u->conn) {
        static const long gone[] = {404, 405, 0};
        sigv4_param q = {"uploadId", u->upload_id};
        /* sent also after Ctrl-C: an upload left behind costs storage */
        s3http_request r = {.method = "DELETE",
                            .key = u->key,
                            .query = &q,
                            .n_query = 1,
                            .accept = gone,
                            .cleanup = 1};
        s3http_response resp;
        int rc = s3http_perform(u->conn, &r, &resp);
        if (rc < 0)
            log_warn("remote %s: cannot abort the upload of %s (upload id %s): %s", u->rc->name,
                     u->key, u->upload_id, err_msg());
        else if (resp.status == 405)
            log_warn("remote %s: the server refused to abort the upload of %s (HTTP 405); upload "
                     "id %s may remain until it expires",
                     u->rc->name, u->key, u->upload_id);
        /* a 404 after Complete went out: the upload may be gone because it
         * was completed */
        if (u->final_sent && !u->looked && (rc < 0 || resp.status == 404 || resp.status == 405))
            recheck_after_abort(u);
        s3http_response_free(&resp);
    }
    free_all(u);
    err_restore(&saved);
}
