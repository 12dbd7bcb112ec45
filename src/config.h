/* config: the configuration file (docs/CONFIG.md), read and validated
 * against one table of keys (name, type, default, range, help, commands that
 * need it).  The same table drives parsing, validation messages, per-command
 * required keys and docs/CONFIG.md (config_doc.h).  Every error is ERR_USAGE
 * with "file:line: key: reason".  Relative paths of local files are
 * resolved against the directory of the config file when it is loaded: every
 * path in the structs below that names a file on this host is absolute (an
 * sftp remote's path stays as written: it is on the server). */
#ifndef N4O_CONFIG_H
#define N4O_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "retention.h"
#include <stdio.h>

/* Commands, as a bitmask: the key table says which of them need a key. */
enum {
    CFG_CMD_KEYGEN = 1u << 0,
    CFG_CMD_BACKUP = 1u << 1,
    CFG_CMD_PUSH = 1u << 2,
    CFG_CMD_LIST = 1u << 3,
    CFG_CMD_VERIFY = 1u << 4,
    CFG_CMD_FETCH = 1u << 5,
    CFG_CMD_RESTORE = 1u << 6,
    CFG_CMD_PRUNE = 1u << 7,
    CFG_CMD_AUDIT = 1u << 8,
    CFG_CMD_STATUS = 1u << 9,
};

typedef struct {
    char *lock_file; /* default /run/neo4j-offsite/neo4j-offsite.lock */
    int syslog;
} config_general;

typedef struct {
    char **databases; /* "neo4j, system" -> {"neo4j", "system"} */
    size_t n_databases;
    char *dump_command; /* templates, NULL when unset */
    char *load_command;
    char *stop_command;
    char *start_command;
    char *check_command;
    char *version_command;
    long command_timeout; /* seconds, 0 = no limit */
} config_neo4j;

typedef struct {
    char *directory;
    char *name_prefix; /* default "haia_backup" */
} config_local;

typedef retention_policy config_retention; /* [retention] is the policy, as read */

typedef struct {
    char *public_key, *signing_key, *secret_key;
    char **verify_keys; /* a list is allowed (key rotation) */
    size_t n_verify_keys;
} config_keys;

typedef struct {
    char *name; /* from [remote "NAME"] */
    char *type; /* "local", "sftp" or "s3" */
    int line;   /* line of the section header, for messages */
    char *path; /* local, sftp */
    /* sftp */
    char *host;
    int port;
    char *user;
    char *identity_file, *identity_passphrase_file, *known_hosts, *host_key_fingerprint;
    long connect_timeout, io_timeout; /* seconds */
    int retries;
    int parallel_streams;
    /* s3 */
    char *endpoint, *region, *bucket, *prefix, *url_style, *credentials, *profile, *ca_file;
    uint64_t part_size;
    int parallel_parts;
    int allow_insecure_http; /* http:// to a host other than loopback allowed */
    /* reserved (not implemented in this version): always "off", 1, NULL */
    char *object_lock;
    int object_lock_extra_days;
    char *prune_credentials;
} config_remote;

typedef struct {
    char *ping_url;
    char *metrics_textfile;
} config_notify;

typedef struct config {
    char *path; /* as given */
    char *dir;  /* absolute directory of PATH: relative paths were resolved against it */
    config_general general;
    config_neo4j neo4j;
    config_local local;
    config_retention retention;
    config_keys keys;
    config_notify notify;
    config_remote *remotes; /* in file order */
    size_t n_remotes;
    /* Line of the [general] [neo4j] [local] [retention] [keys] [notify]
     * headers, in that order; 0 when the section is absent (for messages). */
    int section_line[6];
} config;

/* Parse and validate PATH; check the keys that command CMD (a CFG_CMD_* bit,
 * 0 for none) requires.  NULL with ERR_USAGE set on any error, the message
 * shaped "FILE:LINE: [section] key: reason".  Unset keys get their defaults;
 * optional keys without a default stay NULL (lists: count 0), and a remote's
 * keys for other remote types stay NULL / 0. */
config *config_load(const char *path, unsigned cmd);
void config_free(config *cfg);

/* The remote named NAME, or NULL with ERR_USAGE ("no remote NAME in FILE"). */
const config_remote *config_remote_find(const config *cfg, const char *name);

/* Require a key that only some uses of a command need (verify --deep needs
 * [keys] secret_key): 0 when set, else -1 with ERR_USAGE naming file, section,
 * key and WHY. */
int config_require(const config *cfg, const char *section, const char *key, const char *why);

/* Name of a CFG_CMD_* bit ("backup"), "" for none. */
const char *config_cmd_name(unsigned cmd);

/* Parse "6h", "30m", "90s", "2d", "1w", "1h30m", "45" (seconds) / "8MiB",
 * "8M", "5MB" (decimal), "1024" (bytes); 0 on success, -1 (no err set) on a
 * malformed or overflowing value. */
int config_parse_duration(const char *s, long *out);
int config_parse_size(const char *s, uint64_t *out);

#endif
