/* gendump: write a well-formed Neo4j 5 dump of (about) a given size, for
 * tests, benchmarks and the demo.  Not written by Neo4j: the store files hold
 * random, partly compressible bytes, but the byte layout is the one of
 * ../shared/fixtures/neo4j-dumps/README.md:
 *
 *   "DZV1" | zstd stream (frame checksum) of:
 *            24-byte metadata ("zstd", u32 BE 1, u64 BE files, u64 BE bytes)
 *            ustar archive of ./ entries, two zero end-of-archive blocks
 *
 *   gendump [--size BYTES[K|M|G]] [--files N] [--seed S]
 *           [--format DZV1|zstd|DGV1|gzip] [--level L] OUT|-
 *
 * --format zstd writes the Neo4j 3.5/4.x layout (no prefix); DGV1/gzip write
 * gzip streams holding the tar directly (no metadata block).  Every size is
 * decided up front from --size/--files/--seed (the metadata comes first and
 * must be true), then the dump is streamed in constant memory.  Throughput is
 * reported on stderr. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>
#include <zstd.h>

#define CHUNK (128 * 1024)

enum outfmt { F_DZV1, F_ZSTD, F_DGV1, F_GZIP };

static FILE *out;
static enum outfmt fmt;
static ZSTD_CCtx *cctx;
static z_stream zs;
static unsigned char *cbuf;
static size_t cbuf_size;
static uint64_t written, plain;

static void die(const char *what)
{
    fprintf(stderr, "gendump: %s\n", what);
    exit(1);
}

static void put_raw(const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, out) != n)
        die(strerror(errno));
    written += n;
}

/* Compress N plaintext bytes (END: finish the stream). */
static void emit(const void *p, size_t n, int end)
{
    plain += n;
    if (fmt == F_DZV1 || fmt == F_ZSTD) {
        ZSTD_inBuffer in = {p, n, 0};
        ZSTD_EndDirective mode = end ? ZSTD_e_end : ZSTD_e_continue;
        for (;;) {
            ZSTD_outBuffer o = {cbuf, cbuf_size, 0};
            size_t r = ZSTD_compressStream2(cctx, &o, &in, mode);
            if (ZSTD_isError(r))
                die(ZSTD_getErrorName(r));
            put_raw(cbuf, o.pos);
            if (end ? r == 0 : in.pos == in.size)
                break;
        }
        return;
    }
    zs.next_in = (unsigned char *)p;
    zs.avail_in = (uInt)n;
    for (;;) {
        zs.next_out = cbuf;
        zs.avail_out = (uInt)cbuf_size;
        int r = deflate(&zs, end ? Z_FINISH : Z_NO_FLUSH);
        if (r == Z_STREAM_ERROR)
            die("deflate failed");
        put_raw(cbuf, cbuf_size - zs.avail_out);
        if (end ? r == Z_STREAM_END : (zs.avail_in == 0 && zs.avail_out != 0))
            break;
    }
}

/* xorshift64*: fast and good enough for filler bytes. */
static uint64_t rng_state;
static uint64_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * UINT64_C(0x2545F4914F6CDD1D);
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static const char *const words[] = {
    "Keanu",   "Reeves",   "Matrix", "Movie", "Person", "ACTED_IN", "DIRECTED", "title",
    "tagline", "released", "name",   "born",  "roles",  "Welcome",  "Real",     "World",
    "Tom",     "Hanks",    "Cloud",  "Atlas", "1999",   "Neo",      "Trinity",  "Morpheus",
};

/* Fill BUF with store-like bytes: half random, a quarter fixed-size records,
 * a quarter text, in 4 KiB pages, so zstd has real but bounded work. */
static uint64_t record_id;
static void fill(unsigned char *buf, size_t n)
{
    size_t o = 0;
    while (o < n) {
        size_t page = n - o < 4096 ? n - o : 4096;
        uint64_t r = rng();
        unsigned kind = (unsigned)(r & 3);
        if (kind < 2) {
            size_t i = 0;
            for (; i + 8 <= page; i += 8) {
                uint64_t v = rng();
                memcpy(buf + o + i, &v, 8);
            }
            for (; i < page; i++)
                buf[o + i] = (unsigned char)rng();
        } else if (kind == 2) {
            size_t i = 0;
            for (; i + 16 <= page; i += 16) {
                unsigned char *rec = buf + o + i;
                uint64_t id = record_id++;
                memset(rec, 0, 16);
                rec[0] = 1;
                memcpy(rec + 1, &id, 5);
                uint32_t next = (uint32_t)(id * 3 + 1);
                memcpy(rec + 6, &next, 4);
                rec[15] = (unsigned char)(r >> (8 + (i & 31)));
            }
            memset(buf + o + i, 0, page - i);
        } else {
            size_t i = 0;
            while (i < page) {
                const char *w = words[rng() % (sizeof words / sizeof words[0])];
                size_t wl = strlen(w);
                if (wl + 1 > page - i)
                    wl = page - i - 1;
                memcpy(buf + o + i, w, wl);
                i += wl;
                if (i < page)
                    buf[o + i++] = ' ';
            }
        }
        o += page;
    }
}

