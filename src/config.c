/* config: the INI file of SPEC.md, parsed with inih and checked against the
 * key table of config_keys.c.
 *
 * Why a reader callback in front of inih (Debian 12's r55): inih on its own
 * cuts a line longer than its 200-byte buffer and parses the rest as a new,
 * broken line; it ends a value at " ;" even inside quotes (so
 * sh -c 'a ; b' arrives as "sh -c 'a"); and it counts lines wrongly after a
 * cut.  SPEC.md forbids a silent cut.  So we feed inih through
 * ini_parse_stream() with our own reader, which:
 *   - reads each physical line whole (getline), counts lines itself and checks
 *     inih's line number in the handler against its own;
 *   - refuses control bytes (so the two placeholder bytes below cannot come
 *     from the file), NUL bytes, and any line whose key and value do not fit
 *     the buffer inih offers (ERR_USAGE, pointing to continuation lines);
 *   - drops comments and blank lines itself (a long comment is harmless);
 *   - inside '...' or "..." of a value maps ';' and '#' to the placeholders
 *     \x01 and \x02, which the handler maps back, so quoted text survives
 *     exactly while "value   ; comment" keeps working;
 *   - refuses '#' after white space outside quotes ("value  # comment"):
 *     inih keeps it in the value, other INI readers cut there (scan_value);
 *   - decides continuation lines: an indented line directly after a key line
 *     (or another continuation line) continues that value, joined with one
 *     space; after a blank or comment line an indented line is an ordinary
 *     line.  A quote may stay open across continuation lines; a value whose
 *     quotes do not balance is refused (never read as a comment-less value).
 * inih then only splits "key=value" and sections (we pass it short "[s]"
 * section lines: its 50-byte section buffer cannot cut a remote name).
 *
 * The handler collects (section, key, value, line) entries; conversion and
 * validation run afterwards in file order, once the type of every remote is
 * known (a remote's "type" may come after its other keys): values are
 * converted, local paths resolved against the config file's directory,
 * reserved keys and templates checked (store_entries), then the remotes are
 * checked as a whole (plain-HTTP endpoints, two remotes on one target) and
 * the keys the command needs. */
#define INI_HANDLER_LINENO 1
#include <ini.h>

#include "config.h"
#include "config_keys.h"
#include "err.h"
#include "neo4j.h"
#include "strbuf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* The reference text promises 198 characters per line (inih's buffer). */
_Static_assert(INI_MAX_LINE == 200, "update the line limit in reference_intro");

/* The reason given for a value whose quotes do not balance. */
#define UNBALANCED                                                                                 \
    "unbalanced %c quote: close every quote (a value continues only on indented lines directly "   \
    "below it); write a value that holds an apostrophe in double quotes (\"it's\")"

#define PH_SEMI          '\x01'
#define PH_HASH          '\x02'
#define N_PLAIN_SECTIONS CONFIG_SEC_REMOTE

typedef struct {
    config_section_kind kind;
    char *title; /* "general", "remote \"nas\"" */
    int line;
    int remote;         /* index in cfg->remotes, or -1 */
    unsigned rtype;     /* CONFIG_RT_* of a remote, once known */
    int *key_line;      /* per table key: line that set it, 0 = absent */
    unsigned char *set; /* per table key: a non-empty value was stored */
} psection;

typedef struct {
    size_t sec;
    const config_key *key;
    char *value;
    int line;
    char quote; /* quote still open at the end of the value, else 0 */
} pentry;

typedef struct {
    config *cfg;
    FILE *f;
    char *buf;
    size_t cap;
    int lineno;
    int failed;
    int in_value;     /* last line was a key or continuation line */
    char quote;       /* quote open at the end of the last value line */
    int line_is_cont; /* the line just read continues a value */
    psection *secs;
    size_t nsecs;
    pentry *ents;
    size_t nents;
} pstate;

/* ---------------------------------------------------------------- errors */

/* "FILE:LINE: [TITLE] KEY: reason"; LINE 0 drops ":LINE", TITLE NULL drops
 * the section, KEY NULL drops the key.  Every config error goes through here,
 * so the shape is the same everywhere. */
static int verr(const char *path, int line, const char *title, const char *key, const char *fmt,
                va_list ap)
{
    char reason[1024], where[512];
    vsnprintf(reason, sizeof reason, fmt, ap);
    size_t n = 0;
    n += (size_t)snprintf(where + n, sizeof where - n, "%s", path);
    if (line > 0 && n < sizeof where)
        n += (size_t)snprintf(where + n, sizeof where - n, ":%d", line);
    if (title && n < sizeof where)
        n += (size_t)snprintf(where + n, sizeof where - n, ": [%s]%s%s", title, key ? " " : "",
                              key ? key : "");
    else if (key && n < sizeof where)
        n += (size_t)snprintf(where + n, sizeof where - n, ": %s", key);
    return err_set(ERR_USAGE, "%s: %s", where, reason);
}

static int cfg_err(const char *path, int line, const char *title, const char *key, const char *fmt,
                   ...) __attribute__((format(printf, 5, 6)));
static int cfg_err(const char *path, int line, const char *title, const char *key, const char *fmt,
                   ...)
{
    va_list ap;
    va_start(ap, fmt);
    verr(path, line, title, key, fmt, ap);
    va_end(ap);
    return -1;
}

static void st_fail(pstate *st, int line, const psection *sec, const char *key, const char *fmt,
                    ...) __attribute__((format(printf, 5, 6)));
static void st_fail(pstate *st, int line, const psection *sec, const char *key, const char *fmt,
                    ...)
{
    va_list ap;
    va_start(ap, fmt);
    verr(st->cfg->path, line, sec ? sec->title : NULL, key, fmt, ap);
    va_end(ap);
    st->failed = 1;
}

/* ------------------------------------------------------------- commands */

static const struct {
    unsigned bit;
    const char *name;
} cmd_names[] = {
    {CFG_CMD_KEYGEN, "keygen"},   {CFG_CMD_BACKUP, "backup"}, {CFG_CMD_PUSH, "push"},
    {CFG_CMD_LIST, "list"},       {CFG_CMD_VERIFY, "verify"}, {CFG_CMD_FETCH, "fetch"},
    {CFG_CMD_RESTORE, "restore"}, {CFG_CMD_PRUNE, "prune"},   {CFG_CMD_AUDIT, "audit"},
    {CFG_CMD_STATUS, "status"},
};
#define N_CMDS (sizeof cmd_names / sizeof cmd_names[0])

/* Commands that cannot work without a remote. */
#define CMD_NEED_REMOTE                                                                            \
    (CFG_CMD_BACKUP | CFG_CMD_PUSH | CFG_CMD_LIST | CFG_CMD_VERIFY | CFG_CMD_FETCH |               \
     CFG_CMD_RESTORE | CFG_CMD_AUDIT)
/* Commands that need a remote or [local] directory. */
#define CMD_NEED_REMOTE_OR_LOCAL (CFG_CMD_PRUNE | CFG_CMD_STATUS)

const char *config_cmd_name(unsigned cmd)
{
    for (size_t i = 0; i < N_CMDS; i++) {
        if (cmd & cmd_names[i].bit)
            return cmd_names[i].name;
    }
    return "";
}

/* ------------------------------------------------------- value parsing */

int config_parse_duration(const char *s, long *out)
{
    static const struct {
        char unit;
        long secs;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 604800}};
    if (!s || !*s)
        return -1;
    long long total = 0;
    const char *p = s;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return -1;
        long long n = 0;
        while (isdigit((unsigned char)*p)) {
            if (n > (LLONG_MAX - 9) / 10)
                return -1;
            n = n * 10 + (*p++ - '0');
        }
        long mult = 0;
        if (*p == '\0') {
            if (p != s + strspn(s, "0123456789"))
                return -1; /* "1h30": a bare number only on its own */
            mult = 1;
        } else {
            for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
                if (*p == units[i].unit)
                    mult = units[i].secs;
            }
            if (!mult)
                return -1;
            p++;
        }
        if (n > (LONG_MAX - total) / mult)
            return -1;
        total += n * mult;
    }
    *out = (long)total;
    return 0;
}

int config_parse_size(const char *s, uint64_t *out)
{
    static const struct {
        const char *unit;
        uint64_t mult;
    } units[] = {
        {"", 1},
        {"b", 1},
        {"k", 1ull << 10},
        {"kib", 1ull << 10},
        {"kb", 1000ull},
        {"m", 1ull << 20},
        {"mib", 1ull << 20},
        {"mb", 1000000ull},
        {"g", 1ull << 30},
        {"gib", 1ull << 30},
        {"gb", 1000000000ull},
        {"t", 1ull << 40},
        {"tib", 1ull << 40},
        {"tb", 1000000000000ull},
    };
    if (!s || !isdigit((unsigned char)*s))
        return -1;
    uint64_t n = 0;
    const char *p = s;
    while (isdigit((unsigned char)*p)) {
        if (n > (UINT64_MAX - 9) / 10)
            return -1;
        n = n * 10 + (uint64_t)(*p++ - '0');
    }
    while (*p == ' ')
        p++;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(p, units[i].unit) == 0) {
            if (n > UINT64_MAX / units[i].mult)
                return -1;
            *out = n * units[i].mult;
            return 0;
        }
    }
    return -1;
}

