/* backend_tool: drive one configured remote through the backend interface
 * (backend.h), for tests of a backend's contract with a real server.
 *
 *   backend_tool CONFIG REMOTE put NAME          stdin -> NAME (1 MiB blocks)
 *   backend_tool CONFIG REMOTE put-abort NAME    write stdin, then abort
 *   backend_tool CONFIG REMOTE put-small NAME    stdin (at most 768 KiB) -> NAME,
 *       announced with its size: a small object, written whole at commit
 *   backend_tool CONFIG REMOTE get NAME [OFFSET] NAME from OFFSET -> stdout
 *   backend_tool CONFIG REMOTE stat NAME         "NAME SIZE MTIME complete|incomplete"
 *   backend_tool CONFIG REMOTE list [PREFIX]     one such line per entry
 *   backend_tool CONFIG REMOTE rm NAME
 *   backend_tool CONFIG REMOTE rm-incomplete NAME  remove_incomplete() of a listed entry
 *   backend_tool CONFIG REMOTE probe             the backend's probe (backend_probe)
 *   backend_tool CONFIG REMOTE probe-wait        open the remote, print "ready", then
 *       probe once a line comes on stdin (so a test can change the remote
 *       path between the two)
 *   backend_tool CONFIG REMOTE threads NAME N SIZE
 *       N writer threads on the one remote, each writing NAME.i (SIZE bytes
 *       of a pattern, in 64 KiB pieces so their requests interleave), while
 *       the main thread lists and stats; then every object is read back and
 *       compared.
 *   backend_tool CONFIG REMOTE flush-race NAME SIZE
 *       two writers on the one remote, one after the other on one thread:
 *       NAME.a gets SIZE bytes (64 MiB or more: its early flush goes out and
 *       is left in flight), then NAME.b (100 bytes, a small object) is
 *       written and committed while that flush is unanswered, then NAME.a
 *       is committed.
 *
 * Commands that write (put*, probe*, threads, flush-race, rm*) open the
 * remote with BACKEND_OPEN_WRITE, the others (get, stat, list) without.
 * SIGINT and SIGTERM are handled as the tool does (signals.h).
 *
 * Exit codes: 0 ok, 1 failure (message on stderr), 2 usage; stat of a
 * missing NAME exits 3. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "remotes.h"
#include "config.h"
#include "err.h"
#include "signals.h"

#define BLOCK (1024 * 1024)

static int die(void)
{
    fprintf(stderr, "backend_tool: %s\n", err_msg());
    return err_get_kind() == ERR_USAGE ? 2 : 1;
}

static void print_entry(const backend_entry *e)
{
    printf("%s %llu %lld %s\n", e->name, (unsigned long long)e->size, (long long)e->mtime,
           e->incomplete ? "incomplete" : "complete");
}

static int put(backend *b, const char *name, int abort_it)
{
    static unsigned char buf[BLOCK];
    backend_writer *w = backend_writer_open(b, name, 0);
    if (!w)
        return die();
    for (;;) {
        size_t n = fread(buf, 1, sizeof buf, stdin);
        if (n && backend_writer_write(w, buf, n) < 0) {
            backend_writer_abort(w);
            return die();
        }
        if (n < sizeof buf)
            break;
    }
    if (abort_it) {
        backend_writer_abort(w);
        return 0;
    }
    return backend_writer_commit(w) < 0 ? die() : 0;
}

/* stdin, announced with its size (a small object: written at commit) */
static int put_small(backend *b, const char *name)
{
    static unsigned char buf[768 * 1024 + 1];
    size_t n = fread(buf, 1, sizeof buf, stdin);
    if (n == 0 || n == sizeof buf) {
        fprintf(stderr, "backend_tool: put-small takes 1 byte to 768 KiB on stdin\n");
        return 2;
    }
    backend_writer *w = backend_writer_open(b, name, n);
    if (!w)
        return die();
    if (backend_writer_write(w, buf, n) < 0) {
        backend_writer_abort(w);
        return die();
    }
    return backend_writer_commit(w) < 0 ? die() : 0;
}

