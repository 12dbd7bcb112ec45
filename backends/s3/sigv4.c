#include "sigv4.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include "err.h"
#include "strbuf.h"

static void encode_into(strbuf *b, const char *s, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~' || (keep_slash && *p == '/')) {
            strbuf_append(b, (const char *)p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            strbuf_append(b, e, 3);
        }
    }
}

char *sigv4_uri_encode(const char *s, int keep_slash)
{
    strbuf b;
    strbuf_init(&b, 0);
    encode_into(&b, s, keep_slash);
    return strbuf_take(&b);
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
    strbuf b;
    strbuf_init(&b, 0);
    enc_param *e = calloc(n ? n : 1, sizeof *e);
    if (!e) {
        err_set(ERR_FAIL, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        e[i].k = sigv4_uri_encode(p[i].key, 0);
        e[i].v = sigv4_uri_encode(p[i].value ? p[i].value : "", 0);
        if (!e[i].k || !e[i].v)
            b.failed = 1; /* sigv4_uri_encode said why */
    }
    if (!strbuf_failed(&b)) {
        qsort(e, n, sizeof *e, enc_param_cmp);
        for (size_t i = 0; i < n; i++) {
            if (i)
                strbuf_puts(&b, "&");
            strbuf_puts(&b, e[i].k);
            strbuf_puts(&b, "=");
            strbuf_puts(&b, e[i].v);
        }
    }
    for (size_t i = 0; i < n; i++) {
        free(e[i].k);
        free(e[i].v);
    }
    free(e);
    return strbuf_take(&b);
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

void sigv4_md5_base64(const void *buf, size_t len, char out[32])
{
    unsigned char d[16];
    unsigned int dl = 0;
    EVP_Digest(buf, len, d, &dl, EVP_md5(), NULL);
    EVP_EncodeBlock((unsigned char *)out, d, 16);
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
static void add_trimmed(strbuf *b, const char *v)
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
            strbuf_puts(b, " ");
        space = 0;
        strbuf_append(b, v, 1);
    }
}

/* Canonical request into CR and the signed header list into SIGNED. */
static int build_canonical(const sigv4_creds *c, const sigv4_request *r, strbuf *cr,
                           strbuf *signed_h)
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

    strbuf_puts(cr, r->method);
    strbuf_puts(cr, "\n");
    strbuf_puts(cr, r->path && *r->path ? r->path : "/");
    strbuf_puts(cr, "\n");
    strbuf_puts(cr, r->query ? r->query : "");
    strbuf_puts(cr, "\n");
    for (size_t i = 0; i < used; i++) {
        strbuf_puts(cr, h[i].name);
        strbuf_puts(cr, ":");
        add_trimmed(cr, h[i].value);
        strbuf_puts(cr, "\n");
        if (i)
            strbuf_puts(signed_h, ";");
        strbuf_puts(signed_h, h[i].name);
    }
    strbuf_puts(cr, "\n");
    strbuf_puts(cr, strbuf_str(signed_h));
    strbuf_puts(cr, "\n");
    strbuf_puts(cr, r->payload_sha256);
    if (strbuf_failed(cr) || strbuf_failed(signed_h))
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
    strbuf cr, sh;
    strbuf_init(&cr, 0);
    strbuf_init(&sh, 0);
    int rc = build_canonical(c, r, &cr, &sh);
    strbuf_free(&sh);
    if (rc < 0) {
        strbuf_free(&cr);
        return NULL;
    }
    return strbuf_take(&cr);
}

static void hmac(const unsigned char *key, size_t klen, const char *msg, unsigned char out[32])
{
    unsigned int ol = 32;
    HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &ol);
}

char *sigv4_authorization(const sigv4_creds *c, const sigv4_request *r)
{
    const char *service = c->service ? c->service : "s3";
    strbuf cr, sh, sts, auth;
    strbuf_init(&cr, 0);
    strbuf_init(&sh, 0);
    strbuf_init(&sts, 0);
    strbuf_init(&auth, 0);
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
    sigv4_sha256_hex(strbuf_str(&cr), cr.len, cr_hash);

    /* string to sign: algorithm, time, scope, hash of the canonical request */
    strbuf_puts(&sts, "AWS4-HMAC-SHA256\n");
    strbuf_puts(&sts, r->amz_date);
    strbuf_puts(&sts, "\n");
    strbuf_puts(&sts, date);
    strbuf_puts(&sts, "/");
    strbuf_puts(&sts, c->region);
    strbuf_puts(&sts, "/");
    strbuf_puts(&sts, service);
    strbuf_puts(&sts, "/aws4_request\n");
    strbuf_puts(&sts, cr_hash);
    if (strbuf_failed(&sts)) {
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
    hmac(k, 32, strbuf_str(&sts), sig);
    sodium_memzero(k, sizeof k);
    char sig_hex[65];
    to_hex(sig, 32, sig_hex);

    strbuf_puts(&auth, "AWS4-HMAC-SHA256 Credential=");
    strbuf_puts(&auth, c->access_key);
    strbuf_puts(&auth, "/");
    strbuf_puts(&auth, date);
    strbuf_puts(&auth, "/");
    strbuf_puts(&auth, c->region);
    strbuf_puts(&auth, "/");
    strbuf_puts(&auth, service);
    strbuf_puts(&auth, "/aws4_request,SignedHeaders=");
    strbuf_puts(&auth, strbuf_str(&sh));
    strbuf_puts(&auth, ",Signature=");
    strbuf_puts(&auth, sig_hex);
    res = strbuf_take(&auth);
out:
    strbuf_free(&cr);
    strbuf_free(&sh);
    strbuf_free(&sts);
    strbuf_free(&auth);
    return res;
}