static int parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

/* Seconds as the largest exact unit: "30s", "6h", "0". */
static void fmt_duration(char *buf, size_t n, int64_t secs)
{
    static const struct {
        const char *unit;
        int64_t secs;
    } units[] = {{"d", 86400}, {"h", 3600}, {"m", 60}};
    for (size_t i = 0; i < 3; i++) {
        if (secs != 0 && secs % units[i].secs == 0) {
            snprintf(buf, n, "%" PRId64 "%s", secs / units[i].secs, units[i].unit);
            return;
        }
    }
    snprintf(buf, n, "%" PRId64 "%s", secs, secs ? "s" : "");
}

/* Bytes as the largest exact binary unit: "8MiB", "1000". */
static void fmt_size(char *buf, size_t n, uint64_t b)
{
    static const char *const units[] = {"TiB", "GiB", "MiB", "KiB"};
    for (int i = 0; i < 4; i++) {
        uint64_t m = 1ull << (10 * (4 - i));
        if (b != 0 && b % m == 0) {
            snprintf(buf, n, "%" PRIu64 "%s", b / m, units[i]);
            return;
        }
    }
    snprintf(buf, n, "%" PRIu64, b);
}

static void fmt_range(char *buf, size_t n, const config_key *k)
{
    char lo[32], hi[32];
    if (k->type == CONFIG_T_DURATION) {
        fmt_duration(lo, sizeof lo, k->min);
        fmt_duration(hi, sizeof hi, k->max);
    } else if (k->type == CONFIG_T_SIZE) {
        fmt_size(lo, sizeof lo, (uint64_t)k->min);
        fmt_size(hi, sizeof hi, (uint64_t)k->max);
    } else {
        snprintf(lo, sizeof lo, "%" PRId64, k->min);
        snprintf(hi, sizeof hi, "%" PRId64, k->max);
    }
    snprintf(buf, n, "%s..%s", lo, hi);
}

static int wholly_quoted(const char *s, size_t len)
{
    return len >= 2 && (s[0] == '"' || s[0] == '\'') && s[len - 1] == s[0] &&
           !memchr(s + 1, s[0], len - 2);
}

/* A copy of S without the quotes when S is wholly enclosed in one matching
 * pair of '...' or "..." (the same quote appearing nowhere inside). */
static char *unquote(const char *s, size_t len)
{
    if (wholly_quoted(s, len))
        return strndup(s + 1, len - 2);
    return strndup(s, len);
}

/* Quotes in a value (other than a template) or a list item enclose all of
 * it or are absent: in `path = "/x" extra` or `/x/"y"` they would stay in the
 * value as characters, which is never what was meant. */
static int check_quotes(const char *s, size_t len, char *why, size_t whylen)
{
    if (wholly_quoted(s, len) || (!memchr(s, '"', len) && !memchr(s, '\'', len)))
        return 0;
    snprintf(why, whylen,
             "%.*s: quotes must enclose the whole value (\"...\" or '...') or be left out; "
             "a quote character that belongs to the value goes inside the other kind of "
             "quotes (\"bob's disk\")",
             (int)len, s);
    return -1;
}

/* V resolved against DIR (absolute, the config file's directory): SPEC.md
 * makes a relative path in the file relative to that directory, so the
 * result does not depend on where cron or systemd start the tool.  NULL with
 * the reason in WHY. */
static char *resolve_path(const char *dir, const char *v, char *why, size_t whylen)
{
    if (v[0] == '/')
        return strdup(v);
    const char *rel = v;
    while (rel[0] == '.' && rel[1] == '/') {
        rel += 2;
        while (*rel == '/')
            rel++;
    }
    if (strcmp(rel, ".") == 0)
        rel = "";
    strbuf b;
    strbuf_init(&b, PATH_MAX - 1);
    strbuf_puts(&b, dir);
    if (*rel && b.len && b.s[b.len - 1] != '/')
        strbuf_puts(&b, "/");
    strbuf_puts(&b, rel);
    if (strbuf_failed(&b)) {
        snprintf(why, whylen, "\"%.40s...\" resolved against %s is longer than %d bytes", v, dir,
                 PATH_MAX - 1);
        strbuf_free(&b);
        return NULL;
    }
    return strbuf_take(&b);
}

/* Split a list on commas outside quotes; items trimmed and unquoted, and
 * resolved against DIR when it is not NULL. */
static int split_list(const char *v, const config_key *k, const char *dir, char ***items_out,
                      size_t *n_out, char *why, size_t whylen)
{
    char *whole = unquote(v, strlen(v));
    char **items = NULL;
    size_t n = 0;
    if (!whole)
        goto nomem;
    const char *p = whole;
    for (;;) {
        const char *start = p;
        char q = 0;
        while (*p && (q || *p != ',')) {
            if (q && *p == q)
                q = 0;
            else if (!q && (*p == '"' || *p == '\''))
                q = *p;
            p++;
        }
        const char *end = p;
        while (start < end && isspace((unsigned char)*start))
            start++;
        while (end > start && isspace((unsigned char)end[-1]))
            end--;
        if (check_quotes(start, (size_t)(end - start), why, whylen) < 0)
            goto fail;
        char *item = unquote(start, (size_t)(end - start));
        if (!item)
            goto nomem;
        if (!*item) {
            free(item);
            snprintf(why, whylen, "empty item %zu in the list \"%s\"", n + 1, v);
            goto fail;
        }
        char **grown = realloc(items, (n + 1) * sizeof *items);
        if (!grown) {
            free(item);
            goto nomem;
        }
        items = grown;
        items[n++] = item;
        for (size_t i = 0; i + 1 < n; i++) {
            if (strcmp(items[i], item) == 0) {
                snprintf(why, whylen, "\"%s\" is listed twice", item);
                goto fail;
            }
        }
        if (k->check && k->check(item, why, whylen) < 0)
            goto fail;
        if (dir) {
            char *abs = resolve_path(dir, item, why, whylen);
            if (!abs)
                goto fail;
            free(items[n - 1]);
            items[n - 1] = abs;
        }
        if (!*p)
            break;
        p++;
    }
    free(whole);
    *items_out = items;
    *n_out = n;
    return 0;
nomem:
    snprintf(why, whylen, "out of memory");
fail:
    for (size_t i = 0; i < n; i++)
        free(items[i]);
    free(items);
    free(whole);
    return -1;
}

/* Convert RAW by the type of K and store it in the struct at BASE; a path
 * (K->local_path) is resolved against DIR unless DIR is NULL. */