static int get(backend *b, const char *name, uint64_t offset)
{
    static unsigned char buf[BLOCK];
    backend_reader *r = backend_reader_open(b, name, offset);
    if (!r)
        return die();
    ssize_t n;
    while ((n = backend_reader_read(r, buf, sizeof buf)) > 0)
        fwrite(buf, 1, (size_t)n, stdout);
    backend_reader_close(r);
    return n < 0 ? die() : 0;
}

typedef struct {
    backend *b;
    char name[256];
    size_t size;
    int seed;
    int rc;
    char msg[1024];
} job;

static unsigned char pattern(int seed, size_t i)
{
    return (unsigned char)((i * 131u + (size_t)seed * 7919u) ^ (i >> 12));
}

static void *writer_main(void *arg)
{
    job *j = arg;
    unsigned char piece[65536];
    backend_writer *w = backend_writer_open(j->b, j->name, j->size);
    if (!w)
        goto fail;
    for (size_t off = 0; off < j->size; off += sizeof piece) {
        size_t n = j->size - off < sizeof piece ? j->size - off : sizeof piece;
        for (size_t i = 0; i < n; i++)
            piece[i] = pattern(j->seed, off + i);
        if (backend_writer_write(w, piece, n) < 0) {
            backend_writer_abort(w);
            goto fail;
        }
    }
    if (backend_writer_commit(w) < 0)
        goto fail;
    return NULL;
fail:
    j->rc = -1;
    snprintf(j->msg, sizeof j->msg, "%s", err_msg());
    return NULL;
}

static int threads(backend *b, const char *name, int n, size_t size)
{
    job jobs[16];
    pthread_t t[16];
    if (n < 1 || n > 16)
        return 2;
    for (int i = 0; i < n; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].b = b;
        jobs[i].size = size;
        jobs[i].seed = i + 1;
        snprintf(jobs[i].name, sizeof jobs[i].name, "%s.%d", name, i);
        pthread_create(&t[i], NULL, writer_main, &jobs[i]);
    }
    int rc = 0, lists = 0;
    for (int k = 0; k < 20; k++, lists++) { /* the main thread works meanwhile */
        backend_entry *e = NULL;
        size_t ne = 0;
        if (backend_list(b, name, &e, &ne) < 0 || backend_stat(b, jobs[0].name, NULL) < 0) {
            fprintf(stderr, "backend_tool: list during writes: %s\n", err_msg());
            rc = 1;
        }
        backend_entries_free(e, ne);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
        if (jobs[i].rc) {
            fprintf(stderr, "backend_tool: writer %d: %s\n", i, jobs[i].msg);
            rc = 1;
        }
    }
    static unsigned char buf[BLOCK];
    for (int i = 0; i < n && !rc; i++) {
        backend_reader *r = backend_reader_open(b, jobs[i].name, 0);
        if (!r)
            return die();
        size_t off = 0;
        ssize_t got;
        while ((got = backend_reader_read(r, buf, sizeof buf)) > 0) {
            for (ssize_t k = 0; k < got; k++)
                if (buf[k] != pattern(jobs[i].seed, off + (size_t)k)) {
                    fprintf(stderr, "backend_tool: %s differs at %zu\n", jobs[i].name,
                            off + (size_t)k);
                    rc = 1;
                    break;
                }
            off += (size_t)got;
        }
        backend_reader_close(r);
        if (got < 0)
            return die();
        if (off != jobs[i].size) {
            fprintf(stderr, "backend_tool: %s has %zu bytes, not %zu\n", jobs[i].name, off,
                    jobs[i].size);
            rc = 1;
        }
    }
    if (!rc)
        printf("%d objects written concurrently, %d listings meanwhile, all identical\n", n, lists);
    return rc;
}

