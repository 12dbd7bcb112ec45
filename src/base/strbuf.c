#include "strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

void strbuf_init(strbuf *b, size_t max)
{
    memset(b, 0, sizeof *b);
    b->max = max;
}

static int fail(strbuf *b, const char *why)
{
    if (!b->failed)
        err_set(ERR_FAIL, "%s", why);
    b->failed = 1;
    return -1;
}

/* Room for LEN more bytes and the NUL. */
static int reserve(strbuf *b, size_t len)
{
    if (b->failed)
        return -1;
    if (len > (size_t)-1 / 2 - b->len || (b->max && b->len + len > b->max))
        return fail(b, "text too long");
    size_t need = b->len + len + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s)
        return fail(b, "out of memory");
    b->s = s;
    b->cap = cap;
    return 0;
}

int strbuf_append(strbuf *b, const char *s, size_t len)
{
    if (reserve(b, len) < 0)
        return -1;
    memcpy(b->s + b->len, s, len);
    b->len += len;
    b->s[b->len] = '\0';
    return 0;
}

int strbuf_puts(strbuf *b, const char *s)
{
    return strbuf_append(b, s, strlen(s));
}

int strbuf_vprintf(strbuf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return fail(b, "cannot format text");
    if (reserve(b, (size_t)n) < 0)
        return -1;
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int strbuf_printf(strbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = strbuf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

/* Length of the valid UTF-8 sequence (2..4 bytes) at S, 0 if none. */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
    size_t n;
    unsigned min;
    unsigned cp;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        n = 2, cp = s[0] & 0x1f, min = 0x80;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        n = 3, cp = s[0] & 0x0f, min = 0x800;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        n = 4, cp = s[0] & 0x07, min = 0x10000;
    else
        return 0;
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    /* C1 controls (U+0080..U+009F) act on terminals too */
    if (cp < 0xa0)
        return 0;
    return n;
}

int strbuf_put_printable(strbuf *b, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        size_t run = i;
        while (run < len && p[run] >= 0x20 && p[run] < 0x7f)
            run++;
        if (run > i && strbuf_append(b, s + i, run - i) < 0)
            return -1;
        i = run;
        if (i == len)
            break;
        size_t n = utf8_seq(p + i, len - i);
        if (n > 0) {
            if (strbuf_append(b, s + i, n) < 0)
                return -1;
            i += n;
        } else {
            if (strbuf_printf(b, "\\x%02x", p[i]) < 0)
                return -1;
            i++;
        }
    }
    return b->failed ? -1 : 0;
}

int strbuf_failed(const strbuf *b)
{
    return b->failed;
}

const char *strbuf_str(const strbuf *b)
{
    return b->s ? b->s : "";
}

char *strbuf_take(strbuf *b)
{
    char *s = NULL;
    if (!b->failed)
        s = b->s ? b->s : strdup("");
    else
        free(b->s);
    if (!s && !b->failed)
        err_set(ERR_FAIL, "out of memory");
    size_t max = b->max;
    strbuf_init(b, max);
    return s;
}

void strbuf_free(strbuf *b)
{
    free(b->s);
    size_t max = b->max;
    strbuf_init(b, max);
}

int strbuf_has_control(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return 1;
    }
    return 0;
}

char *strbuf_printable_copy(char *out, size_t cap, const char *s)
{
    if (cap == 0)
        return out;
    strbuf b;
    strbuf_init(&b, 0);
    if (strbuf_put_printable(&b, s, strlen(s)) < 0) {
        /* out of memory: at least never pass control bytes on */
        size_t i = 0;
        for (; s[i] && i + 1 < cap; i++)
            out[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
        out[i] = '\0';
    } else {
        /* cut at a character boundary: never inside a UTF-8 sequence or
         * a \xNN escape */
        const char *t = strbuf_str(&b);
        size_t n = strlen(t);
        if (n >= cap) {
            n = cap - 1;
            while (n > 0 && ((unsigned char)t[n] & 0xc0) == 0x80)
                n--;
            for (size_t k = n > 3 ? n - 3 : 0; k < n; k++)
                if (t[k] == '\\' && t[k + 1] == 'x') {
                    n = k;
                    break;
                }
        }
        memcpy(out, t, n);
        out[n] = '\0';
    }
    strbuf_free(&b);
    return out;
}
