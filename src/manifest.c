/* manifest: the signed JSON record of an archive (docs/FORMAT.md,
 * "Manifest"). */
#include "manifest.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "err.h"
#include "neo4j_version.h"
#include "sign.h"
#include "strbuf.h"

#define CANON_FLAGS (JSON_SORT_KEYS | JSON_COMPACT)
#define TIME_LEN    20 /* "2026-11-28T03:00:00Z" */
#define SIG_B64_LEN 88

/* ---- helpers shared by both directions ---- */

/* Strings must be valid UTF-8 (jansson checks) without control characters:
 * jansson and Python escape those differently, which would make the
 * canonical form ambiguous for independent verifiers. */
static int check_text(const char *field, const char *s, size_t cap)
{
    size_t n = strlen(s);
    if (n == 0)
        return err_set(ERR_INTEGRITY, "manifest field %s is empty", field);
    if (n >= cap)
        return err_set(ERR_INTEGRITY, "manifest field %s is too long (%zu bytes, at most %zu)",
                       field, n, cap - 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return err_set(ERR_INTEGRITY, "manifest field %s contains a control character", field);
    }
    return 0;
}

static int format_time(time_t t, char out[TIME_LEN + 1])
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, TIME_LEN + 1, "%Y-%m-%dT%H:%M:%SZ", &tm) != TIME_LEN)
        return err_set(ERR_INTEGRITY, "time %lld cannot be written as RFC 3339", (long long)t);
    return 0;
}

/* Exactly "YYYY-MM-DDTHH:MM:SSZ" (UTC, no fraction), and a real date. */
static int parse_time(const char *field, const char *s, time_t *out)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
    if (strlen(s) != TIME_LEN)
        goto bad;
    for (int i = 0; i < TIME_LEN; i++) {
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
            goto bad;
    }
    struct tm tm = {0};
    tm.tm_year = atoi(s) - 1900;
    tm.tm_mon = atoi(s + 5) - 1;
    tm.tm_mday = atoi(s + 8);
    tm.tm_hour = atoi(s + 11);
    tm.tm_min = atoi(s + 14);
    tm.tm_sec = atoi(s + 17);
    time_t t = timegm(&tm);
    char back[TIME_LEN + 1];
    /* timegm normalises 2026-02-30 to March: the round trip catches it */
    if (format_time(t, back) != 0 || strcmp(back, s) != 0)
        goto bad;
    *out = t;
    return 0;
bad:
    return err_set(ERR_INTEGRITY, "manifest field %s is not an RFC 3339 UTC time (%.40s)", field,
                   s);
}

/* A neo4j_version is exactly what neo4j_version_parse() finds in it: digits
 * and dots only, nothing around them. */
static int check_neo4j_version(const char *s)
{
    char parsed[NEO4J_VERSION_MAX], shown[64];
    if (neo4j_version_parse(s, parsed) == 0 && strcmp(parsed, s) == 0)
        return 0;
    return err_set(ERR_INTEGRITY, "manifest field neo4j_version is not a version number ('%s')",
                   strbuf_printable_copy(shown, sizeof shown, s));
}

static void hex_lower(const uint8_t *bin, size_t n, char *out)
{
    sodium_bin2hex(out, 2 * n + 1, bin, n);
}