static void octal(char *field, size_t width, uint64_t v)
{
    /* width-1 digits, then NUL */
    snprintf(field, width, "%0*" PRIo64, (int)(width - 1), v);
}

static void tar_header(const char *name, char type, uint64_t size, uint64_t mtime)
{
    unsigned char h[512];
    memset(h, 0, sizeof h);
    snprintf((char *)h, 100, "%s", name);
    octal((char *)h + 100, 8, type == '5' ? 0755 : 0644);
    octal((char *)h + 108, 8, 7474);
    octal((char *)h + 116, 8, 7474);
    if (size >= (UINT64_C(1) << 33)) {
        /* base-256 for 8 GiB and more */
        h[124] = 0x80;
        for (int i = 11; i >= 1; i--, size >>= 8)
            h[124 + i] = (unsigned char)size;
    } else {
        octal((char *)h + 124, 12, size);
    }
    octal((char *)h + 136, 12, mtime);
    h[156] = (unsigned char)type;
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    snprintf((char *)h + 265, 32, "neo4j");
    snprintf((char *)h + 297, 32, "neo4j");
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    h[155] = ' ';
    emit(h, sizeof h, 0);
}

static const char *const dirs[] = {
    "./",
    "./schema/",
    "./schema/index/",
    "./schema/index/range-1.0/",
    "./schema/index/range-1.0/3/",
    "./schema/index/token-lookup-1.0/",
    "./schema/index/token-lookup-1.0/1/",
};

static const char *const store_files[] = {
    "./neostore",
    "./neostore.nodestore.db",
    "./neostore.relationshipstore.db",
    "./neostore.propertystore.db",
    "./neostore.propertystore.db.strings",
    "./neostore.propertystore.db.arrays",
    "./neostore.propertystore.db.index",
    "./neostore.propertystore.db.index.keys",
    "./neostore.nodestore.db.labels",
    "./neostore.relationshipgroupstore.db",
    "./neostore.relationshiptypestore.db",
    "./neostore.relationshiptypestore.db.names",
    "./neostore.labeltokenstore.db",
    "./neostore.labeltokenstore.db.names",
    "./neostore.schemastore.db",
    "./neostore.counts.db",
    "./neostore.indexstats.db",
    "./neostore.nodestore.db.id",
    "./neostore.relationshipstore.db.id",
    "./neostore.propertystore.db.id",
    "./schema/index/range-1.0/3/index-3",
    "./schema/index/token-lookup-1.0/1/index-1",
};

static uint64_t parse_size(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        die("bad --size");
    switch (*end) {
    case 'k':
    case 'K':
        v <<= 10;
        end++;
        break;
    case 'm':
    case 'M':
        v <<= 20;
        end++;
        break;
    case 'g':
    case 'G':
        v <<= 30;
        end++;
        break;
    }
    if (*end == 'i' || *end == 'B')
        end += strspn(end, "iB");
    if (*end)
        die("bad --size (use BYTES with an optional K, M or G suffix)");
    return v;
}

static void usage(void)
{
    fprintf(stderr, "usage: gendump [--size BYTES[K|M|G]] [--files N] [--seed S] "
                    "[--format DZV1|zstd|DGV1|gzip] [--level L] OUT|-\n");
    exit(2);
}

