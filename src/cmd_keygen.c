/* cmd_keygen: create the archive and signing key pairs (SPEC.md). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "err.h"
#include "keys.h"

int cmd_keygen(int argc, char **argv, const cli_globals *g)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'},
        {"passphrase-file", required_argument, NULL, 'p'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL, *pwfile = NULL;
    (void)g; /* keygen needs no config file */

    optind = 0; /* full re-initialisation of GNU getopt */
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, "+:", opts, NULL);
        if (c == -1)
            break;
        switch (c) {
        case 'o':
            out = optarg;
            break;
        case 'p':
            pwfile = optarg;
            break;
        case ':':
            return cli_usage_error("keygen", "option '%s' needs an argument", argv[optind - 1]);
        default:
            return cli_usage_error("keygen", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("keygen", "unexpected argument '%s'", argv[optind]);
    if (!out || !*out)
        return cli_usage_error("keygen", "--out DIR is required");

    keys_public apub, spub;
    if (keys_generate(out, pwfile, &apub, &spub) != 0) {
        fprintf(stderr, "neo4j-offsite keygen: %s\n", err_msg());
        return err_exit_code(err_get_kind());
    }
    char aid[KEYS_ID_HEX], sid[KEYS_ID_HEX];
    keys_id_hex(apub.id, aid);
    keys_id_hex(spub.id, sid);
    const char *sep = out[strlen(out) - 1] == '/' ? "" : "/";
    printf("archive key id %s\n", aid);
    printf("  %s%sarchive.pub  -> backup hosts ([keys] public_key): encrypts archives\n", out, sep);
    printf("  %s%sarchive.key  -> restore hosts only ([keys] secret_key), and an offline copy:\n"
           "       it decrypts every archive%s\n",
           out, sep, pwfile ? " (passphrase-protected)" : "");
    printf("signing key id %s\n", sid);
    printf("  %s%ssigning.key  -> backup hosts only ([keys] signing_key): signs manifests%s\n", out,
           sep, pwfile ? " (passphrase-protected)" : "");
    printf("  %s%ssigning.pub  -> restore hosts and auditors ([keys] verify_key)\n", out, sep);
    return 0;
}
