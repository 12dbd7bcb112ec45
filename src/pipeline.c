#include "pipeline.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
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

/* ---- pieces shared by both directions ------------------------------------ */

/* A consumer that hashes (BLAKE2b-256) and counts every byte of a ring. */
typedef struct {
    ring *r;
    int index;
    uint64_t size;
    uint8_t digest[32];
    int aborted;
    pthread_t thread;
    int started;
} hash_stage;

static void *hash_stage_main(void *arg)
{
    hash_stage *h = arg;
    crypto_generichash_state st;
    const uint8_t *blk;
    size_t len;
    crypto_generichash_init(&st, NULL, 0, 32);
    while ((blk = ring_peek(h->r, h->index, &len, &h->aborted))) {
        crypto_generichash_update(&st, blk, len);
        h->size += len;
        ring_release(h->r, h->index);
    }
    crypto_generichash_final(&st, h->digest, 32);
    return NULL;
}

/* Copies a byte stream into the blocks of a ring (the producer side). */
typedef struct {
    ring *r;
    uint8_t *blk;
    size_t fill;
    int gone; /* every consumer dropped out */
} ring_filler;

static void ring_fill(ring_filler *f, const uint8_t *buf, size_t len)
{
    size_t bs = ring_block_size(f->r);
    while (len > 0 && !f->gone) {
        if (!f->blk) {
            f->blk = ring_acquire(f->r);
            f->fill = 0;
            if (!f->blk) {
                f->gone = 1;
                return;
            }
        }
        size_t n = bs - f->fill < len ? bs - f->fill : len;
        memcpy(f->blk + f->fill, buf, n);
        f->fill += n;
        buf += n;
        len -= n;
        if (f->fill == bs) {
            ring_publish(f->r, f->fill);
            f->blk = NULL;
        }
    }
}

static void ring_fill_flush(ring_filler *f)
{
    if (f->blk && f->fill > 0)
        ring_publish(f->r, f->fill);
    f->blk = NULL;
}

/* Start THREAD or report why not. */
static int start_thread(pthread_t *t, void *(*fn)(void *), void *arg, int *started)
{
    if (pthread_create(t, NULL, fn, arg) != 0)
        return err_set(ERR_FAIL, "cannot start a pipeline thread");
    *started = 1;
    return 0;
}

/* Start H hashing consumer INDEX of ring R. */
static int hash_stage_start(hash_stage *h, ring *r, int index)
{
    h->r = r;
    h->index = index;
    return start_thread(&h->thread, hash_stage_main, h, &h->started);
}

static void join_thread(pthread_t t, int *started)
{
    if (*started)
        pthread_join(t, NULL);
    *started = 0;
}

/* ---- backup ------------------------------------------------------------ */

/* Archives may be committed only once the source proved complete and valid:
 * the encrypt stage waits for this verdict before writing the final chunk. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int state; /* 0 pending, 1 publish, -1 abort */
} verdict;

static void verdict_set(verdict *v, int state)
{
    pthread_mutex_lock(&v->mu);
    v->state = state;
    pthread_cond_broadcast(&v->cond);
    pthread_mutex_unlock(&v->mu);
}

static int verdict_wait(verdict *v)
{
    pthread_mutex_lock(&v->mu);
    while (v->state == 0)
        pthread_cond_wait(&v->cond, &v->mu);
    int s = v->state;
    pthread_mutex_unlock(&v->mu);
    return s;
}

typedef struct {
    ring *plain;     /* input: plaintext blocks */
    int index;       /* our consumer index in PLAIN */
    ring_filler out; /* output: archive blocks */
    stream_writer *enc;
    verdict *v;
    err_saved err;
} encrypt_stage;

static int encrypt_sink(void *ctx, const uint8_t *buf, size_t len)
{
    encrypt_stage *e = ctx;
    ring_fill(&e->out, buf, len);
    return 0;
}

static void *encrypt_stage_main(void *arg)
{
    encrypt_stage *e = arg;
    const uint8_t *blk;
    size_t len;
    int aborted = 0, failed = 0;
    while ((blk = ring_peek(e->plain, e->index, &len, &aborted))) {
        if (!failed && !e->out.gone && stream_writer_update(e->enc, blk, len) < 0) {
            err_save_failure(&e->err);
            failed = 1;
        }
        ring_release(e->plain, e->index);
    }
    if (!aborted && !failed && verdict_wait(e->v) > 0) {
        if (stream_writer_finish(e->enc) == 0) {
            ring_fill_flush(&e->out);
            ring_close(e->out.r, 0);
            return NULL;
        }
        err_save_failure(&e->err);
    }
    ring_close(e->out.r, 1);
    return NULL;
}

