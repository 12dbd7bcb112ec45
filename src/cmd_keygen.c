/* cmd_keygen: create the archive and signing key pairs (README, "Keys"). */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "err.h"
#include "keys.h"

int cmd_keygen(int argc, char **argv, const cli_globals *g)
{
    const char *out = NULL, *pwfile = NULL;
    (void)g; /* keygen needs no config file */
    const cli_opt opts[] = {{"out", 0, CLI_VALUE, &out},
                            {"passphrase-file", 0, CLI_VALUE, &pwfile},
                            {NULL, 0, 0, NULL}};
    int rc = cli_parse("keygen", argc, argv, opts, NULL, 0);
    if (rc)
        return rc;
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
