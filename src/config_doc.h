/* config_doc: the configuration reference, docs/CONFIG.md.  It promises
 * Markdown generated from the key table of config_keys.c alone (sections,
 * keys, types, defaults, ranges, the commands that need each key, reserved
 * keys), preceded by a fixed text on the syntax that config_ini.c reads and
 * config_value.c converts: the same table that checks a file documents it.
 * The output is stable byte for byte: tests/tools/config_reference prints
 * it, and tests/tools/test_config_doc.sh fails when docs/CONFIG.md differs. */
#ifndef N4O_CONFIG_DOC_H
#define N4O_CONFIG_DOC_H

#include <stdio.h>

/* Write the reference to OUT. */
void config_write_reference(FILE *out);

#endif