typedef struct {
    ring *ring;
    int index;
    backend *remote;
    char object[CATALOG_NAME_MAX + 16];
    uint64_t size_hint;
    err_saved err;
} remote_writer;

static void *remote_writer_main(void *arg)
{
    remote_writer *rw = arg;
    size_t len;
    int aborted = 0;
    backend_writer *w = backend_writer_open(rw->remote, rw->object, rw->size_hint);
    if (!w) {
        err_save_failure(&rw->err);
        ring_drop(rw->ring, rw->index);
        return NULL;
    }
    const uint8_t *blk;
    while ((blk = ring_peek(rw->ring, rw->index, &len, &aborted))) {
        if (backend_writer_write(w, blk, len) < 0) {
            err_save_failure(&rw->err);
            ring_drop(rw->ring, rw->index);
            backend_writer_abort(w);
            return NULL;
        }
        ring_release(rw->ring, rw->index);
    }
    if (aborted) {
        backend_writer_abort(w);
        rw->err.kind = ERR_FAIL;
        snprintf(rw->err.msg, sizeof rw->err.msg, "upload of %s aborted", rw->object);
        return NULL;
    }
    if (backend_writer_commit(w) < 0)
        err_save_failure(&rw->err);
    return NULL;
}

/* Everything a backup run owns. */
typedef struct {
    const pipeline_backup_job *job;
    pipeline_backup_result *res;
    neo4j_child *child;
    dumpcheck *dc;
    atomic_file *local;
    progress *prog;
    ring *plain;
    hash_stage plain_hash;
    verdict v;
    encrypt_stage enc;
    pthread_t enc_t;
    int enc_started;
    ring *archive;
    hash_stage archive_hash;
    remote_writer writers[PIPELINE_MAX_REMOTES];
    pthread_t writer_t[PIPELINE_MAX_REMOTES];
    int writer_started[PIPELINE_MAX_REMOTES];
} backup_run;

static ssize_t read_source(backup_run *run, uint8_t *buf, size_t len)
{
    if (run->child)
        return neo4j_read(run->child, buf, len);
    for (;;) {
        if (signals_pending())
            return err_set(ERR_FAIL, "interrupted by signal %d", signals_pending());
        ssize_t n = read(run->job->fd, buf, len);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return err_sys(ERR_FAIL, errno, "cannot read the dump");
    }
}

static int backup_start_stages(backup_run *run)
{
    const pipeline_backup_job *job = run->job;
    int consumers = 1 + (job->n_remotes > 0);
    run->plain = ring_new(PIPELINE_READ_BLOCKS, PIPELINE_READ_SIZE, consumers);
    if (!run->plain)
        return err_set(ERR_FAIL, "out of memory");
    if (hash_stage_start(&run->plain_hash, run->plain, 0) < 0)
        return -1;
    if (job->n_remotes == 0)
        return 0;

    /* archive ring: consumer 0 hashes, 1..n write to the remotes */
    run->archive = ring_new(PIPELINE_RING_BLOCKS, PIPELINE_RING_BLOCK, 1 + (int)job->n_remotes);
    if (!run->archive)
        return err_set(ERR_FAIL, "out of memory");
    if (hash_stage_start(&run->archive_hash, run->archive, 0) < 0)
        return -1;
    for (size_t i = 0; i < job->n_remotes; i++) {
        remote_writer *rw = &run->writers[i];
        rw->ring = run->archive;
        rw->index = 1 + (int)i;
        rw->remote = job->remotes[i];
        /* known when the pass reads a local file: backends size their transfers */
        rw->size_hint = job->size_hint ? stream_archive_size(job->size_hint, STREAM_CHUNK_SIZE) : 0;
        snprintf(rw->object, sizeof rw->object, "%s%s", job->archive_name, CATALOG_ARCHIVE_SUFFIX);
        if (start_thread(&run->writer_t[i], remote_writer_main, rw, &run->writer_started[i]) < 0)
            return -1;
    }
    run->enc.plain = run->plain;
    run->enc.index = 1;
    run->enc.out.r = run->archive;
    run->enc.v = &run->v;
    run->enc.enc = stream_writer_new(job->recipient, encrypt_sink, &run->enc);
    if (!run->enc.enc)
        return -1;
    stream_header_hash(stream_writer_header(run->enc.enc), run->res->archive_header_blake2b);
    return start_thread(&run->enc_t, encrypt_stage_main, &run->enc, &run->enc_started);
}