static int store_value(const config_key *k, const char *raw, char *base, const char *dir, char *why,
                       size_t whylen)
{
    void *field = base + k->offset;
    char range[80];
    if (k->type == CONFIG_T_TEMPLATE) {
        /* Quotes are part of a template: the splitter of neo4j.c reads them. */
        char *t = strdup(raw);
        if (!t)
            goto nomem;
        *(char **)field = t;
        return 0;
    }
    if (k->type == CONFIG_T_LIST) {
        char **items;
        size_t n;
        if (split_list(raw, k, dir, &items, &n, why, whylen) < 0)
            return -1;
        *(char ***)field = items;
        *(size_t *)(base + k->count_offset) = n;
        return 0;
    }
    if (check_quotes(raw, strlen(raw), why, whylen) < 0)
        return -1;
    char *v = unquote(raw, strlen(raw));
    if (!v)
        goto nomem;
    switch (k->type) {
    case CONFIG_T_PATH:
        if (!*v) {
            snprintf(why, whylen, "empty path");
            goto fail;
        }
        if (v[0] == '~') {
            snprintf(why, whylen, "\"%s\": '~' is not expanded, write the full path", v);
            goto fail;
        }
        /* fall through */
    case CONFIG_T_STRING:
        if (!*v && !(k->def && !*k->def)) {
            /* "" would pass for a required key; only keys whose default is
             * empty (prefix) take it. */
            snprintf(why, whylen, "empty value (leave the value out to unset the key)");
            goto fail;
        }
        if (k->check && *v && k->check(v, why, whylen) < 0)
            goto fail;
        /* credentials, the one string that may name a file, also takes "env" */
        if (dir && *v && !(k->type == CONFIG_T_STRING && strcmp(v, "env") == 0)) {
            char *abs = resolve_path(dir, v, why, whylen);
            if (!abs)
                goto fail;
            free(v);
            v = abs;
        }
        *(char **)field = v;
        return 0;
    case CONFIG_T_ENUM: {
        const char *p = k->values;
        size_t len = strlen(v);
        while (p && *p) {
            size_t plen = strcspn(p, "|");
            if (plen == len && strncmp(p, v, len) == 0) {
                *(char **)field = v;
                return 0;
            }
            p += plen + (p[plen] == '|');
        }
        char alts[128];
        snprintf(alts, sizeof alts, "%s", k->values);
        for (char *a = alts; *a; a++) {
            if (*a == '|')
                *a = '/';
        }
        snprintf(why, whylen, "bad value \"%s\": expected %s", v, alts);
        goto fail;
    }
    case CONFIG_T_BOOL:
        if (parse_bool(v, (int *)field) < 0) {
            snprintf(why, whylen,
                     "bad value \"%s\": expected yes or no (also true/false, on/off, "
                     "1/0)",
                     v);
            goto fail;
        }
        break;
    case CONFIG_T_INT: {
        char *end;
        errno = 0;
        long long n = strtoll(v, &end, 10);
        fmt_range(range, sizeof range, k);
        if (!*v || *end || errno || isspace((unsigned char)*v)) {
            snprintf(why, whylen, "bad value \"%s\": expected a whole number (allowed %s)", v,
                     range);
            goto fail;
        }
        if (n < k->min || n > k->max) {
            snprintf(why, whylen, "%s is out of range (allowed %s)", v, range);
            goto fail;
        }
        *(int *)field = (int)n;
        break;
    }
    case CONFIG_T_DURATION: {
        long secs;
        fmt_range(range, sizeof range, k);
        if (config_parse_duration(v, &secs) < 0) {
            snprintf(why, whylen,
                     "bad value \"%s\": expected a duration like 90s, 30m, 6h, 2d, 1h30m or "
                     "seconds (allowed %s)",
                     v, range);
            goto fail;
        }
        if (secs < k->min || secs > k->max) {
            snprintf(why, whylen, "%s is out of range (allowed %s)", v, range);
            goto fail;
        }
        *(long *)field = secs;
        break;
    }
    case CONFIG_T_SIZE: {
        uint64_t bytes;
        fmt_range(range, sizeof range, k);
        if (config_parse_size(v, &bytes) < 0) {
            snprintf(why, whylen,
                     "bad value \"%s\": expected a size like 8MiB, 512KiB, 1GiB or bytes "
                     "(allowed %s)",
                     v, range);
            goto fail;
        }
        if (bytes < (uint64_t)k->min || bytes > (uint64_t)k->max) {
            snprintf(why, whylen, "%s is out of range (allowed %s)", v, range);
            goto fail;
        }
        *(uint64_t *)field = bytes;
        break;
    }
    default:
        snprintf(why, whylen, "internal error: key type %d", (int)k->type);
        goto fail;
    }
    free(v);
    return 0;
nomem:
    snprintf(why, whylen, "out of memory");
    return -1;
fail:
    free(v);
    return -1;
}

/* ------------------------------------------------------ reader (inih) */

/* The reason given for " #" outside quotes (see scan_value). */
#define HASH_COMMENT                                                                               \
    "'#' after white space, outside quotes: a comment after a value starts with ' ;' "             \
    "(value   ; comment); a '#' that belongs to the value needs quotes around the value "          \
    "(\"...\" or '...')"

/* Protect quoted ';' and '#' of a value, cut an inline comment the way inih
 * would (';' after white space, outside quotes), trim; *QUOTE carries an open
 * quote from and to the neighbouring continuation lines.  V is scanned from
 * its first byte with "no white space before", as inih does.
 *
 * '#' after white space outside quotes returns NULL: many INI dialects read
 * it as a comment and inih does not, so `path = /x  # old` is ambiguous.
 * Cutting there could drop part of a value, keeping it could take a comment
 * for a value; SPEC.md wants neither done silently, so it is refused. */
static char *scan_value(char *v, char *quote)
{
    int was_space = 0;
    char q = *quote;
    char *p;
    for (p = v; *p; p++) {
        char c = *p;
        if (q) {
            if (c == q)
                q = 0;
            else if (c == ';')
                *p = PH_SEMI;
            else if (c == '#')
                *p = PH_HASH;
        } else if (c == ';' && was_space) {
            break;
        } else if (c == '#' && was_space) {
            return NULL;
        } else if (c == '\'' || c == '"') {
            q = c;
        }
        was_space = isspace((unsigned char)c);
    }
    *p = '\0';
    *quote = q;
    while (p > v && isspace((unsigned char)p[-1]))
        *--p = '\0';
    while (isspace((unsigned char)*v))
        v++;
    return v;
}

static int remote_name_ok(const char *s, size_t len)
{
    if (len == 0 || len > 64)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return 0;
    }
    return 1;
}

static int add_section(pstate *st, config_section_kind kind, const char *title, int line,
                       const char *remote_name)
{
    psection *grown = realloc(st->secs, (st->nsecs + 1) * sizeof *grown);
    if (!grown)
        goto nomem;
    st->secs = grown;
    psection *sec = &st->secs[st->nsecs];
    memset(sec, 0, sizeof *sec);
    sec->kind = kind;
    sec->line = line;
    sec->remote = -1;
    sec->title = strdup(title);
    sec->key_line = calloc(config_key_count, sizeof *sec->key_line);
    sec->set = calloc(config_key_count, 1);
    st->nsecs++; /* owned by ST from here on, also when incomplete */
    if (!sec->title || !sec->key_line || !sec->set)
        goto nomem;
    if (kind == CONFIG_SEC_REMOTE) {
        config *cfg = st->cfg;
        config_remote *r = realloc(cfg->remotes, (cfg->n_remotes + 1) * sizeof *r);
        if (!r)
            goto nomem;
        cfg->remotes = r;
        r = &cfg->remotes[cfg->n_remotes];
        memset(r, 0, sizeof *r);
        r->line = line;
        r->name = strdup(remote_name);
        cfg->n_remotes++;
        if (!r->name)
            goto nomem;
        sec->remote = (int)cfg->n_remotes - 1;
    } else {
        st->cfg->section_line[kind] = line;
    }
    return 0;
nomem:
    st_fail(st, line, NULL, NULL, "out of memory");
    return -1;
}

/* A "[...]" line: known section, well-formed remote name, no repetition. */
static int section_header(pstate *st, char *start, int line)
{
    char *close = strchr(start + 1, ']');
    if (!close) {
        st_fail(st, line, NULL, NULL, "section header without ']'");
        return -1;
    }
    const char *rest = close + 1;
    while (isspace((unsigned char)*rest))
        rest++;
    if (*rest && *rest != ';' && *rest != '#') {
        st_fail(st, line, NULL, NULL, "unexpected text after ']': \"%s\"", rest);
        return -1;
    }
    *close = '\0';
    char *name = start + 1;
    while (isspace((unsigned char)*name))
        name++;
    for (char *e = close; e > name && isspace((unsigned char)e[-1]);)
        *--e = '\0';

    for (int kind = 0; kind < N_PLAIN_SECTIONS; kind++) {
        if (strcmp(name, config_section_name(kind)) != 0)
            continue;
        for (size_t i = 0; i < st->nsecs; i++) {
            if (st->secs[i].kind == (config_section_kind)kind) {
                st_fail(st, line, NULL, NULL, "[%s]: section repeated (first on line %d)", name,
                        st->secs[i].line);
                return -1;
            }
        }
        return add_section(st, kind, name, line, NULL);
    }
    if (strncmp(name, "remote", 6) == 0 &&
        (name[6] == '\0' || isspace((unsigned char)name[6]) || name[6] == '"')) {
        const char *p = name + 6;
        while (isspace((unsigned char)*p))
            p++;
        size_t len = strlen(p);
        if (len < 2 || p[0] != '"' || p[len - 1] != '"' || !remote_name_ok(p + 1, len - 2)) {
            st_fail(st, line, NULL, NULL,
                    "[%s]: a remote section is written [remote \"NAME\"], NAME of 1 to 64 "
                    "letters, digits, '-', '_' and '.'",
                    name);
            return -1;
        }
        char rname[72], title[96];
        snprintf(rname, sizeof rname, "%.*s", (int)(len - 2), p + 1);
        snprintf(title, sizeof title, "remote \"%s\"", rname);
        for (size_t i = 0; i < st->cfg->n_remotes; i++) {
            const config_remote *o = &st->cfg->remotes[i];
            if (strcmp(o->name, rname) == 0) {
                st_fail(st, line, NULL, NULL, "[%s]: duplicate remote name (first on line %d)",
                        title, o->line);
                return -1;
            }
            /* "NAS" and "nas" would be told apart only by --remote and the
             * messages, easily confused (and one directory on a
             * case-insensitive file system) */
            if (strcasecmp(o->name, rname) == 0) {
                st_fail(st, line, NULL, NULL,
                        "[%s]: remote name differs only in case from [remote \"%s\"] at %s:%d; "
                        "remote names must differ in more than case",
                        title, o->name, st->cfg->path, o->line);
                return -1;
            }
        }
        return add_section(st, CONFIG_SEC_REMOTE, title, line, rname);
    }
    st_fail(st, line, NULL, NULL,
            "[%s]: unknown section (known: general, neo4j, local, retention, keys, notify, "
            "remote \"NAME\")",
            name);
    return -1;
}

