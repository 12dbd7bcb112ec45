/* config_keys: the table of every configuration key (see config_keys.h). */
#include "config_keys.h"

#include "err.h"
#include "neo4j.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "config.h"

#define KIB    ((int64_t)1024)
#define MIB    (KIB * 1024)
#define GIB    (MIB * 1024)
#define TIB    (GIB * 1024)
#define MINUTE 60
#define HOUR   (60 * MINUTE)
#define DAY    (24 * HOUR)

/* Commands that write archives or dumps. */
#define CMD_WRITE (CFG_CMD_BACKUP | CFG_CMD_PUSH)
#define CMD_ALL                                                                                    \
    (CFG_CMD_BACKUP | CFG_CMD_PUSH | CFG_CMD_LIST | CFG_CMD_VERIFY | CFG_CMD_FETCH |               \
     CFG_CMD_RESTORE | CFG_CMD_PRUNE | CFG_CMD_AUDIT | CFG_CMD_STATUS)

/* Letters, digits, '.', '-', '_': safe inside file and object names. */
static int check_name(const char *v, char *why, size_t n)
{
    size_t len = strlen(v);
    if (len > 64) {
        snprintf(why, n, "\"%s\" is too long (%zu characters, at most 64)", v, len);
        return -1;
    }
    for (const char *p = v; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_') {
            snprintf(why, n, "\"%s\": only letters, digits, '.', '-' and '_' are allowed", v);
            return -1;
        }
    }
    return 0;
}

/* Neo4j database names: an ASCII letter first, then letters, digits, '.' and
 * '-' (Neo4j's own rule); never '/', '_' or spaces, so a name is safe inside
 * "<prefix>_<database>_<time>.dump" and can be parsed back from it. */
/* Neo4j's rule, the one of neo4j.h */
static int check_database(const char *v, char *why, size_t n)
{
    if (neo4j_check_database(v) == 0)
        return 0;
    snprintf(why, n, "%s", err_msg());
    err_clear();
    return -1;
}

static int check_url(const char *v, char *why, size_t n)
{
    if (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0) {
        snprintf(why, n, "\"%s\" is not an http:// or https:// URL", v);
        return -1;
    }
    for (const char *p = v; *p; p++) {
        if (isspace((unsigned char)*p)) {
            snprintf(why, n, "\"%s\": a URL cannot contain spaces", v);
            return -1;
        }
    }
    return 0;
}

/* OpenSSH's "SHA256:" + unpadded base64 of 32 bytes (43 characters). */
static int check_fingerprint(const char *v, char *why, size_t n)
{
    int ok = strncmp(v, "SHA256:", 7) == 0 && strlen(v + 7) == 43;
    for (const char *p = v + 7; ok && *p; p++)
        ok = isalnum((unsigned char)*p) || *p == '+' || *p == '/';
    if (!ok) {
        snprintf(why, n,
                 "\"%s\" is not an SHA256 host key fingerprint as ssh-keygen -lf prints it "
                 "(SHA256: and 43 base64 characters)",
                 v);
        return -1;
    }
    return 0;
}

/* S3 bucket naming rules (3-63 of a-z 0-9 . -, alphanumeric at both ends). */
static int check_bucket(const char *v, char *why, size_t n)
{
    size_t len = strlen(v);
    int ok =
        len >= 3 && len <= 63 && isalnum((unsigned char)v[0]) && isalnum((unsigned char)v[len - 1]);
    for (const char *p = v; ok && *p; p++)
        ok = islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '.' || *p == '-';
    if (!ok) {
        snprintf(why, n,
                 "bad bucket name \"%s\": 3 to 63 lowercase letters, digits, '.' and '-', "
                 "starting and ending with a letter or digit",
                 v);
        return -1;
    }
    return 0;
}

static int check_prefix(const char *v, char *why, size_t n)
{
    if (v[0] == '/') {
        snprintf(why, n, "\"%s\": an object key prefix does not start with '/'", v);
        return -1;
    }
    return 0;
}

/* One path of a list (verify_key): the rule of the path type. */
static int check_path(const char *v, char *why, size_t n)
{
    if (v[0] == '~') {
        snprintf(why, n, "\"%s\": '~' is not expanded, write the full path", v);
        return -1;
    }
    return 0;
}

