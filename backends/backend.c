#include "backend.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "err.h"
#include "log.h"
#include "strbuf.h"

struct backend {
    const backend_ops *ops;
    void *impl;
    char *name;
};

struct backend_writer {
    backend *b;
    void *impl;
};

struct backend_reader {
    backend *b;
    void *impl;
};

/* NAME as an object name; HIDDEN_OK for incomplete uploads, whose names
 * may start with '.' (a probe's), but never "." or "..". */
static int check_name(const char *name, int hidden_ok)
{
    int bad = !*name || strchr(name, '/') || strbuf_has_control(name, strlen(name)) ||
              (name[0] == '.' && (!hidden_ok || !strcmp(name, ".") || !strcmp(name, "..")));
    if (!bad)
        return 0;
    char shown[512];
    strbuf_printable_copy(shown, sizeof shown, name);
    return err_set(ERR_USAGE, "invalid object name '%s'", shown);
}

backend *backend_wrap(const backend_ops *ops, const char *name, void *impl)
{
    if (!impl) {
        err_prefix("remote %s: ", name);
        return NULL;
    }
    backend *b = calloc(1, sizeof *b);
    if (!b || !(b->name = strdup(name))) {
        free(b);
        ops->close(impl);
        err_set(ERR_FAIL, "remote %s: out of memory", name);
        return NULL;
    }
    b->ops = ops;
    b->impl = impl;
    return b;
}

void backend_close(backend *b)
{
    if (!b)
        return;
    b->ops->close(b->impl);
    free(b->name);
    free(b);
}

const char *backend_name(const backend *b)
{
    return b->name;
}

static int fail(const backend *b)
{
    return err_prefix("remote %s: ", b->name);
}

backend_writer *backend_writer_open(backend *b, const char *name, uint64_t size_hint)
{
    if (backend_check_name(name) < 0) {
        fail(b);
        return NULL;
    }
    backend_writer *w = calloc(1, sizeof *w);
    if (!w) {
        err_set(ERR_FAIL, "out of memory");
        return NULL;
    }
    w->b = b;
    w->impl = b->ops->writer_open(b->impl, name, size_hint);
    if (!w->impl) {
        fail(b);
        free(w);
        return NULL;
    }
    return w;
}

int backend_writer_write(backend_writer *w, const void *buf, size_t len)
{
    if (w->b->ops->writer_write(w->impl, buf, len) < 0)
        return fail(w->b);
    return 0;
}

int backend_writer_commit(backend_writer *w)
{
    int rc = w->b->ops->writer_commit(w->impl);
    if (rc < 0)
        fail(w->b);
    free(w);
    return rc;
}

void backend_writer_abort(backend_writer *w)
{
    if (!w)
        return;
    w->b->ops->writer_abort(w->impl);
    free(w);
}

backend_reader *backend_reader_open(backend *b, const char *name, uint64_t offset)
{
    if (backend_check_name(name) < 0) {
        fail(b);
        return NULL;
    }
    backend_reader *r = calloc(1, sizeof *r);
    if (!r) {
        err_set(ERR_FAIL, "out of memory");
        return NULL;
    }
    r->b = b;
    r->impl = b->ops->reader_open(b->impl, name, offset);
    if (!r->impl) {
        fail(b);
        free(r);
        return NULL;
    }
    return r;
}

ssize_t backend_reader_read(backend_reader *r, void *buf, size_t len)
{
    ssize_t n = r->b->ops->reader_read(r->impl, buf, len);
    if (n < 0)
        fail(r->b);
    return n;
}

void backend_reader_close(backend_reader *r)
{
    if (!r)
        return;
    r->b->ops->reader_close(r->impl);
    free(r);
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const backend_entry *)a)->name, ((const backend_entry *)b)->name);
}

/* Names with control characters are nobody's archives, and printed raw they
 * would act on the terminal: they are dropped here, for every backend. */
static void drop_control_names(const backend *b, backend_entry *e, size_t *n)
{
    size_t kept = 0;
    for (size_t i = 0; i < *n; i++) {
        if (!strbuf_has_control(e[i].name, strlen(e[i].name))) {
            e[kept++] = e[i];
            continue;
        }
        char shown[512];
        strbuf_printable_copy(shown, sizeof shown, e[i].name);
        log_warn("remote %s: ignoring an object whose name holds control characters: %s", b->name,
                 shown);
        free(e[i].name);
        free(e[i].upload_id);
    }
    *n = kept;
}

int backend_list(backend *b, const char *prefix, backend_entry **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (b->ops->list(b->impl, prefix ? prefix : "", out, n) < 0)
        return fail(b);
    drop_control_names(b, *out, n);
    if (*n > 1)
        qsort(*out, *n, sizeof **out, entry_cmp);
    return 0;
}

void backend_entries_free(backend_entry *e, size_t n)
{
    if (!e)
        return;
    for (size_t i = 0; i < n; i++) {
        free(e[i].name);
        free(e[i].upload_id);
    }
    free(e);
}

