/* sealtool: make and read archives with the project's stream and manifest
 * code, for tests and scripts written before the backup pipeline exists.
 *
 *   sealtool seal --pub archive.pub --signing-key signing.key --database DB
 *                 --name NAME [--host H] [--tool-version V] [--dump-format F]
 *                 [--neo4j-era E] [--dump-files N] [--dump-bytes N]
 *                 [--started EPOCH-SECONDS] [--chunk-size N] [--format 1|2]
 *                 [--neo4j-version V]
 *                 IN OUT.enc OUT.manifest
 *   sealtool open --secret-key archive.key --verify-key signing.pub [...]
 *                 IN.enc IN.manifest OUT
 *
 * --format 1 writes an archive and manifest as release 0.1 did (format
 * version 1), to test that they stay readable.
 *
 * OUT files are created, never overwritten.  open checks the manifest
 * signature first, then streams: the plaintext is written as chunks
 * authenticate and OUT is removed if any later check fails.
 *
 * Exit codes are the tool's (2 usage, 4 integrity, 1 other failures). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "keys.h"
#include "manifest.h"
#include "stream.h"

/* An odd read size, so chunk boundaries never line up with reads. */
#define READ_PIECE 100003

typedef struct {
    FILE *f;
    const char *path;
    uint64_t size;
    crypto_generichash_state h;
} out_file;

static int out_sink(void *ctx, const uint8_t *buf, size_t len)
{
    out_file *o = ctx;
    crypto_generichash_update(&o->h, buf, len);
    o->size += len;
    if (len && fwrite(buf, 1, len, o->f) != len)
        return err_sys(ERR_FAIL, errno, "cannot write %s", o->path);
    return 0;
}

static int die(const char *what)
{
    fprintf(stderr, "sealtool %s: %s\n", what, err_msg());
    return err_exit_code(err_get_kind() == ERR_NONE ? ERR_FAIL : err_get_kind());
}

static int usage(void)
{
    fprintf(stderr,
            "usage: sealtool seal --pub F --signing-key F --database DB --name NAME [options] IN "
            "OUT.enc OUT.manifest\n"
            "       sealtool open --secret-key F --verify-key F [--verify-key F]... IN.enc "
            "IN.manifest OUT\n");
    return 2;
}

static int read_manifest_file(const char *path, char **text, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return err_sys(ERR_FAIL, errno, "cannot open %s", path);
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (!buf)
        return err_set(ERR_FAIL, "out of memory");
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
}