static int check_credentials(const char *v, char *why, size_t n)
{
    if (strcmp(v, "env") == 0)
        return 0;
    if (v[0] == '~') {
        snprintf(why, n, "\"%s\": '~' is not expanded, write the full path (or env)", v);
        return -1;
    }
    return 0;
}

/* Why the reserved keys are refused (config_key.reserved). */
#define NOTIFY_LATER "no notification is sent yet"

#define F(field) offsetof(config, field)
#define R(field) offsetof(config_remote, field)

/* clang-format off */
const config_key config_key_table[] = {
    /* [general] */
    {.section = CONFIG_SEC_GENERAL, .name = "lock_file", .type = CONFIG_T_PATH,
     .def = "/run/neo4j-offsite/neo4j-offsite.lock",
     .need = CMD_WRITE | CFG_CMD_RESTORE | CFG_CMD_PRUNE, .offset = F(general.lock_file),
     .local_path = CONFIG_RT_ALL,
     .help = "Lock file: one run at a time (its directory is created if missing)."},
    {.section = CONFIG_SEC_GENERAL, .name = "syslog", .type = CONFIG_T_BOOL, .def = "no",
     .offset = F(general.syslog), .reserved = "log messages go to stderr only",
     .help = "Also send log messages to syslog (ident neo4j-offsite)."},

    /* [neo4j] */
    {.section = CONFIG_SEC_NEO4J, .name = "database", .type = CONFIG_T_LIST, .def = "neo4j",
     .need = CMD_WRITE | CFG_CMD_VERIFY | CFG_CMD_FETCH | CFG_CMD_RESTORE | CFG_CMD_AUDIT |
             CFG_CMD_STATUS,
     .offset = F(neo4j.databases), .count_offset = F(neo4j.n_databases), .check = check_database,
     .help = "Database or comma-separated list of databases (\"neo4j, system\"); each gets its "
             "own archive, one stop/start around all. The first is the default of fetch, verify "
             "and restore; status and audit judge the freshness of each."},
    {.section = CONFIG_SEC_NEO4J, .name = "dump_command", .type = CONFIG_T_TEMPLATE,
     .def = "neo4j-admin database dump --to-stdout {database}",
     .need = CFG_CMD_BACKUP | CFG_CMD_RESTORE, .offset = F(neo4j.dump_command),
     .help = "Writes the dump of {database} to stdout (restore uses it for the safety dump)."},
    {.section = CONFIG_SEC_NEO4J, .name = "load_command", .type = CONFIG_T_TEMPLATE,
     .def = "neo4j-admin database load --from-stdin --overwrite-destination=true {database}",
     .need = CFG_CMD_RESTORE, .offset = F(neo4j.load_command),
     .help = "Loads a dump read from stdin into {database}."},
    {.section = CONFIG_SEC_NEO4J, .name = "stop_command", .type = CONFIG_T_TEMPLATE,
     .offset = F(neo4j.stop_command),
     .help = "Optional: stops Neo4j before a dump or load (Community edition needs it), e.g. "
             "docker stop haia-neo4j."},
    {.section = CONFIG_SEC_NEO4J, .name = "start_command", .type = CONFIG_T_TEMPLATE,
     .offset = F(neo4j.start_command),
     .help = "Optional: starts Neo4j after the dump or load, also when they fail or the run "
             "is interrupted."},
    {.section = CONFIG_SEC_NEO4J, .name = "check_command", .type = CONFIG_T_TEMPLATE,
     .offset = F(neo4j.check_command),
     .help = "Optional: run after a restore, its output shown."},
    {.section = CONFIG_SEC_NEO4J, .name = "version_command", .type = CONFIG_T_TEMPLATE,
     .offset = F(neo4j.version_command),
     .help = "Optional: prints the Neo4j version (e.g. neo4j-admin --version, or the same "
             "through docker run/exec); backup records it in each manifest, restore refuses a "
             "dump from a newer Neo4j."},
    {.section = CONFIG_SEC_NEO4J, .name = "command_timeout", .type = CONFIG_T_DURATION,
     .def = "6h", .min = 0, .max = 30 * DAY, .need = CFG_CMD_BACKUP | CFG_CMD_RESTORE,
     .offset = F(neo4j.command_timeout),
     .help = "A dump or load running longer is killed and the run fails; 0: no limit."},

    /* [local] */
    {.section = CONFIG_SEC_LOCAL, .name = "directory", .type = CONFIG_T_PATH,
     .need = CMD_WRITE | CFG_CMD_RESTORE, .offset = F(local.directory),
     .local_path = CONFIG_RT_ALL,
     .help = "Directory of the plain local dumps (the backups volume); restore stages its "
             "download here. prune and status need it or a remote."},
    {.section = CONFIG_SEC_LOCAL, .name = "name_prefix", .type = CONFIG_T_STRING,
     .def = "haia_backup", .need = CMD_ALL, .offset = F(local.name_prefix), .check = check_name,
     .help = "Names are `<name_prefix>_<database>_<YYYYMMDD_HHMMSS>.dump`, locally and on "
             "the remotes (letters, digits, '.', '-', '_')."},

    /* [retention] */
    {.section = CONFIG_SEC_RETENTION, .name = "keep_days", .type = CONFIG_T_INT, .def = "7",
     .min = 0, .max = 36500, .need = CMD_WRITE | CFG_CMD_PRUNE | CFG_CMD_AUDIT,
     .offset = F(retention.keep_days),
     .help = "Archives and dumps older than this many days are deleted (see min_keep)."},
    {.section = CONFIG_SEC_RETENTION, .name = "min_keep", .type = CONFIG_T_INT, .def = "3",
     .min = 1, .max = 100000, .need = CMD_WRITE | CFG_CMD_PRUNE | CFG_CMD_AUDIT,
     .offset = F(retention.min_keep),
     .help = "Never fewer complete archives or dumps than this per database."},
    {.section = CONFIG_SEC_RETENTION, .name = "keep_weekly", .type = CONFIG_T_INT, .def = "0",
     .min = 0, .max = 10000, .need = CMD_WRITE | CFG_CMD_PRUNE | CFG_CMD_AUDIT,
     .offset = F(retention.keep_weekly),
     .help = "Also keep the newest archive of each of the last N ISO weeks."},
    {.section = CONFIG_SEC_RETENTION, .name = "keep_monthly", .type = CONFIG_T_INT, .def = "0",
     .min = 0, .max = 10000, .need = CMD_WRITE | CFG_CMD_PRUNE | CFG_CMD_AUDIT,
     .offset = F(retention.keep_monthly),
     .help = "Also keep the newest archive of each of the last N months."},

    /* [keys] */
    {.section = CONFIG_SEC_KEYS, .name = "public_key", .type = CONFIG_T_PATH, .need = CMD_WRITE,
     .offset = F(keys.public_key), .local_path = CONFIG_RT_ALL,
     .help = "archive.pub: archives are encrypted to it (backup hosts)."},
    {.section = CONFIG_SEC_KEYS, .name = "signing_key", .type = CONFIG_T_PATH, .need = CMD_WRITE,
     .offset = F(keys.signing_key), .local_path = CONFIG_RT_ALL,
     .help = "signing.key (mode 0600): signs the manifests (backup hosts)."},
    {.section = CONFIG_SEC_KEYS, .name = "secret_key", .type = CONFIG_T_PATH,
     .need = CFG_CMD_FETCH | CFG_CMD_RESTORE, .offset = F(keys.secret_key),
     .local_path = CONFIG_RT_ALL,
     .help = "archive.key (mode 0600): decrypts archives (restore hosts only; also verify "
             "--deep)."},
    {.section = CONFIG_SEC_KEYS, .name = "verify_key", .type = CONFIG_T_LIST,
     .need = CFG_CMD_VERIFY | CFG_CMD_FETCH | CFG_CMD_RESTORE | CFG_CMD_AUDIT,
     .offset = F(keys.verify_keys), .count_offset = F(keys.n_verify_keys), .check = check_path,
     .local_path = CONFIG_RT_ALL,
     .help = "signing.pub, or a comma-separated list of them (key rotation): a manifest is "
             "trusted only when signed by one of these."},

    /* [notify] */
    {.section = CONFIG_SEC_NOTIFY, .name = "ping_url", .type = CONFIG_T_STRING,
     .offset = F(notify.ping_url), .check = check_url, .reserved = NOTIFY_LATER,
     .help = "Optional: GET on start (URL/start), success (URL) and failure (URL/fail), "
             "healthchecks.io style."},
    {.section = CONFIG_SEC_NOTIFY, .name = "metrics_textfile", .type = CONFIG_T_PATH,
     .offset = F(notify.metrics_textfile), .local_path = CONFIG_RT_ALL,
     .reserved = NOTIFY_LATER,
     .help = "Optional: Prometheus node_exporter textfile written after each run."},

    /* [remote "NAME"] */
    {.section = CONFIG_SEC_REMOTE, .name = "type", .type = CONFIG_T_ENUM,
     .values = "local|sftp|s3", .remote_types = CONFIG_RT_ALL, .remote_need = CONFIG_RT_ALL,
     .offset = R(type), .help = "Backend of this remote."},
    {.section = CONFIG_SEC_REMOTE, .name = "path", .type = CONFIG_T_PATH,
     .remote_types = CONFIG_RT_LOCAL | CONFIG_RT_SFTP,
     .remote_need = CONFIG_RT_LOCAL | CONFIG_RT_SFTP, .offset = R(path),
     .local_path = CONFIG_RT_LOCAL,
     .help = "Directory holding the archives (local: a mounted file system; sftp: on the "
             "server, created if missing, never resolved against the config file's "
             "directory)."},
    {.section = CONFIG_SEC_REMOTE, .name = "host", .type = CONFIG_T_STRING,
     .remote_types = CONFIG_RT_SFTP, .remote_need = CONFIG_RT_SFTP, .offset = R(host),
     .help = "SSH server name or address."},
    {.section = CONFIG_SEC_REMOTE, .name = "port", .type = CONFIG_T_INT, .def = "22", .min = 1,
     .max = 65535, .remote_types = CONFIG_RT_SFTP, .offset = R(port), .help = "SSH port."},
    {.section = CONFIG_SEC_REMOTE, .name = "user", .type = CONFIG_T_STRING,
     .remote_types = CONFIG_RT_SFTP, .remote_need = CONFIG_RT_SFTP, .offset = R(user),
     .help = "SSH user name."},
    {.section = CONFIG_SEC_REMOTE, .name = "identity_file", .type = CONFIG_T_PATH,
     .remote_types = CONFIG_RT_SFTP, .remote_need = CONFIG_RT_SFTP, .offset = R(identity_file),
     .local_path = CONFIG_RT_SFTP,
     .help = "Private key (ed25519 or ecdsa; RSA cannot work with libssh2 1.10 against "
             "OpenSSH 9), not readable by group or others."},
    {.section = CONFIG_SEC_REMOTE, .name = "identity_passphrase_file", .type = CONFIG_T_PATH,
     .remote_types = CONFIG_RT_SFTP, .offset = R(identity_passphrase_file),
     .local_path = CONFIG_RT_SFTP,
     .help = "Optional: file holding the identity's passphrase, not readable by group or "
             "others."},
    {.section = CONFIG_SEC_REMOTE, .name = "known_hosts", .type = CONFIG_T_PATH,
     .remote_types = CONFIG_RT_SFTP, .remote_need = CONFIG_RT_SFTP, .offset = R(known_hosts),
     .local_path = CONFIG_RT_SFTP,
     .help = "OpenSSH known_hosts file; unknown or changed host keys are refused."},
    {.section = CONFIG_SEC_REMOTE, .name = "host_key_fingerprint", .type = CONFIG_T_STRING,
     .remote_types = CONFIG_RT_SFTP, .offset = R(host_key_fingerprint),
     .check = check_fingerprint,
     .help = "Optional pin: the server's host key must also have this SHA256:... fingerprint."},
    {.section = CONFIG_SEC_REMOTE, .name = "connect_timeout", .type = CONFIG_T_DURATION,
     .def = "30s", .min = 1, .max = HOUR, .remote_types = CONFIG_RT_SFTP | CONFIG_RT_S3,
     .offset = R(connect_timeout),
     .help = "Limit for connecting (and the SSH handshake)."},
    {.section = CONFIG_SEC_REMOTE, .name = "io_timeout", .type = CONFIG_T_DURATION, .def = "60s",
     .min = 1, .max = DAY, .remote_types = CONFIG_RT_SFTP | CONFIG_RT_S3,
     .offset = R(io_timeout),
     .help = "A transfer that makes no progress for this long is aborted (and retried)."},
    {.section = CONFIG_SEC_REMOTE, .name = "retries", .type = CONFIG_T_INT, .def = "5", .min = 0,
     .max = 100, .remote_types = CONFIG_RT_SFTP | CONFIG_RT_S3, .offset = R(retries),
     .help = "Retries of a failed connection or request (exponential backoff), resuming "
             "where the transfer stopped."},
    {.section = CONFIG_SEC_REMOTE, .name = "parallel_streams", .type = CONFIG_T_INT, .def = "4",
     .min = 1, .max = 64, .remote_types = CONFIG_RT_SFTP, .offset = R(parallel_streams),
     .help = "Connections writing or reading disjoint ranges of one file, so long links are "
             "not capped by one SSH window."},
    {.section = CONFIG_SEC_REMOTE, .name = "endpoint", .type = CONFIG_T_STRING,
     .remote_types = CONFIG_RT_S3, .remote_need = CONFIG_RT_S3, .offset = R(endpoint),
     .check = check_url,
     .help = "S3 endpoint URL, e.g. `https://s3.eu-central-1.amazonaws.com`, or any "
             "S3-compatible server. `http://` is refused for a host other than loopback "
             "(127.0.0.0/8, ::1, localhost, *.localhost) unless allow_insecure_http = yes."},
    {.section = CONFIG_SEC_REMOTE, .name = "allow_insecure_http", .type = CONFIG_T_BOOL,
     .def = "no", .remote_types = CONFIG_RT_S3, .offset = R(allow_insecure_http),
     .help = "yes: accept an `http://` endpoint on a host other than loopback. The access key "
             "id, the session token and every request then travel in clear and can be altered "
             "on the way (the secret key itself is never sent): only for a network you "
             "trust."},
    {.section = CONFIG_SEC_REMOTE, .name = "region", .type = CONFIG_T_STRING,
     .remote_types = CONFIG_RT_S3, .remote_need = CONFIG_RT_S3, .offset = R(region),
     .help = "Region used in the SigV4 signature (S3-compatible servers: often us-east-1)."},
    {.section = CONFIG_SEC_REMOTE, .name = "bucket", .type = CONFIG_T_STRING,
     .remote_types = CONFIG_RT_S3, .remote_need = CONFIG_RT_S3, .offset = R(bucket),
     .check = check_bucket, .help = "Bucket name."},
    {.section = CONFIG_SEC_REMOTE, .name = "prefix", .type = CONFIG_T_STRING, .def = "",
     .remote_types = CONFIG_RT_S3, .offset = R(prefix), .check = check_prefix,
     .help = "Prefix of the object keys, e.g. prod/ (empty: bucket root)."},
    {.section = CONFIG_SEC_REMOTE, .name = "url_style", .type = CONFIG_T_ENUM,
     .values = "virtual|path", .def_doc = "`virtual` for `*.amazonaws.com` endpoints, else `path`",
     .remote_types = CONFIG_RT_S3, .offset = R(url_style),
     .help = "`virtual`: `https://BUCKET.host/KEY`; `path`: `https://host/BUCKET/KEY`."},
    {.section = CONFIG_SEC_REMOTE, .name = "credentials", .type = CONFIG_T_STRING, .def = "env",
     .remote_types = CONFIG_RT_S3, .offset = R(credentials), .check = check_credentials,
     .local_path = CONFIG_RT_S3,
     .help = "env: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN; or the path of "
             "a file in ~/.aws/credentials format, not readable by group or others."},
    {.section = CONFIG_SEC_REMOTE, .name = "profile", .type = CONFIG_T_STRING, .def = "default",
     .remote_types = CONFIG_RT_S3, .offset = R(profile),
     .help = "Profile of the credentials file."},
    {.section = CONFIG_SEC_REMOTE, .name = "ca_file", .type = CONFIG_T_PATH,
     .remote_types = CONFIG_RT_S3, .offset = R(ca_file), .local_path = CONFIG_RT_S3,
     .help = "Optional: CA bundle (PEM) trusted instead of the system store."},
    {.section = CONFIG_SEC_REMOTE, .name = "part_size", .type = CONFIG_T_SIZE, .def = "8MiB",
     .min = 5 * MIB, .max = 5 * GIB, .remote_types = CONFIG_RT_S3, .offset = R(part_size),
     .help = "Multipart upload part size; grows by itself when a dump would need more than "
             "10,000 parts. Memory is about part_size x (parallel_parts + 1)."},
    {.section = CONFIG_SEC_REMOTE, .name = "parallel_parts", .type = CONFIG_T_INT, .def = "4",
     .min = 1, .max = 64, .remote_types = CONFIG_RT_S3, .offset = R(parallel_parts),
     .help = "Parts uploaded at the same time."},
    {.section = CONFIG_SEC_REMOTE, .name = "object_lock", .type = CONFIG_T_ENUM,
     .values = "off|governance|compliance", .def = "off", .remote_types = CONFIG_RT_S3,
     .offset = R(object_lock), .reserved = "archives are not locked yet",
     .help = "S3 Object Lock mode: every archive and manifest locked until its time + "
             "keep_days + object_lock_extra_days."},
    {.section = CONFIG_SEC_REMOTE, .name = "object_lock_extra_days", .type = CONFIG_T_INT,
     .def = "1", .min = 0, .max = 36500, .remote_types = CONFIG_RT_S3,
     .offset = R(object_lock_extra_days), .reserved = "archives are not locked yet",
     .help = "Days added to keep_days for the lock of each archive."},
    {.section = CONFIG_SEC_REMOTE, .name = "prune_credentials", .type = CONFIG_T_STRING,
     .remote_types = CONFIG_RT_S3, .offset = R(prune_credentials),
     .reserved = "prune deletes with the remote's own credentials until Object Lock is built",
     .help = "Optional second credentials (file + profile) used only to delete and to extend "
             "locks."},
};
/* clang-format on */

