/* cli: the command table (names, usage, help: what --help prints) and the global
 * options every command receives. */
#ifndef N4O_CLI_H
#define N4O_CLI_H

#include <stddef.h>

typedef struct {
    const char *config_path; /* -c, else $NEO4J_OFFSITE_CONFIG, else the default */
    int verbose;             /* -v count; -1 for -q */
    int json;                /* --json */
    int progress;            /* 1 on, 0 off (resolved from --progress / a terminal) */
} cli_globals;

typedef int (*cli_fn)(int argc, char **argv, const cli_globals *g);

typedef struct {
    const char *name;
    const char *usage;   /* after "neo4j-offsite " */
    const char *summary; /* one line for the overview */
    const char *help;    /* options and notes, shown by COMMAND --help */
    cli_fn fn;           /* NULL: not implemented yet (exit 2) */
} cli_command;

#define CLI_DEFAULT_CONFIG "/etc/neo4j-offsite/neo4j-offsite.conf"

extern const cli_command cli_commands[];

const cli_command *cli_find(const char *name);
/* Print "Usage: ..." and the command's help to stdout. */
void cli_print_help(const cli_command *cmd);
/* Print the overview of every command to OUT. */
void cli_print_overview(void *out_file);
/* Report a usage error for command NAME on stderr; returns exit code 2. */
int cli_usage_error(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Report getopt_long()'s ':' (missing value) or '?' (unknown option)
 * result C for command NAME; returns exit code 2. */
int cli_option_error(const char *name, int c, char **argv);
/* A command's options, for cli_parse(). */
typedef enum {
    CLI_FLAG,  /* --NAME: *(int *)out = 1 */
    CLI_VALUE, /* --NAME VALUE: *(const char **)out = VALUE */
    CLI_LIST,  /* --NAME VALUE, repeatable: appended to *(cli_list *)out */
} cli_opt_kind;

typedef struct {
    const char **items; /* caller's array of MAX */
    size_t n, max;
} cli_list;

typedef struct {
    const char *name; /* NULL ends the table */
    char letter;      /* a short form (-o), or 0 */
    cli_opt_kind kind;
    void *out;
} cli_opt;

#define CLI_MAX_OPTS 16

/* Parse ARGV (ARGV[0] is the command NAME) by OPTS, then at most N_POS
 * positional arguments into POS (those not given stay as they were).  An
 * unknown option, a missing value, a flag or value given twice, a list
 * longer than its MAX and an argument too many are usage errors: printed,
 * and 2 returned.  0 when all is well. */
int cli_parse(const char *name, int argc, char **argv, const cli_opt *opts, const char **pos,
              size_t n_pos);
/* True if argv (after the command name) asks for --help / -h. */
int cli_wants_help(int argc, char **argv);

#endif
