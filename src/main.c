/* neo4j-offsite: argv -> command table.  Global options may stand before or
 * after the command name; everything else belongs to the command. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "err.h"
#include "log.h"
#include "signals.h"

/* Take the global options out of ARGV (in place); returns the new argc, or
 * -1 after printing a usage error. */
static int take_globals(int argc, char **argv, cli_globals *g, int *progress_flag, int *want_help,
                        int *want_version)
{
    int out = 1;
    int seen_command = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            while (i < argc)
                argv[out++] = argv[i++];
            break;
        }
        if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "neo4j-offsite: %s needs a file name\n", a);
                return -1;
            }
            g->config_path = argv[++i];
        } else if (strncmp(a, "--config=", 9) == 0) {
            g->config_path = a + 9;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            g->verbose = g->verbose < 0 ? 1 : g->verbose + 1;
        } else if (strcmp(a, "-vv") == 0) {
            g->verbose = 2;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            g->verbose = -1;
        } else if (strcmp(a, "--json") == 0) {
            g->json = 1;
        } else if (strcmp(a, "--progress") == 0) {
            *progress_flag = 1;
        } else if (strcmp(a, "--no-progress") == 0) {
            *progress_flag = 0;
        } else if (!seen_command && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)) {
            *want_help = 1;
        } else if (!seen_command && strcmp(a, "--version") == 0) {
            *want_version = 1;
        } else if (!seen_command && a[0] == '-') {
            fprintf(stderr,
                    "neo4j-offsite: unknown global option '%s'\n"
                    "Try 'neo4j-offsite --help'.\n",
                    a);
            return -1;
        } else {
            seen_command = 1;
            argv[out++] = argv[i];
        }
    }
    argv[out] = NULL;
    return out;
}

int main(int argc, char **argv)
{
    cli_globals g = {.config_path = NULL, .verbose = 0, .json = 0, .progress = 0};
    int progress_flag = -1, want_help = 0, want_version = 0;

    argc = take_globals(argc, argv, &g, &progress_flag, &want_help, &want_version);
    if (argc < 0)
        return 2;
    if (want_version) {
        printf("neo4j-offsite %s (libsodium %s)\n", N4O_VERSION, sodium_version_string());
        return 0;
    }
    if (argc < 2) {
        cli_print_overview(want_help ? stdout : stderr);
        return want_help ? 0 : 2;
    }
    const cli_command *cmd = cli_find(argv[1]);
    if (!cmd) {
        fprintf(stderr, "neo4j-offsite: unknown command '%s'\nTry 'neo4j-offsite --help'.\n",
                argv[1]);
        return 2;
    }
    if (want_help || cli_wants_help(argc - 1, argv + 1)) {
        cli_print_help(cmd);
        return 0;
    }
    if (!cmd->fn) {
        fprintf(stderr, "neo4j-offsite %s: not implemented yet\n", cmd->name);
        return 2;
    }

    if (!g.config_path)
        g.config_path = getenv("NEO4J_OFFSITE_CONFIG");
    if (!g.config_path || !*g.config_path)
        g.config_path = CLI_DEFAULT_CONFIG;
    g.progress = progress_flag >= 0 ? progress_flag : isatty(STDERR_FILENO);
    log_set_level(g.verbose < 0 ? LOG_LVL_ERROR : g.verbose == 0 ? LOG_LVL_INFO : LOG_LVL_DEBUG);

    if (sodium_init() < 0) {
        fprintf(stderr, "neo4j-offsite: libsodium failed to initialise\n");
        return 1;
    }
    signals_install();
    return cmd->fn(argc - 1, argv + 1, &g);
}