static int parse_hex(const char *field, const char *s, uint8_t *bin, size_t n)
{
    if (strlen(s) != 2 * n)
        goto bad;
    for (size_t i = 0; i < 2 * n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            goto bad;
    size_t got = 0;
    if (sodium_hex2bin(bin, n, s, 2 * n, NULL, &got, NULL) != 0 || got != n)
        goto bad;
    return 0;
bad:
    return err_set(ERR_INTEGRITY, "manifest field %s is not %zu lowercase hex digits", field,
                   2 * n);
}

/* ---- writing ---- */

static int set_str(json_t *obj, const char *key, const char *val, size_t cap)
{
    if (check_text(key, val, cap) != 0)
        return -1;
    json_t *s = json_string(val);
    if (!s)
        return err_set(ERR_INTEGRITY, "manifest field %s is not valid UTF-8", key);
    if (json_object_set_new(obj, key, s) != 0)
        return err_set(ERR_FAIL, "out of memory building the manifest");
    return 0;
}

static int set_u64(json_t *obj, const char *key, uint64_t v)
{
    /* JSON integers are exchanged as signed 64-bit */
    if (v > INT64_MAX)
        return err_set(ERR_INTEGRITY, "manifest field %s is too large", key);
    if (json_object_set_new(obj, key, json_integer((json_int_t)v)) != 0)
        return err_set(ERR_FAIL, "out of memory building the manifest");
    return 0;
}

static int set_hex(json_t *obj, const char *key, const uint8_t *bin, size_t n)
{
    char hex[65];
    hex_lower(bin, n, hex);
    return set_str(obj, key, hex, sizeof hex);
}

static int set_time(json_t *obj, const char *key, time_t t)
{
    char s[TIME_LEN + 1];
    if (format_time(t, s) != 0)
        return -1;
    return set_str(obj, key, s, sizeof s);
}

static json_t *build_object(const manifest *m)
{
    json_t *o = json_object(), *d = json_object();
    if (!o || !d) {
        err_set(ERR_FAIL, "out of memory building the manifest");
        goto fail;
    }
    if (m->format_version >= 2 &&
        set_hex(o, "archive_header_blake2b", m->archive_header_blake2b, 32))
        goto fail;
    if (set_u64(o, "format_version", (uint64_t)m->format_version) ||
        set_str(o, "tool_version", m->tool_version, sizeof m->tool_version) ||
        set_str(o, "database", m->database, sizeof m->database) ||
        set_time(o, "dump_started", m->dump_started) || set_time(o, "dump_ended", m->dump_ended) ||
        set_str(o, "host", m->host, sizeof m->host) ||
        set_str(o, "archive", m->archive, sizeof m->archive) ||
        set_u64(o, "archive_size", m->archive_size) ||
        set_hex(o, "archive_blake2b", m->archive_blake2b, 32) ||
        set_u64(o, "plaintext_size", m->plaintext_size) ||
        set_hex(o, "plaintext_blake2b", m->plaintext_blake2b, 32) ||
        set_str(d, "format", m->dump_format, sizeof m->dump_format) ||
        set_str(d, "neo4j_era", m->neo4j_era, sizeof m->neo4j_era) ||
        set_u64(d, "files", m->dump_files) || set_u64(d, "bytes", m->dump_bytes) ||
        set_u64(o, "chunk_size", m->chunk_size) ||
        set_hex(o, "recipient_key_id", m->recipient_key_id, KEYS_ID_BYTES) ||
        set_hex(o, "signer_key_id", m->signer_key_id, KEYS_ID_BYTES))
        goto fail;
    if (json_object_set_new(o, "dump", d) != 0) {
        d = NULL;
        err_set(ERR_FAIL, "out of memory building the manifest");
        goto fail;
    }
    d = NULL;
    if (m->neo4j_version[0]) {
        if (m->format_version < 2) {
            err_set(ERR_INTEGRITY, "manifest field neo4j_version needs format_version 2");
            goto fail;
        }
        if (check_neo4j_version(m->neo4j_version) ||
            set_str(o, "neo4j_version", m->neo4j_version, sizeof m->neo4j_version))
            goto fail;
    }
    return o;
fail:
    json_decref(d);
    json_decref(o);
    return NULL;
}

char *manifest_sign(manifest *m, const keys_secret *signing, size_t *len)
{
    char *canon = NULL, *full = NULL, *out = NULL;
    json_t *o = NULL;
    if (keys_secret_public(signing)->kind != KEYS_SIGNING) {
        err_set(ERR_USAGE, "manifests are signed with the signing key, not an archive key");
        return NULL;
    }
    if (m->format_version == 0)
        m->format_version = MANIFEST_FORMAT_VERSION;
    if (m->format_version < 1 || m->format_version > MANIFEST_FORMAT_VERSION) {
        err_set(ERR_USAGE, "manifest format_version %d cannot be written", m->format_version);
        return NULL;
    }
    memcpy(m->signer_key_id, keys_secret_public(signing)->id, KEYS_ID_BYTES);
    o = build_object(m);
    if (!o)
        goto fail;
    canon = json_dumps(o, CANON_FLAGS);
    if (!canon) {
        err_set(ERR_FAIL, "out of memory serialising the manifest");
        goto fail;
    }
    uint8_t sig[SIGN_BYTES];
    if (sign_detached(signing, (const uint8_t *)canon, strlen(canon), sig) != 0)
        goto fail;
    char b64[SIG_B64_LEN + 1];
    sodium_bin2base64(b64, sizeof b64, sig, sizeof sig, sodium_base64_VARIANT_ORIGINAL);
    if (json_object_set_new(o, "signature", json_string(b64)) != 0) {
        err_set(ERR_FAIL, "out of memory building the manifest");
        goto fail;
    }
    full = json_dumps(o, CANON_FLAGS);
    if (!full) {
        err_set(ERR_FAIL, "out of memory serialising the manifest");
        goto fail;
    }
    size_t n = strlen(full);
    out = malloc(n + 2);
    if (!out) {
        err_set(ERR_FAIL, "out of memory");
        goto fail;
    }
    memcpy(out, full, n);
    out[n] = '\n';
    out[n + 1] = '\0';
    *len = n + 1;
fail:
    free(canon);
    free(full);
    json_decref(o);
    return out;
}

/* ---- reading ---- */

static const char *const top_fields[] = {
    "format_version",
    "tool_version",
    "database",
    "dump_started",
    "dump_ended",
    "host",
    "archive",
    "archive_size",
    "archive_blake2b",
    "plaintext_size",
    "plaintext_blake2b",
    "dump",
    "chunk_size",
    "recipient_key_id",
    "signer_key_id",
    "signature",
    "archive_header_blake2b", /* version 2 on: the last V2_ONLY members */
    "neo4j_version",          /* version 2 on, optional */
};
#define V2_ONLY 2
static const char *const dump_fields[] = {"format", "neo4j_era", "files", "bytes"};

static int only_known(json_t *obj, const char *where, const char *const *names, size_t n)
{
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val)
    {
        size_t i = 0;
        while (i < n && strcmp(key, names[i]) != 0)
            i++;
        if (i == n)
            return err_set(ERR_INTEGRITY, "manifest%s has an unknown field \"%.64s\"", where, key);
    }
    return 0;
}

