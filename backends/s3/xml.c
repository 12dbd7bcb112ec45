#include "xml.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "err.h"
#include "strbuf.h"

typedef enum { DOC_ANY, DOC_UPLOAD_ID, DOC_LIST, DOC_DELETE } doc_kind;

typedef struct {
    XML_Parser p;
    doc_kind kind;
    int depth; /* of the element being read; root = 1 */
    char root[64];
    char *text; /* character data of the current element */
    size_t text_len, text_cap;
    int failed; /* out of memory, a bad value or past a limit: WHY says */
    const char *why;
    size_t page_items; /* entries of this document */
    int url_encoded;   /* EncodingType is url: keys and key markers are %-encoded */
    s3xml_error err;   /* filled when ROOT is Error */
    char *upload_id;
    s3xml_list *list;
    s3xml_item cur;
    int in_item;
    s3xml_delete *del;
    s3xml_delete_error dcur; /* the <Error> entry being read (DOC_DELETE) */
} pstate;

/* "ns:Name" -> "Name"; expat is run without namespace processing. */
static const char *local_name(const char *n)
{
    const char *c = strrchr(n, ':');
    return c ? c + 1 : n;
}

/* Stop the parse: WHY goes into the error message. */
static void stop(pstate *st, const char *why)
{
    if (!st->failed) {
        st->failed = 1;
        st->why = why;
    }
    XML_StopParser(st->p, XML_FALSE);
}

static char *take_text(pstate *st)
{
    char *s = strdup(st->text ? st->text : "");
    if (!s)
        stop(st, "out of memory");
    return s;
}

static void set_str(pstate *st, char **dst)
{
    free(*dst);
    *dst = take_text(st);
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    (void)attrs;
    pstate *st = ud;
    if (st->failed)
        return; /* expat may still call back after a stop */
    const char *n = local_name(name);
    st->depth++;
    st->text_len = 0;
    if (st->text)
        st->text[0] = '\0';
    if (st->depth == 1)
        snprintf(st->root, sizeof st->root, "%s", n);
    if (st->depth > S3XML_MAX_DEPTH) {
        stop(st, "elements nested deeper than 16 levels");
        return;
    }
    if (st->kind == DOC_LIST && st->depth == 2 &&
        (strcmp(n, "Contents") == 0 || strcmp(n, "Upload") == 0)) {
        if (++st->page_items > S3XML_MAX_PAGE_ITEMS) {
            stop(st, "more than 1000 entries in one page");
            return;
        }
        memset(&st->cur, 0, sizeof st->cur);
        st->in_item = 1;
    }
    if (st->kind == DOC_DELETE && st->depth == 2 &&
        (strcmp(n, "Error") == 0 || strcmp(n, "Deleted") == 0)) {
        if (++st->page_items > S3XML_MAX_PAGE_ITEMS) {
            stop(st, "more than 1000 entries in one answer");
            return;
        }
        st->in_item = strcmp(n, "Error") == 0;
        if (!st->in_item)
            st->del->deleted++;
    }
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    pstate *st = ud;
    if (st->failed)
        return;
    if ((size_t)len > S3XML_MAX_TEXT - st->text_len) {
        stop(st, "a text value longer than 64 KiB");
        return;
    }
    if (st->text_len + (size_t)len + 1 > st->text_cap) {
        size_t cap = st->text_cap ? st->text_cap : 256;
        while (cap < st->text_len + (size_t)len + 1)
            cap *= 2;
        char *nt = realloc(st->text, cap);
        if (!nt) {
            stop(st, "out of memory");
            return;
        }
        st->text = nt;
        st->text_cap = cap;
    }
    memcpy(st->text + st->text_len, s, (size_t)len);
    st->text_len += (size_t)len;
    st->text[st->text_len] = '\0';
}

static int push_item(pstate *st)
{
    s3xml_list *l = st->list;
    if (!st->cur.key) {
        st->cur.key = strdup("");
        if (!st->cur.key)
            return -1;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        s3xml_item *ni = realloc(l->items, cap * sizeof *ni);
        if (!ni)
            return -1;
        l->items = ni;
        l->cap = cap;
    }
    l->items[l->n++] = st->cur;
    memset(&st->cur, 0, sizeof st->cur);
    return 0;
}

