/* config_ini: the config file's INI syntax, read line by line (see
 * config_ini.h for what it promises).
 *
 * A line is one of: blank or comment, a continuation of the value above, a
 * section header, a key line.  Which one it is depends on the line before it
 * (a continuation follows a key or continuation line directly), so the reader
 * keeps that state: whether a value is open, the quote open at its end, and
 * the key, its line and its section's title for the messages about it. */
#include "config_ini.h"

#include "err.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* The reason given for " #" outside quotes (see scan_value). */
#define HASH_COMMENT                                                                               \
    "'#' after white space, outside quotes: a comment after a value starts with ' ;' "             \
    "(value   ; comment); a '#' that belongs to the value needs quotes around the value "          \
    "(\"...\" or '...')"

typedef struct {
    const char *path;
    const config_ini_handler *h;
    void *user;
    FILE *f;
    char *buf;
    size_t cap;
    int lineno;
    const char *title; /* of the section last accepted, NULL before the first */
    int in_value;      /* the last line was a key or continuation line */
    char quote;        /* quote open at the end of the last value line */
    char key[72];      /* the last key accepted, and its line */
    int key_line;
} reader;

int config_ini_verr(const char *path, int line, const char *title, const char *key, const char *fmt,
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

int config_ini_err(const char *path, int line, const char *title, const char *key, const char *fmt,
                   ...)
{
    va_list ap;
    va_start(ap, fmt);
    config_ini_verr(path, line, title, key, fmt, ap);
    va_end(ap);
    return -1;
}

/* Cut an inline comment (';' after white space, outside quotes) and trim;
 * *QUOTE carries an open quote from and to the neighbouring continuation
 * lines.  V is scanned from its first byte with "no white space before".
 *
 * '#' after white space outside quotes returns NULL: many INI dialects read
 * it as a comment and others do not, so `path = /x  # old` is ambiguous.
 * Cutting there could drop part of a value, keeping it could take a comment
 * for a value; docs/CONFIG.md promises neither is done silently, so it is
 * refused. */
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

/* "[NAME]" at START: the brackets and what follows them are syntax, NAME
 * is the caller's. */
static int section_line(reader *r, char *start, int line)
{
    char *close = strchr(start + 1, ']');
    if (!close)
        return config_ini_err(r->path, line, NULL, NULL, "section header without ']'");
    const char *rest = close + 1;
    while (isspace((unsigned char)*rest))
        rest++;
    if (*rest && *rest != ';' && *rest != '#')
        return config_ini_err(r->path, line, NULL, NULL, "unexpected text after ']': \"%s\"", rest);
    *close = '\0';
    char *name = start + 1;
    while (isspace((unsigned char)*name))
        name++;
    for (char *e = close; e > name && isspace((unsigned char)e[-1]);)
        *--e = '\0';
    const char *title = r->h->section(r->user, name, line);
    if (!title)
        return -1;
    r->title = title;
    return 0;
}

/* An indented line directly below a value: its next piece. */
static int continuation_line(reader *r, char *start, int line)
{
    char *v = scan_value(start, &r->quote);
    if (!v)
        return config_ini_err(r->path, line, r->title, r->key, HASH_COMMENT);
    size_t vlen = strlen(v);
    if (vlen > CONFIG_INI_LINE_MAX - 1)
        return config_ini_err(r->path, line, r->title, r->key,
                              "line too long: this continuation line holds %zu characters, at "
                              "most %d fit; split it over more indented lines",
                              vlen, CONFIG_INI_LINE_MAX - 1);
    return r->h->more(r->user, v, line, r->quote);
}

/* "KEY = VALUE" (or "KEY : VALUE") at START. */
static int key_line(reader *r, char *start, int line)
{
    /* The separator: the first '=' or ':', unless an inline comment (';'
     * after white space) comes first. */
    char *p = start;
    int was_space = 0;
    while (*p && *p != '=' && *p != ':' && !(was_space && *p == ';')) {
        was_space = isspace((unsigned char)*p);
        p++;
    }
    if (*p != '=' && *p != ':')
        return config_ini_err(r->path, line, r->title, NULL,
                              "expected \"key = value\", a [section] or a comment");
    char *kend = p;
    while (kend > start && isspace((unsigned char)kend[-1]))
        kend--;
    char key[sizeof r->key];
    snprintf(key, sizeof key, "%.*s", (int)(kend - start), start);
    if (kend == start)
        return config_ini_err(r->path, line, r->title, NULL, "missing key name before '%c'", *p);
    if (!r->title)
        return config_ini_err(r->path, line, NULL, key,
                              "key outside of any section (start with [general], [neo4j], ...)");
    char *v = scan_value(p + 1, &r->quote);
    if (!v)
        return config_ini_err(r->path, line, r->title, key, HASH_COMMENT);
    size_t klen = (size_t)(kend - start), len = klen + 1 + strlen(v);
    if (len > CONFIG_INI_LINE_MAX)
        return config_ini_err(r->path, line, r->title, key,
                              "line too long: key and value take %zu characters, at most %d "
                              "fit; continue the value on indented lines below the key (joined "
                              "with one space)",
                              len, CONFIG_INI_LINE_MAX);
    *kend = '\0';
    r->in_value = 1;
    memcpy(r->key, key, sizeof key);
    r->key_line = line;
    return r->h->key(r->user, start, v, line, r->quote);
}

/* The next line: 1, 0 at the end of the file, -1 on an error. */
static int read_line(reader *r)
{
    errno = 0;
    ssize_t got = getline(&r->buf, &r->cap, r->f);
    if (got < 0) {
        if (ferror(r->f))
            return err_sys(ERR_USAGE, errno, "cannot read config file %s", r->path);
        return 0;
    }
    int line = ++r->lineno;
    char *s = r->buf;
    size_t len = (size_t)got;
    if (len && s[len - 1] == '\n')
        s[--len] = '\0';
    if (len && s[len - 1] == '\r')
        s[--len] = '\0';
    if (line == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
        s += 3;
        len -= 3;
    }
    if (strlen(s) != len)
        return config_ini_err(r->path, line, NULL, NULL, "NUL byte in the line");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return config_ini_err(r->path, line, NULL, NULL,
                                  "control character 0x%02x at column %zu", c, i + 1);
    }
    char *start = s;
    while (*start == ' ' || *start == '\t')
        start++;
    int comment = !*start || *start == ';' || *start == '#';
    if (r->in_value && r->quote && (comment || start == s)) {
        /* The value ends here with a quote still open: say so now, rather
         * than stumble over its rest as a broken line. */
        return config_ini_err(r->path, r->key_line, r->title, r->key, CONFIG_INI_UNBALANCED,
                              r->quote);
    }
    if (comment) {
        /* Blank or comment line: ends a multi-line value. */
        r->in_value = 0;
        return 1;
    }
    if (start > s && r->in_value)
        return continuation_line(r, start, line) < 0 ? -1 : 1;
    r->in_value = 0;
    r->quote = 0;
    if (*start == '[')
        return section_line(r, start, line) < 0 ? -1 : 1;
    return key_line(r, start, line) < 0 ? -1 : 1;
}

int config_ini_read(const char *path, const config_ini_handler *h, void *user)
{
    reader r = {.path = path, .h = h, .user = user};
    r.f = fopen(path, "r");
    if (!r.f)
        return err_sys(ERR_USAGE, errno, "cannot open config file %s", path);
    int rc;
    while ((rc = read_line(&r)) > 0)
        ;
    fclose(r.f);
    free(r.buf);
    return rc;
}
