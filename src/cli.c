#include "cli.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"

const cli_command cli_commands[] = {
    {"keygen", "keygen --out DIR [--passphrase-file FILE]",
     "create the archive and signing key pairs",
     "Writes DIR/archive.key (0600) and archive.pub (X25519: archives are encrypted\n"
     "to archive.pub, only archive.key can read them), and DIR/signing.key (0600)\n"
     "and signing.pub (Ed25519: manifests are signed with signing.key and checked\n"
     "with signing.pub).  Prints the key ids.  Never overwrites an existing file.\n"
     "\n"
     "  --out DIR               directory for the four files (created if missing)\n"
     "  --passphrase-file FILE  wrap both secret files with a key derived from the\n"
     "                          passphrase in FILE (Argon2id); commands then read the\n"
     "                          passphrase from $NEO4J_OFFSITE_PASSPHRASE_FILE or ask\n"
     "                          on the terminal\n"
     "\n"
     "Put archive.pub and signing.key on the backup host, archive.key and\n"
     "signing.pub on the restore host (keep a copy of archive.key off-site: without\n"
     "it no archive can be read), signing.pub with auditors.\n",
     cmd_keygen},
    {"backup", "backup [--database DB] [--remote NAME]... [--no-local-copy] [--no-prune]",
     "dump, validate, encrypt and ship to the remotes",
     "Takes the run lock, runs stop_command (if set), dumps each database with\n"
     "dump_command, validates every byte of the dump, keeps a plain local copy in\n"
     "[local] directory, runs start_command as soon as the dumps are read,\n"
     "encrypts to [keys] public_key and uploads archive then signed manifest to\n"
     "every remote.\n"
     "\n"
     "Then, unless --no-prune, applies [retention] (see prune --help) per database\n"
     "to the local directory and to each remote that took the archive.  A failed\n"
     "run deletes nothing anywhere.\n"
     "\n"
     "  --database DB      only this database (default: every [neo4j] database)\n"
     "  --remote NAME      only this remote; repeatable (default: every remote)\n"
     "  --no-local-copy    keep no plain copy; remotes are fed from the live dump\n"
     "  --no-prune         apply no retention in this run\n"
     "\n"
     "Exit: 0 all done, 1 failed, 3 some databases or remotes failed (or a\n"
     "deletion of retention failed), 4 invalid dump (nothing published) or a\n"
     "missing archive found by retention, 6 another run holds the lock.\n",
     cmd_backup},
    {"push", "push [--database DB] [--remote NAME]...",
     "ship local dumps that a remote does not hold yet",
     "Ships the plain dumps already in [local] directory (written by an older\n"
     "backup script, or by backup while a remote was down) to every remote that\n"
     "does not hold them yet, oldest first, under the same timestamped name (old\n"
     "names are read as UTC).  Each dump is validated first: an invalid one is\n"
     "reported and skipped, the others are still shipped.  A dump that retention\n"
     "would delete at once is not shipped.  A remote holding an archive of the\n"
     "same name with other content (plaintext BLAKE2b) is reported and never\n"
     "overwritten.  Then applies [retention] to the local directory and to each\n"
     "remote where nothing failed.  Holds the run lock.\n"
     "\n"
     "  --database DB      only this database (default: every [neo4j] database)\n"
     "  --remote NAME      only this remote; repeatable (default: every remote)\n"
     "  --json             (global) {\"dumps\": [{name, database, remote, action\n"
     "                     (shipped, present, skipped, other-content, invalid,\n"
     "                     unreadable, blocked, failed), message}], \"summary\",\n"
     "                     \"errors\": [{remote, message}]}\n"
     "\n"
     "Exit: 0 done, 1 failed, 3 a remote failed while another succeeded, 4 an\n"
     "invalid dump or a same-named archive with other content, 6 another run\n"
     "holds the lock.\n",
     cmd_push},
    {"list", "list [--remote NAME] [--database DB] [--all]", "list the archives on the remotes",
     "One row per archive: remote, name, database, created (UTC), size, state.\n"
     "Only archives with a manifest are listed ('complete'); signatures are\n"
     "checked by verify and audit.\n"
     "\n"
     "  --remote NAME      only this remote (default: every remote)\n"
     "  --database DB      only this database\n"
     "  --all              also show incomplete uploads (no manifest)\n"
     "  --json             (global) {\"archives\": [{remote, name, database, created,\n"
     "                     size, state}...]}\n",
     cmd_list},
    {"verify", "verify [--remote NAME] (ARCHIVE | --latest | --all) [--deep] [--database DB]",
     "check signatures, sizes and hashes of archives",
     "Checks the manifest signature against [keys] verify_key, the archive size and\n"
     "its BLAKE2b hash.  Needs only public keys.  ARCHIVE is the name without\n"
     ".dump.enc (the full object name is accepted too).\n"
     "\n"
     "  --remote NAME      remote to read (default: the first one)\n"
     "  --latest           the newest archive of the database\n"
     "  --all              every archive on the remote\n"
     "  --database DB      database for --latest (default: the first one)\n"
     "  --deep             also decrypt and validate the dump inside (needs\n"
     "                     [keys] secret_key)\n"
     "\n"
     "Exit: 0 all good, 4 any integrity finding, 1 remote unreadable.\n",
     cmd_verify},
    {"fetch", "fetch [--remote NAME] (ARCHIVE | --latest) --output PATH|- [--database DB]",
     "download, verify and decrypt an archive",
     "Downloads an archive, checks its manifest signature, size and hash, decrypts\n"
     "and validates the dump.  PATH is written atomically (a temporary name,\n"
     "renamed when everything passed): on any failure nothing is left.  With\n"
     "'-', the dump goes to stdout (check the exit code before using it).\n"
     "\n"
     "  --remote NAME      remote to read (default: the first one)\n"
     "  --latest           the newest archive of the database\n"
     "  --database DB      database for --latest (default: the first one)\n"
     "  --output PATH|-    where the plain dump goes (never overwritten)\n",
     cmd_fetch},
    {"restore",
     "restore [--remote NAME] (ARCHIVE | --latest) [--database DB | --all-databases] "
     "[--as NAME] [--yes] [--no-safety-backup] [--allow-version-mismatch]",
     "verify an archive and load it into Neo4j",
     "Full recovery, in this order (docs/disaster-recovery.md):\n"
     "  1. take the run lock; find the archive (ARCHIVE, or --latest: the newest\n"
     "     with a manifest) on the first remote that can be read;\n"
     "  2. verify its signature, download, hash, decrypt and validate the whole\n"
     "     dump into [local] directory as <name>.dump (a local dump with the\n"
     "     signed BLAKE2b is used as it is): nothing touches Neo4j before this;\n"
     "  3. on a terminal, show what will be replaced and ask for the database\n"
     "     name; without a terminal --yes is required;\n"
     "  4. stop_command; a validated safety dump of each database\n"
     "     (<prefix>_<db>_pre_restore_<time>.dump; none for a database that does\n"
     "     not exist yet); if that fails, start_command and nothing changed;\n"
     "  5. load_command with the dump on stdin; start_command; check_command;\n"
     "  6. a failed load puts every database of the run back from its safety\n"
     "     dump and starts Neo4j (exit 1, naming the files).  A restore killed\n"
     "     while loading leaves <lock_file>.restore: every later run says what\n"
     "     to do, and backup refuses to run until it is dealt with.\n"
     "\n"
     "  --remote NAME          read only this remote (default: the first one;\n"
     "                         when it cannot be reached, the next, said)\n"
     "  --latest               the newest archive of the database\n"
     "  --database DB          the database (default: the first configured)\n"
     "  --all-databases        the newest archive of every configured database,\n"
     "                         system first (users and roles); one stop, one start\n"
     "  --as NAME              load into database NAME instead (Enterprise)\n"
     "  --yes                  do not ask (required without a terminal)\n"
     "  --no-safety-backup     skip the safety dump: a failed load cannot be undone\n"
     "  --allow-version-mismatch  load a dump from a newer Neo4j than\n"
     "                         version_command reports (refused by default: exit 4)\n"
     "\n"
     "Exit codes: 0 restored; 1 failed (the message says whether anything changed);\n"
     "2 usage or config; 4 the archive failed verification (the newest older one\n"
     "that verifies is named) or is from a newer Neo4j; 6 another run holds the\n"
     "lock.\n",
     cmd_restore},
    {"prune", "prune [--remote NAME | --local] [--dry-run]", "apply retention now",
     "Applies [retention] per database to the local directory and to every remote\n"
     "(or only the one named): archives and dumps more than keep_days x 24 h old\n"
     "are deleted, but never one of the min_keep newest complete ones, nor the\n"
     "newest of the last keep_weekly ISO weeks / keep_monthly months.  Archives\n"
     "dated in the future are kept (with a warning).  On a remote the manifest is\n"
     "deleted before its archive; incomplete uploads (no manifest, temporary\n"
     "files, S3 multipart uploads) more than 24 h old are removed.  Locally only\n"
     "<name_prefix>_<database>_<YYYYMMDD_HHMMSS>.dump files and safety dumps are\n"
     "touched; the newest safety dump is always kept.  Holds the run lock.\n"
     "\n"
     "  --remote NAME      only this remote\n"
     "  --local            only the local directory\n"
     "  --dry-run          print the plan, each item with its reason; delete nothing\n"
     "  --json             (global) {\"dry_run\", \"policy\", \"targets\": [{type, target,\n"
     "                     items: [{name, database, created, state, action, reason,\n"
     "                     deleted, error?}], to_delete, deleted, failed, missing}],\n"
     "                     \"errors\": [{target, message}]}\n"
     "\n"
     "Exit: 0 done, 1 failed, 3 some targets failed, 4 a manifest whose archive is\n"
     "missing (an integrity finding; deleted only once past the window), 6 another\n"
     "run holds the lock.\n",
     cmd_prune},
    {"audit", "audit [--remote NAME] [--read-data] [--max-age HOURS]",
     "prove with public keys only that archives are complete, signed and fresh",
     "Needs only [keys] verify_key and read access to the remotes: no secret key,\n"
     "no signing key, no [neo4j].  Changes nothing.  Per remote, from one listing:\n"
     "  - each archive: its manifest present and signed by a verify_key, the\n"
     "    archive present with the size the manifest records and (format 2) the\n"
     "    header it names; with --read-data every ciphertext byte hashed\n"
     "    (streamed: nothing is written, memory stays flat);\n"
     "  - retention: an archive the policy would have deleted a day ago and still\n"
     "    deletes now is kept past retention (prune runs after each nightly\n"
     "    backup, so an archive may outlive its window by up to a day);\n"
     "  - an upload without manifest older than 24 h;\n"
     "  - the newest archive that verifies, per [neo4j] database, and its age.\n"
     "Without --remote also [local] directory, when configured: each dump with its\n"
     "age and validity (its first MiB; every byte with --read-data).\n"
     "\n"
     "  --remote NAME      only this remote\n"
     "  --read-data        read every byte (remote archives and local dumps)\n"
     "  --max-age HOURS    the allowed age of the newest backup (default 25)\n"
     "  --json             (global) {checked, read_data, max_age_hours, policy,\n"
     "                     targets: [{type, target, items: [{name, database, kind,\n"
     "                     created, age_hours, size, result, read, signer?, format?,\n"
     "                     retention?, problem?}], newest: [{database, name, created,\n"
     "                     age_hours, state}], findings, error?}], findings, verdict,\n"
     "                     error?}\n"
     "\n"
     "Exit: 0 clean; 4 any finding (bad or unknown signature, missing, short or\n"
     "altered archive, kept past retention, stale upload, invalid local dump);\n"
     "1 a target or object could not be read; 5 a newest backup is older than\n"
     "the limit or there is none; 2 usage or config.  4 beats 1 beats 5.\n",
     cmd_audit},
    {"status", "status [--max-age HOURS] [--nagios]",
     "age of the newest archive per remote and database",
     "Cheap, for monitoring: one listing per remote (an archive counts when its\n"
     "manifest exists; nothing is read or verified: that is audit's work) and one\n"
     "scan of [local] directory.  Prints, per remote and configured database,\n"
     "the newest archive and its age, and the newest local dump's, then a\n"
     "verdict line.\n"
     "\n"
     "  --max-age HOURS    the allowed age (default 25; 0: anything is too old)\n"
     "  --nagios           one Nagios plugin line with performance data\n"
     "                     (age_hours=AGE;WARN;CRIT;0, WARN at 80 % of the limit)\n"
     "  --json             {checked, max_age_hours, verdict, targets[{type,\n"
     "                     target, database, newest, created, age_hours, state}],\n"
     "                     errors[{target, message}]}\n"
     "\n"
     "Exit codes: 0 fresh; 5 a newest backup is older than the limit, or a\n"
     "target holds none of a database; 1 a remote or the local directory cannot\n"
     "be read (1 outranks 5); 2 usage or config.  With --nagios: 0 OK, 1 WARNING,\n"
     "2 CRITICAL (stale, none, or unreadable), 3 UNKNOWN (usage or config).\n",
     cmd_status},
};

