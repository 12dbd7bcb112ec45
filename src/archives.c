#include "archives.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "atomic_file.h"
#include "err.h"
#include "log.h"
#include "pipeline.h"
#include "stream.h"

#define MANIFEST_MAX (64u * 1024u)

static archive_info *find_or_add(archive_info **list, size_t *n, size_t *cap,
                                 const catalog_entry *ce)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*list)[i].name, ce->name) == 0)
            return &(*list)[i];
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 32;
        archive_info *nl = realloc(*list, *cap * sizeof *nl);
        if (!nl)
            return NULL;
        *list = nl;
    }
    archive_info *a = &(*list)[(*n)++];
    memset(a, 0, sizeof *a);
    snprintf(a->name, sizeof a->name, "%s", ce->name);
    snprintf(a->database, sizeof a->database, "%s", ce->database);
    a->created = ce->created;
    a->state = ARCHIVE_INCOMPLETE;
    return a;
}

static int info_cmp(const void *pa, const void *pb)
{
    const archive_info *a = pa, *b = pb;
    int c = strcmp(a->database, b->database);
    if (c)
        return c;
    if (a->created != b->created)
        return a->created < b->created ? -1 : 1;
    return strcmp(a->name, b->name);
}

const char *archives_state_name(archive_state s)
{
    switch (s) {
    case ARCHIVE_COMPLETE:
        return "complete";
    case ARCHIVE_MISSING:
        return "missing";
    default:
        return "incomplete";
    }
}

int archives_list_prefix(const char *prefix, char out[CATALOG_NAME_MAX])
{
    if ((size_t)snprintf(out, CATALOG_NAME_MAX, "%s_", prefix) >= CATALOG_NAME_MAX)
        return err_set(ERR_USAGE, "name_prefix \"%s\" is too long", prefix);
    return 0;
}

int archives_parse_entry(const char *prefix, const backend_entry *e, catalog_entry *ce)
{
    char name[CATALOG_NAME_MAX + 32];
    snprintf(name, sizeof name, "%s", e->name);
    /* a temporary name: an upload in progress or abandoned */
    if (e->incomplete)
        atomic_file_temp_target(e->name, name, sizeof name);
    if (catalog_parse(prefix, name, ce) < 0 ||
        (ce->kind != CATALOG_ARCHIVE && ce->kind != CATALOG_MANIFEST))
        return -1;
    return 0;
}

int archives_from_entries(const backend_entry *ents, size_t nents, const char *prefix,
                          archive_info **out, size_t *n)
{
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    for (size_t i = 0; i < nents; i++) {
        catalog_entry ce;
        if (archives_parse_entry(prefix, &ents[i], &ce) < 0)
            continue;
        archive_info *a = find_or_add(out, n, &cap, &ce);
        if (!a) {
            free(*out);
            *out = NULL;
            *n = 0;
            return err_set(ERR_FAIL, "out of memory");
        }
        if (ents[i].mtime > a->mtime)
            a->mtime = ents[i].mtime;
        if (ents[i].incomplete) {
            if (ce.kind == CATALOG_ARCHIVE && !a->has_archive)
                a->size = ents[i].size;
            continue;
        }
        if (ce.kind == CATALOG_ARCHIVE) {
            a->has_archive = 1;
            a->size = ents[i].size;
        } else {
            a->has_manifest = 1;
        }
    }
    for (size_t i = 0; i < *n; i++) {
        archive_info *a = &(*out)[i];
        if (a->has_manifest)
            a->state = a->has_archive ? ARCHIVE_COMPLETE : ARCHIVE_MISSING;
        if (a->has_manifest && !a->has_archive)
            a->size = 0; /* a partial upload's size is not the archive's */
    }
    if (*n > 1)
        qsort(*out, *n, sizeof **out, info_cmp);
    return 0;
}

int archives_list(backend *b, const char *prefix, archive_info **out, size_t *n)
{
    backend_entry *ents = NULL;
    size_t nents = 0;
    char list_prefix[CATALOG_NAME_MAX];
    *out = NULL;
    *n = 0;
    if (archives_list_prefix(prefix, list_prefix) < 0 ||
        backend_list(b, list_prefix, &ents, &nents) < 0)
        return -1;
    int rc = archives_from_entries(ents, nents, prefix, out, n);
    backend_entries_free(ents, nents);
    return rc;
}

