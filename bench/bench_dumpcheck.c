/* bench_dumpcheck: dumpcheck throughput over a dump file, single thread.
 *
 *   bench_dumpcheck [--piece BYTES] FILE
 *
 * Reads FILE with read(2) in pieces (default 1 MiB), feeds dumpcheck, and
 * prints wall and CPU time (getrusage), MB/s of dump bytes and of
 * decompressed bytes, and CPU seconds per GiB of dump.  Run it through
 * bench/dumpcheck.sh, which generates the dump and times `zstd -dc` too. */
#include "dumpcheck.h"
#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    size_t piece = 1 << 20;
    int i = 1;
    if (i + 1 < argc && strcmp(argv[i], "--piece") == 0) {
        piece = (size_t)strtoul(argv[i + 1], NULL, 10);
        i += 2;
    }
    if (i + 1 != argc || piece == 0) {
        fprintf(stderr, "usage: bench_dumpcheck [--piece BYTES] FILE\n");
        return 2;
    }
    int fd = open(argv[i], O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "bench_dumpcheck: %s: %s\n", argv[i], strerror(errno));
        return 1;
    }
    unsigned char *buf = malloc(piece);
    dumpcheck *dc = dumpcheck_new();
    if (!buf || !dc)
        return 1;
    double w0 = now(), c0 = cpu();
    int rc = 0;
    for (;;) {
        ssize_t n = read(fd, buf, piece);
        if (n < 0) {
            fprintf(stderr, "bench_dumpcheck: read: %s\n", strerror(errno));
            return 1;
        }
        if (n == 0)
            break;
        if (dumpcheck_update(dc, buf, (size_t)n) < 0) {
            rc = -1;
            break;
        }
    }
    dumpcheck_result r;
    if (rc == 0)
        rc = dumpcheck_finish(dc, &r);
    double wall = now() - w0, used = cpu() - c0;
    if (rc < 0) {
        fprintf(stderr, "bench_dumpcheck: invalid dump: %s\n", err_msg());
        return 4;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double gib = (double)r.dump_size / (1024.0 * 1024 * 1024);
    printf("dumpcheck: %s %s, %" PRIu64 " files, dump %" PRIu64 " B, decompressed %" PRIu64
           " B, piece %zu B\n",
           r.format, r.era, r.files, r.dump_size, r.decompressed, piece);
    printf("dumpcheck: wall %.2f s, cpu %.2f s; %.0f MB/s of dump, %.0f MB/s decompressed; "
           "%.2f cpu s/GiB of dump, %.2f cpu s/GiB decompressed; max RSS %ld KiB\n",
           wall, used, (double)r.dump_size / wall / 1e6, (double)r.decompressed / wall / 1e6,
           used / gib, used / ((double)r.decompressed / (1024.0 * 1024 * 1024)), ru.ru_maxrss);
    dumpcheck_free(dc);
    free(buf);
    close(fd);
    return 0;
}
