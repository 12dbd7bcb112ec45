/* command_template: a command written as one line of text (the template keys
 * of [neo4j]: dump_command, stop_command, ...) turned into the argv that
 * runs it, without a shell.  It promises:
 *   - one rule, one code path: what command_template_check() accepts when
 *     the config file is read, command_template_split() splits when the
 *     command runs, and both refuse the same templates with the same message;
 *   - nothing a shell would do silently differently: an expansion, an
 *     unquoted shell operator or an unknown placeholder is refused
 *     (ERR_USAGE, a message naming what and where), never passed on;
 *   - {database} is replaced inside each word after splitting, so its value
 *     never becomes two words.
 * Nothing here runs anything or looks at the file system (child.h runs the
 * argv; neo4j_check_program() finds its program).  The syntax is the one
 * docs/CONFIG.md states for the type "template"; in full:
 *
 * Words:
 *   - '...' is literal; "..." is literal except \" \\ \$ \` (and \newline,
 *     removed); outside quotes a backslash makes the next character literal.
 *     Quoted and unquoted parts next to each other form one word; "" and ''
 *     are an empty word.
 *   - No expansion: $VAR, $(...), `...` are refused (quote a literal $ with
 *     '...'); globs and ~ stay literal.  Unquoted shell operators
 *     (| & ; < > ( ) and # starting a word) are refused, named whole:
 *     ERR_USAGE "dump_command: shell operator '&&' needs `sh -c '...'`
 *     (character 12): templates run without a shell; to pass it to the
 *     program as text, quote it: "&&"".
 *   - A template starting with the words `sh -c` (also /bin/sh, bash,
 *     /bin/bash) runs as written: when the script after `-c` is quoted it is
 *     split as above (sh -c 'script' [arg0 args...]); otherwise the rest of
 *     the line, verbatim, is the script.
 *
 * Placeholders ({database} is the only one), after splitting, in each word:
 *   - In every word but an `sh -c` script, "{NAME}" (NAME: letters, digits,
 *     '_', not starting with a digit) is a placeholder, quoted or not:
 *     {database} is replaced, any other NAME is refused (ERR_USAGE
 *     "dump_command: unknown placeholder {databse} (did you mean
 *     {database}?); known placeholders: {database} (...)").  Braces around
 *     anything else ("{}", "{a,b}", "{ x }") are literal text.  To pass a
 *     literal "{word}" to a program, run it through `sh -c`.
 *   - In the script of `sh -c` (the word after -c), braces are shell text
 *     (brace groups "{ a; b; }", awk '{print $1}', "${VAR}") and are left
 *     alone, except: {database} is replaced; "${database}" is refused (the
 *     shell would expand its own empty variable); and a {NAME} that was
 *     surely meant as {database} is refused as an unknown placeholder: NAME
 *     in any case within two typing errors of "database" ({databse},
 *     {Database}, {databases}) or one of {db}, {dbname}, {db_name},
 *     {database_name}, {databasename}, {db_names}.  Words after the script
 *     ($0, $1... of the script) are arguments: the first rule holds.
 *
 * WHAT, in every function, is the config key the template comes from
 * ("dump_command"); messages start with it.  NULL: "command template". */
#ifndef N4O_COMMAND_TEMPLATE_H
#define N4O_COMMAND_TEMPLATE_H

/* The placeholder replaced by the database name. */
#define COMMAND_TEMPLATE_DATABASE "{database}"
/* The variable a child finds the database name in (neo4j_spawn sets it):
 * the robust way to use the name inside an `sh -c` script, named in the
 * message that refuses "${database}". */
#define COMMAND_TEMPLATE_DATABASE_ENV "NEO4J_OFFSITE_DATABASE"

/* Split TEMPLATE into a NULL-terminated, malloc'd argv (free it with
 * command_template_free) with each {database} replaced by DATABASE, which
 * goes in verbatim: the caller decides which names are safe to pass
 * (neo4j_check_database).  NULL with ERR_USAGE for unbalanced quotes, a
 * shell operator, an expansion, an unknown placeholder, an empty template,
 * or {database} used while DATABASE is NULL; ERR_FAIL when out of memory. */
char **command_template_split(const char *what, const char *template_, const char *database);

/* The same check and split, every placeholder left as written
 * ("{database}" stays "{database}"): the words as they are before a
 * database is known, e.g. to look the program (argv[0]) up in advance. */
char **command_template_split_unfilled(const char *what, const char *template_);

/* For the config loader: check TEMPLATE completely and without running
 * anything: 0 when it splits by the rules above, else -1 with ERR_USAGE and
 * a message "WHAT: <problem>" that names the quote, operator (with its
 * character position) or placeholder at fault.  A NULL or blank TEMPLATE
 * means "not set" and returns 0: whether the key may be unset is the
 * caller's business. */
int command_template_check(const char *what, const char *template_);

/* True when TEMPLATE is NULL or only white space: the key is not set. */
int command_template_is_blank(const char *template_);

/* Free an argv of command_template_split*().  NULL is a no-op. */
void command_template_free(char **argv);

#endif
