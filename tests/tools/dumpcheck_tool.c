/* dumpcheck_tool: run dumpcheck over a file (or stdin with "-") and print the
 * result, or the reason on stderr.  Exit 0 valid, 4 invalid, 1 I/O error.
 *
 *   dumpcheck_tool [--piece N] FILE|-
 *
 * --piece N feeds N bytes per dumpcheck_update call (default 1 MiB), to show
 * that the verdict does not depend on how the stream is cut. */
#include "dumpcheck.h"
#include "err.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    size_t piece = 1 << 20;
    int i = 1;
    if (i + 1 < argc && strcmp(argv[i], "--piece") == 0) {
        piece = (size_t)strtoul(argv[i + 1], NULL, 10);
        i += 2;
    }
    if (i + 1 != argc || piece == 0) {
        fprintf(stderr, "usage: dumpcheck_tool [--piece N] FILE|-\n");
        return 2;
    }
    FILE *f = strcmp(argv[i], "-") == 0 ? stdin : fopen(argv[i], "rb");
    if (!f) {
        fprintf(stderr, "dumpcheck_tool: %s: %s\n", argv[i], strerror(errno));
        return 1;
    }
    unsigned char *buf = malloc(piece);
    dumpcheck *dc = dumpcheck_new();
    if (!buf || !dc) {
        fprintf(stderr, "dumpcheck_tool: out of memory\n");
        return 1;
    }
    int rc = 0;
    size_t n;
    while ((n = fread(buf, 1, piece, f)) > 0) {
        if (dumpcheck_update(dc, buf, n) < 0) {
            rc = -1;
            break;
        }
    }
    if (ferror(f)) {
        fprintf(stderr, "dumpcheck_tool: %s: read error\n", argv[i]);
        return 1;
    }
    dumpcheck_result res;
    if (rc == 0)
        rc = dumpcheck_finish(dc, &res);
    if (rc < 0) {
        fprintf(stderr, "invalid dump: %s\n", err_msg());
        dumpcheck_free(dc);
        return err_exit_code(err_get_kind());
    }
    printf("format=%s era=%s files=%" PRIu64 " bytes=%" PRIu64 " entries=%" PRIu64
           " dump_size=%" PRIu64 "\n",
           res.format, res.era, res.files, res.bytes, res.entries, res.dump_size);
    dumpcheck_free(dc);
    free(buf);
    if (f != stdin)
        fclose(f);
    return 0;
}
