/* neo4j_version: the Neo4j version from version_command's output, and the
 * order of versions (neo4j_version.h). */
#include "neo4j_version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "neo4j.h"
#include "signals.h"
#include "strbuf.h"

#define VERSION_GROUPS_MAX 4
#define GROUP_DIGITS_MAX   9
#define OUTPUT_MAX         (64 * 1024) /* stdout kept from version_command */
#define DRAIN_MS           1000        /* for a command that prints more */
#define SHOWN_MAX          100         /* bytes of its first line in a message */
#define WHAT               "version_command"

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_letter(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* The length of the version starting at S (S[0] is a digit not preceded by
 * a letter, digit or '.'), 0 when none starts there. */
static size_t version_at(const char *s)
{
    size_t n = 0;
    int groups = 0;
    for (;;) {
        size_t digits = 0;
        while (is_digit(s[n + digits]))
            digits++;
        if (digits == 0 || digits > GROUP_DIGITS_MAX)
            return 0;
        n += digits;
        groups++;
        if (s[n] != '.' || !is_digit(s[n + 1]))
            break;
        if (groups == VERSION_GROUPS_MAX)
            return 0; /* a 5th group: not a version */
        n++;
    }
    return groups >= 2 && n < NEO4J_VERSION_MAX ? n : 0;
}

int neo4j_version_parse(const char *text, char out[NEO4J_VERSION_MAX])
{
    if (!text)
        return -1;
    for (size_t i = 0; text[i]; i++) {
        if (!is_digit(text[i]))
            continue;
        if (i > 0 && (is_letter(text[i - 1]) || is_digit(text[i - 1]) || text[i - 1] == '.'))
            continue;
        size_t n = version_at(text + i);
        if (n > 0) {
            memcpy(out, text + i, n);
            out[n] = '\0';
            return 0;
        }
    }
    return -1;
}

/* The next group of *S as a number (0 once the groups are used up). */
static unsigned long long next_group(const char **s)
{
    unsigned long long v = 0;
    while (is_digit(**s)) {
        if (v < 1000000000ull) /* at most 9 digits in a parsed version */
            v = v * 10 + (unsigned long long)(**s - '0');
        (*s)++;
    }
    if (**s == '.')
        (*s)++;
    return v;
}

int neo4j_version_compare(const char *a, const char *b)
{
    for (int i = 0; i < VERSION_GROUPS_MAX; i++) {
        unsigned long long x = next_group(&a), y = next_group(&b);
        if (x != y)
            return x < y ? -1 : 1;
    }
    return 0;
}

/* "version_command printed no version number: 'LINE'", LINE being the first
 * line of OUTPUT with anything but blanks. */
static int no_version(const char *output)
{
    const char *line = output + strspn(output, " \t\r\n");
    if (!*line)
        return err_set(ERR_FAIL,
                       "%s printed nothing on stdout (expected a version number, as "
                       "neo4j-admin --version prints)",
                       WHAT);
    size_t len = strcspn(line, "\r\n");
    int cut = len > SHOWN_MAX;
    char raw[SHOWN_MAX + 1], shown[4 * SHOWN_MAX + 1];
    memcpy(raw, line, cut ? SHOWN_MAX : len);
    raw[cut ? SHOWN_MAX : len] = '\0';
    strbuf_printable_copy(shown, sizeof shown, raw);
    return err_set(ERR_FAIL, "%s printed no version number: '%s%s'", WHAT, shown, cut ? "..." : "");
}

int neo4j_version_query(const char *template_, long timeout_s, char out[NEO4J_VERSION_MAX])
{
    /* a version is a second's work (a minute's with an image to pull): a
     * hung command must not hold the run for command_timeout's hours */
    if (timeout_s <= 0 || timeout_s > NEO4J_VERSION_TIMEOUT_S)
        timeout_s = NEO4J_VERSION_TIMEOUT_S;
    neo4j_child *c = neo4j_spawn(WHAT, template_, NULL, CHILD_READ_STDOUT, timeout_s);
    if (!c)
        return -1;
    char *buf = malloc(OUTPUT_MAX + 1);
    if (!buf) {
        neo4j_kill(c);
        return err_set(ERR_FAIL, "out of memory");
    }
    size_t n = 0;
    ssize_t r = 1;
    while (n < OUTPUT_MAX && (r = neo4j_read(c, buf + n, OUTPUT_MAX - n)) > 0)
        n += (size_t)r;
    int rc;
    if (r > 0) {
        /* more than a version command prints: the rest is dropped */
        int failed_exit = 0;
        rc = neo4j_finish_soon(c, DRAIN_MS, &failed_exit);
        if (rc < 0 && !failed_exit && !signals_pending())
            err_set(ERR_FAIL, "%s printed more than %d KiB and did not end", WHAT,
                    OUTPUT_MAX / 1024);
    } else {
        rc = neo4j_finish(c); /* after a failed read: kills it, keeps the read's error */
    }
    if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            if (buf[i] == '\0')
                buf[i] = ' ';
        buf[n] = '\0';
        if (neo4j_version_parse(buf, out) < 0)
            rc = no_version(buf);
    }
    free(buf);
    return rc;
}