static int cmd_seal(int argc, char **argv)
{
    static const struct option opts[] = {
        {"pub", required_argument, NULL, 'p'},
        {"signing-key", required_argument, NULL, 's'},
        {"database", required_argument, NULL, 'd'},
        {"name", required_argument, NULL, 'n'},
        {"host", required_argument, NULL, 'H'},
        {"tool-version", required_argument, NULL, 't'},
        {"dump-format", required_argument, NULL, 'f'},
        {"neo4j-era", required_argument, NULL, 'e'},
        {"dump-files", required_argument, NULL, 'F'},
        {"dump-bytes", required_argument, NULL, 'B'},
        {"started", required_argument, NULL, 'S'},
        {"chunk-size", required_argument, NULL, 'c'},
        {"format", required_argument, NULL, 'V'},
        {"neo4j-version", required_argument, NULL, 'N'},
        {NULL, 0, NULL, 0},
    };
    const char *pub = NULL, *skey = NULL;
    unsigned version = STREAM_FORMAT_VERSION;
    manifest m;
    memset(&m, 0, sizeof m);
    snprintf(m.tool_version, sizeof m.tool_version, "%s", N4O_VERSION);
    snprintf(m.dump_format, sizeof m.dump_format, "unknown");
    snprintf(m.neo4j_era, sizeof m.neo4j_era, "unknown");
    snprintf(m.host, sizeof m.host, "sealtool");
    gethostname(m.host, sizeof m.host - 1);
    m.dump_started = time(NULL);
    uint32_t chunk = STREAM_CHUNK_SIZE;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            pub = optarg;
            break;
        case 's':
            skey = optarg;
            break;
        case 'd':
            snprintf(m.database, sizeof m.database, "%s", optarg);
            break;
        case 'n':
            snprintf(m.archive, sizeof m.archive, "%s", optarg);
            break;
        case 'H':
            snprintf(m.host, sizeof m.host, "%s", optarg);
            break;
        case 't':
            snprintf(m.tool_version, sizeof m.tool_version, "%s", optarg);
            break;
        case 'f':
            snprintf(m.dump_format, sizeof m.dump_format, "%s", optarg);
            break;
        case 'e':
            snprintf(m.neo4j_era, sizeof m.neo4j_era, "%s", optarg);
            break;
        case 'F':
            m.dump_files = strtoull(optarg, NULL, 10);
            break;
        case 'B':
            m.dump_bytes = strtoull(optarg, NULL, 10);
            break;
        case 'S':
            m.dump_started = (time_t)strtoll(optarg, NULL, 10);
            break;
        case 'c':
            chunk = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 'V':
            version = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'N':
            snprintf(m.neo4j_version, sizeof m.neo4j_version, "%s", optarg);
            break;
        default:
            return usage();
        }
    }
    if (!pub || !skey || !m.database[0] || !m.archive[0] || argc - optind != 3)
        return usage();
    const char *in = argv[optind], *enc = argv[optind + 1], *man = argv[optind + 2];

    keys_public rcpt;
    if (keys_load_public(pub, KEYS_ARCHIVE, &rcpt) != 0)
        return die("seal");
    keys_secret *sk = keys_load_secret(skey, KEYS_SIGNING);
    if (!sk)
        return die("seal");
    int rc = 1;
    FILE *fin = fopen(in, "rb");
    out_file o = {.f = fopen(enc, "wbx"), .path = enc, .size = 0};
    crypto_generichash_init(&o.h, NULL, 0, 32);
    crypto_generichash_state ph;
    crypto_generichash_init(&ph, NULL, 0, 32);
    stream_writer *w = NULL;
    uint8_t *buf = malloc(READ_PIECE);
    char *text = NULL;
    if (!fin || !o.f) {
        err_sys(ERR_FAIL, errno, "cannot open %s", !fin ? in : enc);
        goto done;
    }
    w = stream_writer_new_version(&rcpt, chunk, version, out_sink, &o);
    if (!w)
        goto done;
    m.format_version = (int)version;
    stream_header_hash(stream_writer_header(w), m.archive_header_blake2b);
    size_t n;
    while ((n = fread(buf, 1, READ_PIECE, fin)) > 0) {
        crypto_generichash_update(&ph, buf, n);
        m.plaintext_size += n;
        if (stream_writer_update(w, buf, n) != 0)
            goto done;
    }
    if (ferror(fin)) {
        err_sys(ERR_FAIL, errno, "cannot read %s", in);
        goto done;
    }
    if (stream_writer_finish(w) != 0)
        goto done;
    if (fclose(o.f) != 0) {
        o.f = NULL;
        err_sys(ERR_FAIL, errno, "cannot write %s", enc);
        goto done;
    }
    o.f = NULL;
    m.dump_ended = time(NULL);
    if (m.dump_ended < m.dump_started)
        m.dump_ended = m.dump_started;
    m.archive_size = o.size;
    crypto_generichash_final(&o.h, m.archive_blake2b, 32);
    crypto_generichash_final(&ph, m.plaintext_blake2b, 32);
    m.chunk_size = chunk;
    memcpy(m.recipient_key_id, rcpt.id, KEYS_ID_BYTES);
    size_t tlen = 0;
    text = manifest_sign(&m, sk, &tlen);
    if (!text)
        goto done;
    FILE *fm = fopen(man, "wbx");
    if (!fm || fwrite(text, 1, tlen, fm) != tlen || fclose(fm) != 0) {
        err_sys(ERR_FAIL, errno, "cannot write %s", man);
        goto done;
    }
    rc = 0;
done:
    if (rc != 0)
        rc = die("seal");
    if (fin)
        fclose(fin);
    if (o.f)
        fclose(o.f);
    stream_writer_free(w);
    keys_secret_free(sk);
    free(buf);
    free(text);
    return rc;
}

