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

/* A global option that makes sense once, given again (or with its
 * opposite): exit 2 rather than let the last one win silently, since
 * `-c a.conf ... -c b.conf` would back up with a config nobody looked at.
 * SEEN is the option given first. */
static int given_twice(const char *seen, const char *a)
{
    if (strcmp(seen, a) == 0)
        fprintf(stderr, "neo4j-offsite: %s given twice\n", a);
    else
        fprintf(stderr, "neo4j-offsite: %s and %s given together\n", seen, a);
    fprintf(stderr, "Try 'neo4j-offsite --help'.\n");
    return -1;
}

/* Take the global options out of ARGV (in place); returns the new argc, or
 * -1 after printing a usage error.  Only -v may be repeated. */
static int take_globals(int argc, char **argv, cli_globals *g, int *progress_flag, int *want_help,
                        int *want_version)
{
    int out = 1;
    int seen_command = 0;
    /* each once-only option as first given (-c, -q, -v for their long forms), NULL until then */
    const char *config_opt = NULL, *quiet_opt = NULL, *verbose_opt = NULL, *json_opt = NULL,
               *progress_opt = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            while (i < argc)
                argv[out++] = argv[i++];
            break;
        }
        if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0 || strncmp(a, "--config=", 9) == 0) {
            if (config_opt)
                return given_twice(config_opt, "-c");
            config_opt = "-c"; /* one option, however spelt */
            if (a[1] == '-' && a[8] == '=') {
                g->config_path = a + 9;
            } else if (i + 1 < argc) {
                g->config_path = argv[++i];
            } else {
                fprintf(stderr, "neo4j-offsite: %s needs a file name\n", a);
                return -1;
            }
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0 || strcmp(a, "-vv") == 0) {
            if (quiet_opt)
                return given_twice(quiet_opt, "-v");
            verbose_opt = "-v";
            g->verbose += strcmp(a, "-vv") == 0 ? 2 : 1;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            if (quiet_opt || verbose_opt)
                return given_twice(quiet_opt ? quiet_opt : verbose_opt, "-q");
            quiet_opt = "-q";
            g->verbose = -1;
        } else if (strcmp(a, "--json") == 0) {
            if (json_opt)
                return given_twice(json_opt, a);
            json_opt = a;
            g->json = 1;
        } else if (strcmp(a, "--progress") == 0 || strcmp(a, "--no-progress") == 0) {
            if (progress_opt)
                return given_twice(progress_opt, a);
            progress_opt = a;
            *progress_flag = a[2] == 'p';
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