/* How long a dump command whose output is not a dump gets to exit by
 * itself (a failing command that printed its error where the dump goes). */
#define COMMAND_GRACE_MS 2000

/* The dump is invalid (the error set): when it comes from a command that
 * exits non-zero within COMMAND_GRACE_MS, that failure is the cause (exit
 * 1, its status and stderr), the dump's reason added; otherwise the dump's
 * reason stands.  Returns -1. */
static int blame_failed_command(backup_run *run)
{
    err_saved bad;
    err_save(&bad);
    neo4j_child *c = run->child;
    run->child = NULL;
    int failed_exit = 0;
    if (neo4j_finish_soon(c, COMMAND_GRACE_MS, &failed_exit) < 0 && failed_exit)
        return err_suffix("; what it wrote is not a dump: %s", bad.msg);
    return err_restore(&bad);
}

/* Read the whole source; dumpcheck and the local copy run here, the other
 * stages on their threads. */
static int backup_read_all(backup_run *run)
{
    const pipeline_backup_job *job = run->job;
    for (;;) {
        uint8_t *blk = ring_acquire(run->plain);
        if (!blk)
            return err_set(ERR_FAIL, "pipeline stopped");
        ssize_t n = read_source(run, blk, PIPELINE_READ_SIZE);
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        if (job->validate && dumpcheck_update(run->dc, blk, (size_t)n) < 0)
            return run->child ? blame_failed_command(run) : -1;
        if (run->local && atomic_file_write(run->local, blk, (size_t)n) < 0)
            return -1;
        ring_publish(run->plain, (size_t)n);
        progress_add(run->prog, (uint64_t)n);
    }
}

/* The source ended: everything that must hold before anything is published. */
static int backup_finish_source(backup_run *run)
{
    const pipeline_backup_job *job = run->job;
    if (run->child) {
        neo4j_child *c = run->child;
        run->child = NULL;
        if (neo4j_finish(c) < 0)
            return -1;
    }
    if (job->validate && dumpcheck_finish(run->dc, &run->res->dump) < 0)
        return -1;
    ring_close(run->plain, 0);
    join_thread(run->plain_hash.thread, &run->plain_hash.started);
    run->res->plain_size = run->plain_hash.size;
    memcpy(run->res->plain_blake2b, run->plain_hash.digest, 32);
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
    return 0;
}

static void backup_collect(backup_run *run, int ok)
{
    const pipeline_backup_job *job = run->job;
    pipeline_backup_result *res = run->res;
    verdict_set(&run->v, ok ? 1 : -1);
    if (run->plain)
        ring_close(run->plain, !ok);
    join_thread(run->plain_hash.thread, &run->plain_hash.started);
    if (run->enc_started)
        join_thread(run->enc_t, &run->enc_started); /* it closed the archive ring */
    else if (run->archive)
        ring_close(run->archive, 1);
    for (size_t i = 0; i < job->n_remotes && i < PIPELINE_MAX_REMOTES; i++)
        join_thread(run->writer_t[i], &run->writer_started[i]);
    join_thread(run->archive_hash.thread, &run->archive_hash.started);
    res->archive_size = run->archive_hash.size;
    memcpy(res->archive_blake2b, run->archive_hash.digest, 32);
    for (size_t i = 0; i < job->n_remotes && i < PIPELINE_MAX_REMOTES; i++) {
        const remote_writer *rw = &run->writers[i];
        if (!ok || run->enc.err.kind != ERR_NONE) {
            res->remote_err[i] = ERR_FAIL;
            snprintf(res->remote_msg[i], sizeof res->remote_msg[i], "not uploaded: %.900s",
                     run->enc.err.kind != ERR_NONE ? run->enc.err.msg : "the dump failed");
        } else {
            res->remote_err[i] = rw->err.kind;
            snprintf(res->remote_msg[i], sizeof res->remote_msg[i], "%.*s",
                     (int)sizeof res->remote_msg[i] - 1, rw->err.msg);
        }
    }
}

