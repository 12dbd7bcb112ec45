#include "sigv4.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include "err.h"

/* A growing string; OOM is sticky and reported once at the end. */
typedef struct {
    char *s;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_addn(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_add(sbuf *b, const char *s)
{
    sb_addn(b, s, strlen(s));
}

static char *sb_finish(sbuf *b)
{
    if (!b->oom && !b->s)
        sb_addn(b, "", 0);
    if (b->oom) {
        free(b->s);
        err_set(ERR_FAIL, "out of memory");
        return NULL;
    }
    return b->s;
}

static void encode_into(sbuf *b, const char *s, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~' || (keep_slash && *p == '/')) {
            sb_addn(b, (const char *)p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            sb_addn(b, e, 3);
        }
    }
}

char *sigv4_uri_encode(const char *s, int keep_slash)
{
    sbuf b = {0};
    encode_into(&b, s, keep_slash);
    return sb_finish(&b);
}

typedef struct {
    char *k, *v;
} enc_param;

static int enc_param_cmp(const void *a, const void *b)
{
    const enc_param *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    return c ? c : strcmp(x->v, y->v);
}

char *sigv4_canonical_query(const sigv4_param *p, size_t n)
{
    sbuf b = {0};
    enc_param *e = calloc(n ? n : 1, sizeof *e);
    if (!e) {
        err_set(ERR_FAIL, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        e[i].k = sigv4_uri_encode(p[i].key, 0);
        e[i].v = sigv4_uri_encode(p[i].value ? p[i].value : "", 0);
        if (!e[i].k || !e[i].v)
            b.oom = 1;
    }
    if (!b.oom) {
        qsort(e, n, sizeof *e, enc_param_cmp);
        for (size_t i = 0; i < n; i++) {
            if (i)
                sb_add(&b, "&");
            sb_add(&b, e[i].k);
            sb_add(&b, "=");
            sb_add(&b, e[i].v);
        }
    }
    for (size_t i = 0; i < n; i++) {
        free(e[i].k);
        free(e[i].v);
    }
    free(e);
    return sb_finish(&b);
}

void sigv4_amz_date(time_t t, char out[17])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static void to_hex(const unsigned char *d, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[2 * n] = '\0';
}

void sigv4_sha256_hex(const void *buf, size_t len, char out[65])
{
    unsigned char d[32];
    unsigned int dl = 0;
    EVP_Digest(buf, len, d, &dl, EVP_sha256(), NULL);
    to_hex(d, 32, out);
}

typedef struct {
    char *name;        /* lower case */
    const char *value; /* as given, trimmed when written */
} canon_header;

static int canon_header_cmp(const void *a, const void *b)
{
    return strcmp(((const canon_header *)a)->name, ((const canon_header *)b)->name);
}

/* Trim both ends and squeeze inner runs of blanks to one space. */
static void add_trimmed(sbuf *b, const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    int space = 0;
    for (; *v; v++) {
        if (*v == ' ' || *v == '\t') {
            space = 1;
            continue;
        }
        if (space)
            sb_add(b, " ");
        space = 0;
        sb_addn(b, v, 1);
    }
}

/* Canonical request into CR and the signed header list into SIGNED. */
static int build_canonical(const sigv4_creds *c, const sigv4_request *r, sbuf *cr, sbuf *signed_h)
{
    size_t n = r->n_headers + 4, used = 0;
    canon_header *h = calloc(n, sizeof *h);
    int rc = -1;
    if (!h)
        return err_set(ERR_FAIL, "out of memory");
    const char *fixed[4][2] = {{"host", r->host},
                               {"x-amz-content-sha256", r->payload_sha256},
                               {"x-amz-date", r->amz_date},
                               {"x-amz-security-token", c->session_token}};
    for (size_t i = 0; i < 4; i++) {
        if (!fixed[i][1] || (i == 3 && !*fixed[i][1]))
            continue;
        h[used].name = strdup(fixed[i][0]);
        h[used].value = fixed[i][1];
        if (!h[used++].name)
            goto oom;
    }
    for (size_t i = 0; i < r->n_headers; i++) {
        char *lname = strdup(r->headers[i].name);
        if (!lname)
            goto oom;
        for (char *p = lname; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        h[used].name = lname;
        h[used++].value = r->headers[i].value;
    }
    qsort(h, used, sizeof *h, canon_header_cmp);

    sb_add(cr, r->method);
    sb_add(cr, "\n");
    sb_add(cr, r->path && *r->path ? r->path : "/");
    sb_add(cr, "\n");
    sb_add(cr, r->query ? r->query : "");
    sb_add(cr, "\n");
    for (size_t i = 0; i < used; i++) {
        sb_add(cr, h[i].name);
        sb_add(cr, ":");
        add_trimmed(cr, h[i].value);
        sb_add(cr, "\n");
        if (i)
            sb_add(signed_h, ";");
        sb_add(signed_h, h[i].name);
    }
    sb_add(cr, "\n");
    sb_add(cr, signed_h->s ? signed_h->s : "");
    sb_add(cr, "\n");
    sb_add(cr, r->payload_sha256);
    if (cr->oom || signed_h->oom)
        goto oom;
    rc = 0;
    goto out;
oom:
    err_set(ERR_FAIL, "out of memory");
out:
    for (size_t i = 0; i < used; i++)
        free(h[i].name);
    free(h);
    return rc;
}

char *sigv4_canonical_request(const sigv4_creds *c, const sigv4_request *r)
{
    sbuf cr = {0}, sh = {0};
    int rc = build_canonical(c, r, &cr, &sh);
    free(sh.s);
    if (rc < 0) {
        free(cr.s);
        return NULL;
    }
    return sb_finish(&cr);
}

static void hmac(const unsigned char *key, size_t klen, const char *msg, unsigned char out[32])
{
    unsigned int ol = 32;
    HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &ol);
}

char *sigv4_authorization(const sigv4_creds *c, const sigv4_request *r)
{
    const char *service = c->service ? c->service : "s3";
    sbuf cr = {0}, sh = {0}, sts = {0}, auth = {0};
    char *res = NULL;
    if (strlen(r->amz_date) != 16) {
        err_set(ERR_FAIL, "sigv4: bad date \"%s\"", r->amz_date);
        return NULL;
    }
    if (build_canonical(c, r, &cr, &sh) < 0)
        goto out;
    char date[9], cr_hash[65];
    memcpy(date, r->amz_date, 8);
    date[8] = '\0';
    sigv4_sha256_hex(cr.s, cr.len, cr_hash);

    /* string to sign: algorithm, time, scope, hash of the canonical request */
    sb_add(&sts, "AWS4-HMAC-SHA256\n");
    sb_add(&sts, r->amz_date);
    sb_add(&sts, "\n");
    sb_add(&sts, date);
    sb_add(&sts, "/");
    sb_add(&sts, c->region);
    sb_add(&sts, "/");
    sb_add(&sts, service);
    sb_add(&sts, "/aws4_request\n");
    sb_add(&sts, cr_hash);
    if (sts.oom) {
        err_set(ERR_FAIL, "out of memory");
        goto out;
    }

    /* signing key: HMAC chain from "AWS4" + secret over date, region,
     * service, "aws4_request"; every intermediate is wiped */
    size_t slen = strlen(c->secret_key);
    unsigned char k0[260];
    if (slen > sizeof k0 - 4) {
        err_set(ERR_USAGE, "the secret access key is too long (%zu bytes)", slen);
        goto out;
    }
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, c->secret_key, slen);
    unsigned char k[32], sig[32];
    hmac(k0, slen + 4, date, k);
    sodium_memzero(k0, sizeof k0);
    hmac(k, 32, c->region, k);
    hmac(k, 32, service, k);
    hmac(k, 32, "aws4_request", k);
    hmac(k, 32, sts.s, sig);
    sodium_memzero(k, sizeof k);
    char sig_hex[65];
    to_hex(sig, 32, sig_hex);

    sb_add(&auth, "AWS4-HMAC-SHA256 Credential=");
    sb_add(&auth, c->access_key);
    sb_add(&auth, "/");
    sb_add(&auth, date);
    sb_add(&auth, "/");
    sb_add(&auth, c->region);
    sb_add(&auth, "/");
    sb_add(&auth, service);
    sb_add(&auth, "/aws4_request,SignedHeaders=");
    sb_add(&auth, sh.s);
    sb_add(&auth, ",Signature=");
    sb_add(&auth, sig_hex);
    res = sb_finish(&auth);
    auth.s = NULL;
out:
    free(cr.s);
    free(sh.s);
    free(sts.s);
    free(auth.s);
    return res;
}
