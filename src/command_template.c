#include "command_template.h"

#include "err.h"
#include "strbuf.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define DB_NAME_WORD       "database"
#define KNOWN_PLACEHOLDERS COMMAND_TEMPLATE_DATABASE
#define PH_NAME_MAX        32 /* longer {names} are never taken for {database} */

/* ---------------------------------------------------------------- split */

typedef struct {
    char **v;
    size_t n, cap;
} wordlist;

/* Takes ownership of S (also on failure). */
static int words_push(wordlist *w, char *s)
{
    if (w->n + 2 > w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 8;
        char **v = realloc(w->v, cap * sizeof *v);
        if (!v) {
            free(s);
            return err_set(ERR_FAIL, "out of memory");
        }
        w->v = v;
        w->cap = cap;
    }
    w->v[w->n++] = s;
    w->v[w->n] = NULL;
    return 0;
}

void command_template_free(char **argv)
{
    if (!argv)
        return;
    for (char **p = argv; *p; p++)
        free(*p);
    free(argv);
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int command_template_is_blank(const char *s)
{
    if (!s)
        return 1;
    while (is_blank(*s))
        s++;
    return *s == '\0';
}

/* A '$' that a shell would expand: refused rather than passed on literally,
 * since the user surely meant the expansion. */
static int is_expansion(const char *p)
{
    return p[0] == '$' && p[1] &&
           (isalnum((unsigned char)p[1]) || strchr("_{(?@*#!$-", p[1]) != NULL);
}

/* An unquoted shell operator at P: named whole ("&&" says more than '&'),
 * with the two ways out. */
static int operator_error(const char *what, const char *p, size_t col)
{
    static const char *const two[] = {"||", "&&", ";;", ">>", "<<", ">&",
                                      "<&", "&>", "|&", "<>", ">|"};
    char op[3] = {p[0], '\0', '\0'};
    for (size_t i = 0; p[0] != '#' && i < sizeof two / sizeof two[0]; i++)
        if (p[0] == two[i][0] && p[1] == two[i][1])
            op[1] = p[1];
    return err_set(ERR_USAGE,
                   "%s: shell operator '%s' needs `sh -c '...'` (character %zu): templates run "
                   "without a shell%s; to pass it to the program as text, quote it: \"%s\"",
                   what, op, col, p[0] == '#' ? " and have no comments" : "", op);
}

/* Parse one word at *PP.  1 with *OUT set, 0 at the end, -1 on error. */
static int next_word(const char *what, const char *tmpl, const char **pp, char **out)
{
    const char *p = *pp;
    strbuf b;
    int in_word = 0;

    strbuf_init(&b, 0);
    while (is_blank(*p))
        p++;
    while (*p && !is_blank(*p)) {
        size_t col = (size_t)(p - tmpl) + 1;
        if (*p == '\'') {
            const char *end = strchr(p + 1, '\'');
            if (!end) {
                err_set(ERR_USAGE, "%s: unbalanced ' quote (opened at character %zu)", what, col);
                goto fail;
            }
            strbuf_append(&b, p + 1, (size_t)(end - p - 1));
            p = end + 1;
            in_word = 1;
        } else if (*p == '"') {
            p++;
            for (;;) {
                if (!*p) {
                    err_set(ERR_USAGE, "%s: unbalanced \" quote (opened at character %zu)", what,
                            col);
                    goto fail;
                }
                if (*p == '"')
                    break;
                if (*p == '\\' && p[1] && strchr("\"\\$`\n", p[1])) {
                    if (p[1] != '\n')
                        strbuf_append(&b, p + 1, 1);
                    p += 2;
                    continue;
                }
                if (*p == '`' || is_expansion(p)) {
                    err_set(ERR_USAGE,
                            "%s: '%.2s' at character %zu would need a shell: templates do no "
                            "expansion (use '...' for a literal, or `sh -c '...'`)",
                            what, p, (size_t)(p - tmpl) + 1);
                    goto fail;
                }
                strbuf_append(&b, p, 1);
                p++;
            }
            p++;
            in_word = 1; /* "" is an empty word, not nothing */
        } else if (*p == '\\') {
            if (!p[1]) {
                err_set(ERR_USAGE, "%s: a backslash ends the template", what);
                goto fail;
            }
            if (p[1] != '\n')
                strbuf_append(&b, p + 1, 1);
            p += 2;
            in_word = 1;
        } else if (strchr("|&;<>()", *p) || (*p == '#' && !in_word)) {
            operator_error(what, p, col);
            goto fail;
        } else if (*p == '`' || is_expansion(p)) {
            err_set(ERR_USAGE,
                    "%s: '%.2s' at character %zu would need a shell: templates do no expansion "
                    "(use '...' for a literal, or `sh -c '...'`)",
                    what, p, col);
            goto fail;
        } else {
            strbuf_append(&b, p, 1);
            p++;
            in_word = 1;
        }
    }
    *pp = p;
    if (!in_word) {
        strbuf_free(&b);
        return 0;
    }
    if (strbuf_failed(&b)) {
        err_set(ERR_FAIL, "out of memory");
        goto fail;
    }
    *out = strbuf_take(&b);
    return *out ? 1 : -1;
fail:
    strbuf_free(&b);
    return -1;
}

/* ---------------------------------------------------------- placeholders */

typedef enum {
    W_PLAIN,  /* an argument: every {name} is a placeholder */
    W_SCRIPT, /* the script of `sh -c`: {...} is shell text unless {database} */
} word_kind;

static int is_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* At P (a '{'): the length of NAME in "{NAME}" (letters, digits and '_',
 * not starting with a digit), 0 when P does not start one. */
static size_t brace_name(const char *p)
{
    if (p[0] != '{' || !(isalpha((unsigned char)p[1]) || p[1] == '_'))
        return 0;
    size_t n = 1;
    while (is_name_char(p[1 + n]))
        n++;
    return p[1 + n] == '}' ? n : 0;
}

/* Optimal string alignment distance of two short lowercase strings. */
static size_t edit_distance(const char *a, size_t na, const char *b, size_t nb)
{
    size_t d[PH_NAME_MAX + 1][PH_NAME_MAX + 1];
    for (size_t i = 0; i <= na; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= nb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= na; i++)
        for (size_t j = 1; j <= nb; j++) {
            size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[na][nb];
}

/* NAME (N bytes, not "database" itself) was surely meant as {database}: any
 * case, up to two typing errors, or a usual guess at its name. */
static int meant_database(const char *name, size_t n)
{
    static const char *const guesses[] = {"db",           "dbname",  "db_name", "database_name",
                                          "databasename", "db_names"};
    char low[PH_NAME_MAX + 1];
    if (n > PH_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)name[i]);
    low[n] = '\0';
    for (size_t i = 0; i < sizeof guesses / sizeof guesses[0]; i++)
        if (!strcmp(low, guesses[i]))
            return 1;
    return edit_distance(low, n, DB_NAME_WORD, strlen(DB_NAME_WORD)) <= 2;
}

/* WORD with every {database} replaced by DATABASE (kept as written when
 * CHECK_ONLY); NULL (ERR_USAGE) for a placeholder we do not know.  The rule
 * is in command_template.h ("Placeholders"). */
static char *substitute(const char *what, const char *word, const char *database, word_kind kind,
                        int check_only)
{
    strbuf b;
    const char *p = word;
    strbuf_init(&b, 0);
    for (;;) {
        const char *brace = strchr(p, '{');
        if (!brace) {
            strbuf_puts(&b, p);
            break;
        }
        strbuf_append(&b, p, (size_t)(brace - p));
        size_t n = brace_name(brace);
        if (n == 0) { /* "{}", "{a,b}", "{ a; }", "{print $1}": not ours */
            strbuf_append(&b, "{", 1);
            p = brace + 1;
            continue;
        }
        const char *name = brace + 1;
        int is_db = n == strlen(DB_NAME_WORD) && !memcmp(name, DB_NAME_WORD, n);
        int after_dollar = kind == W_SCRIPT && brace > word && brace[-1] == '$';
        if (after_dollar && is_db) {
            err_set(ERR_USAGE,
                    "%s: ${database} in the `sh -c` script is the shell variable $database, not "
                    "the placeholder: write {database}, or \"$%s\"",
                    what, COMMAND_TEMPLATE_DATABASE_ENV);
            goto fail;
        }
        if (is_db) {
            if (check_only) {
                strbuf_puts(&b, COMMAND_TEMPLATE_DATABASE);
            } else if (!database) {
                err_set(ERR_USAGE, "%s uses {database} but no database was given", what);
                goto fail;
            } else {
                strbuf_puts(&b, database);
            }
        } else if (after_dollar || (kind == W_SCRIPT && !meant_database(name, n))) {
            strbuf_append(&b, brace, n + 2); /* ${VAR}, awk '{print}': the shell's */
        } else {
            err_set(ERR_USAGE, "%s: unknown placeholder {%.*s}%s%s; known placeholders: %s%s", what,
                    (int)n, name, kind == W_SCRIPT ? " in the `sh -c` script" : "",
                    meant_database(name, n) ? " (did you mean {database}?)" : "",
                    KNOWN_PLACEHOLDERS,
                    kind == W_SCRIPT ? ""
                                     : " (every {name} outside an `sh -c` script is taken for "
                                       "one)");
            goto fail;
        }
        p = brace + n + 2;
    }
    if (strbuf_failed(&b)) {
        err_set(ERR_FAIL, "out of memory");
        goto fail;
    }
    return strbuf_take(&b);
fail:
    strbuf_free(&b);
    return NULL;
}

static int is_shell(const char *w)
{
    return !strcmp(w, "sh") || !strcmp(w, "/bin/sh") || !strcmp(w, "bash") ||
           !strcmp(w, "/bin/bash");
}

/* Split, then substitute (or with CHECK_ONLY just check) the placeholders. */
static char **split(const char *what, const char *template_, const char *database, int check_only)
{
    wordlist w = {0};
    const char *p = template_ ? template_ : "";
    char *word = NULL;

    if (!what)
        what = "command template";
    for (;;) {
        if (w.n == 2 && is_shell(w.v[0]) && !strcmp(w.v[1], "-c")) {
            /* `sh -c` runs as written: an unquoted rest of the line is the
             * script itself, operators and all. */
            while (is_blank(*p))
                p++;
            if (!*p) {
                err_set(ERR_USAGE, "%s: `%s -c` needs a script", what, w.v[0]);
                goto fail;
            }
            if (*p != '\'' && *p != '"') {
                size_t n = strlen(p);
                while (n && is_blank(p[n - 1]))
                    n--;
                word = strndup(p, n);
                if (!word) {
                    err_set(ERR_FAIL, "out of memory");
                    goto fail;
                }
                if (words_push(&w, word) < 0)
                    goto fail;
                break;
            }
        }
        int r = next_word(what, template_ ? template_ : "", &p, &word);
        if (r < 0)
            goto fail;
        if (r == 0)
            break;
        if (words_push(&w, word) < 0)
            goto fail;
    }
    if (w.n == 0) {
        err_set(ERR_USAGE, "%s is empty", what);
        goto fail;
    }
    int shell = w.n >= 3 && is_shell(w.v[0]) && !strcmp(w.v[1], "-c");
    for (size_t i = 0; i < w.n; i++) {
        char *s =
            substitute(what, w.v[i], database, shell && i == 2 ? W_SCRIPT : W_PLAIN, check_only);
        if (!s)
            goto fail;
        free(w.v[i]);
        w.v[i] = s;
    }
    return w.v;
fail:
    command_template_free(w.v);
    return NULL;
}

char **command_template_split(const char *what, const char *template_, const char *database)
{
    return split(what, template_, database, 0);
}

char **command_template_split_unfilled(const char *what, const char *template_)
{
    return split(what, template_, NULL, 1);
}

int command_template_check(const char *what, const char *template_)
{
    if (command_template_is_blank(template_))
        return 0;
    char **argv = split(what, template_, NULL, 1);
    if (!argv)
        return -1;
    command_template_free(argv);
    return 0;
}
