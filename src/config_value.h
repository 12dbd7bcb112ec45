/* config_value: a key's value, from its text in the file to the field of
 * config.h that the key table (config_keys.h) names, and back out.  It
 * promises that a value is stored only once it is wholly valid for its key:
 * its type (docs/CONFIG.md, "Value types"), range, extra check and quoting
 * (quotes enclose a whole value or list item, or are left out; templates
 * keep theirs); a relative local path is stored resolved against the config
 * file's directory.  A refused value leaves the field as it was and says why
 * in a reason without file, line or key (the caller adds those).  It knows
 * nothing of files, lines or sections: config.c decides which key a text is
 * for and where its struct lives. */
#ifndef N4O_CONFIG_VALUE_H
#define N4O_CONFIG_VALUE_H

#include "config_keys.h"

#include <stddef.h>

/* Convert RAW (the value as written, quotes included) by the type of K and
 * store it in the struct at BASE (a config, or a config_remote for remote
 * keys); when K names a local file, a relative path is resolved against DIR,
 * unless DIR is NULL.  0, or -1 with the reason in WHY. */
int config_value_store(const config_key *k, const char *raw, char *base, const char *dir, char *why,
                       size_t whylen);

/* 1 when the field of K at BASE holds a value: a string or list that was
 * stored; numbers and bools always do (they have defaults). */
int config_value_is_set(const config_key *k, const char *base);

/* 1 when the field of K at BASE holds K's default; for a key without one,
 * when it is unset. */
int config_value_is_default(const config_key *k, const char *base);

/* Free the strings and lists of the keys of the plain sections
 * (WHICH != CONFIG_SEC_REMOTE, BASE a config) or of a remote (BASE a
 * config_remote), and clear them. */
void config_value_free_fields(config_section_kind which, char *base);

/* A copy of the LEN bytes at S, without the quotes when they are wholly
 * enclosed in one matching pair of '...' or "..." (the same quote appearing
 * nowhere inside); NULL when out of memory. */
char *config_value_unquote(const char *s, size_t len);

#endif
