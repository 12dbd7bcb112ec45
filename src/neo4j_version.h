/* neo4j_version: which Neo4j made a dump, from the output of the
 * [neo4j] version_command (neo4j-admin --version, or the same through
 * docker run/exec).  Backup records it in each manifest; restore compares
 * it with the Neo4j it loads into, since Neo4j cannot downgrade a store.
 * It promises:
 *   - one rule for what a version is (neo4j_version_parse), used for the
 *     command's output and for a manifest's neo4j_version field alike: a
 *     parsed version is digits and dots only, so it is fit for a manifest,
 *     a log line and a message as it is;
 *   - versions compare numerically, group by group ("5.9" < "5.26",
 *     "5.26.0" < "2025.01.0", "2025.01" == "2025.1.0"). */
#ifndef N4O_NEO4J_VERSION_H
#define N4O_NEO4J_VERSION_H

#define NEO4J_VERSION_MAX       32  /* bytes of a parsed version, its NUL included */
#define NEO4J_VERSION_TIMEOUT_S 300 /* the longest a version_command may take */

/* Run TEMPLATE (the [neo4j] version_command) through neo4j.h (no database,
 * TIMEOUT_S as in child.h, but never more than NEO4J_VERSION_TIMEOUT_S) and
 * extract the version from its stdout with neo4j_version_parse; its stderr
 * is logged as for any command.  At most 64 KiB of stdout is kept: what
 * follows is dropped while the command ends, for at most a second, then it
 * is killed.  0 and OUT filled; else -1 with an error naming
 * "version_command" and the cause:
 *   - it failed: ERR_FAIL "version_command failed (exit 1): <its stderr>",
 *     "... timed out ...", "... printed more than 64 KiB and did not end";
 *   - it could not run: neo4j_spawn's error ("version_command: program x
 *     not found", ERR_FAIL; a template using {database}, ERR_USAGE);
 *   - it printed no version: ERR_FAIL "version_command printed no version
 *     number: '<its first non-blank line, escaped, cut at 100 bytes>'", or
 *     "version_command printed nothing on stdout (...)". */
int neo4j_version_query(const char *template_, long timeout_s, char out[NEO4J_VERSION_MAX]);

/* The first version number in TEXT: 2 to 4 groups of 1 to 9 ASCII digits
 * joined by '.' (at most NEO4J_VERSION_MAX - 1 characters), not preceded by
 * an ASCII letter, a digit or '.', and not followed by '.' and a digit (a
 * 5th group).
 * "neo4j-admin 5.26.0" -> "5.26.0", "neo4j 2025.01.0" -> "2025.01.0",
 * "5.26.0-enterprise" -> "5.26.0"; "version 5" and "v5.26.0" hold none.
 * 0 and OUT filled on success; -1 (no error set) when TEXT holds none. */
int neo4j_version_parse(const char *text, char out[NEO4J_VERSION_MAX]);

/* Compare two parsed versions numerically, group by group (a missing group
 * is 0): <0 when A is older, 0 when equal, >0 when A is newer. */
int neo4j_version_compare(const char *a, const char *b);

#endif