/* The <Error> entry just read, appended to ST->del. */
static int push_delete_error(pstate *st)
{
    s3xml_delete *d = st->del;
    s3xml_delete_error *e = &st->dcur;
    if ((!e->key && !(e->key = strdup(""))) || (!e->code && !(e->code = strdup(""))) ||
        (!e->message && !(e->message = strdup(""))))
        return -1;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        s3xml_delete_error *ne = realloc(d->errors, cap * sizeof *ne);
        if (!ne)
            return -1;
        d->errors = ne;
        d->cap = cap;
    }
    d->errors[d->n++] = *e;
    memset(e, 0, sizeof *e);
    return 0;
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    pstate *st = ud;
    if (st->failed)
        return;
    const char *n = local_name(name);
    int d = st->depth--;
    if (strcmp(st->root, "Error") == 0) {
        if (d == 2 && strcmp(n, "Code") == 0)
            set_str(st, &st->err.code);
        else if (d == 2 && strcmp(n, "Message") == 0)
            set_str(st, &st->err.message);
    } else if (st->kind == DOC_UPLOAD_ID) {
        if (d == 2 && strcmp(n, "UploadId") == 0)
            set_str(st, &st->upload_id);
    } else if (st->kind == DOC_LIST) {
        s3xml_list *l = st->list;
        if (st->in_item && d == 3) {
            if (strcmp(n, "Key") == 0) {
                set_str(st, &st->cur.key);
            } else if (strcmp(n, "UploadId") == 0) {
                set_str(st, &st->cur.upload_id);
            } else if (strcmp(n, "Size") == 0) {
                /* digits only: strtoull alone would skip blanks and take a
                 * sign (" -1" is 2^64 - 1) */
                const char *t = st->text ? st->text : "";
                int digits = *t != '\0';
                for (const char *c = t; *c && digits; c++)
                    digits = *c >= '0' && *c <= '9';
                errno = 0;
                unsigned long long v = digits ? strtoull(t, NULL, 10) : 0;
                if (!digits || errno)
                    stop(st, "a Size that is not a number");
                st->cur.size = v;
            } else if (strcmp(n, "LastModified") == 0 || strcmp(n, "Initiated") == 0) {
                st->cur.mtime = s3xml_parse_time(st->text ? st->text : "");
                if (st->cur.mtime == (time_t)-1)
                    stop(st, "a malformed date");
            }
        } else if (st->in_item && d == 2) {
            st->in_item = 0;
            if (push_item(st) < 0)
                stop(st, "out of memory");
        } else if (d == 2) {
            if (strcmp(n, "IsTruncated") == 0)
                l->truncated = st->text && strcmp(st->text, "true") == 0;
            else if (strcmp(n, "EncodingType") == 0)
                st->url_encoded = st->text && strcmp(st->text, "url") == 0;
            else if (strcmp(n, "NextContinuationToken") == 0)
                set_str(st, &l->next_token);
            else if (strcmp(n, "NextKeyMarker") == 0)
                set_str(st, &l->next_key_marker);
            else if (strcmp(n, "NextUploadIdMarker") == 0)
                set_str(st, &l->next_upload_id_marker);
        }
    } else if (st->kind == DOC_DELETE && st->in_item) {
        if (d == 3 && strcmp(n, "Key") == 0) {
            set_str(st, &st->dcur.key);
        } else if (d == 3 && strcmp(n, "Code") == 0) {
            set_str(st, &st->dcur.code);
        } else if (d == 3 && strcmp(n, "Message") == 0) {
            set_str(st, &st->dcur.message);
        } else if (d == 2) {
            st->in_item = 0;
            if (push_delete_error(st) < 0)
                stop(st, "out of memory");
        }
    }
    st->text_len = 0;
    if (st->text)
        st->text[0] = '\0';
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    (void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
    stop(ud, "a DOCTYPE declaration (S3 answers have none)");
}

