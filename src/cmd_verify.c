/* cmd_verify: placeholder until the command lands. */
#include <stdio.h>

#include "commands.h"

int cmd_verify(int argc, char **argv, const cli_globals *g)
{
    (void)argc;
    (void)argv;
    (void)g;
    fprintf(stderr, "neo4j-offsite verify: not implemented yet\n");
    return 2;
}