static int flush_race(backend *b, const char *name, size_t size)
{
    static unsigned char piece[BLOCK];
    char na[256], nb[256];
    snprintf(na, sizeof na, "%s.a", name);
    snprintf(nb, sizeof nb, "%s.b", name);
    backend_writer *wa = backend_writer_open(b, na, 0);
    if (!wa)
        return die();
    for (size_t off = 0; off < size; off += sizeof piece) {
        size_t n = size - off < sizeof piece ? size - off : sizeof piece;
        for (size_t i = 0; i < n; i++)
            piece[i] = pattern(1, off + i);
        if (backend_writer_write(wa, piece, n) < 0) {
            backend_writer_abort(wa);
            return die();
        }
    }
    backend_writer *wb = backend_writer_open(b, nb, 100);
    if (!wb ||
        backend_writer_write(wb,
                             "012345678901234567890123456789012345678901234567890123456789012345678"
                             "9012345678901234567890123456789",
                             100) < 0 ||
        backend_writer_commit(wb) < 0) {
        int rc = die();
        if (wb)
            backend_writer_abort(wb);
        backend_writer_abort(wa);
        return rc;
    }
    if (backend_writer_commit(wa) < 0)
        return die();
    printf("%s and %s committed\n", na, nb);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: backend_tool CONFIG REMOTE COMMAND [ARGS]\n");
        return 2;
    }
    signals_install();
    config *cfg = config_load(argv[1], 0);
    if (!cfg)
        return die();
    const config_remote *rc = config_remote_find(cfg, argv[2]);
    const char *cmd = argv[3], *arg = argc > 4 ? argv[4] : NULL;
    int reads = strcmp(cmd, "get") == 0 || strcmp(cmd, "stat") == 0 || strcmp(cmd, "list") == 0;
    backend *b = rc ? remote_backend_open(rc, reads ? 0 : BACKEND_OPEN_WRITE) : NULL;
    if (!b) {
        int ret = die();
        config_free(cfg);
        return ret;
    }
    int ret = 2;
    if (strcmp(cmd, "put") == 0 && arg) {
        ret = put(b, arg, 0);
    } else if (strcmp(cmd, "put-abort") == 0 && arg) {
        ret = put(b, arg, 1);
    } else if (strcmp(cmd, "put-small") == 0 && arg) {
        ret = put_small(b, arg);
    } else if (strcmp(cmd, "flush-race") == 0 && argc == 6) {
        ret = flush_race(b, arg, strtoull(argv[5], NULL, 10));
    } else if (strcmp(cmd, "get") == 0 && arg) {
        ret = get(b, arg, argc > 5 ? strtoull(argv[5], NULL, 10) : 0);
    } else if (strcmp(cmd, "stat") == 0 && arg) {
        backend_entry e;
        int found = backend_stat(b, arg, &e);
        if (found < 0) {
            ret = die();
        } else if (found == 0) {
            ret = 3;
        } else {
            print_entry(&e);
            free(e.name);
            free(e.upload_id);
            ret = 0;
        }
    } else if (strcmp(cmd, "list") == 0) {
        backend_entry *e = NULL;
        size_t n = 0;
        if (backend_list(b, arg ? arg : "", &e, &n) < 0) {
            ret = die();
        } else {
            for (size_t i = 0; i < n; i++)
                print_entry(&e[i]);
            backend_entries_free(e, n);
            ret = 0;
        }
    } else if (strcmp(cmd, "rm") == 0 && arg) {
        ret = backend_remove(b, arg) < 0 ? die() : 0;
    } else if (strcmp(cmd, "rm-incomplete") == 0 && arg) {
        backend_entry *e = NULL;
        size_t n = 0;
        ret = 1;
        if (backend_list(b, arg, &e, &n) < 0)
            ret = die();
        for (size_t i = 0; i < n; i++)
            if (strcmp(e[i].name, arg) == 0 && e[i].incomplete)
                ret = backend_remove_incomplete(b, &e[i]) < 0 ? die() : 0;
        backend_entries_free(e, n);
    } else if (strcmp(cmd, "probe") == 0) {
        ret = backend_probe(b) < 0 ? die() : 0;
    } else if (strcmp(cmd, "probe-wait") == 0) {
        char line[64];
        printf("ready\n");
        fflush(stdout);
        if (!fgets(line, sizeof line, stdin))
            fprintf(stderr, "backend_tool: probe-wait: no line on stdin\n");
        else
            ret = backend_probe(b) < 0 ? die() : 0;
    } else if (strcmp(cmd, "threads") == 0 && argc == 7) {
        ret = threads(b, arg, atoi(argv[5]), strtoull(argv[6], NULL, 10));
    } else {
        fprintf(stderr, "backend_tool: unknown command or missing argument: %s\n", cmd);
    }
    fflush(stdout);
    backend_close(b);
    config_free(cfg);
    return ret;
}