/* Copy OUT (LEN bytes) into inih's buffer STR of NUM bytes, or refuse the
 * line: inih would cut it and parse the rest as a new line. */
static char *hand_over(pstate *st, char *str, int num, const char *out, size_t len, const char *key,
                       int cont)
{
    if (num < 3 || len + 2 > (size_t)num) {
        const psection *sec = st->nsecs ? &st->secs[st->nsecs - 1] : NULL;
        if (cont)
            st_fail(st, st->lineno, sec, key,
                    "line too long: this continuation line holds %zu characters, at most %d "
                    "fit; split it over more indented lines",
                    len - 1, num - 3);
        else
            st_fail(st, st->lineno, sec, key,
                    "line too long: key and value take %zu characters, at most %d fit; "
                    "continue the value on indented lines below the key (joined with one "
                    "space)",
                    len, num - 2);
        return NULL;
    }
    memcpy(str, out, len);
    /* Always end with '\n': a libinih with ini_allow_realloc set would take a
     * full buffer without it as a partial line and read on. */
    str[len] = '\n';
    str[len + 1] = '\0';
    return str;
}

static char *read_line(char *str, int num, void *stream)
{
    pstate *st = stream;
    if (st->failed)
        return NULL;
    errno = 0;
    ssize_t got = getline(&st->buf, &st->cap, st->f);
    if (got < 0) {
        if (ferror(st->f)) {
            err_sys(ERR_USAGE, errno, "cannot read config file %s", st->cfg->path);
            st->failed = 1;
        }
        return NULL;
    }
    int line = ++st->lineno;
    char *s = st->buf;
    size_t len = (size_t)got;
    if (len && s[len - 1] == '\n')
        s[--len] = '\0';
    if (len && s[len - 1] == '\r')
        s[--len] = '\0';
    if (line == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
        s += 3;
        len -= 3;
    }
    if (strlen(s) != len) {
        st_fail(st, line, NULL, NULL, "NUL byte in the line");
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            st_fail(st, line, NULL, NULL, "control character 0x%02x at column %zu", c, i + 1);
            return NULL;
        }
    }
    st->line_is_cont = 0;
    char *start = s;
    while (*start == ' ' || *start == '\t')
        start++;
    int comment = !*start || *start == ';' || *start == '#';
    if (st->in_value && st->quote && (comment || start == s) && st->nents) {
        /* The value ends here with a quote still open: say so now, rather
         * than stumble over its rest as a broken line. */
        const pentry *e = &st->ents[st->nents - 1];
        st_fail(st, e->line, &st->secs[e->sec], e->key->name, UNBALANCED, st->quote);
        return NULL;
    }
    if (comment) {
        /* Blank or comment line: ends a multi-line value. */
        st->in_value = 0;
        str[0] = '\0';
        return str;
    }
    const psection *sec = st->nsecs ? &st->secs[st->nsecs - 1] : NULL;
    if (start > s && st->in_value) {
        char *v = scan_value(start, &st->quote);
        if (!v) {
            const pentry *e = st->nents ? &st->ents[st->nents - 1] : NULL;
            st_fail(st, line, e ? &st->secs[e->sec] : sec, e ? e->key->name : NULL, HASH_COMMENT);
            return NULL;
        }
        size_t vlen = strlen(v);
        char *out = malloc(vlen + 2);
        if (!out) {
            st_fail(st, line, NULL, NULL, "out of memory");
            return NULL;
        }
        out[0] = '\t'; /* inih needs the indentation to see a continuation */
        memcpy(out + 1, v, vlen + 1);
        st->line_is_cont = 1;
        char *r = hand_over(st, str, num, out, vlen + 1,
                            st->nents ? st->ents[st->nents - 1].key->name : NULL, 1);
        free(out);
        return r;
    }
    st->in_value = 0;
    st->quote = 0;
    if (*start == '[') {
        if (section_header(st, start, line) < 0)
            return NULL;
        return hand_over(st, str, num, "[s]", 3, NULL, 0);
    }
    /* The separator as inih finds it: the first '=' or ':', unless an inline
     * comment (';' after white space) comes first. */
    char *p = start;
    int was_space = 0;
    while (*p && *p != '=' && *p != ':' && !(was_space && *p == ';')) {
        was_space = isspace((unsigned char)*p);
        p++;
    }
    if (*p != '=' && *p != ':') {
        st_fail(st, line, sec, NULL, "expected \"key = value\", a [section] or a comment");
        return NULL;
    }
    char *kend = p;
    while (kend > start && isspace((unsigned char)kend[-1]))
        kend--;
    char key[72];
    snprintf(key, sizeof key, "%.*s", (int)(kend - start), start);
    if (kend == start) {
        st_fail(st, line, sec, NULL, "missing key name before '%c'", *p);
        return NULL;
    }
    if (!sec) {
        st_fail(st, line, NULL, key,
                "key outside of any section (start with [general], [neo4j], ...)");
        return NULL;
    }
    char *v = scan_value(p + 1, &st->quote);
    if (!v) {
        st_fail(st, line, sec, key, HASH_COMMENT);
        return NULL;
    }
    size_t klen = (size_t)(kend - start), vlen = strlen(v);
    char *out = malloc(klen + vlen + 2);
    if (!out) {
        st_fail(st, line, NULL, NULL, "out of memory");
        return NULL;
    }
    memcpy(out, start, klen);
    out[klen] = '=';
    memcpy(out + klen + 1, v, vlen + 1);
    st->in_value = 1;
    char *r = hand_over(st, str, num, out, klen + 1 + vlen, key, 0);
    free(out);
    return r;
}

static int on_value(void *user, const char *section, const char *name, const char *value,
                    int lineno)
{
    pstate *st = user;
    (void)section; /* ours: the reader tracks sections with their lines */
    if (st->failed)
        return 1;
    psection *sec = &st->secs[st->nsecs - 1];
    if (lineno != st->lineno) {
        st_fail(st, st->lineno, NULL, NULL,
                "internal error: inih reports line %d (libinih without INI_HANDLER_LINENO?)",
                lineno);
        return 1;
    }
    char *v = strdup(value);
    if (!v) {
        st_fail(st, lineno, NULL, NULL, "out of memory");
        return 1;
    }
    for (char *p = v; *p; p++) {
        if (*p == PH_SEMI)
            *p = ';';
        else if (*p == PH_HASH)
            *p = '#';
    }
    if (st->line_is_cont) {
        pentry *e = &st->ents[st->nents - 1];
        size_t a = strlen(e->value), b = strlen(v);
        char *joined = realloc(e->value, a + b + 2);
        if (!joined) {
            free(v);
            st_fail(st, lineno, NULL, NULL, "out of memory");
            return 1;
        }
        if (a)
            joined[a++] = ' ';
        memcpy(joined + a, v, b + 1);
        e->value = joined;
        e->quote = st->quote;
        free(v);
        return 1;
    }
    const config_key *k = config_key_find(sec->kind, name);
    if (!k) {
        char known[512] = "";
        size_t n = 0;
        for (size_t i = 0; i < config_key_count && sec->kind != CONFIG_SEC_REMOTE; i++) {
            if (config_key_table[i].section == sec->kind && n < sizeof known)
                n += (size_t)snprintf(known + n, sizeof known - n, "%s%s", n ? ", " : "",
                                      config_key_table[i].name);
        }
        if (sec->kind == CONFIG_SEC_REMOTE)
            st_fail(st, lineno, sec, name, "unknown key for a remote (see docs/CONFIG.md)");
        else
            st_fail(st, lineno, sec, name, "unknown key (keys of [%s]: %s)", sec->title, known);
        free(v);
        return 1;
    }
    size_t ki = (size_t)(k - config_key_table);
    if (sec->key_line[ki]) {
        st_fail(st, lineno, sec, name, "duplicate key (first set on line %d)", sec->key_line[ki]);
        free(v);
        return 1;
    }
    pentry *grown = realloc(st->ents, (st->nents + 1) * sizeof *grown);
    if (!grown) {
        free(v);
        st_fail(st, lineno, NULL, NULL, "out of memory");
        return 1;
    }
    st->ents = grown;
    st->ents[st->nents++] =
        (pentry){.sec = st->nsecs - 1, .key = k, .value = v, .line = lineno, .quote = st->quote};
    sec->key_line[ki] = lineno;
    return 1;
}

