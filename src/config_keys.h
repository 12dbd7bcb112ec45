/* config_keys: the one table of configuration keys (private to the config
 * modules: config.c, config_value.c, config_doc.c).  Each key is declared once, with its section,
 * type, default, range, the commands that need it, where its value lives in the structs of config.h
 * and its help text; parsing, validation, defaults, required-key checks and docs/CONFIG.md are all
 * driven by it. */
#ifndef N4O_CONFIG_KEYS_H
#define N4O_CONFIG_KEYS_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    CONFIG_T_STRING,   /* free text, unquoted when wholly quoted */
    CONFIG_T_PATH,     /* a file or directory; "~" is refused (never expanded); relative
                        * local paths are resolved (see local_path) */
    CONFIG_T_BOOL,     /* yes/no/true/false/on/off/1/0 -> int */
    CONFIG_T_INT,      /* decimal -> int, within [min, max] */
    CONFIG_T_DURATION, /* "6h", "1h30m", "90" -> long seconds, within [min, max] */
    CONFIG_T_SIZE,     /* "8MiB", "1024" -> uint64_t bytes, within [min, max] */
    CONFIG_T_LIST,     /* "a, b" -> char ** + size_t count */
    CONFIG_T_TEMPLATE, /* a command template, kept verbatim (quotes included) */
    CONFIG_T_ENUM,     /* one of the '|'-separated VALUES */
} config_type;

typedef enum {
    CONFIG_SEC_GENERAL,
    CONFIG_SEC_NEO4J,
    CONFIG_SEC_LOCAL,
    CONFIG_SEC_RETENTION,
    CONFIG_SEC_KEYS,
    CONFIG_SEC_NOTIFY,
    CONFIG_SEC_REMOTE, /* [remote "NAME"], any number of them */
    CONFIG_SEC_COUNT,
} config_section_kind;

/* Remote types, as a bitmask. */
enum { CONFIG_RT_LOCAL = 1u << 0, CONFIG_RT_SFTP = 1u << 1, CONFIG_RT_S3 = 1u << 2 };
#define CONFIG_RT_ALL (CONFIG_RT_LOCAL | CONFIG_RT_SFTP | CONFIG_RT_S3)

/* Extra check of one (unquoted) value or list item: 0 when fine, else -1 with
 * the reason written to WHY. */
typedef int (*config_check_fn)(const char *value, char *why, size_t whylen);

typedef struct {
    config_section_kind section;
    const char *name;
    config_type type;
    const char *def;       /* default, written as in a file; NULL: none */
    const char *def_doc;   /* docs text when the default is computed */
    int64_t min, max;      /* INT, DURATION (seconds), SIZE (bytes) */
    const char *values;    /* ENUM: "local|sftp|s3" */
    unsigned need;         /* CFG_CMD_* bits of the commands that need the key */
    unsigned remote_types; /* remote keys: the types that accept it */
    unsigned remote_need;  /* remote keys: the types that require it */
    size_t offset;         /* field in config (sections) or config_remote */
    size_t count_offset;   /* LIST: the size_t count field */
    config_check_fn check;
    /* The value names a file on this host: a relative one is resolved against
     * the directory of the config file (docs/CONFIG.md, "Relative paths"), so
     * that it does not depend on the current directory.  Keys outside remotes: CONFIG_RT_ALL;
     * remote keys: the types for which it is local (an sftp path is on the server). "env"
     * (credentials) is no path. */
    unsigned local_path;
    /* Not implemented in this version: the reason ("retention is not applied
     * yet").  Such a key is accepted only with its default, or unset when it
     * has none; any other value asks for a feature nothing provides, and is
     * refused rather than silently ignored. */
    const char *reserved;
    const char *help;
} config_key;

extern const config_key config_key_table[];
extern const size_t config_key_count;

/* "general", ..., "remote" */
const char *config_section_name(config_section_kind kind);
/* The key NAME of section KIND, or NULL. */
const config_key *config_key_find(config_section_kind kind, const char *name);
/* "local", "sftp", "s3" for one CONFIG_RT_* bit; "" otherwise. */
const char *config_remote_type_name(unsigned bit);
/* The names of the types in MASK, in bit order, joined by SEP ("sftp or s3"). */
void config_remote_type_names(char *buf, size_t n, unsigned mask, const char *sep);
/* The range of an INT, DURATION or SIZE key as messages and docs write it:
 * "1..64", "0..30d", "5MiB..5GiB". */
void config_key_range(char *buf, size_t n, const config_key *k);

#endif
