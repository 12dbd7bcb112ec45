#include "archives.h"

#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "err.h"

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

int archives_list(backend *b, const char *prefix, archive_info **out, size_t *n)
{
    backend_entry *ents = NULL;
    size_t nents = 0, cap = 0;
    char list_prefix[CATALOG_NAME_MAX];
    *out = NULL;
    *n = 0;
    snprintf(list_prefix, sizeof list_prefix, "%s_", prefix);
    if (backend_list(b, list_prefix, &ents, &nents) < 0)
        return -1;
    for (size_t i = 0; i < nents; i++) {
        char name[CATALOG_NAME_MAX + 32];
        catalog_entry ce;
        snprintf(name, sizeof name, "%s", ents[i].name);
        if (ents[i].incomplete) {
            /* "<object>.partial": an upload in progress or abandoned */
            size_t len = strlen(name), sl = strlen(ATOMIC_FILE_SUFFIX);
            if (len > sl && strcmp(name + len - sl, ATOMIC_FILE_SUFFIX) == 0)
                name[len - sl] = '\0';
        }
        if (catalog_parse(prefix, name, &ce) < 0 ||
            (ce.kind != CATALOG_ARCHIVE && ce.kind != CATALOG_MANIFEST))
            continue;
        archive_info *a = find_or_add(out, n, &cap, &ce);
        if (!a) {
            backend_entries_free(ents, nents);
            free(*out);
            *out = NULL;
            *n = 0;
            return err_set(ERR_FAIL, "out of memory");
        }
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
    backend_entries_free(ents, nents);
    for (size_t i = 0; i < *n; i++)
        if ((*out)[i].has_archive && (*out)[i].has_manifest)
            (*out)[i].state = ARCHIVE_COMPLETE;
    if (*n > 1)
        qsort(*out, *n, sizeof **out, info_cmp);
    return 0;
}

const archive_info *archives_latest(const archive_info *list, size_t n, const char *database)
{
    const archive_info *best = NULL;
    for (size_t i = 0; i < n; i++) {
        if (list[i].state != ARCHIVE_COMPLETE || strcmp(list[i].database, database) != 0)
            continue;
        if (!best || list[i].created >= best->created)
            best = &list[i];
    }
    return best;
}

int archives_resolve(backend *b, const char *prefix, const char *arg, int latest,
                     const char *database, char name_out[CATALOG_NAME_MAX])
{
    if (!latest) {
        catalog_archive_arg(arg, name_out, CATALOG_NAME_MAX);
        return 0;
    }
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