static const size_t n_commands = sizeof cli_commands / sizeof cli_commands[0];

const cli_command *cli_find(const char *name)
{
    for (size_t i = 0; i < n_commands; i++)
        if (strcmp(cli_commands[i].name, name) == 0)
            return &cli_commands[i];
    return NULL;
}

void cli_print_help(const cli_command *cmd)
{
    printf("Usage: neo4j-offsite [global options] %s\n\n%s.\n\n%s", cmd->usage, cmd->summary,
           cmd->help);
    printf("\nGlobal options (before the command): -c FILE, -v, -q, --json, --progress,\n"
           "--no-progress.  See 'neo4j-offsite --help'.\n");
}

void cli_print_overview(void *out_file)
{
    FILE *out = out_file;
    fprintf(out, "Usage: neo4j-offsite [global options] COMMAND [options]\n"
                 "\n"
                 "Gets Neo4j dumps off the machine they were made on: validates, encrypts\n"
                 "(only archive.key can read), signs and ships them to S3, SFTP or a mounted\n"
                 "directory, verifies and fetches them back, and restores them into Neo4j\n"
                 "(verified first, a safety dump taken, rolled back on failure).  Retention\n"
                 "keeps keep_days of backups, never fewer than min_keep.  An auditor\n"
                 "holding only signing.pub proves the archives complete, signed, retained\n"
                 "and fresh (audit); status answers monitoring cheaply.\n"
                 "\n"
                 "Global options:\n"
                 "  -c, --config FILE  config file (default $NEO4J_OFFSITE_CONFIG, else\n"
                 "                     " CLI_DEFAULT_CONFIG ")\n"
                 "  -v, --verbose      debug messages on stderr too\n"
                 "  -q, --quiet        only errors on stderr\n"
                 "  --json             machine-readable output on stdout (list, verify, push,\n"
                 "                     prune, status, audit; see each command's --help)\n"
                 "  --progress, --no-progress\n"
                 "                     progress on stderr (default: when stderr is a terminal)\n"
                 "  --version          print the version\n"
                 "  -h, --help         this help; 'neo4j-offsite COMMAND --help' for a command\n"
                 "Each global option but -v may be given once.\n"
                 "\n"
                 "Commands:\n");
    for (size_t i = 0; i < n_commands; i++)
        fprintf(out, "  %-8s %s%s\n", cli_commands[i].name, cli_commands[i].summary,
                cli_commands[i].fn ? "" : " (not implemented yet)");
    fprintf(out, "\n"
                 "Exit codes: 0 success, 1 failed, 2 usage or configuration error, 3 partial\n"
                 "success, 4 integrity finding, 5 stale, 6 another run holds the lock.\n");
}