/* 1 when OBJECT, listed a moment ago, is no longer in a listing that
 * works (a prune removed it meanwhile); 0 when the remote fails. */
static int manifest_vanished(backend *b, const char *object)
{
    backend_entry *e;
    size_t k, seen = 0;
    if (backend_list(b, object, &e, &k) < 0)
        return 0;
    for (size_t i = 0; i < k; i++)
        seen |= strcmp(e[i].name, object) == 0;
    backend_entries_free(e, k);
    return !seen;
}

int archives_check_sizes(backend *b, archive_info *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        archive_info *a = &list[i];
        if (a->state != ARCHIVE_COMPLETE)
            continue;
        char object[CATALOG_NAME_MAX + 32];
        size_t len;
        manifest m;
        snprintf(object, sizeof object, "%s%s", a->name, CATALOG_MANIFEST_SUFFIX);
        char *text = backend_read_all(b, object, MANIFEST_MAX, &len);
        if (!text) {
            /* gone since the listing (a prune meanwhile), or too large: as
             * the header says, the entry stays; a remote that fails is the
             * error */
            if (err_get_kind() != ERR_INTEGRITY && !manifest_vanished(b, object))
                return -1;
            a->bad_manifest = err_get_kind() == ERR_INTEGRITY; /* too large */
            err_clear();
            continue;
        }
        if (manifest_parse_unverified(text, len, &m) == 0) {
            a->recorded_size = m.archive_size;
            if (a->size < m.archive_size)
                a->state = ARCHIVE_MISSING;
        } else {
            a->bad_manifest = 1;
            err_clear();
        }
        free(text);
    }
    return 0;
}

const archive_info *archives_latest(const archive_info *list, size_t n, const char *database)
{
    const archive_info *best = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!list[i].has_manifest || strcmp(list[i].database, database) != 0)
            continue;
        if (!best || list[i].created >= best->created)
            best = &list[i];
    }
    return best;
}

/* ARG as a name relative to the remote (see archives_resolve). */
static int relative_arg(const char *remote_path, const char *arg, char *out, size_t cap)
{
    const char *slash = strrchr(arg, '/');
    if (!slash) {
        catalog_archive_arg(arg, out, cap);
        return 0;
    }
    size_t dl = (size_t)(slash - arg), pl = remote_path ? strlen(remote_path) : 0;
    while (pl > 1 && remote_path[pl - 1] == '/')
        pl--;
    if (remote_path && pl > 0 && dl == pl && strncmp(arg, remote_path, pl) == 0 && slash[1]) {
        catalog_archive_arg(slash + 1, out, cap);
        return 0;
    }
    return err_set(ERR_USAGE,
                   "ARCHIVE %s is not an object of the remote (its path is %s): give the archive's "
                   "name, as `list` shows it",
                   arg, remote_path && *remote_path ? remote_path : "its top level");
}

int archives_resolve(backend *b, const char *prefix, const char *remote_path, const char *arg,
                     int latest, const char *database, char name_out[CATALOG_NAME_MAX])
{
    if (!latest)
        return relative_arg(remote_path, arg, name_out, CATALOG_NAME_MAX);
    archive_info *list;
    size_t n;
    if (archives_list(b, prefix, &list, &n) < 0)
        return -1;
    const archive_info *a = archives_latest(list, n, database);
    int rc = 0;
    if (a)
        snprintf(name_out, CATALOG_NAME_MAX, "%s", a->name);
    else
        rc = err_set(ERR_FAIL, "remote %s has no complete archive of database %s", backend_name(b),
                     database);
    free(list);
    return rc;
}

/* Manifest verified, archive of the recorded size and BLAKE2b. */
static int archive_verifies(backend *b, const char *name, const keys_public *trusted,
                            size_t n_trusted)
{
    manifest m;
    archives_check_result res;
    const archives_check_opts o = {.level = ARCHIVES_CHECK_DATA};
    return archives_check(b, name, trusted, n_trusted, &o, &m, &res);
}

