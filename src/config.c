/* config: the model of the configuration file (see config.h).
 *
 * config_ini.c reads the syntax and hands over sections and "key = value"
 * lines in file order; here a section header is checked (known section,
 * well-formed remote name, no repetition) and each key is looked up in the
 * key table of config_keys.c (known key, not given twice), then collected as
 * a (section, key, value, line) entry.  Conversion and validation run
 * afterwards in file order, once the type of every remote is known (a
 * remote's "type" may come after its other keys): values are converted and
 * local paths resolved against the config file's directory (config_value.c),
 * reserved keys and templates checked (store_entries), then the remotes are
 * checked as a whole (plain-HTTP endpoints, two remotes on one target) and
 * the keys the command needs. */
#include "config.h"

#include "command_template.h"
#include "config_ini.h"
#include "config_keys.h"
#include "config_value.h"
#include "err.h"
#include "neo4j.h"
#include "strbuf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

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
    psection *secs;
    size_t nsecs;
    pentry *ents;
    size_t nents;
} pstate;

/* ---------------------------------------------------------------- errors */

/* The error about KEY (NULL: none) of section SEC (NULL: none) at LINE, in
 * the shape of config_ini_err; returns -1. */
static int st_fail(pstate *st, int line, const psection *sec, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int st_fail(pstate *st, int line, const psection *sec, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    config_ini_verr(st->cfg->path, line, sec ? sec->title : NULL, key, fmt, ap);
    va_end(ap);
    return -1;
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

/* ------------------------------------------------------------ sections */

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

/* A new section: its title, or NULL with the error set. */
static const char *add_section(pstate *st, config_section_kind kind, const char *title, int line,
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
    return sec->title;
nomem:
    st_fail(st, line, NULL, NULL, "out of memory");
    return NULL;
}

/* The section NAME (trimmed by the reader) on LINE: a known section, not
 * repeated, or a well-formed and new remote name.  Its title, or NULL with
 * the error set. */
static const char *on_section(void *user, const char *name, int line)
{
    pstate *st = user;
    for (int kind = 0; kind < N_PLAIN_SECTIONS; kind++) {
        if (strcmp(name, config_section_name(kind)) != 0)
            continue;
        for (size_t i = 0; i < st->nsecs; i++) {
            if (st->secs[i].kind == (config_section_kind)kind) {
                st_fail(st, line, NULL, NULL, "[%s]: section repeated (first on line %d)", name,
                        st->secs[i].line);
                return NULL;
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
            return NULL;
        }
        char rname[72], title[96];
        snprintf(rname, sizeof rname, "%.*s", (int)(len - 2), p + 1);
        snprintf(title, sizeof title, "remote \"%s\"", rname);
        for (size_t i = 0; i < st->cfg->n_remotes; i++) {
            const config_remote *o = &st->cfg->remotes[i];
            if (strcmp(o->name, rname) == 0) {
                st_fail(st, line, NULL, NULL, "[%s]: duplicate remote name (first on line %d)",
                        title, o->line);
                return NULL;
            }
            /* "NAS" and "nas" would be told apart only by --remote and the
             * messages, easily confused (and one directory on a
             * case-insensitive file system) */
            if (strcasecmp(o->name, rname) == 0) {
                st_fail(st, line, NULL, NULL,
                        "[%s]: remote name differs only in case from [remote \"%s\"] at %s:%d; "
                        "remote names must differ in more than case",
                        title, o->name, st->cfg->path, o->line);
                return NULL;
            }
        }
        return add_section(st, CONFIG_SEC_REMOTE, title, line, rname);
    }
    st_fail(st, line, NULL, NULL,
            "[%s]: unknown section (known: general, neo4j, local, retention, keys, notify, "
            "remote \"NAME\")",
            name);
    return NULL;
}

/* "NAME = VALUE" on LINE in the last section: a key of the table, given once
 * in its section; collected for store_entries. */
static int on_key(void *user, const char *name, const char *value, int line, char quote)
{
    pstate *st = user;
    psection *sec = &st->secs[st->nsecs - 1];
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
            return st_fail(st, line, sec, name, "unknown key for a remote (see docs/CONFIG.md)");
        return st_fail(st, line, sec, name, "unknown key (keys of [%s]: %s)", sec->title, known);
    }
    size_t ki = (size_t)(k - config_key_table);
    if (sec->key_line[ki])
        return st_fail(st, line, sec, name, "duplicate key (first set on line %d)",
                       sec->key_line[ki]);
    char *v = strdup(value);
    pentry *grown = v ? realloc(st->ents, (st->nents + 1) * sizeof *grown) : NULL;
    if (!grown) {
        free(v);
        return st_fail(st, line, NULL, NULL, "out of memory");
    }
    st->ents = grown;
    st->ents[st->nents++] =
        (pentry){.sec = st->nsecs - 1, .key = k, .value = v, .line = line, .quote = quote};
    sec->key_line[ki] = line;
    return 0;
}

/* A continuation line of the last key's value: joined with one space. */
static int on_more(void *user, const char *piece, int line, char quote)
{
    pstate *st = user;
    pentry *e = &st->ents[st->nents - 1];
    size_t a = strlen(e->value), b = strlen(piece);
    char *joined = realloc(e->value, a + b + 2);
    if (!joined)
        return st_fail(st, line, NULL, NULL, "out of memory");
    if (a)
        joined[a++] = ' ';
    memcpy(joined + a, piece, b + 1);
    e->value = joined;
    e->quote = quote;
    return 0;
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
        char *v = config_value_unquote(te->value, strlen(te->value));
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

/* The value a reserved key may keep ("no", "off", "7"), "" when it has no
 * default (then only leaving it out or empty is accepted). */
static void off_value(char *buf, size_t n, const config_key *k)
{
    snprintf(buf, n, "%s", k->def ? k->def : "");
}

/* Check TEMPLATE as it will run (command_template_check), so that a template
 * that could never run (shell operator without sh -c, unbalanced quotes, an
 * unknown placeholder...) stops the command now, with the file and line,
 * not in the middle of a backup after Neo4j was stopped.  0, or -1 with the
 * problem (without the "KEY: " prefix of neo4j.c) in WHY. */
static int check_template(const char *key, const char *template_, char *why, size_t whylen)
{
    if (command_template_check(key, template_) == 0)
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
            st_fail(st, e->line, sec, k->name, CONFIG_INI_UNBALANCED, e->quote);
            return -1;
        }
        char *base = (char *)cfg;
        if (sec->kind == CONFIG_SEC_REMOTE) {
            if (!(k->remote_types & sec->rtype)) {
                char only[64];
                config_remote_type_names(only, sizeof only, k->remote_types, " or ");
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
        if (config_value_store(k, e->value, base, dir, why, sizeof why) < 0) {
            st_fail(st, e->line, sec, k->name, "%s", why);
            return -1;
        }
        sec->set[k - config_key_table] = 1;
        if (k->reserved && !config_value_is_default(k, base)) {
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
    if (config_value_store(k, k->def, base, NULL, why, sizeof why) < 0) {
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
 * when the section is read (on_section). */
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
            config_value_is_set(k, (const char *)cfg))
            continue;
        psection *sec = plain_section(st, k->section);
        config_ini_err(cfg->path, sec ? sec->line : 0, config_section_name(k->section), k->name,
                       "missing, required by %s", cname);
        return -1;
    }
    if ((cmd & CMD_NEED_REMOTE) && cfg->n_remotes == 0) {
        config_ini_err(cfg->path, 0, "remote \"NAME\"", NULL,
                       "missing: %s needs at least one remote section", cname);
        return -1;
    }
    if ((cmd & CMD_NEED_REMOTE_OR_LOCAL) && cfg->n_remotes == 0 && !cfg->local.directory) {
        config_ini_err(cfg->path, cfg->section_line[CONFIG_SEC_LOCAL], "local", "directory",
                       "missing, required by %s when no remote section is configured", cname);
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
    static const config_ini_handler reader = {on_section, on_key, on_more};
    if (config_ini_read(path, &reader, &st) < 0 || resolve_types(&st) < 0 ||
        store_entries(&st) < 0 || apply_defaults(&st) < 0 || check_endpoints(&st) < 0 ||
        check_targets(&st) < 0 || check_required(&st, cmd) < 0)
        goto fail;
    pstate_free(&st);
    return cfg;
fail:
    pstate_free(&st);
    config_free(cfg);
    return NULL;
}

void config_free(config *cfg)
{
    if (!cfg)
        return;
    config_value_free_fields(CONFIG_SEC_GENERAL, (char *)cfg);
    for (size_t i = 0; i < cfg->n_remotes; i++) {
        config_value_free_fields(CONFIG_SEC_REMOTE, (char *)&cfg->remotes[i]);
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
        if (config_value_is_set(k, (const char *)r))
            return 0;
        char title[96];
        snprintf(title, sizeof title, "remote \"%s\"", r->name);
        return config_ini_err(cfg->path, r->line, title, key, "missing, required by %s", why);
    }
    for (int kind = 0; kind < N_PLAIN_SECTIONS; kind++) {
        if (strcmp(section, config_section_name(kind)) != 0)
            continue;
        const config_key *k = config_key_find(kind, key);
        if (!k)
            return err_set(ERR_USAGE, "internal error: no key [%s] %s", section, key);
        if (config_value_is_set(k, (const char *)cfg))
            return 0;
        return config_ini_err(cfg->path, cfg->section_line[kind], section, key,
                              "missing, required by %s", why);
    }
    return err_set(ERR_USAGE, "internal error: no section [%s]", section);
}