int pipeline_backup(const pipeline_backup_job *job, pipeline_backup_result *res)
{
    backup_run *run = calloc(1, sizeof *run);
    int rc = -1;
    double t0 = progress_now();

    memset(res, 0, sizeof *res);
    if (!run) {
        if (job->child)
            neo4j_kill(job->child);
        return err_set(ERR_FAIL, "out of memory");
    }
    run->job = job;
    run->res = res;
    run->child = job->child;
    pthread_mutex_init(&run->v.mu, NULL);
    pthread_cond_init(&run->v.cond, NULL);
    if (job->n_remotes > PIPELINE_MAX_REMOTES) {
        err_set(ERR_USAGE, "at most %d remotes are supported", PIPELINE_MAX_REMOTES);
        goto out;
    }
    if (job->validate && !(run->dc = dumpcheck_new())) {
        err_set(ERR_FAIL, "out of memory");
        goto out;
    }
    if (job->local_path && !(run->local = atomic_file_create(job->local_path, 0600)))
        goto out;
    if (backup_start_stages(run) < 0)
        goto out;
    run->prog = progress_new(job->progress, job->label ? job->label : "backup", job->size_hint);
    if (backup_read_all(run) < 0 || backup_finish_source(run) < 0)
        goto out;
    rc = 0;
out:
    if (rc < 0) {
        err_saved e; /* cleanup must not replace the error */
        err_save_failure(&e);
        if (run->child)
            neo4j_kill(run->child);
        atomic_file_abort(run->local);
        backup_collect(run, 0);
        err_restore(&e);
    } else {
        backup_collect(run, 1);
    }
    progress_done(run->prog);
    stream_writer_free(run->enc.enc);
    ring_free(run->archive);
    ring_free(run->plain);
    dumpcheck_free(run->dc);
    pthread_mutex_destroy(&run->v.mu);
    pthread_cond_destroy(&run->v.cond);
    free(run);
    res->seconds = progress_now() - t0;
    return rc;
}

/* ---- fetch / verify ------------------------------------------------------ */

/* Plaintext after authentication: dumpcheck, then the output. */
typedef struct {
    ring *r;
    int index;
    dumpcheck *dc;
    atomic_file *out_file;
    int out_fd;
    atomic_int *stop; /* tells the reading thread to give up early */
    err_saved err;
} output_stage;

static int write_fd(int fd, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EPIPE)
                return err_set(ERR_FAIL, "output closed by the reading process (EPIPE)");
            return err_sys(ERR_FAIL, errno, "output");
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static void *output_stage_main(void *arg)
{
    output_stage *o = arg;
    const uint8_t *blk;
    size_t len;
    int aborted;
    while ((blk = ring_peek(o->r, o->index, &len, &aborted))) {
        int rc = dumpcheck_update(o->dc, blk, len);
        if (rc < 0)
            err_prefix("dump inside: ");
        if (rc == 0 && o->out_file && (rc = atomic_file_write(o->out_file, blk, len)) < 0)
            err_prefix("output: ");
        else if (rc == 0 && o->out_fd >= 0)
            rc = write_fd(o->out_fd, blk, len);
        if (rc < 0) {
            err_save_failure(&o->err);
            atomic_store(o->stop, 1);
            ring_drop(o->r, o->index);
            return NULL;
        }
        ring_release(o->r, o->index);
    }
    return NULL;
}

/* Archive blocks -> decrypt -> plaintext ring. */
typedef struct {
    ring *in;
    int index;
    ring_filler out;
    stream_reader *dec;
    atomic_int *stop; /* tells the reading thread to give up early */
    err_saved err;
} decrypt_stage;

static int decrypt_sink(void *ctx, const uint8_t *buf, size_t len)
{
    decrypt_stage *d = ctx;
    ring_fill(&d->out, buf, len);
    if (d->out.gone)
        return err_set(ERR_FAIL, "output stopped");
    return 0;
}

static void *decrypt_stage_main(void *arg)
{
    decrypt_stage *d = arg;
    const uint8_t *blk;
    size_t len;
    int aborted = 0;
    while ((blk = ring_peek(d->in, d->index, &len, &aborted))) {
        if (stream_reader_update(d->dec, blk, len) < 0)
            goto fail;
        ring_release(d->in, d->index);
    }
    if (aborted || stream_reader_finish(d->dec) < 0)
        goto fail;
    ring_fill_flush(&d->out);
    ring_close(d->out.r, 0);
    return NULL;
fail:
    if (!aborted)
        err_save_failure(&d->err);
    atomic_store(d->stop, 1);
    ring_drop(d->in, d->index);
    ring_close(d->out.r, 1);
    return NULL;
}