int archives_older_verified(backend *b, const char *prefix, const char *database, const char *name,
                            const keys_public *trusted, size_t n_trusted,
                            char out[CATALOG_NAME_MAX])
{
    archive_info *list;
    size_t n;
    if (archives_list(b, prefix, &list, &n) < 0)
        return -1;
    const archive_info *failed = NULL;
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i].name, name) == 0)
            failed = &list[i];
    int found = 0;
    for (size_t i = n; i-- > 0 && !found;) {
        const archive_info *a = &list[i];
        if (a->state != ARCHIVE_COMPLETE || strcmp(a->database, database) != 0 ||
            strcmp(a->name, name) == 0 || (failed && a->created > failed->created))
            continue;
        log_info("checking the older archive %s", a->name);
        if (archive_verifies(b, a->name, trusted, n_trusted) == 0) {
            snprintf(out, CATALOG_NAME_MAX, "%s", a->name);
            found = 1;
        } else {
            log_warn("%s", err_msg());
        }
    }
    free(list);
    return found;
}

void archives_suggest_older(backend *b, const char *prefix, const char *database, const char *name,
                            const keys_public *trusted, size_t n_trusted)
{
    err_kind kind = err_get_kind();
    char msg[2048], older[CATALOG_NAME_MAX];
    snprintf(msg, sizeof msg, "%s", err_msg());
    int rc = archives_older_verified(b, prefix, database, name, trusted, n_trusted, older);
    if (rc > 0)
        err_set(kind,
                "%s; the newest older archive that verifies is %s (not used in its place: "
                "name it to use it)",
                msg, older);
    else if (rc == 0)
        err_set(kind, "%s; no older archive of %s verifies on remote %s", msg, database,
                backend_name(b));
    else
        err_set(kind, "%s", msg);
}

int archives_load_manifest(backend *b, const char *name, const keys_public *trusted,
                           size_t n_trusted, manifest *out)
{
    char object[CATALOG_NAME_MAX + 32];
    size_t len;
    snprintf(object, sizeof object, "%s%s", name, CATALOG_MANIFEST_SUFFIX);
    char *text = backend_read_all(b, object, MANIFEST_MAX, &len);
    if (!text)
        return -1;
    int rc = manifest_verify(text, len, trusted, n_trusted, out);
    free(text);
    if (rc < 0)
        return err_prefix("remote %s: %s: ", backend_name(b), object);
    if (strcmp(out->archive, name) != 0)
        return err_set(ERR_INTEGRITY,
                       "remote %s: %s: the manifest describes archive %s, not %s (renamed or "
                       "replaced?)",
                       backend_name(b), object, out->archive, name);
    return 0;
}

/* 1 when a listing of B shows OBJECT as an object (what `list` sees: a
 * directory or a link in its place is not one), with its size in *SIZE
 * (may be NULL); 0 when not, -1 when B cannot be listed. */
static int listed_object(backend *b, const char *object, uint64_t *size)
{
    backend_entry *ents;
    size_t n;
    if (backend_list(b, object, &ents, &n) < 0)
        return -1;
    int found = 0;
    for (size_t i = 0; i < n; i++)
        if (!ents[i].incomplete && strcmp(ents[i].name, object) == 0) {
            found = 1;
            if (size)
                *size = ents[i].size;
        }
    backend_entries_free(ents, n);
    return found;
}

/* OBJECT, the archive M promises, is not on B: an integrity finding. */
static int missing_archive(backend *b, const char *object, const manifest *m)
{
    return err_set(ERR_INTEGRITY,
                   "remote %s: %s is missing although its signed manifest is there (it promises "
                   "%llu bytes): deleted, or lost on the remote",
                   backend_name(b), object, (unsigned long long)m->archive_size);
}

int archives_open_verified(backend *b, const char *name, const keys_public *trusted,
                           size_t n_trusted, manifest *m, backend_reader **rd)
{
    *rd = pipeline_fetch_open(b, name);
    err_kind open_kind = err_get_kind();
    char open_msg[1024];
    snprintf(open_msg, sizeof open_msg, "%s", err_msg());
    if (archives_load_manifest(b, name, trusted, n_trusted, m) < 0)
        goto fail;
    if (*rd)
        return 0;
    char object[CATALOG_NAME_MAX + 32];
    snprintf(object, sizeof object, "%s%s", name, CATALOG_ARCHIVE_SUFFIX);
    if (listed_object(b, object, NULL) == 0)
        return missing_archive(b, object, m);
    return err_set(open_kind, "%s", open_msg);
fail:
    backend_reader_close(*rd);
    *rd = NULL;
    return -1;
}