/* ------------------------------------------------------------ checking */

static unsigned rtype_bit(const char *name)
{
    if (!name)
        return 0;
    if (strcmp(name, "local") == 0)
        return CONFIG_RT_LOCAL;
    if (strcmp(name, "sftp") == 0)
        return CONFIG_RT_SFTP;
    if (strcmp(name, "s3") == 0)
        return CONFIG_RT_S3;
    return 0;
}

static void type_names(char *buf, size_t n, unsigned mask, const char *sep)
{
    size_t used = 0;
    buf[0] = '\0';
    for (unsigned bit = 1; bit <= CONFIG_RT_S3; bit <<= 1) {
        if ((mask & bit) && used < n)
            used += (size_t)snprintf(buf + used, n - used, "%s%s", used ? sep : "",
                                     config_remote_type_name(bit));
    }
}

static int field_is_set(const config_key *k, const char *base)
{
    const void *field = base + k->offset;
    switch (k->type) {
    case CONFIG_T_LIST:
        return *(const size_t *)(base + k->count_offset) > 0;
    case CONFIG_T_STRING:
    case CONFIG_T_PATH:
    case CONFIG_T_TEMPLATE:
    case CONFIG_T_ENUM:
        return *(char *const *)field != NULL;
    default:
        return 1; /* numbers and bools always have a default */
    }
}

static psection *plain_section(pstate *st, config_section_kind kind)
{
    for (size_t i = 0; i < st->nsecs; i++) {
        if (st->secs[i].kind == kind)
            return &st->secs[i];
    }
    return NULL;
}

/* The type of every remote, before any other key is checked against it. */
static int resolve_types(pstate *st)
{
    const config_key *tk = config_key_find(CONFIG_SEC_REMOTE, "type");
    for (size_t i = 0; i < st->nsecs; i++) {
        psection *sec = &st->secs[i];
        if (sec->kind != CONFIG_SEC_REMOTE)
            continue;
        const pentry *te = NULL;
        for (size_t j = 0; j < st->nents; j++) {
            if (st->ents[j].sec == i && st->ents[j].key == tk)
                te = &st->ents[j];
        }
        if (!te || !*te->value) {
            st_fail(st, sec->line, sec, "type", "missing, required: local, sftp or s3");
            return -1;
        }
        char *v = unquote(te->value, strlen(te->value));
        sec->rtype = rtype_bit(v);
        if (!sec->rtype) {
            st_fail(st, te->line, sec, "type", "bad value \"%s\": expected local, sftp or s3",
                    v ? v : "");
            free(v);
            return -1;
        }
        free(v);
    }
    return 0;
}

/* 1 when the value of K stored at BASE is its default; for a key without
 * one, when it is unset. */
static int is_default(const config_key *k, const char *base)
{
    const void *field = base + k->offset;
    if (!k->def)
        return !field_is_set(k, base);
    switch (k->type) {
    case CONFIG_T_BOOL: {
        int d = 0;
        return parse_bool(k->def, &d) == 0 && *(const int *)field == d;
    }
    case CONFIG_T_INT:
        return *(const int *)field == atoi(k->def);
    case CONFIG_T_DURATION: {
        long d = 0;
        return config_parse_duration(k->def, &d) == 0 && *(const long *)field == d;
    }
    case CONFIG_T_SIZE: {
        uint64_t d = 0;
        return config_parse_size(k->def, &d) == 0 && *(const uint64_t *)field == d;
    }
    case CONFIG_T_STRING:
    case CONFIG_T_PATH:
    case CONFIG_T_TEMPLATE:
    case CONFIG_T_ENUM: {
        const char *v = *(char *const *)field;
        return v && strcmp(v, k->def) == 0;
    }
    default:
        return 0;
    }
}

/* The value a reserved key may keep ("no", "off", "7"), "" when it has no
 * default (then only leaving it out or empty is accepted). */
static void off_value(char *buf, size_t n, const config_key *k)
{
    snprintf(buf, n, "%s", k->def ? k->def : "");
}

/* Check TEMPLATE as it will run (neo4j_check_template), so that a template
 * that could never run (shell operator without sh -c, unbalanced quotes, an
 * unknown placeholder...) stops the command now, with the file and line,
 * not in the middle of a backup after Neo4j was stopped.  0, or -1 with the
 * problem (without the "KEY: " prefix of neo4j.c) in WHY. */
static int check_template(const char *key, const char *template_, char *why, size_t whylen)
{
    if (neo4j_check_template(key, template_) == 0)
        return 0;
    const char *msg = err_msg();
    size_t klen = strlen(key);
    if (strncmp(msg, key, klen) == 0 && strncmp(msg + klen, ": ", 2) == 0)
        msg += klen + 2;
    snprintf(why, whylen, "%s", msg);
    return -1;
}

static int store_entries(pstate *st)
{
    config *cfg = st->cfg;
    for (size_t i = 0; i < st->nents; i++) {
        const pentry *e = &st->ents[i];
        psection *sec = &st->secs[e->sec];
        const config_key *k = e->key;
        if (e->quote) {
            st_fail(st, e->line, sec, k->name, UNBALANCED, e->quote);
            return -1;
        }
        char *base = (char *)cfg;
        if (sec->kind == CONFIG_SEC_REMOTE) {
            if (!(k->remote_types & sec->rtype)) {
                char only[64];
                type_names(only, sizeof only, k->remote_types, " or ");
                st_fail(st, e->line, sec, k->name, "not valid for a %s remote (only for %s)",
                        config_remote_type_name(sec->rtype), only);
                return -1;
            }
            base = (char *)&cfg->remotes[sec->remote];
        }
        if (!*e->value)
            continue; /* "key =": unset, its default applies */
        unsigned types = sec->kind == CONFIG_SEC_REMOTE ? sec->rtype : CONFIG_RT_ALL;
        const char *dir = (k->local_path & types) ? cfg->dir : NULL;
        char why[1024];
        if (store_value(k, e->value, base, dir, why, sizeof why) < 0) {
            st_fail(st, e->line, sec, k->name, "%s", why);
            return -1;
        }
        sec->set[k - config_key_table] = 1;
        if (k->reserved && !is_default(k, base)) {
            char off[128];
            off_value(off, sizeof off, k);
            st_fail(st, e->line, sec, k->name,
                    "%s is not implemented in this version (%s): remove the line%s%s", k->name,
                    k->reserved, *off ? " or set it to " : "", off);
            return -1;
        }
        if (k->type == CONFIG_T_TEMPLATE &&
            check_template(k->name, *(char **)(base + k->offset), why, sizeof why) < 0) {
            st_fail(st, e->line, sec, k->name, "%s", why);
            return -1;
        }
    }
    return 0;
}

static int store_default(pstate *st, const config_key *k, char *base, const psection *sec)
{
    char why[512];
    if (store_value(k, k->def, base, NULL, why, sizeof why) < 0) {
        st_fail(st, sec ? sec->line : 0, sec, k->name, "internal error in the default: %s", why);
        return -1;
    }
    return 0;
}

/* "virtual" for AWS endpoints (https://s3.REGION.amazonaws.com), "path" for
 * other S3-compatibles, most of which have no wildcard DNS for buckets. */
static const char *default_url_style(const char *endpoint)
{
    if (!endpoint)
        return "path";
    const char *h = strstr(endpoint, "://");
    h = h ? h + 3 : endpoint;
    size_t len = strcspn(h, ":/?#");
    static const char aws[] = "amazonaws.com";
    size_t alen = sizeof aws - 1;
    if (len >= alen && strncasecmp(h + len - alen, aws, alen) == 0 &&
        (len == alen || h[len - alen - 1] == '.'))
        return "virtual";
    return "path";
}

