/* config_value: the values of configuration keys (see config_value.h). */
#include "config_value.h"

#include "config.h"
#include "strbuf.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

static int wholly_quoted(const char *s, size_t len)
{
    return len >= 2 && (s[0] == '"' || s[0] == '\'') && s[len - 1] == s[0] &&
           !memchr(s + 1, s[0], len - 2);
}

char *config_value_unquote(const char *s, size_t len)
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

/* V resolved against DIR (absolute, the config file's directory): a
 * relative path in the file is relative to that directory (docs/CONFIG.md,
 * "Relative paths"), so the result does not depend on where cron or systemd
 * start the tool.  NULL with
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
    char *whole = config_value_unquote(v, strlen(v));
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
        char *item = config_value_unquote(start, (size_t)(end - start));
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

/* V as an INT, DURATION or SIZE value of K, within its range, into FIELD. */
static int store_number(const config_key *k, const char *v, void *field, char *why, size_t whylen)
{
    static const char *const expected[] = {
        [CONFIG_T_INT] = "a whole number",
        [CONFIG_T_DURATION] = "a duration like 90s, 30m, 6h, 2d, 1h30m or seconds",
        [CONFIG_T_SIZE] = "a size like 8MiB, 512KiB, 1GiB or bytes",
    };
    char range[80];
    config_key_range(range, sizeof range, k);
    long long n = 0;
    long secs = 0;
    uint64_t bytes = 0;
    int ok, in_range;
    if (k->type == CONFIG_T_INT) {
        char *end;
        errno = 0;
        n = strtoll(v, &end, 10);
        ok = *v && !*end && !errno && !isspace((unsigned char)*v);
        in_range = n >= k->min && n <= k->max;
    } else if (k->type == CONFIG_T_DURATION) {
        ok = config_parse_duration(v, &secs) == 0;
        in_range = secs >= k->min && secs <= k->max;
    } else {
        ok = config_parse_size(v, &bytes) == 0;
        in_range = bytes >= (uint64_t)k->min && bytes <= (uint64_t)k->max;
    }
    if (!ok) {
        snprintf(why, whylen, "bad value \"%s\": expected %s (allowed %s)", v, expected[k->type],
                 range);
        return -1;
    }
    if (!in_range) {
        snprintf(why, whylen, "%s is out of range (allowed %s)", v, range);
        return -1;
    }
    if (k->type == CONFIG_T_INT)
        *(int *)field = (int)n;
    else if (k->type == CONFIG_T_DURATION)
        *(long *)field = secs;
    else
        *(uint64_t *)field = bytes;
    return 0;
}

int config_value_store(const config_key *k, const char *raw, char *base, const char *dir, char *why,
                       size_t whylen)
{
    void *field = base + k->offset;
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
    char *v = config_value_unquote(raw, strlen(raw));
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
    case CONFIG_T_INT:
    case CONFIG_T_DURATION:
    case CONFIG_T_SIZE:
        if (store_number(k, v, field, why, whylen) < 0)
            goto fail;
        break;
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

int config_value_is_set(const config_key *k, const char *base)
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

int config_value_is_default(const config_key *k, const char *base)
{
    const void *field = base + k->offset;
    if (!k->def)
        return !config_value_is_set(k, base);
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

void config_value_free_fields(config_section_kind which, char *base)
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