/* The archive object's size and header, against the verified manifest M. */
static int check_header(backend *b, const char *name, const manifest *m, archives_check_result *res)
{
    char object[CATALOG_NAME_MAX + 32];
    snprintf(object, sizeof object, "%s%s", name, CATALOG_ARCHIVE_SUFFIX);
    uint64_t size = 0;
    int found = listed_object(b, object, &size);
    if (found < 0)
        return -1;
    if (found == 0)
        return missing_archive(b, object, m);
    res->archive_size = size;
    if (size != m->archive_size)
        return err_set(ERR_INTEGRITY, "remote %s: %s: %llu bytes, its signed manifest says %llu%s",
                       backend_name(b), object, (unsigned long long)size,
                       (unsigned long long)m->archive_size,
                       size < m->archive_size ? " (truncated?)" : " (bytes appended?)");
    if (m->format_version < 2)
        return 0; /* its header is not bound to the manifest: only reading it all tells */
    uint8_t header[STREAM_HEADER_SIZE], digest[STREAM_HEADER_HASH_BYTES];
    size_t got = 0;
    backend_reader *rd = backend_reader_open(b, object, 0);
    if (!rd)
        return -1;
    while (got < sizeof header) {
        ssize_t n = backend_reader_read(rd, header + got, sizeof header - got);
        if (n <= 0) {
            backend_reader_close(rd);
            return n < 0 ? -1
                         : err_set(ERR_INTEGRITY, "remote %s: %s ends within its header",
                                   backend_name(b), object);
        }
        got += (size_t)n;
    }
    backend_reader_close(rd);
    stream_header_hash(header, digest);
    if (sodium_memcmp(digest, m->archive_header_blake2b, sizeof digest) != 0)
        return err_set(ERR_INTEGRITY,
                       "remote %s: %s: its header is not the one its signed manifest names "
                       "(header BLAKE2b mismatch): replaced or altered",
                       backend_name(b), object);
    res->header_checked = 1;
    return 0;
}

int archives_check(backend *b, const char *name, const keys_public *trusted, size_t n_trusted,
                   const archives_check_opts *o, manifest *m, archives_check_result *res)
{
    memset(res, 0, sizeof *res);
    memset(m, 0, sizeof *m); /* filled only by a manifest that verifies */
    if (o->level == ARCHIVES_CHECK_HEADER) {
        if (archives_load_manifest(b, name, trusted, n_trusted, m) < 0)
            return -1;
        res->manifest_verified = 1;
        return check_header(b, name, m, res);
    }
    backend_reader *rd;
    if (archives_open_verified(b, name, trusted, n_trusted, m, &rd) < 0) {
        res->manifest_verified = m->format_version > 0; /* the archive is missing */
        return -1;
    }
    res->manifest_verified = 1;
    if (o->expect && (sodium_memcmp(m->plaintext_blake2b, o->expect->plaintext_blake2b, 32) != 0 ||
                      m->plaintext_size != o->expect->plaintext_size)) {
        backend_reader_close(rd);
        return err_set(ERR_INTEGRITY, "%s: its manifest changed on remote %s meanwhile", name,
                       backend_name(b));
    }
    int deep = o->level == ARCHIVES_CHECK_DEEP;
    pipeline_fetch_job job = {.remote = b,
                              .m = m,
                              .rd = rd,
                              .secret = deep ? o->secret : NULL,
                              .out_path = deep ? o->out_path : NULL,
                              .out_fd = deep && o->out_fd ? *o->out_fd : -1,
                              .skip_archive_hash = deep && o->skip_archive_hash,
                              .progress = o->progress};
    if (pipeline_fetch(&job, &res->fetch) < 0) {
        /* name the remote, once: the backend's own errors already do */
        char own[160];
        snprintf(own, sizeof own, "remote %s: ", backend_name(b));
        return strncmp(err_msg(), own, strlen(own)) == 0 ? -1 : err_prefix("%s", own);
    }
    res->archive_size = res->fetch.archive_size;
    res->header_checked = m->format_version >= 2;
    return 0;
}

int archives_load_verify_keys(char *const *paths, size_t n_paths, keys_public **out, size_t *n)
{
    *out = calloc(n_paths ? n_paths : 1, sizeof **out);
    *n = 0;
    if (!*out)
        return err_set(ERR_FAIL, "out of memory");
    for (size_t i = 0; i < n_paths; i++) {
        if (keys_load_public(paths[i], KEYS_SIGNING, &(*out)[i]) < 0) {
            free(*out);
            *out = NULL;
            return -1;
        }
        (*n)++;
    }
    return 0;
}
