/* creds: the credentials of an S3 remote, held in sodium_malloc() memory
 * (guarded, never in a stdio buffer), from one of:
 * - "env": AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and, when set,
 *   AWS_SESSION_TOKEN;
 * - a credentials file in the AWS format (~/.aws/credentials: "[profile]"
 *   or "[profile NAME]" sections, aws_access_key_id, aws_secret_access_key,
 *   aws_session_token), which must be private (private_file.h).
 * Errors name what is missing ("credentials file F: profile [p] has no
 * aws_secret_access_key") and never show a secret. */
#ifndef N4O_S3_CREDS_H
#define N4O_S3_CREDS_H

typedef struct {
    char *access_key, *secret_key;
    char *session_token; /* NULL when none */
} s3_creds;

/* Fill C from SOURCE ("env", NULL meaning "env", or a file's path) and
 * PROFILE (NULL: "default").  -1 with ERR_USAGE when missing or incomplete,
 * nothing held then. */
int s3_creds_load(s3_creds *c, const char *source, const char *profile);
/* Free and wipe what C holds. */
void s3_creds_free(s3_creds *c);

#endif