int main(int argc, char **argv)
{
    uint64_t size = 64 << 20, seed = 1;
    long nfiles = -1;
    int level = 1;
    const char *path = NULL;
    fmt = F_DZV1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 < argc && strcmp(a, "--size") == 0)
            size = parse_size(argv[++i]);
        else if (i + 1 < argc && strcmp(a, "--files") == 0)
            nfiles = strtol(argv[++i], NULL, 10);
        else if (i + 1 < argc && strcmp(a, "--seed") == 0)
            seed = strtoull(argv[++i], NULL, 10);
        else if (i + 1 < argc && strcmp(a, "--level") == 0)
            level = atoi(argv[++i]);
        else if (i + 1 < argc && strcmp(a, "--format") == 0) {
            const char *f = argv[++i];
            if (strcmp(f, "DZV1") == 0)
                fmt = F_DZV1;
            else if (strcmp(f, "zstd") == 0)
                fmt = F_ZSTD;
            else if (strcmp(f, "DGV1") == 0)
                fmt = F_DGV1;
            else if (strcmp(f, "gzip") == 0)
                fmt = F_GZIP;
            else
                usage();
        } else if (a[0] == '-' && a[1] != '\0')
            usage();
        else if (!path)
            path = a;
        else
            usage();
    }
    if (!path)
        usage();
    size_t nstore = sizeof store_files / sizeof store_files[0];
    size_t ndirs = sizeof dirs / sizeof dirs[0];
    if (nfiles < 0)
        nfiles = (long)nstore;
    if (nfiles > 1000000)
        die("--files too large");

    /* Decide every file size before writing: the metadata comes first. */
    uint64_t s = seed;
    uint64_t overhead = 24 + 512 * (ndirs + (uint64_t)nfiles) + 1024;
    uint64_t payload = size > overhead ? size - overhead : 0;
    uint64_t *sizes = calloc((size_t)nfiles + 1, sizeof *sizes);
    if (!sizes)
        die("out of memory");
    uint64_t wsum = 0;
    for (long i = 0; i < nfiles; i++) {
        sizes[i] = 1 + splitmix(&s) % 1000;
        wsum += sizes[i];
    }
    uint64_t total = 0;
    for (long i = 0; i < nfiles; i++) {
        /* payload * w / wsum without overflow for payloads up to 2^53 */
        sizes[i] = (uint64_t)((long double)payload * (long double)sizes[i] / (long double)wsum);
        total += sizes[i];
    }
    if (nfiles > 0 && total < payload) {
        sizes[nfiles - 1] += payload - total;
        total = payload;
    }
    rng_state = splitmix(&s) | 1;
    uint64_t mtime = 1700000000 + seed % 100000;

    out = strcmp(path, "-") == 0 ? stdout : fopen(path, "wb");
    if (!out)
        die(strerror(errno));
    if (fmt == F_DZV1 || fmt == F_ZSTD) {
        cctx = ZSTD_createCCtx();
        if (!cctx)
            die("out of memory");
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
        cbuf_size = ZSTD_CStreamOutSize();
    } else {
        if (deflateInit2(&zs, level, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            die("deflateInit failed");
        cbuf_size = CHUNK;
    }
    cbuf = malloc(cbuf_size);
    unsigned char *buf = malloc(CHUNK);
    if (!cbuf || !buf)
        die("out of memory");

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (fmt == F_DZV1)
        put_raw("DZV1", 4);
    else if (fmt == F_DGV1)
        put_raw("DGV1", 4);
    if (fmt == F_DZV1 || fmt == F_ZSTD) {
        unsigned char meta[24] = {'z', 's', 't', 'd', 0, 0, 0, 1};
        for (int i = 0; i < 8; i++) {
            meta[8 + i] = (unsigned char)((uint64_t)nfiles >> (56 - 8 * i));
            meta[16 + i] = (unsigned char)(total >> (56 - 8 * i));
        }
        emit(meta, sizeof meta, 0);
    }
    for (size_t d = 0; d < ndirs; d++)
        tar_header(dirs[d], '5', 0, mtime);
    for (long i = 0; i < nfiles; i++) {
        char name[100];
        if ((size_t)i < nstore)
            snprintf(name, sizeof name, "%s", store_files[i]);
        else
            snprintf(name, sizeof name, "./neostore.transaction.db.%ld", i - (long)nstore);
        tar_header(name, '0', sizes[i], mtime);
        uint64_t left = sizes[i];
        while (left > 0) {
            size_t n = left < CHUNK ? (size_t)left : CHUNK;
            fill(buf, n);
            emit(buf, n, 0);
            left -= n;
        }
        size_t pad = (size_t)((512 - sizes[i] % 512) % 512);
        if (pad) {
            memset(buf, 0, pad);
            emit(buf, pad, 0);
        }
    }
    memset(buf, 0, 1024);
    emit(buf, 1024, 0);
    emit(NULL, 0, 1);
    if (fflush(out) != 0 || (out != stdout && fclose(out) != 0))
        die(strerror(errno));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    fprintf(stderr,
            "gendump: %ld files, %" PRIu64 " file bytes, %" PRIu64 " plaintext bytes -> %" PRIu64
            " dump bytes in %.2f s (%.0f MB/s plaintext)\n",
            nfiles, total, plain, written, secs, secs > 0 ? (double)plain / secs / 1e6 : 0.0);
    if (cctx)
        ZSTD_freeCCtx(cctx);
    else
        deflateEnd(&zs);
    free(cbuf);
    free(buf);
    free(sizes);
    return 0;
}
