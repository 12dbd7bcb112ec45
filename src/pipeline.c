#include "pipeline.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "atomic_file.h"
#include "catalog.h"
#include "log.h"
#include "progress.h"
#include "ring.h"
#include "signals.h"
#include "stream.h"

/* ---- backup ------------------------------------------------------------ */

typedef struct {
    ring *ring;
    int index;
    backend *remote;
    char object[CATALOG_NAME_MAX + 16];
    uint64_t size_hint;
    err_kind err;
    char msg[512];
} remote_writer;

static void writer_failed(remote_writer *rw)
{
    rw->err = err_get_kind() == ERR_NONE ? ERR_FAIL : err_get_kind();
    snprintf(rw->msg, sizeof rw->msg, "%s", err_msg());
}

static void *remote_writer_main(void *arg)
{
    remote_writer *rw = arg;
    size_t len;
    int aborted = 0;
    backend_writer *w = backend_writer_open(rw->remote, rw->object, rw->size_hint);
    if (!w) {
        writer_failed(rw);
        ring_drop(rw->ring, rw->index);
        return NULL;
    }
    const uint8_t *blk;
    while ((blk = ring_peek(rw->ring, rw->index, &len, &aborted))) {
        if (backend_writer_write(w, blk, len) < 0) {
            writer_failed(rw);
            ring_drop(rw->ring, rw->index);
            backend_writer_abort(w);
            return NULL;
        }
        ring_release(rw->ring, rw->index);
    }
    if (aborted) {
        backend_writer_abort(w);
        rw->err = ERR_FAIL;
        snprintf(rw->msg, sizeof rw->msg, "upload of %s aborted", rw->object);
        return NULL;
    }
    if (backend_writer_commit(w) < 0)
        writer_failed(rw);
    return NULL;
}

typedef struct {
    const pipeline_backup_job *job;
    pipeline_backup_result *res;
    dumpcheck *dc;
    crypto_generichash_state plain_hash, archive_hash;
    atomic_file *local;
    stream_writer *enc;
    ring *ring;
    uint8_t *blk;
    size_t fill;
    int remotes_gone;
    progress *prog;
} backup_run;

/* Encrypted bytes -> archive hash -> ring blocks. */
static int archive_sink(void *ctx, const uint8_t *buf, size_t len)
{
    backup_run *run = ctx;
    crypto_generichash_update(&run->archive_hash, buf, len);
    run->res->archive_size += len;
    while (len > 0 && !run->remotes_gone) {
        if (!run->blk) {
            run->blk = ring_acquire(run->ring);
            run->fill = 0;
            if (!run->blk) {
                run->remotes_gone = 1;
                log_debug("every remote failed; the dump is still read to the end");
                break;
            }
        }
        size_t n = PIPELINE_RING_BLOCK - run->fill;
        if (n > len)
            n = len;
        memcpy(run->blk + run->fill, buf, n);
        run->fill += n;
        buf += n;
        len -= n;
        if (run->fill == PIPELINE_RING_BLOCK) {
            ring_publish(run->ring, run->fill);
            run->blk = NULL;
        }
    }
    return 0;
}

static int consume(backup_run *run, const uint8_t *buf, size_t len)
{
    const pipeline_backup_job *job = run->job;
    if (job->validate && dumpcheck_update(run->dc, buf, len) < 0)
        return -1;
    crypto_generichash_update(&run->plain_hash, buf, len);
    run->res->plain_size += len;
    if (run->local && atomic_file_write(run->local, buf, len) < 0)
        return -1;
    if (run->enc && !run->remotes_gone && stream_writer_update(run->enc, buf, len) < 0)
        return -1;
    progress_add(run->prog, len);
    return 0;
}

static ssize_t read_source(const pipeline_backup_job *job, uint8_t *buf, size_t len)
{
    if (job->child)
        return neo4j_read(job->child, buf, len);
    for (;;) {
        if (signals_pending())
            return err_set(ERR_FAIL, "interrupted by signal %d", signals_pending());
        ssize_t n = read(job->fd, buf, len);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return err_sys(ERR_FAIL, errno, "cannot read the dump");
    }
}

/* The source ended: everything that must hold before anything is published. */
static int finish_source(backup_run *run, neo4j_child **child)
{
    const pipeline_backup_job *job = run->job;
    if (*child) {
        neo4j_child *c = *child;
        *child = NULL;
        if (neo4j_finish(c) < 0)
            return -1;
    }
    if (job->validate && dumpcheck_finish(run->dc, &run->res->dump) < 0)
        return -1;
    crypto_generichash_final(&run->plain_hash, run->res->plain_blake2b, 32);
    if (job->expect_plain_blake2b &&
        sodium_memcmp(job->expect_plain_blake2b, run->res->plain_blake2b, 32) != 0)
        return err_set(ERR_INTEGRITY,
                       "%s changed since it was dumped (BLAKE2b differs); nothing uploaded",
                       job->local_path ? job->local_path : "the local dump");
    if (run->local) {
        atomic_file *f = run->local;
        run->local = NULL;
        if (atomic_file_commit(f) < 0)
            return -1;
    }
    if (run->enc && !run->remotes_gone) {
        if (stream_writer_finish(run->enc) < 0)
            return -1;
        if (run->blk && run->fill > 0) {
            ring_publish(run->ring, run->fill);
            run->blk = NULL;
        }
    }
    return 0;
}