static int check_hash(const char *what, const char *object, const uint8_t want[32],
                      const uint8_t got[32])
{
    if (sodium_memcmp(want, got, 32) == 0)
        return 0;
    char a[65], b[65];
    sodium_bin2hex(a, sizeof a, want, 32);
    sodium_bin2hex(b, sizeof b, got, 32);
    return err_set(ERR_INTEGRITY, "%s: %s BLAKE2b mismatch: manifest %s, found %s", object, what, a,
                   b);
}

typedef struct {
    const pipeline_fetch_job *job;
    char object[CATALOG_NAME_MAX + 16];
    backend_reader *rd;
    progress *prog;
    uint64_t read_total; /* archive bytes read */
    atomic_int stop;
    ring *archive; /* consumer 0: hash, 1: decrypt */
    hash_stage archive_hash;
    decrypt_stage dec;
    pthread_t dec_t;
    int dec_started;
    ring *plain; /* consumer 0: hash, 1: output */
    hash_stage plain_hash;
    output_stage out;
    pthread_t out_t;
    int out_started;
} fetch_run;

static int fetch_start_stages(fetch_run *run)
{
    const pipeline_fetch_job *job = run->job;
    int deep = job->secret != NULL;
    int hash = !(deep && job->skip_archive_hash && job->m->format_version >= 2);
    if (job->out_fd >= 0 && job->m->format_version < 2)
        return err_set(ERR_USAGE,
                       "%s is a format %d archive: its header is not bound to the signed "
                       "manifest, so its plaintext is released only after the whole archive "
                       "checked; fetch it to a file (--output FILE) and read that",
                       run->object, job->m->format_version);
    run->archive = ring_new(PIPELINE_READ_BLOCKS, PIPELINE_READ_SIZE, hash + deep);
    if (!run->archive)
        return err_set(ERR_FAIL, "out of memory");
    if (hash && hash_stage_start(&run->archive_hash, run->archive, 0) < 0)
        return -1;
    if (!deep)
        return 0;
    run->plain = ring_new(PIPELINE_READ_BLOCKS, PIPELINE_READ_SIZE, 2);
    run->out.dc = dumpcheck_new();
    if (!run->plain || !run->out.dc)
        return err_set(ERR_FAIL, "out of memory");
    run->out.r = run->plain;
    run->out.index = 1;
    run->out.out_fd = job->out_fd;
    run->out.stop = &run->stop;
    if (job->out_path && !(run->out.out_file = atomic_file_create(job->out_path, 0600)))
        return err_prefix("output: ");
    run->dec.in = run->archive;
    run->dec.index = hash;
    run->dec.out.r = run->plain;
    run->dec.stop = &run->stop;
    if (!(run->dec.dec = stream_reader_new(job->secret, decrypt_sink, &run->dec)))
        return -1;
    /* the header must be the one the signed manifest names before a byte
     * is decrypted */
    if (stream_reader_bind(run->dec.dec, (unsigned)job->m->format_version,
                           job->m->format_version >= 2 ? job->m->archive_header_blake2b : NULL) < 0)
        return -1;
    if (hash_stage_start(&run->plain_hash, run->plain, 0) < 0 ||
        start_thread(&run->out_t, output_stage_main, &run->out, &run->out_started) < 0)
        return -1;
    return start_thread(&run->dec_t, decrypt_stage_main, &run->dec, &run->dec_started);
}

static int fetch_read_all(fetch_run *run, uint64_t limit)
{
    uint64_t total = 0;
    for (;;) {
        if (signals_pending())
            return err_set(ERR_FAIL, "interrupted by signal %d", signals_pending());
        if (atomic_load(&run->stop))
            return 0; /* a later stage failed: its error is the one to report */
        uint8_t *blk = ring_acquire(run->archive);
        if (!blk) /* every consumer gave up: a later stage's error is the one to report */
            return atomic_load(&run->stop) ? 0 : err_set(ERR_FAIL, "pipeline stopped");
        ssize_t n = backend_reader_read(run->rd, blk, PIPELINE_READ_SIZE);
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        total += (uint64_t)n;
        run->read_total = total;
        if (total > limit)
            return err_set(ERR_INTEGRITY, "%s: larger than the %llu bytes of its manifest",
                           run->object, (unsigned long long)limit);
        ring_publish(run->archive, (size_t)n);
        progress_add(run->prog, (uint64_t)n);
    }
}