static int apply_defaults(pstate *st)
{
    config *cfg = st->cfg;
    for (size_t i = 0; i < config_key_count; i++) {
        const config_key *k = &config_key_table[i];
        if (k->section == CONFIG_SEC_REMOTE || !k->def)
            continue;
        psection *sec = plain_section(st, k->section);
        if (sec && sec->set[i])
            continue;
        if (store_default(st, k, (char *)cfg, sec) < 0)
            return -1;
    }
    for (size_t s = 0; s < st->nsecs; s++) {
        psection *sec = &st->secs[s];
        if (sec->kind != CONFIG_SEC_REMOTE)
            continue;
        config_remote *r = &cfg->remotes[sec->remote];
        for (size_t i = 0; i < config_key_count; i++) {
            const config_key *k = &config_key_table[i];
            if (k->section != CONFIG_SEC_REMOTE || !(k->remote_types & sec->rtype) || sec->set[i])
                continue;
            if (k->def && store_default(st, k, (char *)r, sec) < 0)
                return -1;
        }
        if ((sec->rtype & CONFIG_RT_S3) && !r->url_style) {
            r->url_style = strdup(default_url_style(r->endpoint));
            if (!r->url_style) {
                st_fail(st, sec->line, sec, "url_style", "out of memory");
                return -1;
            }
        }
    }
    return 0;
}

/* The line that set key NAME of section SEC (0 when unset). */
static int key_line(const psection *sec, const char *name)
{
    const config_key *k = config_key_find(sec->kind, name);
    return k ? sec->key_line[k - config_key_table] : 0;
}

/* 1 when HOST (no port, IPv6 without brackets) is this machine: 127.0.0.0/8,
 * ::1 (also as ::ffff:127.x.y.z), localhost or a name under .localhost,
 * which libcurl resolves to loopback itself, never through DNS (RFC 6761). */
static int host_is_loopback(const char *host)
{
    static const char lh[] = ".localhost";
    size_t n = strlen(host), lhn = sizeof lh - 1;
    if (strcasecmp(host, "localhost") == 0 || (n > lhn && strcasecmp(host + n - lhn, lh) == 0))
        return 1;
    struct in_addr a4;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    struct in6_addr a6;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
    return 0;
}

/* The host of an http:// URL into BUF ("" when it cannot be read). */
static void url_host(const char *url, char *buf, size_t n)
{
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    size_t len = strcspn(h, "/?#");
    const char *at = memchr(h, '@', len);
    while (at) { /* user:password@host: the host is after the last '@' */
        len -= (size_t)(at + 1 - h);
        h = at + 1;
        at = memchr(h, '@', len);
    }
    if (*h == '[') {
        const char *close = memchr(h, ']', len);
        len = close ? (size_t)(close - h - 1) : 0;
        h++;
    } else {
        len = strcspn(h, ":/?#");
    }
    if (len >= n)
        len = 0;
    memcpy(buf, h, len);
    buf[len] = '\0';
}

/* Plain HTTP sends the access key id, the session token and every request
 * (manifests, deletions) readable and alterable on the way: refused off
 * this machine unless the remote says allow_insecure_http = yes. */
static int check_endpoints(pstate *st)
{
    config *cfg = st->cfg;
    for (size_t s = 0; s < st->nsecs; s++) {
        const psection *sec = &st->secs[s];
        if (sec->kind != CONFIG_SEC_REMOTE || !(sec->rtype & CONFIG_RT_S3))
            continue;
        const config_remote *r = &cfg->remotes[sec->remote];
        if (!r->endpoint || strncasecmp(r->endpoint, "http://", 7) != 0 || r->allow_insecure_http)
            continue;
        char host[256];
        url_host(r->endpoint, host, sizeof host);
        if (*host && host_is_loopback(host))
            continue;
        st_fail(st, key_line(sec, "endpoint"), sec, "endpoint",
                "http:// to %s would send the access key id, the session token and every "
                "request in clear: use https://, or add allow_insecure_http = yes to this "
                "remote if the network to %s is trusted",
                *host ? host : r->endpoint, *host ? host : "it");
        return -1;
    }
    return 0;
}

/* PATH without repeated '/', "." components and a trailing '/', so that
 * "/srv/x/" and "/srv//./x" compare equal.  ".." stays: behind a symbolic
 * link it is not the lexical parent. */
static void norm_path(const char *path, char *out, size_t n)
{
    size_t o = 0;
    const char *p = path;
    if (n == 0)
        return;
    if (*p == '/' && o + 1 < n)
        out[o++] = '/';
    while (*p) {
        while (*p == '/')
            p++;
        size_t len = strcspn(p, "/");
        if (len == 0)
            break;
        if (!(len == 1 && p[0] == '.')) {
            if (o > 0 && out[o - 1] != '/' && o + 1 < n)
                out[o++] = '/';
            for (size_t i = 0; i < len && o + 1 < n; i++)
                out[o++] = p[i];
        }
        p += len;
    }
    out[o] = '\0';
}

/* What a remote writes to, in one comparable line; "" when it cannot be
 * said (a missing key was reported elsewhere). */
static void remote_target(const config_remote *r, unsigned rtype, char *buf, size_t n)
{
    char path[PATH_MAX];
    buf[0] = '\0';
    if (rtype == CONFIG_RT_LOCAL && r->path) {
        norm_path(r->path, path, sizeof path);
        snprintf(buf, n, "local directory %s", path);
    } else if (rtype == CONFIG_RT_SFTP && r->host && r->user && r->path) {
        norm_path(r->path, path, sizeof path);
        char host[256];
        snprintf(host, sizeof host, "%s", r->host);
        for (char *c = host; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        snprintf(buf, n, "sftp %s@%s:%d %s", r->user, host, r->port, path);
    } else if (rtype == CONFIG_RT_S3 && r->endpoint && r->bucket) {
        /* The scheme and host are case-insensitive; the backend adds the '/'
         * that ends a non-empty prefix. */
        char ep[512];
        snprintf(ep, sizeof ep, "%s", r->endpoint);
        size_t len = strlen(ep);
        while (len > 0 && ep[len - 1] == '/')
            ep[--len] = '\0';
        char *host = strstr(ep, "://");
        for (char *c = ep; *c && (!host || c < host + 3 + strcspn(host + 3, "/")); c++)
            *c = (char)tolower((unsigned char)*c);
        const char *pre = r->prefix ? r->prefix : "";
        size_t pl = strlen(pre);
        snprintf(buf, n, "s3 %s bucket %s prefix \"%s%s\"", ep, r->bucket, pre,
                 pl && pre[pl - 1] != '/' ? "/" : "");
    }
}

/* Two remotes on one target would hold one copy counted as two (and prune
 * each other's view of it); remote names differing only in case are refused
 * when the section is read (section_header). */
static int check_targets(pstate *st)
{
    config *cfg = st->cfg;
    for (size_t a = 0; a < st->nsecs; a++) {
        const psection *sa = &st->secs[a];
        if (sa->kind != CONFIG_SEC_REMOTE)
            continue;
        const config_remote *ra = &cfg->remotes[sa->remote];
        char ta[2 * PATH_MAX];
        remote_target(ra, sa->rtype, ta, sizeof ta);
        if (!*ta)
            continue;
        for (size_t b = a + 1; b < st->nsecs; b++) {
            const psection *sb = &st->secs[b];
            if (sb->kind != CONFIG_SEC_REMOTE || sb->rtype != sa->rtype)
                continue;
            const config_remote *rb = &cfg->remotes[sb->remote];
            char tb[2 * PATH_MAX];
            remote_target(rb, sb->rtype, tb, sizeof tb);
            int same = *tb && strcmp(ta, tb) == 0;
            struct stat s1, s2;
            /* a local directory reached by two names (a symbolic link) */
            if (!same && sa->rtype == CONFIG_RT_LOCAL && stat(ra->path, &s1) == 0 &&
                stat(rb->path, &s2) == 0 && s1.st_dev == s2.st_dev && s1.st_ino == s2.st_ino)
                same = 1;
            if (same) {
                st_fail(st, sb->line, sb, NULL,
                        "same target as [remote \"%s\"] at %s:%d (%s): the two would hold one "
                        "copy of each archive, counted as two; remove one of them or point it "
                        "elsewhere",
                        ra->name, cfg->path, sa->line, ta);
                return -1;
            }
        }
    }
    return 0;
}

static int check_required(pstate *st, unsigned cmd)
{
    config *cfg = st->cfg;
    /* A remote section is incomplete whatever the command. */
    for (size_t s = 0; s < st->nsecs; s++) {
        psection *sec = &st->secs[s];
        if (sec->kind != CONFIG_SEC_REMOTE)
            continue;
        for (size_t i = 0; i < config_key_count; i++) {
            const config_key *k = &config_key_table[i];
            if (k->section == CONFIG_SEC_REMOTE && (k->remote_need & sec->rtype) && !sec->set[i]) {
                st_fail(st, sec->line, sec, k->name, "missing, required for %s remotes",
                        config_remote_type_name(sec->rtype));
                return -1;
            }
        }
    }
    if (!cmd)
        return 0;
    const char *cname = config_cmd_name(cmd);
    for (size_t i = 0; i < config_key_count; i++) {
        const config_key *k = &config_key_table[i];
        if (k->section == CONFIG_SEC_REMOTE || !(k->need & cmd) ||
            field_is_set(k, (const char *)cfg))
            continue;
        psection *sec = plain_section(st, k->section);
        cfg_err(cfg->path, sec ? sec->line : 0, config_section_name(k->section), k->name,
                "missing, required by %s", cname);
        st->failed = 1;
        return -1;
    }
    if ((cmd & CMD_NEED_REMOTE) && cfg->n_remotes == 0) {
        cfg_err(cfg->path, 0, "remote \"NAME\"", NULL,
                "missing: %s needs at least one remote section", cname);
        st->failed = 1;
        return -1;
    }
    if ((cmd & CMD_NEED_REMOTE_OR_LOCAL) && cfg->n_remotes == 0 && !cfg->local.directory) {
        cfg_err(cfg->path, cfg->section_line[CONFIG_SEC_LOCAL], "local", "directory",
                "missing, required by %s when no remote section is configured", cname);
        st->failed = 1;
        return -1;
    }
    return 0;
}

static void pstate_free(pstate *st)
{
    for (size_t i = 0; i < st->nsecs; i++) {
        free(st->secs[i].title);
        free(st->secs[i].key_line);
        free(st->secs[i].set);
    }
    free(st->secs);
    for (size_t i = 0; i < st->nents; i++)
        free(st->ents[i].value);
    free(st->ents);
    free(st->buf);
}

/* The absolute directory of the config file PATH (relative paths in the
 * file are relative to it); NULL with err set. */
static char *config_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (size_t)(slash - path) : 0;
    strbuf b;
    strbuf_init(&b, PATH_MAX - 1);
    if (path[0] == '/') {
        if (dlen)
            strbuf_append(&b, path, dlen);
        else
            strbuf_puts(&b, "/"); /* "/x.conf" */
    } else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd)) {
            err_sys(ERR_USAGE, errno, "%s: cannot tell the current directory", path);
            return NULL;
        }
        strbuf_puts(&b, cwd);
        if (dlen && !(dlen == 1 && path[0] == '.')) { /* "conf/x.conf", not "./x.conf" */
            if (strcmp(cwd, "/") != 0)
                strbuf_puts(&b, "/");
            strbuf_append(&b, path, dlen);
        }
    }
    if (strbuf_failed(&b)) {
        err_set(ERR_USAGE, "%s: the path of the config file is too long", path);
        strbuf_free(&b);
        return NULL;
    }
    return strbuf_take(&b);
}