int pipeline_backup(const pipeline_backup_job *job, pipeline_backup_result *res)
{
    backup_run run;
    remote_writer writers[PIPELINE_MAX_REMOTES];
    pthread_t threads[PIPELINE_MAX_REMOTES];
    size_t started = 0;
    neo4j_child *child = job->child;
    uint8_t *buf = NULL;
    int rc = -1;
    double t0 = progress_now();

    memset(res, 0, sizeof *res);
    memset(&run, 0, sizeof run);
    run.job = job;
    run.res = res;
    if (job->n_remotes > PIPELINE_MAX_REMOTES) {
        err_set(ERR_USAGE, "at most %d remotes are supported", PIPELINE_MAX_REMOTES);
        goto out;
    }
    crypto_generichash_init(&run.plain_hash, NULL, 0, 32);
    crypto_generichash_init(&run.archive_hash, NULL, 0, 32);
    buf = malloc(PIPELINE_READ_SIZE);
    if (!buf || (job->validate && !(run.dc = dumpcheck_new()))) {
        err_set(ERR_FAIL, "out of memory");
        goto out;
    }
    if (job->local_path && !(run.local = atomic_file_create(job->local_path, 0600)))
        goto out;
    if (job->n_remotes > 0) {
        run.ring = ring_new(PIPELINE_RING_BLOCKS, PIPELINE_RING_BLOCK, (int)job->n_remotes);
        if (!run.ring) {
            err_set(ERR_FAIL, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < job->n_remotes; i++) {
            remote_writer *rw = &writers[i];
            memset(rw, 0, sizeof *rw);
            rw->ring = run.ring;
            rw->index = (int)i;
            rw->remote = job->remotes[i];
            rw->size_hint = 0;
            snprintf(rw->object, sizeof rw->object, "%s%s", job->archive_name,
                     CATALOG_ARCHIVE_SUFFIX);
        }
        for (; started < job->n_remotes; started++) {
            if (pthread_create(&threads[started], NULL, remote_writer_main, &writers[started])) {
                err_set(ERR_FAIL, "cannot start a writer thread");
                goto out;
            }
        }
        run.enc = stream_writer_new(job->recipient, archive_sink, &run);
        if (!run.enc)
            goto out;
    }
    run.prog = progress_new(job->progress, job->label ? job->label : "backup", job->size_hint);

    for (;;) {
        ssize_t n = read_source(job, buf, PIPELINE_READ_SIZE);
        if (n < 0)
            goto out;
        if (n == 0)
            break;
        if (consume(&run, buf, (size_t)n) < 0)
            goto out;
    }
    if (finish_source(&run, &child) < 0)
        goto out;
    rc = 0;

out:
    if (rc < 0) {
        /* Keep the first error: cleanup below must not replace it. */
        err_kind kind = err_get_kind();
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", err_msg());
        if (child)
            neo4j_kill(child);
        atomic_file_abort(run.local);
        err_set(kind == ERR_NONE ? ERR_FAIL : kind, "%s", msg);
    }
    if (run.ring) {
        ring_close(run.ring, rc < 0);
        for (size_t i = 0; i < started; i++)
            pthread_join(threads[i], NULL);
    }
    for (size_t i = 0; i < job->n_remotes && i < PIPELINE_MAX_REMOTES; i++) {
        if (rc < 0 || i >= started) {
            res->remote_err[i] = ERR_FAIL;
            snprintf(res->remote_msg[i], sizeof res->remote_msg[i], "not uploaded");
        } else {
            res->remote_err[i] = writers[i].err;
            memcpy(res->remote_msg[i], writers[i].msg, sizeof res->remote_msg[i]);
        }
    }
    if (run.enc)
        crypto_generichash_final(&run.archive_hash, res->archive_blake2b, 32);
    progress_done(run.prog);
    stream_writer_free(run.enc);
    ring_free(run.ring);
    dumpcheck_free(run.dc);
    free(buf);
    res->seconds = progress_now() - t0;
    return rc;
}

/* ---- fetch / verify ------------------------------------------------------ */

typedef struct {
    const pipeline_fetch_job *job;
    pipeline_fetch_result *res;
    dumpcheck *dc;
    crypto_generichash_state plain_hash;
    atomic_file *out;
} fetch_run;

static int write_fd(int fd, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return err_sys(ERR_FAIL, errno, "cannot write the output");
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Authenticated plaintext -> dumpcheck + hash -> output. */
static int plain_sink(void *ctx, const uint8_t *buf, size_t len)
{
    fetch_run *run = ctx;
    if (dumpcheck_update(run->dc, buf, len) < 0)
        return -1;
    crypto_generichash_update(&run->plain_hash, buf, len);
    run->res->plain_size += len;
    if (run->out)
        return atomic_file_write(run->out, buf, len);
    if (run->job->out_fd >= 0)
        return write_fd(run->job->out_fd, buf, len);
    return 0;
}

static void hex(const uint8_t *h, size_t n, char *out)
{
    sodium_bin2hex(out, 2 * n + 1, h, n);
}

static int check_hash(const char *what, const char *object, const uint8_t want[32],
                      const uint8_t got[32])
{
    if (sodium_memcmp(want, got, 32) == 0)
        return 0;
    char a[65], b[65];
    hex(want, 32, a);
    hex(got, 32, b);
    return err_set(ERR_INTEGRITY, "%s: %s BLAKE2b mismatch: manifest %s, found %s", object, what,
                   a, b);
}

int pipeline_fetch(const pipeline_fetch_job *job, pipeline_fetch_result *res)
{
    const manifest *m = job->m;
    fetch_run run;
    crypto_generichash_state archive_hash;
    uint8_t digest[32];
    stream_reader *dec = NULL;
    backend_reader *rd = NULL;
    uint8_t *buf = NULL;
    progress *prog = NULL;
    char object[CATALOG_NAME_MAX + 16];
    int rc = -1;
    double t0 = progress_now();

    memset(res, 0, sizeof *res);
    memset(&run, 0, sizeof run);
    run.job = job;
    run.res = res;
    snprintf(object, sizeof object, "%s%s", m->archive, CATALOG_ARCHIVE_SUFFIX);
    crypto_generichash_init(&archive_hash, NULL, 0, 32);
    crypto_generichash_init(&run.plain_hash, NULL, 0, 32);
    if (!(buf = malloc(PIPELINE_READ_SIZE))) {
        err_set(ERR_FAIL, "out of memory");
        goto out;
    }
    if (job->secret) {
        if (!(run.dc = dumpcheck_new())) {
            err_set(ERR_FAIL, "out of memory");
            goto out;
        }
        if (!(dec = stream_reader_new(job->secret, plain_sink, &run)))
            goto out;
        if (job->out_path && !(run.out = atomic_file_create(job->out_path, 0600)))
            goto out;
    }
    if (!(rd = backend_reader_open(job->remote, object, 0)))
        goto out;
    prog = progress_new(job->progress, m->archive, m->archive_size);
    for (;;) {
        if (signals_pending()) {
            err_set(ERR_FAIL, "interrupted by signal %d", signals_pending());
            goto out;
        }
        ssize_t n = backend_reader_read(rd, buf, PIPELINE_READ_SIZE);
        if (n < 0)
            goto out;
        if (n == 0)
            break;
        res->archive_size += (uint64_t)n;
        if (res->archive_size > m->archive_size) {
            err_set(ERR_INTEGRITY, "%s: larger than the %llu bytes of its manifest", object,
                    (unsigned long long)m->archive_size);
            goto out;
        }
        crypto_generichash_update(&archive_hash, buf, (size_t)n);
        if (dec && stream_reader_update(dec, buf, (size_t)n) < 0) {
            err_prefix("%s: ", object);
            goto out;
        }
        progress_add(prog, (uint64_t)n);
    }
    if (res->archive_size != m->archive_size) {
        err_set(ERR_INTEGRITY, "%s: %llu bytes, manifest says %llu (truncated?)", object,
                (unsigned long long)res->archive_size, (unsigned long long)m->archive_size);
        goto out;
    }
    crypto_generichash_final(&archive_hash, digest, 32);
    if (check_hash("archive", object, m->archive_blake2b, digest) < 0)
        goto out;
    if (dec) {
        if (stream_reader_finish(dec) < 0) {
            err_prefix("%s: ", object);
            goto out;
        }
        if (dumpcheck_finish(run.dc, &res->dump) < 0) {
            err_prefix("%s: dump inside: ", object);
            goto out;
        }
        crypto_generichash_final(&run.plain_hash, digest, 32);
        if (res->plain_size != m->plaintext_size) {
            err_set(ERR_INTEGRITY, "%s: dump is %llu bytes, manifest says %llu", object,
                    (unsigned long long)res->plain_size, (unsigned long long)m->plaintext_size);
            goto out;
        }
        if (check_hash("dump", object, m->plaintext_blake2b, digest) < 0)
            goto out;
        if (run.out) {
            atomic_file *f = run.out;
            run.out = NULL;
            if (atomic_file_commit(f) < 0)
                goto out;
        }
    }
    rc = 0;
out:
    if (rc < 0) {
        err_kind kind = err_get_kind();
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", err_msg());
        atomic_file_abort(run.out);
        err_set(kind == ERR_NONE ? ERR_FAIL : kind, "%s", msg);
    }
    progress_done(prog);
    backend_reader_close(rd);
    stream_reader_free(dec);
    dumpcheck_free(run.dc);
    free(buf);
    res->seconds = progress_now() - t0;
    return rc;
}