int cli_usage_error(const char *name, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "neo4j-offsite %s: ", name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'neo4j-offsite %s --help'.\n", name);
    return 2;
}

int cli_option_error(const char *name, int c, char **argv)
{
    if (c == ':')
        return cli_usage_error(name, "option %s needs a value", argv[optind - 1]);
    return cli_usage_error(name, "unknown option %s", argv[optind - 1]);
}

int cli_parse(const char *name, int argc, char **argv, const cli_opt *opts, const char **pos,
              size_t n_pos)
{
    struct option lo[CLI_MAX_OPTS + 1];
    char so[2 * CLI_MAX_OPTS + 2] = ":", *sp = so + 1;
    int seen[CLI_MAX_OPTS] = {0};
    size_t n = 0;
    for (; n < CLI_MAX_OPTS && opts[n].name; n++) {
        lo[n] = (struct option){opts[n].name,
                                opts[n].kind == CLI_FLAG ? no_argument : required_argument, NULL,
                                (int)(n + 256)};
        if (opts[n].letter) {
            *sp++ = opts[n].letter;
            if (opts[n].kind != CLI_FLAG)
                *sp++ = ':';
        }
    }
    if (n == CLI_MAX_OPTS && opts[n].name) /* a table too long is our bug: say so */
        return cli_usage_error(name, "internal error: more than %d options", CLI_MAX_OPTS);
    lo[n] = (struct option){NULL, 0, NULL, 0};
    *sp = '\0';
    optind = 0; /* a full re-initialisation of GNU getopt */
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, so, lo, NULL)) != -1) {
        size_t i;
        if (c >= 256)
            i = (size_t)c - 256;
        else
            for (i = 0; i < n && opts[i].letter != c; i++)
                ;
        if (i >= n)
            return cli_option_error(name, c, argv);
        const cli_opt *o = &opts[i];
        if (o->kind != CLI_LIST && seen[i]++)
            return cli_usage_error(name, "--%s given twice", o->name);
        if (o->kind == CLI_FLAG) {
            *(int *)o->out = 1;
        } else if (o->kind == CLI_VALUE) {
            *(const char **)o->out = optarg;
        } else {
            cli_list *l = o->out;
            if (l->n >= l->max)
                return cli_usage_error(name, "--%s given more than %zu times", o->name, l->max);
            l->items[l->n++] = optarg;
        }
    }
    for (size_t k = 0; k < n_pos && optind < argc; k++)
        pos[k] = argv[optind++];
    if (optind < argc)
        return cli_usage_error(name, "unexpected argument '%s'", argv[optind]);
    return 0;
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    }
    return 0;
}
