/* creds: see creds.h. */
#include "creds.h"

#include <ctype.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "private_file.h"

#define CRED_FILE_MAX (64 * 1024)

static char *secure_strdup(const char *s, size_t n)
{
    char *d = sodium_malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static void secure_free(char *s)
{
    if (s)
        sodium_free(s);
}

static int creds_from_env(s3_creds *c)
{
    const char *id = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
    const char *token = getenv("AWS_SESSION_TOKEN");
    if (!id || !*id || !secret || !*secret) {
        int no_id = !id || !*id, no_secret = !secret || !*secret;
        return err_set(ERR_USAGE, "credentials = env, but %s%s%s %s not set in the environment",
                       no_id ? "AWS_ACCESS_KEY_ID" : "", no_id && no_secret ? " and " : "",
                       no_secret ? "AWS_SECRET_ACCESS_KEY" : "", no_id && no_secret ? "are" : "is");
    }
    c->access_key = secure_strdup(id, strlen(id));
    c->secret_key = secure_strdup(secret, strlen(secret));
    if (token && *token)
        c->session_token = secure_strdup(token, strlen(token));
    if (!c->access_key || !c->secret_key || (token && *token && !c->session_token))
        return err_set(ERR_FAIL, "out of memory");
    return 0;
}

static char *trim(char *s, char *end)
{
    while (s < end && isspace((unsigned char)*s))
        s++;
    while (end > s && isspace((unsigned char)end[-1]))
        end--;
    *end = '\0';
    return s;
}

/* Parse the ~/.aws/credentials text in BUF (modified in place) for PROFILE. */
static int creds_parse(s3_creds *c, char *buf, const char *path, const char *profile)
{
    int in_profile = 0, seen_profile = 0;
    char *line = buf;
    while (line && *line) {
        char *nl = strchr(line, '\n');
        char *next = nl ? nl + 1 : NULL;
        char *l = trim(line, nl ? nl : line + strlen(line));
        line = next;
        if (!*l || *l == '#' || *l == ';')
            continue;
        if (*l == '[') {
            char *close = strchr(l, ']');
            if (!close)
                continue;
            char *name = trim(l + 1, close);
            if (strncmp(name, "profile ", 8) == 0)
                name = trim(name + 8, name + strlen(name));
            in_profile = strcmp(name, profile) == 0;
            seen_profile |= in_profile;
            continue;
        }
        char *eq = strchr(l, '=');
        if (!in_profile || !eq)
            continue;
        char *key = trim(l, eq), *val = trim(eq + 1, eq + 1 + strlen(eq + 1));
        char **dst = NULL;
        if (strcasecmp(key, "aws_access_key_id") == 0)
            dst = &c->access_key;
        else if (strcasecmp(key, "aws_secret_access_key") == 0)
            dst = &c->secret_key;
        else if (strcasecmp(key, "aws_session_token") == 0)
            dst = &c->session_token;
        if (!dst || !*val)
            continue;
        secure_free(*dst);
        if (!(*dst = secure_strdup(val, strlen(val))))
            return err_set(ERR_FAIL, "out of memory");
    }
    if (!seen_profile)
        return err_set(ERR_USAGE, "credentials file %s has no profile [%s]", path, profile);
    if (!c->access_key || !c->secret_key)
        return err_set(ERR_USAGE, "credentials file %s: profile [%s] has no %s", path, profile,
                       !c->access_key ? "aws_access_key_id" : "aws_secret_access_key");
    return 0;
}

static int creds_from_file(s3_creds *c, const char *path, const char *profile)
{
    size_t len;
    char *buf =
        private_file_read("credentials file", path, CRED_FILE_MAX, PRIVATE_FILE_SECRET, &len, NULL);
    if (!buf)
        return -1;
    int rc = creds_parse(c, buf, path, profile);
    private_file_free(buf, PRIVATE_FILE_SECRET);
    return rc;
}

int s3_creds_load(s3_creds *c, const char *source, const char *profile)
{
    memset(c, 0, sizeof *c);
    int rc = !source || strcmp(source, "env") == 0
                 ? creds_from_env(c)
                 : creds_from_file(c, source, profile ? profile : "default");
    if (rc < 0)
        s3_creds_free(c);
    return rc;
}

void s3_creds_free(s3_creds *c)
{
    secure_free(c->access_key);
    secure_free(c->secret_key);
    secure_free(c->session_token);
    memset(c, 0, sizeof *c);
}