int backend_stat(backend *b, const char *name, backend_entry *out)
{
    if (backend_check_name(name) < 0)
        return fail(b);
    backend_entry tmp;
    memset(&tmp, 0, sizeof tmp);
    int rc = b->ops->stat(b->impl, name, &tmp);
    if (rc < 0)
        return fail(b);
    if (out)
        *out = tmp;
    else
        free(tmp.name);
    return rc;
}

int backend_remove(backend *b, const char *name)
{
    if (backend_check_name(name) < 0 || b->ops->remove(b->impl, name) < 0)
        return fail(b);
    return 0;
}

/* backend_remove_many of a driver without remove_many. */
static int remove_one_by_one(backend *b, const char *const *names, size_t n, char **errors)
{
    const backend_cancel *c = b->ops->cancel_hook ? b->ops->cancel_hook(b->impl) : NULL;
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        int sig = backend_cancelled(c);
        if (sig)
            return err_set(ERR_FAIL, "%s: interrupted by signal %d", names[i], sig);
        if (b->ops->remove(b->impl, names[i]) == 0)
            continue;
        if ((sig = backend_cancelled(c)))
            return err_set(ERR_FAIL, "%s: interrupted by signal %d", names[i], sig);
        if (!(errors[i] = strdup(err_msg())))
            return err_set(ERR_FAIL, "out of memory");
        failed++;
    }
    return failed;
}

static void free_messages(char **errors, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(errors[i]);
        errors[i] = NULL;
    }
}

int backend_remove_many(backend *b, const char *const *names, size_t n, char **errors)
{
    if (errors)
        memset(errors, 0, n * sizeof *errors);
    if (n > INT_MAX)
        return err_set(ERR_USAGE, "remote %s: %zu objects to remove at once (at most %d)", b->name,
                       n, INT_MAX);
    for (size_t i = 0; i < n; i++)
        if (backend_check_name(names[i]) < 0)
            return fail(b);
    if (n == 0)
        return 0;
    char **msgs = errors ? errors : calloc(n, sizeof *msgs);
    if (!msgs)
        return err_set(ERR_FAIL, "remote %s: out of memory", b->name);
    int rc = b->ops->remove_many ? b->ops->remove_many(b->impl, names, n, msgs)
                                 : remove_one_by_one(b, names, n, msgs);
    for (size_t i = 0; rc >= 0 && i < n; i++) {
        char *m;
        if (!msgs[i])
            continue;
        if (asprintf(&m, "remote %s: %s", b->name, msgs[i]) < 0) {
            rc = err_set(ERR_FAIL, "out of memory");
            break;
        }
        free(msgs[i]);
        msgs[i] = m;
    }
    if (rc < 0) {
        fail(b);
        free_messages(msgs, n);
    }
    if (!errors) {
        free_messages(msgs, n);
        free(msgs);
    }
    return rc;
}

int backend_remove_incomplete(backend *b, const backend_entry *e)
{
    int rc = check_name(e->name, 1) < 0 ? -1 : b->ops->remove_incomplete(b->impl, e);
    if (rc < 0)
        return fail(b);
    return rc > 0 ? 1 : 0;
}

int backend_probe(backend *b)
{
    if (b->ops->probe && b->ops->probe(b->impl) < 0)
        return fail(b);
    return 0;
}

char *backend_read_all(backend *b, const char *name, size_t max, size_t *len)
{
    backend_reader *r = backend_reader_open(b, name, 0);
    if (!r)
        return NULL;
    /* read up to MAX + 1 bytes: one more than allowed says it is too large */
    size_t cap = max < 4096 ? max + 1 : 4096, used = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        if (used == cap) {
            if (used > max) {
                err_set(ERR_INTEGRITY, "remote %s: %s is larger than %zu bytes", b->name, name,
                        max);
                goto fail;
            }
            cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb)
                break;
            buf = nb;
        }
        ssize_t n = backend_reader_read(r, buf + used, cap - used);
        if (n < 0)
            goto fail;
        if (n == 0) {
            backend_reader_close(r);
            buf[used] = '\0';
            *len = used;
            return buf;
        }
        used += (size_t)n;
    }
    err_set(ERR_FAIL, "out of memory");
fail:
    free(buf);
    backend_reader_close(r);
    return NULL;
}

int backend_write_all(backend *b, const char *name, const void *buf, size_t len)
{
    backend_writer *w = backend_writer_open(b, name, len);
    if (!w)
        return -1;
    if (backend_writer_write(w, buf, len) < 0) {
        backend_writer_abort(w);
        return -1;
    }
    return backend_writer_commit(w);
}

int backend_check_name(const char *name)
{
    return check_name(name, 0);
}

char *backend_temp_name(const char *name)
{
    return atomic_file_temp_name(name);
}

int backend_temp_target(const char *name, char *target, size_t cap)
{
    return atomic_file_temp_target(name, target, cap);
}