config *config_load(const char *path, unsigned cmd)
{
    pstate st;
    memset(&st, 0, sizeof st);
    config *cfg = calloc(1, sizeof *cfg);
    if (!cfg || !(cfg->path = strdup(path))) {
        free(cfg);
        err_set(ERR_FAIL, "out of memory");
        return NULL;
    }
    st.cfg = cfg;
    if (!(cfg->dir = config_dir(path)))
        goto fail;
    st.f = fopen(path, "r");
    if (!st.f) {
        err_sys(ERR_USAGE, errno, "cannot open config file %s", path);
        goto fail;
    }
    int rc = ini_parse_stream(read_line, &st, on_value, &st);
    if (st.failed)
        goto fail;
    if (rc != 0) {
        /* Every syntax error is caught by the reader first; this is a guard. */
        if (rc > 0)
            cfg_err(path, rc, NULL, NULL, "syntax error");
        else
            err_set(ERR_FAIL, "%s: the INI parser failed (%d)", path, rc);
        goto fail;
    }
    if (resolve_types(&st) < 0 || store_entries(&st) < 0 || apply_defaults(&st) < 0 ||
        check_endpoints(&st) < 0 || check_targets(&st) < 0 || check_required(&st, cmd) < 0)
        goto fail;
    fclose(st.f);
    pstate_free(&st);
    return cfg;
fail:
    if (st.f)
        fclose(st.f);
    pstate_free(&st);
    config_free(cfg);
    return NULL;
}

static void free_fields(config_section_kind which, char *base)
{
    for (size_t i = 0; i < config_key_count; i++) {
        const config_key *k = &config_key_table[i];
        if ((k->section == CONFIG_SEC_REMOTE) != (which == CONFIG_SEC_REMOTE))
            continue;
        void *field = base + k->offset;
        switch (k->type) {
        case CONFIG_T_LIST: {
            char **items = *(char ***)field;
            size_t n = *(size_t *)(base + k->count_offset);
            for (size_t j = 0; j < n; j++)
                free(items[j]);
            free(items);
            *(char ***)field = NULL;
            *(size_t *)(base + k->count_offset) = 0;
            break;
        }
        case CONFIG_T_STRING:
        case CONFIG_T_PATH:
        case CONFIG_T_TEMPLATE:
        case CONFIG_T_ENUM:
            free(*(char **)field);
            *(char **)field = NULL;
            break;
        default:
            break;
        }
    }
}

void config_free(config *cfg)
{
    if (!cfg)
        return;
    free_fields(CONFIG_SEC_GENERAL, (char *)cfg);
    for (size_t i = 0; i < cfg->n_remotes; i++) {
        free_fields(CONFIG_SEC_REMOTE, (char *)&cfg->remotes[i]);
        free(cfg->remotes[i].name);
    }
    free(cfg->remotes);
    free(cfg->path);
    free(cfg->dir);
    free(cfg);
}

const config_remote *config_remote_find(const config *cfg, const char *name)
{
    char names[512] = "";
    size_t n = 0;
    for (size_t i = 0; i < cfg->n_remotes; i++) {
        if (strcmp(cfg->remotes[i].name, name) == 0)
            return &cfg->remotes[i];
        if (n < sizeof names)
            n += (size_t)snprintf(names + n, sizeof names - n, "%s%s", n ? ", " : "",
                                  cfg->remotes[i].name);
    }
    err_set(ERR_USAGE, "no remote \"%s\" in %s (configured: %s)", name, cfg->path,
            n ? names : "none");
    return NULL;
}

int config_require(const config *cfg, const char *section, const char *key, const char *why)
{
    if (strncmp(section, "remote", 6) == 0) {
        const char *p = section + 6;
        while (*p == ' ')
            p++;
        size_t len = strlen(p);
        if (len >= 2 && p[0] == '"' && p[len - 1] == '"') {
            p++;
            len -= 2;
        }
        char rname[72];
        snprintf(rname, sizeof rname, "%.*s", (int)len, p);
        const config_remote *r = config_remote_find(cfg, rname);
        const config_key *k = config_key_find(CONFIG_SEC_REMOTE, key);
        if (!r)
            return -1;
        if (!k)
            return err_set(ERR_USAGE, "internal error: no key %s for remotes", key);
        if (field_is_set(k, (const char *)r))
            return 0;
        char title[96];
        snprintf(title, sizeof title, "remote \"%s\"", r->name);
        return cfg_err(cfg->path, r->line, title, key, "missing, required by %s", why);
    }
    for (int kind = 0; kind < N_PLAIN_SECTIONS; kind++) {
        if (strcmp(section, config_section_name(kind)) != 0)
            continue;
        const config_key *k = config_key_find(kind, key);
        if (!k)
            return err_set(ERR_USAGE, "internal error: no key [%s] %s", section, key);
        if (field_is_set(k, (const char *)cfg))
            return 0;
        return cfg_err(cfg->path, cfg->section_line[kind], section, key, "missing, required by %s",
                       why);
    }
    return err_set(ERR_USAGE, "internal error: no section [%s]", section);
}

/* ------------------------------------------------------------ reference */

static const char *const type_doc[] = {
    [CONFIG_T_STRING] = "string", [CONFIG_T_PATH] = "path",         [CONFIG_T_BOOL] = "bool",
    [CONFIG_T_INT] = "int",       [CONFIG_T_DURATION] = "duration", [CONFIG_T_SIZE] = "size",
    [CONFIG_T_LIST] = "list",     [CONFIG_T_TEMPLATE] = "template", [CONFIG_T_ENUM] = "enum",
};

