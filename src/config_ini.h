/* config_ini: the reader of the config file's INI syntax (docs/CONFIG.md,
 * "Syntax").  It promises:
 *   - every physical line is read whole and counted (a line is never cut;
 *     lines end in "\n" or "\r\n"; a UTF-8 BOM opening the file is skipped);
 *   - NUL bytes and control characters other than tab are refused;
 *   - blank lines and lines starting with ';' or '#' are comments;
 *   - "[NAME]" is a section header (text after ']' only as a comment);
 *   - "KEY = VALUE" (or "KEY : VALUE") is split at the first '=' or ':';
 *     the value loses an inline comment (';' after white space, outside
 *     quotes) and surrounding white space; its quotes are left as written;
 *   - '#' after white space outside quotes is refused (INI dialects disagree
 *     whether it starts a comment);
 *   - an indented line directly below a key line (or another such line)
 *     continues that value; after a blank or comment line an indented line is
 *     an ordinary line; a value whose quote is still open when such a line
 *     ends it is refused (at the end of the file the caller, which is handed
 *     the open quote, refuses it with CONFIG_INI_UNBALANCED);
 *   - a key line holds at most CONFIG_INI_LINE_MAX characters of key, '=' and
 *     value, a continuation line at most CONFIG_INI_LINE_MAX - 1 of value
 *     (comments and indentation do not count); a longer one is refused.
 * What the sections and keys mean is the caller's (config.c): the reader
 * hands them over in file order through the callbacks below, which can stop
 * it.  Every error is ERR_USAGE, shaped by config_ini_err. */
#ifndef N4O_CONFIG_INI_H
#define N4O_CONFIG_INI_H

#include <stdarg.h>

/* The longest key line, documented in docs/CONFIG.md.  inih's 200-byte line
 * buffer once set it (key=value plus "\n\0"); it stays the rule because
 * changing it is a user-visible change. */
#define CONFIG_INI_LINE_MAX 198

/* The reason given for a value whose quotes do not balance (%c: the quote). */
#define CONFIG_INI_UNBALANCED                                                                      \
    "unbalanced %c quote: close every quote (a value continues only on indented lines directly "   \
    "below it); write a value that holds an apostrophe in double quotes (\"it's\")"

typedef struct {
    /* A "[NAME]" header on LINE (NAME trimmed, may be empty).  Returns the
     * section's title for the messages about the lines below it, kept by the
     * caller until the read ends, or NULL with the error set to stop. */
    const char *(*section)(void *user, const char *name, int line);
    /* "KEY = VALUE" on LINE, inside the section last accepted.  QUOTE is the
     * quote still open at the end of VALUE (0 when none): the value may go on
     * on the next lines.  0, or -1 with the error set to stop. */
    int (*key)(void *user, const char *key, const char *value, int line, char quote);
    /* PIECE of the last key's value, from its continuation line LINE; QUOTE
     * as above, for the value as joined so far.  0, or -1 to stop. */
    int (*more)(void *user, const char *piece, int line, char quote);
} config_ini_handler;

/* Read the file PATH, calling H with USER.  0, or -1 with ERR_USAGE set (by
 * the reader or by a callback). */
int config_ini_read(const char *path, const config_ini_handler *h, void *user);

/* Set ERR_USAGE to "PATH:LINE: [TITLE] KEY: reason" and return -1; LINE 0
 * drops ":LINE", TITLE NULL drops the section, KEY NULL drops the key.  Every
 * message about the config file goes through here, so the shape is the same
 * everywhere. */
int config_ini_err(const char *path, int line, const char *title, const char *key, const char *fmt,
                   ...) __attribute__((format(printf, 5, 6)));
int config_ini_verr(const char *path, int line, const char *title, const char *key, const char *fmt,
                    va_list ap);

#endif