static const char *get_str(json_t *obj, const char *key, const char *name, size_t cap)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        err_set(ERR_INTEGRITY, "manifest field %s is missing", name);
        return NULL;
    }
    if (!json_is_string(v)) {
        err_set(ERR_INTEGRITY, "manifest field %s is not a string", name);
        return NULL;
    }
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v)) {
        err_set(ERR_INTEGRITY, "manifest field %s contains a NUL character", name);
        return NULL;
    }
    if (check_text(name, s, cap) != 0)
        return NULL;
    return s;
}

static int copy_str(json_t *obj, const char *key, const char *name, char *dst, size_t cap)
{
    const char *s = get_str(obj, key, name, cap);
    if (!s)
        return -1;
    memcpy(dst, s, strlen(s) + 1);
    return 0;
}

static int get_u64(json_t *obj, const char *key, const char *name, uint64_t max, uint64_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return err_set(ERR_INTEGRITY, "manifest field %s is missing", name);
    if (!json_is_integer(v))
        return err_set(ERR_INTEGRITY, "manifest field %s is not an integer", name);
    json_int_t i = json_integer_value(v);
    if (i < 0 || (uint64_t)i > max)
        return err_set(ERR_INTEGRITY, "manifest field %s is out of range", name);
    *out = (uint64_t)i;
    return 0;
}

static int get_hex(json_t *obj, const char *key, uint8_t *bin, size_t n)
{
    const char *s = get_str(obj, key, key, 65);
    if (!s)
        return -1;
    return parse_hex(key, s, bin, n);
}

static int get_time(json_t *obj, const char *key, time_t *out)
{
    const char *s = get_str(obj, key, key, 64); /* the shape check says more */
    if (!s)
        return -1;
    return parse_time(key, s, out);
}

/* Parse TEXT into a JSON object and M, checking every field's type.  The
 * object is returned (with "signature") for the signature check. */