static const char *const reference_intro[] = {
    "# Configuration reference",
    "",
    "<!-- Generated by tests/tools/config_reference from the key table in",
    "     src/config_keys.c; tests/tools/test_config_doc.sh fails when this file",
    "     differs. Do not edit by hand: change the table and regenerate. -->",
    "",
    "neo4j-offsite reads one INI file: `-c FILE`, else `$NEO4J_OFFSITE_CONFIG`, else",
    "`/etc/neo4j-offsite/neo4j-offsite.conf`. Examples: `conf/neo4j-offsite.conf`",
    "(Neo4j in Docker) and `conf/bare-metal.conf`.",
    "",
    "## Syntax",
    "",
    "- Sections `[general]`, `[neo4j]`, `[local]`, `[retention]`, `[keys]`, `[notify]`,",
    "  each at most once, and any number of `[remote \"NAME\"]` (NAME: 1 to 64 letters,",
    "  digits, `-`, `_`, `.`; names unique, also ignoring case). Lines are `key = value`.",
    "- A line starting with `;` or `#` is a comment. After a value, ` ;` (a `;` that",
    "  follows white space) starts a comment: `keep_days = 7   ; one week`.",
    "- ` #` (a `#` that follows white space) outside quotes is refused, neither taken",
    "  as a comment nor kept in the value, since INI dialects disagree about it: write",
    "  the comment after ` ;`, or quote the value that holds it. A `#` that follows",
    "  another character (`https://host/p#x`) is plain text.",
    "- Quotes: inside `'...'` or `\"...\"` the characters `;` and `#` are plain text, so",
    "  `dump_command = sh -c 'neo4j-admin ... ; echo done # x'` keeps everything. A",
    "  value wholly enclosed in one pair of quotes is unquoted, except for templates,",
    "  which keep their quotes for the command splitter. Quotes must balance: write a",
    "  value holding an apostrophe in double quotes (`\"/mnt/bob's disk\"`). Outside",
    "  templates, quotes enclose a whole value or list item or are left out:",
    "  `path = \"/x\" extra` is refused rather than read with its quotes.",
    "- Long values: a line may hold at most 198 characters of key and value (comments",
    "  and indentation do not count); a longer line is refused, never cut. Continue a",
    "  value on the following lines, indented by at least one space or tab; the pieces",
    "  are joined with one space. A blank or comment line ends the value.",
    "- An empty value (`stop_command =`) leaves the key unset: its default applies.",
    "- Relative paths: a file or directory of this host (type path, each `verify_key`,",
    "  `credentials` other than `env`, the `path` of a `local` remote) written without a",
    "  leading `/` is relative to the directory of the config file, never to the",
    "  current directory: `public_key = keys/archive.pub` next to",
    "  `/etc/neo4j-offsite/neo4j-offsite.conf` is `/etc/neo4j-offsite/keys/archive.pub`.",
    "  The `path` of an `sftp` remote is on the server and stays as written.",
    "- Templates are split as they will run when the file is read: an unquoted shell",
    "  operator without `sh -c`, unbalanced quotes or an expansion is refused before",
    "  anything runs.",
    "- Two remotes with the same target (`local`: the same directory; `sftp`: the same",
    "  user, host, port and path; `s3`: the same endpoint, bucket and prefix) are",
    "  refused: they would hold one copy counted as two.",
    "- Any other error (unknown section or key, a key given twice, a bad value,",
    "  a missing required key) stops the command with exit 2 and a message",
    "  `FILE:LINE: [section] key: reason`.",
    "- Control characters other than tab are refused.",
    "",
    "Value types:",
    "",
    "| type | written as |",
    "|---|---|",
    "| string | text |",
    "| path | a file or directory; relative: to the config file's directory; `~` is not "
    "expanded (refused) |",
    "| bool | `yes`/`no`, `true`/`false`, `on`/`off`, `1`/`0` |",
    "| int | a whole number |",
    "| duration | `90s`, `30m`, `6h`, `2d`, `1w`, combined as `1h30m`, or plain seconds |",
    "| size | bytes, or with a unit (any case, optional space): `B`; `K`/`KiB`, `M`/`MiB`, "
    "`G`/`GiB`, `T`/`TiB` are powers of 1024; `KB`, `MB`, `GB`, `TB` are powers of 1000 |",
    "| list | comma-separated items, trimmed; an item may be quoted; empty or repeated "
    "items are refused |",
    "| template | a command: split into words like a shell does for quotes, without "
    "expansion; `{database}` is substituted; one starting with `sh -c` runs as written |",
    "| enum | one of the listed words |",
    "",
    "\"needed by\" names the commands that need a key; a needed key with a default is",
    "always satisfied. Besides, backup, push, list, verify, fetch, restore and audit",
    "need at least one remote; prune and status need a remote or `[local] directory`;",
    "keygen needs no configuration.",
    NULL,
};

#define RESERVED_DOC "**Reserved, not implemented yet** (see \"Reserved keys\"). "

/* Reserved keys: what the reference says about them, generated from the
 * table so that the list cannot drift. */
static void write_reserved(FILE *out)
{
    fprintf(out, "\n## Reserved keys (not implemented yet)\n\n"
                 "These keys are read but their features are not built in this version. So "
                 "that none is\nsilently ignored, each is accepted only with the value below "
                 "(or left out); any other\nvalue stops the command with exit 2: `FILE:LINE: "
                 "[section] key: KEY is not implemented\nin this version`.\n\n"
                 "| section | key | accepted value | why |\n|---|---|---|---|\n");
    for (size_t i = 0; i < config_key_count; i++) {
        const config_key *k = &config_key_table[i];
        if (!k->reserved)
            continue;
        char where[64];
        if (k->section == CONFIG_SEC_REMOTE) {
            char types[32];
            type_names(types, sizeof types, k->remote_types, ", ");
            snprintf(where, sizeof where, "remote (%s)", types);
        } else {
            snprintf(where, sizeof where, "[%s]", config_section_name(k->section));
        }
        fprintf(out, "| %s | `%s` | %s%s%s | %s |\n", where, k->name, k->def ? "`" : "",
                k->def ? k->def : "empty", k->def ? "`" : "", k->reserved);
    }
}

static void md_cmds(char *buf, size_t n, unsigned mask)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < N_CMDS; i++) {
        if ((mask & cmd_names[i].bit) && used < n)
            used +=
                (size_t)snprintf(buf + used, n - used, "%s%s", used ? ", " : "", cmd_names[i].name);
    }
}

static void md_allowed(char *buf, size_t n, const config_key *k)
{
    buf[0] = '\0';
    if (k->type == CONFIG_T_INT || k->type == CONFIG_T_DURATION || k->type == CONFIG_T_SIZE) {
        fmt_range(buf, n, k);
    } else if (k->type == CONFIG_T_ENUM) {
        size_t used = 0;
        const char *p = k->values;
        while (*p && used < n) {
            size_t len = strcspn(p, "|");
            used +=
                (size_t)snprintf(buf + used, n - used, "%s`%.*s`", used ? ", " : "", (int)len, p);
            p += len + (p[len] == '|');
        }
    } else if (k->type == CONFIG_T_BOOL) {
        snprintf(buf, n, "yes, no");
    }
}

static void md_default(char *buf, size_t n, const config_key *k)
{
    if (k->def_doc)
        snprintf(buf, n, "%s", k->def_doc);
    else if (k->def && *k->def)
        snprintf(buf, n, "`%s`", k->def);
    else if (k->def)
        snprintf(buf, n, "empty");
    else
        snprintf(buf, n, "none");
}

void config_write_reference(FILE *out)
{
    for (size_t i = 0; reference_intro[i]; i++)
        fprintf(out, "%s\n", reference_intro[i]);
    write_reserved(out);
    char cmds[256], allowed[256], def[256], types[64], need[64];
    for (int kind = 0; kind < CONFIG_SEC_COUNT; kind++) {
        if (kind == CONFIG_SEC_REMOTE) {
            fprintf(out, "\n## [remote \"NAME\"]\n\n");
            fprintf(out, "One section per remote; `type` decides which keys it accepts (a key of "
                         "another type is an error).\n\n");
            fprintf(out, "| key | for types | required for | type | default | allowed | "
                         "description |\n|---|---|---|---|---|---|---|\n");
        } else {
            fprintf(out, "\n## [%s]\n\n", config_section_name(kind));
            fprintf(out, "| key | type | default | allowed | needed by | description |\n"
                         "|---|---|---|---|---|---|\n");
        }
        for (size_t i = 0; i < config_key_count; i++) {
            const config_key *k = &config_key_table[i];
            if (k->section != (config_section_kind)kind)
                continue;
            md_allowed(allowed, sizeof allowed, k);
            md_default(def, sizeof def, k);
            if (kind == CONFIG_SEC_REMOTE) {
                type_names(types, sizeof types, k->remote_types, ", ");
                type_names(need, sizeof need, k->remote_need, ", ");
                fprintf(out, "| `%s` | %s | %s | %s | %s | %s | %s%s |\n", k->name, types,
                        *need ? need : "-", type_doc[k->type], def, allowed,
                        k->reserved ? RESERVED_DOC : "", k->help);
            } else {
                md_cmds(cmds, sizeof cmds, k->need);
                fprintf(out, "| `%s` | %s | %s | %s | %s | %s%s |\n", k->name, type_doc[k->type],
                        def, allowed, *cmds ? cmds : (k->def ? "-" : "optional"),
                        k->reserved ? RESERVED_DOC : "", k->help);
            }
        }
    }
}