const size_t config_key_count = sizeof config_key_table / sizeof config_key_table[0];

static const char *const section_names[CONFIG_SEC_COUNT] = {
    "general", "neo4j", "local", "retention", "keys", "notify", "remote",
};

const char *config_section_name(config_section_kind kind)
{
    return (unsigned)kind < CONFIG_SEC_COUNT ? section_names[kind] : "?";
}

const config_key *config_key_find(config_section_kind kind, const char *name)
{
    for (size_t i = 0; i < config_key_count; i++) {
        if (config_key_table[i].section == kind && strcmp(config_key_table[i].name, name) == 0)
            return &config_key_table[i];
    }
    return NULL;
}

const char *config_remote_type_name(unsigned bit)
{
    switch (bit) {
    case CONFIG_RT_LOCAL:
        return "local";
    case CONFIG_RT_SFTP:
        return "sftp";
    case CONFIG_RT_S3:
        return "s3";
    default:
        return "";
    }
}

void config_remote_type_names(char *buf, size_t n, unsigned mask, const char *sep)
{
    size_t used = 0;
    buf[0] = '\0';
    for (unsigned bit = 1; bit <= CONFIG_RT_S3; bit <<= 1) {
        if ((mask & bit) && used < n)
            used += (size_t)snprintf(buf + used, n - used, "%s%s", used ? sep : "",
                                     config_remote_type_name(bit));
    }
}

