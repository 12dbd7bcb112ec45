#include "catalog.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "neo4j.h"

int catalog_name(char *out, size_t n, const char *prefix, const char *database, time_t t,
                 int safety)
{
    struct tm tm;
    char stamp[32];
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d_%H%M%S", &tm);
    int len = snprintf(out, n, "%s_%s_%s%s", prefix, database, safety ? "pre_restore_" : "", stamp);
    if (len < 0 || (size_t)len >= n)
        return err_set(ERR_USAGE, "archive name for database %s is too long", database);
    return 0;
}

static int parse_stamp(const char *s, time_t *out)
{
    /* YYYYMMDD_HHMMSS */
    for (int i = 0; i < 15; i++) {
        if (i == 8 ? s[i] != '_' : !isdigit((unsigned char)s[i]))
            return -1;
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (sscanf(s, "%4d%2d%2d_%2d%2d%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
        return -1;
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = timegm(&tm);
    return 0;
}

static int ends_with(const char *s, size_t len, const char *suffix)
{
    size_t sl = strlen(suffix);
    return len >= sl && memcmp(s + len - sl, suffix, sl) == 0;
}

int catalog_parse(const char *prefix, const char *filename, catalog_entry *out)
{
    static const struct {
        const char *suffix;
        catalog_kind kind;
    } kinds[] = {{CATALOG_ARCHIVE_SUFFIX, CATALOG_ARCHIVE},
                 {CATALOG_MANIFEST_SUFFIX, CATALOG_MANIFEST},
                 {CATALOG_DUMP_SUFFIX, CATALOG_DUMP}};
    size_t plen = strlen(prefix), len = strlen(filename);
    const char *slash = strrchr(filename, '/');
    if (slash) {
        len -= (size_t)(slash + 1 - filename);
        filename = slash + 1;
    }
    if (len <= plen + 1 || strncmp(filename, prefix, plen) != 0 || filename[plen] != '_')
        return -1;
    size_t base = 0;
    catalog_kind kind = CATALOG_DUMP;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (ends_with(filename, len, kinds[i].suffix)) {
            base = len - strlen(kinds[i].suffix);
            kind = kinds[i].kind;
            break;
        }
    }
    /* base: "<prefix>_<db>_YYYYMMDD_HHMMSS" */
    if (base < plen + 1 + 2 + 15 || base >= CATALOG_NAME_MAX || filename[base - 16] != '_')
        return -1;
    time_t t;
    if (parse_stamp(filename + base - 15, &t) < 0)
        return -1;
    const char *db = filename + plen + 1;
    size_t dblen = base - 16 - (plen + 1);
    static const char safety[] = "_pre_restore";
    size_t sl = sizeof safety - 1;
    if (kind == CATALOG_DUMP && dblen > sl && memcmp(db + dblen - sl, safety, sl) == 0) {
        kind = CATALOG_SAFETY_DUMP;
        dblen -= sl;
    }
    if (dblen == 0 || dblen >= sizeof out->database)
        return -1;
    memcpy(out->database, db, dblen);
    out->database[dblen] = '\0';
    /* the database names we write, nothing else (no '_', no control bytes) */
    if (!neo4j_database_name_ok(out->database))
        return -1;
    memcpy(out->name, filename, base);
    out->name[base] = '\0';
    out->created = t;
    out->kind = kind;
    return 0;
}

void catalog_archive_arg(const char *arg, char *out, size_t n)
{
    const char *slash = strrchr(arg, '/');
    if (slash)
        arg = slash + 1;
    snprintf(out, n, "%s", arg);
    size_t len = strlen(out);
    const char *suffixes[] = {CATALOG_ARCHIVE_SUFFIX, CATALOG_MANIFEST_SUFFIX, CATALOG_DUMP_SUFFIX};
    for (size_t i = 0; i < 3; i++) {
        if (ends_with(out, len, suffixes[i])) {
            out[len - strlen(suffixes[i])] = '\0';
            return;
        }
    }
}

void catalog_rfc3339(time_t t, char out[32])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