/* Stop every stage and wait for them; OK says whether the input ended
 * normally. */
static void fetch_join(fetch_run *run, int ok)
{
    if (run->archive)
        ring_close(run->archive, !ok);
    join_thread(run->archive_hash.thread, &run->archive_hash.started);
    join_thread(run->dec_t, &run->dec_started);
    if (run->plain && (!ok || !run->job->secret))
        ring_close(run->plain, 1);
    join_thread(run->plain_hash.thread, &run->plain_hash.started);
    join_thread(run->out_t, &run->out_started);
}

static int fetch_check(fetch_run *run, pipeline_fetch_result *res)
{
    const manifest *m = run->job->m;
    /* A failed output stops the stages before it, which then see a stream
     * cut short: the output's own error is the cause to report. */
    if (run->out.err.kind != ERR_NONE) {
        err_restore(&run->out.err);
        return err_prefix("%s: ", run->object);
    }
    if (run->dec.err.kind != ERR_NONE) {
        err_restore(&run->dec.err);
        return err_prefix("%s: ", run->object);
    }
    res->archive_size = run->read_total;
    if (res->archive_size != m->archive_size)
        return err_set(ERR_INTEGRITY, "%s: %llu bytes, manifest says %llu (truncated?)",
                       run->object, (unsigned long long)res->archive_size,
                       (unsigned long long)m->archive_size);
    if (run->archive_hash.r &&
        check_hash("archive", run->object, m->archive_blake2b, run->archive_hash.digest) < 0)
        return -1;
    if (!run->job->secret)
        return 0;
    if (dumpcheck_finish(run->out.dc, &res->dump) < 0)
        return err_prefix("%s: dump inside: ", run->object);
    res->plain_size = run->plain_hash.size;
    if (res->plain_size != m->plaintext_size)
        return err_set(ERR_INTEGRITY, "%s: dump is %llu bytes, manifest says %llu", run->object,
                       (unsigned long long)res->plain_size, (unsigned long long)m->plaintext_size);
    if (check_hash("dump", run->object, m->plaintext_blake2b, run->plain_hash.digest) < 0)
        return -1;
    if (run->out.out_file) {
        atomic_file *f = run->out.out_file;
        run->out.out_file = NULL;
        return atomic_file_commit(f);
    }
    return 0;
}

backend_reader *pipeline_fetch_open(backend *remote, const char *name)
{
    char object[CATALOG_NAME_MAX + 16];
    snprintf(object, sizeof object, "%s%s", name, CATALOG_ARCHIVE_SUFFIX);
    return backend_reader_open(remote, object, 0);
}

int pipeline_fetch(const pipeline_fetch_job *job, pipeline_fetch_result *res)
{
    fetch_run *run = calloc(1, sizeof *run);
    int rc = -1, read_ok = 0;
    double t0 = progress_now();

    memset(res, 0, sizeof *res);
    if (!run) {
        backend_reader_close(job->rd);
        return err_set(ERR_FAIL, "out of memory");
    }
    run->job = job;
    run->rd = job->rd;
    run->out.out_fd = -1;
    atomic_init(&run->stop, 0);
    snprintf(run->object, sizeof run->object, "%s%s", job->m->archive, CATALOG_ARCHIVE_SUFFIX);
    if (!run->rd && !(run->rd = backend_reader_open(job->remote, run->object, 0)))
        goto out;
    if (fetch_start_stages(run) < 0)
        goto out;
    run->prog = progress_new(job->progress, job->m->archive, job->m->archive_size);
    if (fetch_read_all(run, job->m->archive_size) < 0)
        goto out;
    read_ok = 1;
    fetch_join(run, 1);
    if (fetch_check(run, res) < 0)
        goto out;
    rc = 0;
out:
    if (rc < 0) {
        err_saved e; /* cleanup must not replace the error */
        err_save_failure(&e);
        if (!read_ok)
            fetch_join(run, 0);
        atomic_file_abort(run->out.out_file);
        err_restore(&e);
    }
    progress_done(run->prog);
    backend_reader_close(run->rd);
    stream_reader_free(run->dec.dec);
    dumpcheck_free(run->out.dc);
    ring_free(run->archive);
    ring_free(run->plain);
    free(run);
    res->seconds = progress_now() - t0;
    return rc;
}
