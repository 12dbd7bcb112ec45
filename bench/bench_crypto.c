/* bench_crypto: single-thread throughput of the archive stream code and of
 * the hashes the pipeline runs next to it.
 *
 *   bench_crypto [MiB]      (default 1024: 1 GiB of plaintext, in memory)
 *
 * Encrypt feeds the writer 1 MiB pieces of random plaintext (repeated) and
 * discards the output; decrypt reads a real archive of the same size kept in
 * memory.  MB/s are 10^6 bytes of plaintext per second of one core's wall
 * time (the process is single-threaded). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "keys.h"
#include "stream.h"

#define PIECE (1u << 20)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct {
    uint8_t *data; /* NULL: count only */
    size_t len, cap;
} sink_buf;

static int count_sink(void *ctx, const uint8_t *buf, size_t len)
{
    sink_buf *s = ctx;
    if (s->data) {
        if (s->len + len > s->cap)
            return -1;
        memcpy(s->data + s->len, buf, len);
    }
    s->len += len;
    return 0;
}

static void row(const char *what, uint64_t bytes, double secs)
{
    printf("%-34s %10.0f MB/s  %8.0f MiB/s  (%.2f s)\n", what, (double)bytes / secs / 1e6,
           (double)bytes / secs / 1048576.0, secs);
}

static double encrypt_run(const keys_public *pub, uint32_t chunk, const uint8_t *piece,
                          uint64_t total, sink_buf *out)
{
    double t0 = now();
    stream_writer *w = stream_writer_new_sized(pub, chunk, count_sink, out);
    if (!w)
        exit(1);
    for (uint64_t done = 0; done < total; done += PIECE)
        if (stream_writer_update(w, piece, PIECE) != 0)
            exit(1);
    if (stream_writer_finish(w) != 0)
        exit(1);
    stream_writer_free(w);
    return now() - t0;
}

int main(int argc, char **argv)
{
    uint64_t mib = argc > 1 ? strtoull(argv[1], NULL, 10) : 1024;
    uint64_t total = mib << 20;
    if (sodium_init() < 0 || mib == 0)
        return 1;

    char dir[] = "/tmp/n4o-bench-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char keydir[64], path[128];
    snprintf(keydir, sizeof keydir, "%s/k", dir);
    keys_public pub, spub;
    if (keys_generate(keydir, NULL, &pub, &spub) != 0)
        return 1;
    snprintf(path, sizeof path, "%s/archive.key", keydir);
    keys_secret *sk = keys_load_secret(path, KEYS_ARCHIVE);
    if (!sk)
        return 1;

    uint8_t *piece = malloc(PIECE);
    randombytes_buf(piece, PIECE);
    printf("plaintext %llu MiB in memory, 1 MiB writes, one thread; libsodium %s\n",
           (unsigned long long)mib, sodium_version_string());

    /* Encrypt at several chunk sizes (the on-disk constant stays 64 KiB). */
    uint32_t chunks[] = {16 * 1024, STREAM_CHUNK_SIZE, 1024 * 1024};
    for (int i = 0; i < 3; i++) {
        sink_buf cnt = {0};
        double best = 1e9;
        for (int rep = 0; rep < 2; rep++) {
            cnt.len = 0;
            double s = encrypt_run(&pub, chunks[i], piece, total, &cnt);
            if (s < best)
                best = s;
        }
        char label[64];
        snprintf(label, sizeof label, "encrypt, %u KiB chunks (best of 2)", chunks[i] / 1024);
        row(label, total, best);
    }

    /* Decrypt a real archive held in memory. */
    sink_buf arch = {.cap = total + total / 1024 + 4096};
    arch.data = malloc(arch.cap);
    if (!arch.data)
        return 1;
    encrypt_run(&pub, STREAM_CHUNK_SIZE, piece, total, &arch);
    double best = 1e9;
    for (int rep = 0; rep < 2; rep++) {
        sink_buf out = {0};
        double t0 = now();
        stream_reader *r = stream_reader_new(sk, count_sink, &out);
        for (size_t off = 0; off < arch.len; off += PIECE) {
            size_t n = arch.len - off < PIECE ? arch.len - off : PIECE;
            if (stream_reader_update(r, arch.data + off, n) != 0)
                return 1;
        }
        if (stream_reader_finish(r) != 0 || out.len != total)
            return 1;
        stream_reader_free(r);
        double s = now() - t0;
        if (s < best)
            best = s;
    }
    row("decrypt, 64 KiB chunks (best of 2)", total, best);

    /* Hashes over the same amount of data, 1 MiB updates. */
    uint8_t h[64];
    double t0 = now();
    crypto_generichash_state gs;
    crypto_generichash_init(&gs, NULL, 0, 32);
    for (uint64_t done = 0; done < total; done += PIECE)
        crypto_generichash_update(&gs, piece, PIECE);
    crypto_generichash_final(&gs, h, 32);
    row("BLAKE2b-256 (crypto_generichash)", total, now() - t0);

    t0 = now();
    crypto_hash_sha256_state ss;
    crypto_hash_sha256_init(&ss);
    for (uint64_t done = 0; done < total; done += PIECE)
        crypto_hash_sha256_update(&ss, piece, PIECE);
    crypto_hash_sha256_final(&ss, h);
    row("SHA-256 (crypto_hash_sha256)", total, now() - t0);

    free(arch.data);
    free(piece);
    keys_secret_free(sk);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
