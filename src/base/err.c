#include "err.h"

#include <stdio.h>
#include <string.h>

static _Thread_local err_kind cur_kind;
static _Thread_local char cur_msg[ERR_MSG_MAX];

static void set_v(err_kind kind, const char *fmt, va_list ap)
{
    cur_kind = kind;
    vsnprintf(cur_msg, sizeof cur_msg, fmt, ap);
}

int err_set(err_kind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_v(kind, fmt, ap);
    va_end(ap);
    return -1;
}

int err_sys(err_kind kind, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_v(kind, fmt, ap);
    va_end(ap);
    size_t len = strlen(cur_msg);
    snprintf(cur_msg + len, sizeof cur_msg - len, ": %s", strerror(errnum));
    return -1;
}

int err_prefix(const char *fmt, ...)
{
    char prefix[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    size_t plen = strlen(prefix), mlen = strlen(cur_msg);
    if (plen > sizeof cur_msg - 1)
        plen = sizeof cur_msg - 1;
    if (plen + mlen > sizeof cur_msg - 1)
        mlen = sizeof cur_msg - 1 - plen;
    memmove(cur_msg + plen, cur_msg, mlen);
    memcpy(cur_msg, prefix, plen);
    cur_msg[plen + mlen] = '\0';
    if (cur_kind == ERR_NONE)
        cur_kind = ERR_FAIL;
    return -1;
}

int err_suffix(const char *fmt, ...)
{
    size_t mlen = strlen(cur_msg);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cur_msg + mlen, sizeof cur_msg - mlen, fmt, ap);
    va_end(ap);
    if (cur_kind == ERR_NONE)
        cur_kind = ERR_FAIL;
    return -1;
}

err_kind err_get_kind(void)
{
    return cur_kind;
}

const char *err_msg(void)
{
    return cur_msg;
}

void err_clear(void)
{
    cur_kind = ERR_NONE;
    cur_msg[0] = '\0';
}

int err_exit_code(err_kind kind)
{
    switch (kind) {
    case ERR_NONE:
        return 0;
    case ERR_FAIL:
        return 1;
    case ERR_USAGE:
        return 2;
    case ERR_PARTIAL:
        return 3;
    case ERR_INTEGRITY:
        return 4;
    case ERR_STALE:
        return 5;
    case ERR_LOCKED:
        return 6;
    }
    return 1;
}

static int rank(err_kind k)
{
    /* README, "Exit codes": the first of 2, 6, 4, 1, 3, 5, 0 wins */
    static const err_kind order[] = {ERR_USAGE,   ERR_LOCKED, ERR_INTEGRITY, ERR_FAIL,
                                     ERR_PARTIAL, ERR_STALE,  ERR_NONE};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (order[i] == k)
            return (int)i;
    return 0;
}

err_kind err_worse(err_kind a, err_kind b)
{
    return rank(a) <= rank(b) ? a : b;
}

void err_save(err_saved *s)
{
    s->kind = err_get_kind();
    snprintf(s->msg, sizeof s->msg, "%s", err_msg());
}

void err_save_failure(err_saved *s)
{
    err_save(s);
    if (s->kind == ERR_NONE)
        s->kind = ERR_FAIL;
}

int err_restore(const err_saved *s)
{
    if (s->kind == ERR_NONE) {
        err_clear();
        return -1;
    }
    return err_set(s->kind, "%s", s->msg);
}
