/* cli: the command table of SPEC.md (names, usage, help) and the global
 * options every command receives. */
#ifndef N4O_CLI_H
#define N4O_CLI_H

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
/* True if argv (after the command name) asks for --help / -h. */
int cli_wants_help(int argc, char **argv);

#endif
