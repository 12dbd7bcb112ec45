/* strbuf: a growable NUL-terminated string, for text whose length comes
 * from outside (server replies, names, request bodies).  Appends never
 * write past the buffer; after the first failure (out of memory, or past
 * the limit given to strbuf_init) every append is a no-op and
 * strbuf_failed() says so, so callers may check once at the end. */
#ifndef N4O_STRBUF_H
#define N4O_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct {
    char *s;    /* NUL-terminated, or NULL while empty */
    size_t len; /* bytes before the NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* most bytes the string may hold (0: no limit) */
    int failed;
} strbuf;

/* Start an empty string of at most MAX bytes (0: no limit). */
void strbuf_init(strbuf *b, size_t max);
int strbuf_append(strbuf *b, const char *s, size_t len);
int strbuf_puts(strbuf *b, const char *s);
int strbuf_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int strbuf_vprintf(strbuf *b, const char *fmt, va_list ap);
/* Append S with every byte that is not printable ASCII or part of valid
 * UTF-8 written as \xNN (control characters, ESC, DEL, broken UTF-8), so
 * that text from a server or a file name can go to a terminal. */
int strbuf_put_printable(strbuf *b, const char *s, size_t len);
/* 1 when an append failed (ERR_FAIL is set at that moment). */
int strbuf_failed(const strbuf *b);
/* The string ("" when empty); stays owned by B. */
const char *strbuf_str(const strbuf *b);
/* Hand the malloc'd string to the caller (NULL after a failure) and reset B. */
char *strbuf_take(strbuf *b);
void strbuf_free(strbuf *b);

/* 1 when S (LEN bytes) holds a control character (0x00-0x1F, 0x7F). */
int strbuf_has_control(const char *s, size_t len);
/* Copy S into OUT (CAP bytes, always NUL-terminated, cut if needed) with
 * unprintable bytes escaped as by strbuf_put_printable; returns OUT, which
 * is valid UTF-8 (fit for JSON) whatever S held. */
char *strbuf_printable_copy(char *out, size_t cap, const char *s);

#endif
