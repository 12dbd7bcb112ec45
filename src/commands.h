/* commands: one cmd_*.c per command.  Each parses its own options (argv[0]
 * is the command name), orchestrates modules, and returns an exit code. */
#ifndef N4O_COMMANDS_H
#define N4O_COMMANDS_H

#include "cli.h"

int cmd_keygen(int argc, char **argv, const cli_globals *g);
int cmd_backup(int argc, char **argv, const cli_globals *g);
int cmd_list(int argc, char **argv, const cli_globals *g);
int cmd_verify(int argc, char **argv, const cli_globals *g);
int cmd_fetch(int argc, char **argv, const cli_globals *g);
int cmd_prune(int argc, char **argv, const cli_globals *g);
int cmd_push(int argc, char **argv, const cli_globals *g);
int cmd_restore(int argc, char **argv, const cli_globals *g);
int cmd_audit(int argc, char **argv, const cli_globals *g);
int cmd_status(int argc, char **argv, const cli_globals *g);

#endif