/* Seconds as the largest exact unit: "30s", "6h", "0". */
static void fmt_duration(char *buf, size_t n, int64_t secs)
{
    static const struct {
        const char *unit;
        int64_t secs;
    } units[] = {{"d", 86400}, {"h", 3600}, {"m", 60}};
    for (size_t i = 0; i < 3; i++) {
        if (secs != 0 && secs % units[i].secs == 0) {
            snprintf(buf, n, "%" PRId64 "%s", secs / units[i].secs, units[i].unit);
            return;
        }
    }
    snprintf(buf, n, "%" PRId64 "%s", secs, secs ? "s" : "");
}

/* Bytes as the largest exact binary unit: "8MiB", "1000". */
static void fmt_size(char *buf, size_t n, uint64_t b)
{
    static const char *const units[] = {"TiB", "GiB", "MiB", "KiB"};
    for (int i = 0; i < 4; i++) {
        uint64_t m = 1ull << (10 * (4 - i));
        if (b != 0 && b % m == 0) {
            snprintf(buf, n, "%" PRIu64 "%s", b / m, units[i]);
            return;
        }
    }
    snprintf(buf, n, "%" PRIu64, b);
}

void config_key_range(char *buf, size_t n, const config_key *k)
{
    char lo[32], hi[32];
    if (k->type == CONFIG_T_DURATION) {
        fmt_duration(lo, sizeof lo, k->min);
        fmt_duration(hi, sizeof hi, k->max);
    } else if (k->type == CONFIG_T_SIZE) {
        fmt_size(lo, sizeof lo, (uint64_t)k->min);
        fmt_size(hi, sizeof hi, (uint64_t)k->max);
    } else {
        snprintf(lo, sizeof lo, "%" PRId64, k->min);
        snprintf(hi, sizeof hi, "%" PRId64, k->max);
    }
    snprintf(buf, n, "%s..%s", lo, hi);
}