static json_t *parse_checked(const char *text, size_t len, manifest *m)
{
    json_error_t jerr;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o) {
        err_set(ERR_INTEGRITY, "manifest is not valid JSON (line %d, column %d: %s)", jerr.line,
                jerr.column, jerr.text);
        return NULL;
    }
    memset(m, 0, sizeof *m);
    uint64_t v = 0;
    if (!json_is_object(o)) {
        err_set(ERR_INTEGRITY, "manifest is not a JSON object");
        goto fail;
    }
    /* the version decides the schema, so it is checked first */
    if (get_u64(o, "format_version", "format_version", INT32_MAX, &v) != 0)
        goto fail;
    if (v < 1 || v > MANIFEST_FORMAT_VERSION) {
        err_set(ERR_INTEGRITY,
                "manifest format_version %llu is not supported (this version reads 1 to %d)",
                (unsigned long long)v, MANIFEST_FORMAT_VERSION);
        goto fail;
    }
    m->format_version = (int)v;
    size_t n_known = sizeof top_fields / sizeof top_fields[0] - (v == 1 ? V2_ONLY : 0);
    if (only_known(o, "", top_fields, n_known) != 0)
        goto fail;
    if (v >= 2 && get_hex(o, "archive_header_blake2b", m->archive_header_blake2b, 32) != 0)
        goto fail;
    json_t *d = json_object_get(o, "dump");
    if (!d || !json_is_object(d)) {
        err_set(ERR_INTEGRITY, "manifest field dump is %s", d ? "not an object" : "missing");
        goto fail;
    }
    if (only_known(d, " field dump", dump_fields, sizeof dump_fields / sizeof dump_fields[0]) != 0)
        goto fail;
    if (copy_str(o, "tool_version", "tool_version", m->tool_version, sizeof m->tool_version) ||
        copy_str(o, "database", "database", m->database, sizeof m->database) ||
        get_time(o, "dump_started", &m->dump_started) ||
        get_time(o, "dump_ended", &m->dump_ended) ||
        copy_str(o, "host", "host", m->host, sizeof m->host) ||
        copy_str(o, "archive", "archive", m->archive, sizeof m->archive) ||
        get_u64(o, "archive_size", "archive_size", INT64_MAX, &m->archive_size) ||
        get_hex(o, "archive_blake2b", m->archive_blake2b, 32) ||
        get_u64(o, "plaintext_size", "plaintext_size", INT64_MAX, &m->plaintext_size) ||
        get_hex(o, "plaintext_blake2b", m->plaintext_blake2b, 32) ||
        copy_str(d, "format", "dump.format", m->dump_format, sizeof m->dump_format) ||
        copy_str(d, "neo4j_era", "dump.neo4j_era", m->neo4j_era, sizeof m->neo4j_era) ||
        get_u64(d, "files", "dump.files", INT64_MAX, &m->dump_files) ||
        get_u64(d, "bytes", "dump.bytes", INT64_MAX, &m->dump_bytes) ||
        get_u64(o, "chunk_size", "chunk_size", UINT32_MAX, &v) ||
        get_hex(o, "recipient_key_id", m->recipient_key_id, KEYS_ID_BYTES) ||
        get_hex(o, "signer_key_id", m->signer_key_id, KEYS_ID_BYTES))
        goto fail;
    m->chunk_size = (uint32_t)v;
    /* optional: absent in the manifests written before it, and when the
     * version was not known */
    if (json_object_get(o, "neo4j_version") &&
        (copy_str(o, "neo4j_version", "neo4j_version", m->neo4j_version, sizeof m->neo4j_version) ||
         check_neo4j_version(m->neo4j_version)))
        goto fail;
    if (!get_str(o, "signature", "signature", SIG_B64_LEN + 1))
        goto fail;
    return o;
fail:
    json_decref(o);
    return NULL;
}

int manifest_parse_unverified(const char *text, size_t len, manifest *out)
{
    manifest m;
    json_t *o = parse_checked(text, len, &m);
    if (!o)
        return -1;
    json_decref(o);
    *out = m;
    return 0;
}

int manifest_verify(const char *text, size_t len, const keys_public *trusted, size_t n_trusted,
                    manifest *out)
{
    manifest m;
    char *canon = NULL;
    int rc = -1;
    json_t *o = parse_checked(text, len, &m);
    if (!o)
        return -1;
    const char *b64 = json_string_value(json_object_get(o, "signature"));
    uint8_t sig[SIGN_BYTES];
    size_t n = 0;
    const char *end = NULL;
    if (sodium_base642bin(sig, sizeof sig, b64, strlen(b64), NULL, &n, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        n != sizeof sig || end != b64 + strlen(b64)) {
        err_set(ERR_INTEGRITY, "manifest signature is not 64 bytes of base64");
        goto done;
    }
    json_object_del(o, "signature");
    canon = json_dumps(o, CANON_FLAGS);
    if (!canon) {
        err_set(ERR_FAIL, "out of memory serialising the manifest");
        goto done;
    }
    if (sign_verify(trusted, n_trusted, m.signer_key_id, (const uint8_t *)canon, strlen(canon),
                    sig) != 0) {
        err_prefix("manifest of %.200s: ", m.archive);
        goto done;
    }
    *out = m;
    rc = 0;
done:
    free(canon);
    json_decref(o);
    return rc;
}