static int cmd_open(int argc, char **argv)
{
    static const struct option opts[] = {
        {"secret-key", required_argument, NULL, 'k'},
        {"verify-key", required_argument, NULL, 'v'},
        {NULL, 0, NULL, 0},
    };
    const char *skey = NULL;
    keys_public trusted[8];
    size_t n_trusted = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            skey = optarg;
            break;
        case 'v':
            if (n_trusted == 8)
                return usage();
            if (keys_load_public(optarg, KEYS_SIGNING, &trusted[n_trusted++]) != 0)
                return die("open");
            break;
        default:
            return usage();
        }
    }
    if (!skey || !n_trusted || argc - optind != 3)
        return usage();
    const char *enc = argv[optind], *man = argv[optind + 1], *out = argv[optind + 2];

    char *text = NULL;
    size_t tlen = 0;
    manifest m;
    if (read_manifest_file(man, &text, &tlen) != 0 ||
        manifest_verify(text, tlen, trusted, n_trusted, &m) != 0) {
        free(text);
        return die("open");
    }
    free(text);
    keys_secret *sk = keys_load_secret(skey, KEYS_ARCHIVE);
    if (!sk)
        return die("open");
    int rc = 1;
    FILE *fin = fopen(enc, "rb");
    out_file o = {.f = fopen(out, "wbx"), .path = out, .size = 0};
    crypto_generichash_init(&o.h, NULL, 0, 32);
    crypto_generichash_state ah;
    crypto_generichash_init(&ah, NULL, 0, 32);
    uint64_t asize = 0;
    stream_reader *r = NULL;
    uint8_t *buf = malloc(READ_PIECE);
    if (!fin || !o.f) {
        err_sys(ERR_FAIL, errno, "cannot open %s", !fin ? enc : out);
        goto done;
    }
    if (memcmp(m.recipient_key_id, keys_secret_public(sk)->id, KEYS_ID_BYTES) != 0) {
        err_set(ERR_INTEGRITY, "the manifest names another recipient key");
        goto done;
    }
    r = stream_reader_new(sk, out_sink, &o);
    if (!r || stream_reader_bind(r, (unsigned)m.format_version,
                                 m.format_version >= 2 ? m.archive_header_blake2b : NULL) != 0)
        goto done;
    size_t n;
    int first = 1;
    while ((n = fread(buf, 1, READ_PIECE, fin)) > 0) {
        if (first) {
            uint32_t cs;
            first = 0;
            if (stream_header_chunk_size(buf, n, &cs) != 0)
                goto done;
            if (cs != m.chunk_size) {
                err_set(ERR_INTEGRITY, "chunk size %u in the header, %u in the manifest", cs,
                        m.chunk_size);
                goto done;
            }
        }
        crypto_generichash_update(&ah, buf, n);
        asize += n;
        if (stream_reader_update(r, buf, n) != 0)
            goto done;
    }
    if (ferror(fin)) {
        err_sys(ERR_FAIL, errno, "cannot read %s", enc);
        goto done;
    }
    if (stream_reader_finish(r) != 0)
        goto done;
    uint8_t ahash[32], phash[32];
    crypto_generichash_final(&ah, ahash, 32);
    crypto_generichash_final(&o.h, phash, 32);
    if (asize != m.archive_size || memcmp(ahash, m.archive_blake2b, 32) != 0) {
        err_set(ERR_INTEGRITY, "archive size or BLAKE2b differs from the manifest");
        goto done;
    }
    if (o.size != m.plaintext_size || memcmp(phash, m.plaintext_blake2b, 32) != 0) {
        err_set(ERR_INTEGRITY, "plaintext size or BLAKE2b differs from the manifest");
        goto done;
    }
    if (fclose(o.f) != 0) {
        o.f = NULL;
        err_sys(ERR_FAIL, errno, "cannot write %s", out);
        goto done;
    }
    o.f = NULL;
    rc = 0;
done:
    if (rc != 0) {
        rc = die("open");
        if (o.f || o.size) /* only what we created */
            unlink(out);
    }
    if (fin)
        fclose(fin);
    if (o.f)
        fclose(o.f);
    stream_reader_free(r);
    keys_secret_free(sk);
    free(buf);
    return rc;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return 1;
    if (argc < 2)
        return usage();
    if (strcmp(argv[1], "seal") == 0)
        return cmd_seal(argc - 1, argv + 1);
    if (strcmp(argv[1], "open") == 0)
        return cmd_open(argc - 1, argv + 1);
    return usage();
}