/* Parse BODY into ST; -1 with err set when it is not well-formed. */
static int run_parser(pstate *st, const char *body, size_t len)
{
    st->p = XML_ParserCreate("UTF-8");
    if (!st->p)
        return err_set(ERR_FAIL, "out of memory");
    XML_SetUserData(st->p, st);
    XML_SetElementHandler(st->p, on_start, on_end);
    XML_SetCharacterDataHandler(st->p, on_text);
    XML_SetStartDoctypeDeclHandler(st->p, on_doctype);
    int rc = 0;
    if (len > (size_t)INT32_MAX) {
        rc = err_set(ERR_FAIL, "S3 response too large (%zu bytes)", len);
    } else if (XML_Parse(st->p, body ? body : "", (int)len, XML_TRUE) != XML_STATUS_OK ||
               st->failed) {
        if (st->failed)
            rc = err_set(ERR_FAIL, "malformed S3 response: %s", st->why);
        else
            rc = err_set(ERR_FAIL, "malformed S3 response: %s at line %lu",
                         XML_ErrorString(XML_GetErrorCode(st->p)),
                         (unsigned long)XML_GetCurrentLineNumber(st->p));
    }
    XML_ParserFree(st->p);
    free(st->text);
    free(st->cur.key);
    free(st->cur.upload_id);
    free(st->dcur.key);
    free(st->dcur.code);
    free(st->dcur.message);
    st->text = NULL;
    return rc;
}

static int fill_error(pstate *st, s3xml_error *out)
{
    if (!st->err.code)
        st->err.code = strdup("");
    if (!st->err.message)
        st->err.message = strdup("");
    if (!st->err.code || !st->err.message) {
        s3xml_error_free(&st->err);
        return err_set(ERR_FAIL, "out of memory");
    }
    if (out)
        *out = st->err;
    else
        s3xml_error_free(&st->err);
    return 0;
}

int s3xml_parse_error(const char *body, size_t len, s3xml_error *out)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (len == 0)
        return 0;
    pstate st = {.kind = DOC_ANY};
    if (run_parser(&st, body, len) < 0) {
        s3xml_error_free(&st.err);
        return -1;
    }
    if (strcmp(st.root, "Error") != 0)
        return 0;
    return fill_error(&st, out) < 0 ? -1 : 1;
}

void s3xml_error_free(s3xml_error *e)
{
    if (!e)
        return;
    free(e->code);
    free(e->message);
    e->code = e->message = NULL;
}

char *s3xml_parse_upload_id(const char *body, size_t len)
{
    pstate st = {.kind = DOC_UPLOAD_ID};
    if (run_parser(&st, body, len) < 0)
        goto fail;
    if (strcmp(st.root, "InitiateMultipartUploadResult") != 0 || !st.upload_id || !*st.upload_id) {
        char root[sizeof st.root * 4];
        strbuf_printable_copy(root, sizeof root, st.root[0] ? st.root : "nothing");
        err_set(ERR_FAIL, "S3 answered %s without an UploadId", root);
        goto fail;
    }
    /* it goes into URLs and messages: refuse what no server sends */
    size_t il = strlen(st.upload_id);
    int bad = il > S3XML_MAX_ID;
    for (size_t i = 0; i < il && !bad; i++)
        bad = (unsigned char)st.upload_id[i] <= 0x20 || (unsigned char)st.upload_id[i] >= 0x7f;
    if (bad) {
        char shown[80];
        strbuf_printable_copy(shown, sizeof shown, st.upload_id);
        err_set(ERR_FAIL,
                "S3 answered an UploadId that is not printable ASCII of at most %d bytes "
                "(%zu bytes: %s...)",
                S3XML_MAX_ID, il, shown);
        goto fail;
    }
    s3xml_error_free(&st.err);
    return st.upload_id;
fail:
    s3xml_error_free(&st.err);
    free(st.upload_id);
    return NULL;
}

/* Decode S ("%XX", '+' for a space, as S3's encoding-type=url writes it)
 * in place; -1, S unchanged, when it is malformed or would hold a NUL. */
static int url_decode(char *s)
{
    for (const char *p = s; *p; p++)
        if (*p == '%' && (!isxdigit((unsigned char)p[1]) || !isxdigit((unsigned char)p[2]) ||
                          (p[1] == '0' && p[2] == '0')))
            return -1;
    char *o = s;
    for (const char *p = s; *p; p++) {
        if (*p == '+') {
            *o++ = ' ';
        } else if (*p == '%') {
            char hex[3] = {p[1], p[2], '\0'};
            *o++ = (char)strtoul(hex, NULL, 16);
            p += 2;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return 0;
}

int s3xml_parse_list(const char *body, size_t len, s3xml_list *out)
{
    pstate st = {.kind = DOC_LIST, .list = out};
    size_t first = out->n;
    out->truncated = 0;
    free(out->next_token);
    free(out->next_key_marker);
    free(out->next_upload_id_marker);
    out->next_token = out->next_key_marker = out->next_upload_id_marker = NULL;
    int rc = run_parser(&st, body, len);
    s3xml_error_free(&st.err);
    if (rc < 0)
        return -1;
    if (strcmp(st.root, "ListBucketResult") != 0 &&
        strcmp(st.root, "ListMultipartUploadsResult") != 0) {
        char root[sizeof st.root * 4];
        strbuf_printable_copy(root, sizeof root, st.root[0] ? st.root : "nothing");
        return err_set(ERR_FAIL, "S3 answered %s to a listing", root);
    }
    if (st.url_encoded) {
        /* the continuation token is opaque, never encoded */
        for (size_t i = first; i < out->n; i++)
            if (url_decode(out->items[i].key) < 0)
                out->items[i].bad_key = 1;
        if (out->next_key_marker && url_decode(out->next_key_marker) < 0)
            return err_set(ERR_FAIL, "S3 answered a malformed url-encoded NextKeyMarker");
    }
    return 0;
}

void s3xml_list_free(s3xml_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].key);
        free(l->items[i].upload_id);
    }
    free(l->items);
    free(l->next_token);
    free(l->next_key_marker);
    free(l->next_upload_id_marker);
    memset(l, 0, sizeof *l);
}

int s3xml_parse_complete(const char *body, size_t len, s3xml_error *err)
{
    if (err)
        memset(err, 0, sizeof *err);
    pstate st = {.kind = DOC_ANY};
    if (run_parser(&st, body, len) < 0) {
        s3xml_error_free(&st.err);
        return -1;
    }
    if (strcmp(st.root, "CompleteMultipartUploadResult") == 0) {
        s3xml_error_free(&st.err);
        return 0;
    }
    if (strcmp(st.root, "Error") == 0) {
        s3xml_error e;
        if (fill_error(&st, &e) < 0)
            return -1;
        char code[64], msg[400];
        strbuf_printable_copy(code, sizeof code, e.code);
        strbuf_printable_copy(msg, sizeof msg, e.message);
        err_set(ERR_FAIL, "completing the upload failed: %s: %s", code, msg);
        if (err)
            *err = e;
        else
            s3xml_error_free(&e);
        return -1;
    }
    s3xml_error_free(&st.err);
    char root[sizeof st.root * 4];
    strbuf_printable_copy(root, sizeof root, st.root[0] ? st.root : "an empty body");
    return err_set(ERR_FAIL, "S3 answered %s to CompleteMultipartUpload", root);
}

int s3xml_parse_delete(const char *body, size_t len, s3xml_delete *out)
{
    pstate st = {.kind = DOC_DELETE, .del = out};
    int rc = run_parser(&st, body, len);
    if (rc == 0 && strcmp(st.root, "Error") == 0) {
        s3xml_error e;
        if ((rc = fill_error(&st, &e)) == 0) {
            char code[64], msg[400];
            strbuf_printable_copy(code, sizeof code, e.code);
            strbuf_printable_copy(msg, sizeof msg, e.message);
            rc = err_set(ERR_FAIL, "S3 answered an error: %s: %s", code, msg);
            s3xml_error_free(&e);
        }
        memset(&st.err, 0, sizeof st.err); /* fill_error handed it over, or freed it */
    } else if (rc == 0 && strcmp(st.root, "DeleteResult") != 0) {
        char root[sizeof st.root * 4];
        strbuf_printable_copy(root, sizeof root, st.root[0] ? st.root : "nothing");
        rc = err_set(ERR_FAIL, "S3 answered %s to DeleteObjects", root);
    }
    s3xml_error_free(&st.err);
    if (rc < 0)
        s3xml_delete_free(out);
    return rc;
}

void s3xml_delete_free(s3xml_delete *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++) {
        free(d->errors[i].key);
        free(d->errors[i].code);
        free(d->errors[i].message);
    }
    free(d->errors);
    memset(d, 0, sizeof *d);
}

time_t s3xml_parse_time(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end)
        return (time_t)-1;
    if (*end == '.') /* fraction of a second */
        for (end++; *end >= '0' && *end <= '9'; end++)
            ;
    if (strcmp(end, "Z") != 0 && strcmp(end, "+00:00") != 0)
        return (time_t)-1;
    return timegm(&tm);
}
