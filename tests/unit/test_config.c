/* Unit tests of config: parsing, every error path (file, line, section, key),
 * long values, quoting, defaults, per-command requirements, the examples. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "config_doc.h"
#include "config_keys.h"
#include "err.h"

static char tmpdir[] = "/tmp/n4o-test-config-XXXXXX";
static char cfgpath[512];
static int counter;

static int group_setup(void **state)
{
    (void)state;
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Write TEXT to a fresh file; its path is left in cfgpath. */
static const char *write_cfg(const char *text)
{
    snprintf(cfgpath, sizeof cfgpath, "%s/c%d.conf", tmpdir, ++counter);
    FILE *f = fopen(cfgpath, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
    return cfgpath;
}

static config *load_ok(const char *text, unsigned cmd)
{
    config *c = config_load(write_cfg(text), cmd);
    if (!c)
        fail_msg("config_load failed: %s", err_msg());
    return c;
}

/* Loading TEXT for CMD fails with ERR_USAGE and exactly
 * "<file>:<expect>" (EXPECT is everything after the file name). */
static void expect_err(const char *text, unsigned cmd, const char *expect)
{
    err_clear();
    config *c = config_load(write_cfg(text), cmd);
    if (c) {
        config_free(c);
        fail_msg("expected an error \"%s\", but the config loaded", expect);
    }
    assert_int_equal(err_get_kind(), ERR_USAGE);
    char want[2048];
    snprintf(want, sizeof want, "%s%s", cfgpath, expect);
    assert_string_equal(err_msg(), want);
}

/* Like expect_err, but only the beginning of the message is compared. */
static void expect_err_prefix(const char *text, unsigned cmd, const char *expect)
{
    err_clear();
    config *c = config_load(write_cfg(text), cmd);
    if (c) {
        config_free(c);
        fail_msg("expected an error \"%s...\", but the config loaded", expect);
    }
    assert_int_equal(err_get_kind(), ERR_USAGE);
    char want[2048];
    snprintf(want, sizeof want, "%s%s", cfgpath, expect);
    if (strncmp(err_msg(), want, strlen(want)) != 0)
        fail_msg("message \"%s\" does not start with \"%s\"", err_msg(), want);
}

/* Like expect_err, with every "@F" in EXPECT replaced by the file's path
 * (messages that name a second place in the file). */
static void expect_err_at(const char *text, unsigned cmd, const char *expect)
{
    write_cfg(text);
    char want[4096];
    size_t n = (size_t)snprintf(want, sizeof want, "%s", cfgpath);
    for (const char *p = expect; *p && n + 1 < sizeof want;) {
        if (p[0] == '@' && p[1] == 'F') {
            n += (size_t)snprintf(want + n, sizeof want - n, "%s", cfgpath);
            p += 2;
        } else {
            want[n++] = *p++;
            want[n] = '\0';
        }
    }
    err_clear();
    config *c = config_load(cfgpath, cmd);
    if (c) {
        config_free(c);
        fail_msg("expected an error \"%s\", but the config loaded", want);
    }
    assert_int_equal(err_get_kind(), ERR_USAGE);
    assert_string_equal(err_msg(), want);
}

/* ------------------------------------------------------------------ ok */

static void test_defaults(void **state)
{
    (void)state;
    config *c = load_ok("[local]\ndirectory = /srv/dumps\n", 0);
    assert_string_equal(c->general.lock_file, "/run/neo4j-offsite/neo4j-offsite.lock");
    assert_int_equal(c->general.syslog, 0);
    assert_int_equal(c->neo4j.n_databases, 1);
    assert_string_equal(c->neo4j.databases[0], "neo4j");
    assert_string_equal(c->neo4j.dump_command, "neo4j-admin database dump --to-stdout {database}");
    assert_string_equal(c->neo4j.load_command, "neo4j-admin database load --from-stdin "
                                               "--overwrite-destination=true {database}");
    assert_null(c->neo4j.stop_command);
    assert_null(c->neo4j.start_command);
    assert_null(c->neo4j.check_command);
    assert_int_equal(c->neo4j.command_timeout, 6 * 3600);
    assert_string_equal(c->local.directory, "/srv/dumps");
    assert_string_equal(c->local.name_prefix, "haia_backup");
    assert_int_equal(c->retention.keep_days, 7);
    assert_int_equal(c->retention.min_keep, 3);
    assert_int_equal(c->retention.keep_weekly, 0);
    assert_int_equal(c->retention.keep_monthly, 0);
    assert_null(c->keys.public_key);
    assert_int_equal(c->keys.n_verify_keys, 0);
    assert_null(c->notify.ping_url);
    assert_int_equal(c->n_remotes, 0);
    assert_int_equal(c->section_line[CONFIG_SEC_LOCAL], 1);
    assert_int_equal(c->section_line[CONFIG_SEC_KEYS], 0);
    config_free(c);

    /* Remote defaults apply only to the types that accept the key. */
    c = load_ok("[remote \"a\"]\ntype = local\npath = /a\n"
                "[remote \"b\"]\ntype = sftp\nhost = h\nuser = u\nidentity_file = /i\n"
                "known_hosts = /k\npath = /p\n"
                "[remote \"c\"]\ntype = s3\nendpoint = http://127.0.0.1:7480\nregion = r\n"
                "bucket = bkt\nprefix = \"\"\n",
                CFG_CMD_LIST);
    assert_int_equal(c->n_remotes, 3);
    assert_string_equal(c->remotes[0].name, "a");
    assert_int_equal(c->remotes[0].line, 1);
    assert_int_equal(c->remotes[0].port, 0);
    assert_int_equal(c->remotes[0].retries, 0);
    assert_int_equal(c->remotes[0].part_size, 0);
    assert_int_equal(c->remotes[1].port, 22);
    assert_int_equal(c->remotes[1].connect_timeout, 30);
    assert_int_equal(c->remotes[1].io_timeout, 60);
    assert_int_equal(c->remotes[1].retries, 5);
    assert_int_equal(c->remotes[1].parallel_streams, 4);
    assert_null(c->remotes[1].url_style);
    assert_null(c->remotes[1].identity_passphrase_file);
    assert_int_equal(c->remotes[2].part_size, 8 * 1024 * 1024);
    assert_int_equal(c->remotes[2].parallel_parts, 4);
    assert_int_equal(c->remotes[2].retries, 5);
    assert_int_equal(c->remotes[2].parallel_streams, 0);
    assert_string_equal(c->remotes[2].url_style, "path");
    assert_string_equal(c->remotes[2].credentials, "env");
    assert_string_equal(c->remotes[2].profile, "default");
    assert_string_equal(c->remotes[2].prefix, "");
    assert_null(c->remotes[2].path);
    config_free(c);
}

/* The example file of the project's original specification, verbatim
 * (inline comments, empty optional values). */
static const char spec_example[] =
    "[general]\n"
    "lock_file = /run/neo4j-offsite/neo4j-offsite.lock   ; one run at a time\n"
    "syslog    = no\n"
    "\n"
    "[neo4j]\n"
    "database      = neo4j      ; or a list, e.g. \"neo4j, system\": each its own archive, one "
    "stop/start around all\n"
    "dump_command  = neo4j-admin database dump --to-stdout {database}\n"
    "load_command  = neo4j-admin database load --from-stdin --overwrite-destination=true "
    "{database}\n"
    "stop_command  =            ; optional, e.g. docker stop haia-neo4j\n"
    "start_command =            ; optional, run after dump/load, also when they fail or the tool "
    "is interrupted\n"
    "check_command =            ; optional, run after a restore, output shown\n"
    "version_command =          ; optional, prints the Neo4j version (e.g. neo4j-admin --version); "
    "recorded in manifests, checked by restore\n"
    "command_timeout = 6h       ; a dump or load that runs longer is killed and the run fails\n"
    "\n"
    "[local]\n"
    "directory   = /var/lib/docker/volumes/haia_neo4j-backups/_data   ; plain local dumps\n"
    "name_prefix = haia_backup\n"
    "\n"
    "[retention]\n"
    "keep_days    = 7\n"
    "min_keep     = 3           ; never fewer complete archives/dumps than this per database\n"
    "keep_weekly  = 0           ; optional grandfather-father-son extras\n"
    "keep_monthly = 0\n"
    "\n"
    "[keys]\n"
    "public_key  = /etc/neo4j-offsite/archive.pub    ; backup hosts\n"
    "signing_key = /etc/neo4j-offsite/signing.key    ; backup hosts\n"
    "secret_key  = /etc/neo4j-offsite/archive.key    ; restore hosts only\n"
    "verify_key  = /etc/neo4j-offsite/signing.pub    ; restore hosts and auditors; a list is "
    "allowed (key rotation)\n"
    "\n"
    "[remote \"nas\"]\n"
    "type = local\n"
    "path = /mnt/offsite/neo4j\n"
    "\n"
    "[remote \"offsite\"]\n"
    "type          = sftp\n"
    "host          = backup.example.org\n"
    "port          = 22\n"
    "user          = haia\n"
    "identity_file = /etc/neo4j-offsite/id_ed25519\n"
    "known_hosts   = /etc/neo4j-offsite/known_hosts     ; required: unknown or changed host keys "
    "are refused\n"
    "path          = /srv/backups/haia\n"
    "parallel_streams = 4       ; connections writing/reading disjoint ranges: long links are not "
    "capped by one SSH window\n"
    "\n"
    "[remote \"s3\"]\n"
    "type           = s3\n"
    "endpoint       = https://s3.eu-central-1.amazonaws.com   ; any S3-compatible URL\n"
    "region         = eu-central-1\n"
    "bucket         = haia-backups\n"
    "prefix         = prod/\n"
    "url_style      = virtual        ; or path (default for non-AWS endpoints)\n"
    "credentials    = env            ; AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / "
    "AWS_SESSION_TOKEN, or a file path in ~/.aws/credentials format\n"
    "part_size      = 8MiB\n"
    "parallel_parts = 4\n"
    "object_lock    = off            ; or governance / compliance: every archive and manifest "
    "locked until its time + keep_days + object_lock_extra_days\n"
    "object_lock_extra_days = 1\n"
    "prune_credentials =             ; optional second credentials (file + profile) used only to "
    "delete and to extend locks\n"
    "allow_insecure_http = no        ; http:// to a host other than loopback is refused unless "
    "yes\n"
    "\n"
    "[notify]\n"
    "ping_url = https://hc-ping.example/UUID   ; optional: GET on start (/start), success, failure "
    "(/fail)\n"
    "metrics_textfile = /var/lib/node_exporter/textfile_collector/neo4j_offsite.prom   ; "
    "optional\n";

/* The example asks for notifications, which this version does not send:
 * refused, naming the line; with [notify] left empty it loads for every
 * command. */
static void test_spec_example(void **state)
{
    (void)state;
    expect_err(spec_example, CFG_CMD_BACKUP,
               ":61: [notify] ping_url: ping_url is not implemented in this version (no "
               "notification is sent yet): remove the line");
    char text[sizeof spec_example + 64];
    const char *notify = strstr(spec_example, "[notify]\n");
    assert_non_null(notify);
    snprintf(text, sizeof text, "%.*s[notify]\nping_url =\nmetrics_textfile =   ; optional\n",
             (int)(notify - spec_example), spec_example);
    static const unsigned cmds[] = {CFG_CMD_BACKUP, CFG_CMD_PUSH,  CFG_CMD_LIST,
                                    CFG_CMD_VERIFY, CFG_CMD_FETCH, CFG_CMD_RESTORE,
                                    CFG_CMD_PRUNE,  CFG_CMD_AUDIT, CFG_CMD_STATUS};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        config_free(load_ok(text, cmds[i]));
    config *c = load_ok(text, CFG_CMD_BACKUP);
    assert_string_equal(c->general.lock_file, "/run/neo4j-offsite/neo4j-offsite.lock");
    assert_int_equal(c->neo4j.n_databases, 1);
    assert_string_equal(c->neo4j.databases[0], "neo4j");
    assert_null(c->neo4j.stop_command);
    assert_null(c->neo4j.version_command);
    assert_string_equal(c->local.directory, "/var/lib/docker/volumes/haia_neo4j-backups/_data");
    assert_string_equal(c->keys.verify_keys[0], "/etc/neo4j-offsite/signing.pub");
    assert_int_equal(c->n_remotes, 3);
    assert_string_equal(c->remotes[1].type, "sftp");
    assert_string_equal(c->remotes[1].known_hosts, "/etc/neo4j-offsite/known_hosts");
    assert_int_equal(c->remotes[1].line, 35);
    assert_int_equal(c->remotes[2].line, 45);
    assert_string_equal(c->remotes[2].url_style, "virtual");
    assert_string_equal(c->remotes[2].prefix, "prod/");
    assert_string_equal(c->remotes[2].credentials, "env");
    assert_int_equal(c->remotes[2].part_size, 8 * 1024 * 1024);
    assert_string_equal(c->remotes[2].object_lock, "off");
    assert_int_equal(c->remotes[2].object_lock_extra_days, 1);
    assert_null(c->remotes[2].prune_credentials);
    assert_int_equal(c->remotes[2].allow_insecure_http, 0);
    assert_null(c->notify.ping_url);
    assert_int_equal(c->section_line[CONFIG_SEC_KEYS], 25);
    config_free(c);
}

static void test_url_style_default(void **state)
{
    (void)state;
    static const struct {
        const char *endpoint, *style;
    } cases[] = {
        {"https://s3.eu-central-1.amazonaws.com", "virtual"},
        {"https://s3.amazonaws.com/", "virtual"},
        {"https://S3.US-EAST-1.AMAZONAWS.COM:443", "virtual"},
        {"https://notamazonaws.com", "path"},
        {"https://amazonaws.com.evil.example", "path"},
        {"http://127.0.0.1:7480", "path"},
        {"https://minio.example.org:9000", "path"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512];
        snprintf(text, sizeof text,
                 "[remote \"s\"]\ntype = s3\nendpoint = %s\nregion = r\nbucket = bkt\n",
                 cases[i].endpoint);
        config *c = load_ok(text, 0);
        assert_string_equal(c->remotes[0].url_style, cases[i].style);
        config_free(c);
    }
    config *c = load_ok("[remote \"s\"]\ntype = s3\nendpoint = https://s3.amazonaws.com\n"
                        "region = r\nbucket = bkt\nurl_style = path\n",
                        0);
    assert_string_equal(c->remotes[0].url_style, "path");
    config_free(c);
}

static void test_values(void **state)
{
    (void)state;
    config *c = load_ok("[general]\nsyslog = Off\n"
                        "[neo4j]\ndatabase =  neo4j ,  system,movies-2  ; three\n"
                        "command_timeout = 1h30m\n"
                        "[retention]\nkeep_days = 7\nmin_keep = \"3\"\n"
                        "[keys]\nverify_key = \"/k/a,b.pub\", '/k/c.pub' , /k/d.pub\n"
                        "[local]\ndirectory = \"/mnt/bob's disk\"\n"
                        "[remote \"x.y-z_1\"]\ntype = 's3'\nendpoint = http://h\nregion = r\n"
                        "bucket = bkt\npart_size = 1 GiB\nconnect_timeout = 90\n"
                        "allow_insecure_http = On\nretries = 0\nparallel_parts = \"5\"\n",
                        0);
    assert_int_equal(c->general.syslog, 0);
    assert_int_equal(c->neo4j.n_databases, 3);
    assert_string_equal(c->neo4j.databases[0], "neo4j");
    assert_string_equal(c->neo4j.databases[1], "system");
    assert_string_equal(c->neo4j.databases[2], "movies-2");
    assert_int_equal(c->neo4j.command_timeout, 5400);
    assert_int_equal(c->retention.keep_days, 7);
    assert_int_equal(c->retention.min_keep, 3);
    assert_int_equal(c->keys.n_verify_keys, 3);
    assert_string_equal(c->keys.verify_keys[0], "/k/a,b.pub");
    assert_string_equal(c->keys.verify_keys[1], "/k/c.pub");
    assert_string_equal(c->keys.verify_keys[2], "/k/d.pub");
    assert_string_equal(c->local.directory, "/mnt/bob's disk");
    assert_string_equal(c->remotes[0].name, "x.y-z_1");
    assert_string_equal(c->remotes[0].type, "s3");
    assert_int_equal(c->remotes[0].part_size, 1024ull * 1024 * 1024);
    assert_int_equal(c->remotes[0].connect_timeout, 90);
    assert_int_equal(c->remotes[0].allow_insecure_http, 1);
    assert_int_equal(c->remotes[0].retries, 0);
    assert_int_equal(c->remotes[0].parallel_parts, 5);
    config_free(c);

    /* A wholly quoted list is unquoted first, then split. */
    c = load_ok("[neo4j]\ndatabase = \"neo4j, system\"\n", 0);
    assert_int_equal(c->neo4j.n_databases, 2);
    assert_string_equal(c->neo4j.databases[1], "system");
    config_free(c);

    /* An empty value leaves the key unset: the default applies. */
    c = load_ok("[general]\nsyslog =\n[retention]\nkeep_days =   ; later\n", 0);
    assert_int_equal(c->general.syslog, 0);
    assert_int_equal(c->retention.keep_days, 7);
    config_free(c);

    /* Spaces inside the brackets and a comment after them; tabs in values. */
    c = load_ok("[ retention ]   ; policy\n[remote \"n\"] # the NAS\ntype\t=\tlocal\n"
                "path = /mnt/a\tb\n",
                0);
    assert_int_equal(c->section_line[CONFIG_SEC_RETENTION], 1);
    assert_string_equal(c->remotes[0].path, "/mnt/a\tb");
    config_free(c);

    /* CRLF line ends and a UTF-8 byte order mark. */
    c = load_ok("\xEF\xBB\xBF[neo4j]\r\ncommand_timeout = 12m\r\ndatabase = db4 ; c\r\n", 0);
    assert_int_equal(c->neo4j.command_timeout, 720);
    assert_string_equal(c->neo4j.databases[0], "db4");
    config_free(c);
}

static void test_inline_comments(void **state)
{
    (void)state;
    config *c = load_ok("# comment\n; comment\n[local]\n"
                        "directory = /srv/a;b   ; the ';' without a space before stays\n"
                        "[remote \"s\"]\ntype = s3\nendpoint = https://x.example/p#frag ; '#' "
                        "without a space before is no comment\nregion = r\nbucket = bkt\n"
                        "[keys]\npublic_key = /m/x.pub;\n",
                        0);
    assert_string_equal(c->local.directory, "/srv/a;b");
    assert_string_equal(c->remotes[0].endpoint, "https://x.example/p#frag");
    assert_string_equal(c->keys.public_key, "/m/x.pub;");
    config_free(c);
}

static void test_quoted_semicolon_and_hash(void **state)
{
    (void)state;
    config *c = load_ok("[neo4j]\n"
                        "dump_command = sh -c 'a ; b # c'   ; comment\n"
                        "load_command = sh -c \"x ; y # z\" ; it's a comment with a quote\n"
                        "stop_command = docker stop 'haia ; neo4j'\n"
                        "start_command = sh -c 'a ;\n"
                        "    b # c' ; the quote spans a continuation line\n"
                        "check_command = echo \"it's ; fine\" 'say \"hi ; #\"'\n",
                        0);
    assert_string_equal(c->neo4j.dump_command, "sh -c 'a ; b # c'");
    assert_string_equal(c->neo4j.load_command, "sh -c \"x ; y # z\"");
    assert_string_equal(c->neo4j.stop_command, "docker stop 'haia ; neo4j'");
    assert_string_equal(c->neo4j.start_command, "sh -c 'a ; b # c'");
    assert_string_equal(c->neo4j.check_command, "echo \"it's ; fine\" 'say \"hi ; #\"'");
    config_free(c);

    /* Templates keep their quotes; plain strings lose a whole-value pair. */
    c = load_ok("[neo4j]\nstop_command = \"docker stop haia-neo4j\"\n"
                "[remote \"s\"]\ntype = s3\nendpoint = https://h\nregion = 'a ; b'\n"
                "bucket = bkt\n",
                0);
    assert_string_equal(c->neo4j.stop_command, "\"docker stop haia-neo4j\"");
    assert_string_equal(c->remotes[0].region, "a ; b");
    config_free(c);
}

static void test_continuation(void **state)
{
    (void)state;
    /* A 600-character template written over several indented lines. */
    char expect[700] = "", text[2048];
    size_t n = 0;
    n += (size_t)snprintf(text + n, sizeof text - n, "[neo4j]\ndump_command =\n");
    for (int i = 0; i < 10; i++) {
        char piece[64];
        /* 59 characters per piece, joined by one space: 10 * 60 - 1 = 599,
         * and a final '!' makes 600 */
        snprintf(piece, sizeof piece, "--option-%02d=%047d%s", i, i, i == 9 ? "!" : "");
        n += (size_t)snprintf(text + n, sizeof text - n, "%s%s%s\n", i % 2 ? "\t" : "        ",
                              piece, i == 9 ? "  ; end" : "");
        if (i)
            strcat(expect, " ");
        strcat(expect, piece);
    }
    assert_int_equal(strlen(expect), 600);
    config *c = load_ok(text, 0);
    assert_string_equal(c->neo4j.dump_command, expect);
    config_free(c);
    /* line numbers stay right after the block: the unknown key is line 14 */
    strcat(text, "[retention]\nfoo = 1\n");
    expect_err_prefix(text, 0, ":14: [retention] foo: unknown key");

    /* First piece on the key line; continuation joined with one space. */
    c = load_ok("[neo4j]\nload_command = a b\n  c   d\n\t e\n", 0);
    assert_string_equal(c->neo4j.load_command, "a b c   d e");
    config_free(c);

    /* A blank or comment line ends the value: an indented line after it is
     * an ordinary key line. */
    c = load_ok("[neo4j]\nstop_command = a\n\n   start_command = b\n# c\n  check_command = c\n", 0);
    assert_string_equal(c->neo4j.stop_command, "a");
    assert_string_equal(c->neo4j.start_command, "b");
    assert_string_equal(c->neo4j.check_command, "c");
    config_free(c);
}

/* A key line holds up to 198 characters of key, '=' and value (the limit
 * docs/CONFIG.md documents); one more is refused, never cut. */
static void test_long_line(void **state)
{
    (void)state;
    int limit = 198;
    const char *key = "dump_command";
    int vlen = limit - (int)strlen(key) - 1;
    char value[512], text[2048];
    memset(value, 'x', (size_t)vlen);
    value[0] = 'a';
    value[vlen - 1] = 'z';
    value[vlen] = '\0';
    snprintf(text, sizeof text, "[neo4j]\n%s   =   %s    ; a long comment %0300d\n", key, value, 0);
    config *c = load_ok(text, 0);
    assert_string_equal(c->neo4j.dump_command, value);
    config_free(c);

    strcat(value, "Z");
    snprintf(text, sizeof text, "[neo4j]\n\n%s = %s\nstop_command = x\n", key, value);
    char want[512];
    snprintf(want, sizeof want,
             ":3: [neo4j] dump_command: line too long: key and value take %d characters, at "
             "most %d fit; continue the value on indented lines below the key (joined with one "
             "space)",
             limit + 1, limit);
    expect_err(text, 0, want);

    /* A too long continuation line is refused as well. */
    memset(value, 'y', 300);
    value[300] = '\0';
    snprintf(text, sizeof text, "[neo4j]\n%s = a\n  %s\n", key, value);
    snprintf(want, sizeof want,
             ":3: [neo4j] dump_command: line too long: this continuation line "
             "holds 300 characters, at most %d fit",
             limit - 1);
    expect_err_prefix(text, 0, want);

    /* A long comment line is harmless. */
    memset(value, 'c', 400);
    value[400] = '\0';
    snprintf(text, sizeof text, "# %s\n[local]\n; %s\nname_prefix = p2\n", value, value);
    c = load_ok(text, 0);
    assert_string_equal(c->local.name_prefix, "p2");
    config_free(c);
}

/* -------------------------------------------------------------- errors */

static void test_error_sections(void **state)
{
    (void)state;
    expect_err_prefix("[general]\n[foo]\n", 0, ":2: [foo]: unknown section (known: general");
    expect_err_prefix("\n[remote nas]\n", 0, ":2: [remote nas]: a remote section is written");
    expect_err_prefix("[remote \"a/b\"]\n", 0, ":1: [remote \"a/b\"]: a remote section is");
    expect_err_prefix("[remote \"\"]\n", 0, ":1: [remote \"\"]: a remote section is");
    expect_err("[remote \"n\"]\ntype = local\npath = /a\n\n[remote \"n\"]\ntype = local\n", 0,
               ":5: [remote \"n\"]: duplicate remote name (first on line 1)");
    expect_err("[keys]\n[general]\n[keys]\n", 0, ":3: [keys]: section repeated (first on line 1)");
    expect_err("[general\n", 0, ":1: section header without ']'");
    expect_err("[general] x\n", 0, ":1: unexpected text after ']': \"x\"");
    expect_err("syslog = no\n", 0,
               ":1: syslog: key outside of any section (start with [general], [neo4j], ...)");
    expect_err("[general]\n\nsyslog\n", 0,
               ":3: [general]: expected \"key = value\", a [section] or a comment");
    expect_err("[general]\n = yes\n", 0, ":2: [general]: missing key name before '='");
    expect_err("[general]\nsyslog = n\x01o\n", 0, ":2: control character 0x01 at column 11");
}

static void test_error_keys(void **state)
{
    (void)state;
    expect_err("[neo4j]\ndatabase = neo4j\ndump_comand = x\n", 0,
               ":3: [neo4j] dump_comand: unknown key (keys of [neo4j]: database, dump_command, "
               "load_command, stop_command, start_command, check_command, version_command, "
               "command_timeout)");
    expect_err("[remote \"r\"]\ntype = local\npath = /p\nfoo = 1\n", 0,
               ":4: [remote \"r\"] foo: unknown key for a remote (see docs/CONFIG.md)");
    /* A key of another remote type names the types, also when `type` comes
     * after it. */
    expect_err("[remote \"o\"]\nbucket = b\ntype = sftp\n", 0,
               ":2: [remote \"o\"] bucket: not valid for a sftp remote (only for s3)");
    expect_err("[remote \"l\"]\ntype = local\npath = /p\nretries = 3\n", 0,
               ":4: [remote \"l\"] retries: not valid for a local remote (only for sftp or s3)");
    expect_err("[remote \"s\"]\ntype = s3\nhost = h\n", 0,
               ":3: [remote \"s\"] host: not valid for a s3 remote (only for sftp)");
    expect_err("[general]\n\n[remote \"r\"]\npath = /p\n", 0,
               ":3: [remote \"r\"] type: missing, required: local, sftp or s3");
    expect_err("[remote \"r\"]\ntype = ftp\n", 0,
               ":2: [remote \"r\"] type: bad value \"ftp\": expected local, sftp or s3");
    expect_err("[retention]\nkeep_days = 7\nmin_keep = 2\nkeep_days = 8\n", 0,
               ":4: [retention] keep_days: duplicate key (first set on line 2)");
    expect_err("[remote \"r\"]\ntype = local\ntype = local\n", 0,
               ":3: [remote \"r\"] type: duplicate key (first set on line 2)");
}

static void test_error_values(void **state)
{
    (void)state;
    expect_err("[general]\nsyslog = maybe\n", 0,
               ":2: [general] syslog: bad value \"maybe\": expected yes or no (also true/false, "
               "on/off, 1/0)");
    expect_err("[retention]\nkeep_days = 7d\n", 0,
               ":2: [retention] keep_days: bad value \"7d\": expected a whole number (allowed "
               "0..36500)");
    expect_err("[retention]\nmin_keep = 0\n", 0,
               ":2: [retention] min_keep: 0 is out of range (allowed 1..100000)");
    expect_err("[neo4j]\ncommand_timeout = 6 hours\n", 0,
               ":2: [neo4j] command_timeout: bad value \"6 hours\": expected a duration like 90s, "
               "30m, 6h, 2d, 1h30m or seconds (allowed 0..30d)");
    expect_err("[neo4j]\ncommand_timeout = 31d\n", 0,
               ":2: [neo4j] command_timeout: 31d is out of range (allowed 0..30d)");
    const char *s3 = "[remote \"s\"]\ntype = s3\nendpoint = http://h\nregion = r\nbucket = bkt\n";
    char text[512];
    snprintf(text, sizeof text, "%spart_size = 8 MeB\n", s3);
    expect_err(text, 0,
               ":6: [remote \"s\"] part_size: bad value \"8 MeB\": expected a size like 8MiB, "
               "512KiB, 1GiB or bytes (allowed 5MiB..5GiB)");
    snprintf(text, sizeof text, "%spart_size = 5MB\n", s3);
    expect_err(text, 0, ":6: [remote \"s\"] part_size: 5MB is out of range (allowed 5MiB..5GiB)");
    snprintf(text, sizeof text, "%sparallel_parts = 65\n", s3);
    expect_err(text, 0, ":6: [remote \"s\"] parallel_parts: 65 is out of range (allowed 1..64)");
    snprintf(text, sizeof text, "%sbucket2 = x\n", s3);
    expect_err_prefix(text, 0, ":6: [remote \"s\"] bucket2: unknown key");
    snprintf(text, sizeof text, "%surl_style = dns\n", s3);
    expect_err(text, 0, ":6: [remote \"s\"] url_style: bad value \"dns\": expected virtual/path");
    expect_err("[remote \"s\"]\ntype = s3\nendpoint = ftp://h\n", 0,
               ":3: [remote \"s\"] endpoint: \"ftp://h\" is not an http:// or https:// URL");
    expect_err_prefix("[remote \"s\"]\ntype = s3\nbucket = My_Bucket\n", 0,
                      ":3: [remote \"s\"] bucket: bad bucket name \"My_Bucket\"");
    expect_err("[remote \"o\"]\ntype = sftp\nport = 0\n", 0,
               ":3: [remote \"o\"] port: 0 is out of range (allowed 1..65535)");
    expect_err_prefix("[remote \"o\"]\ntype = sftp\nhost_key_fingerprint = MD5:aa\n", 0,
                      ":3: [remote \"o\"] host_key_fingerprint: \"MD5:aa\" is not an SHA256");
    expect_err("[keys]\npublic_key = ~/archive.pub\n", 0,
               ":2: [keys] public_key: \"~/archive.pub\": '~' is not expanded, write the full "
               "path");
    expect_err("[local]\ndirectory = \"\"\n", 0, ":2: [local] directory: empty path");
    expect_err("[remote \"s\"]\ntype = s3\nregion = ''\n", 0,
               ":3: [remote \"s\"] region: empty value (leave the value out to unset the key)");
    expect_err_prefix("[local]\nname_prefix = a/b\n", 0,
                      ":2: [local] name_prefix: \"a/b\": only letters, digits");
    expect_err("[neo4j]\ndatabase = neo4j,, system\n", 0,
               ":2: [neo4j] database: empty item 2 in the list \"neo4j,, system\"");
    expect_err("[neo4j]\ndatabase = neo4j, system, neo4j\n", 0,
               ":2: [neo4j] database: \"neo4j\" is listed twice");
    expect_err_prefix("[neo4j]\ndatabase = neo4j, ../etc\n", 0,
                      ":2: [neo4j] database: database name '../etc'");
    expect_err("[keys]\nverify_key = /a.pub, ~/b.pub\n", 0,
               ":2: [keys] verify_key: \"~/b.pub\": '~' is not expanded, write the full path");
    expect_err_prefix("[notify]\nping_url = hc-ping.example/x\n", 0,
                      ":2: [notify] ping_url: \"hc-ping.example/x\" is not an http://");
    /* Unbalanced quotes are refused, not read as a value that swallowed its
     * comment. */
    expect_err_prefix("[local]\ndirectory = /mnt/bob's disk   ; comment\n", 0,
                      ":2: [local] directory: unbalanced ' quote");
    expect_err_prefix("[neo4j]\nstop_command = sh -c 'a\n# comment ends the value\n  b'\n", 0,
                      ":2: [neo4j] stop_command: unbalanced ' quote");
    expect_err_prefix("[neo4j]\nstop_command = sh -c \"a\n\n", 0,
                      ":2: [neo4j] stop_command: unbalanced \" quote");
    expect_err_prefix("[neo4j]\nstop_command = sh -c 'a ; b\n  c\n[local]\n", 0,
                      ":2: [neo4j] stop_command: unbalanced ' quote");
    expect_err_prefix("[neo4j]\ncheck_command = echo \"x\n", 0,
                      ":2: [neo4j] check_command: unbalanced \" quote");
}

static void test_error_required(void **state)
{
    (void)state;
    const char *remote = "[remote \"nas\"]\ntype = local\npath = /mnt/n\n";
    char text[1024];

    /* backup: keys, local directory, a remote */
    snprintf(text, sizeof text, "%s[local]\ndirectory = /d\n", remote);
    expect_err(text, CFG_CMD_BACKUP, ": [keys] public_key: missing, required by backup");
    snprintf(text, sizeof text, "%s[local]\ndirectory = /d\n[keys]\npublic_key = /k/a.pub\n",
             remote);
    expect_err(text, CFG_CMD_BACKUP, ":6: [keys] signing_key: missing, required by backup");
    snprintf(text, sizeof text, "%s[keys]\npublic_key = /a\nsigning_key = /s\n", remote);
    expect_err(text, CFG_CMD_BACKUP, ": [local] directory: missing, required by backup");
    snprintf(text, sizeof text,
             "%s[local]\nname_prefix = x\n[keys]\npublic_key = /a\n"
             "signing_key = /s\n",
             remote);
    expect_err(text, CFG_CMD_PUSH, ":4: [local] directory: missing, required by push");
    expect_err("[local]\ndirectory = /d\n[keys]\npublic_key = /a\nsigning_key = /s\n",
               CFG_CMD_BACKUP,
               ": [remote \"NAME\"]: missing: backup needs at least one remote section");
    config_free(load_ok("[local]\ndirectory = /d\n[keys]\npublic_key = /a\nsigning_key = /s\n"
                        "[remote \"r\"]\ntype = local\npath = /r\n",
                        CFG_CMD_BACKUP));

    /* list: a remote only */
    expect_err("[general]\n", CFG_CMD_LIST,
               ": [remote \"NAME\"]: missing: list needs at least one remote section");
    config_free(load_ok(remote, CFG_CMD_LIST));

    /* verify, audit: verify_key and a remote; fetch also secret_key */
    expect_err(remote, CFG_CMD_VERIFY, ": [keys] verify_key: missing, required by verify");
    expect_err(remote, CFG_CMD_AUDIT, ": [keys] verify_key: missing, required by audit");
    snprintf(text, sizeof text, "%s[keys]\nverify_key = /v\n", remote);
    config_free(load_ok(text, CFG_CMD_VERIFY));
    config_free(load_ok(text, CFG_CMD_AUDIT));
    expect_err(text, CFG_CMD_FETCH, ":4: [keys] secret_key: missing, required by fetch");
    expect_err("[keys]\nverify_key = /v\nsecret_key = /s\n", CFG_CMD_FETCH,
               ": [remote \"NAME\"]: missing: fetch needs at least one remote section");

    /* restore: secret_key, verify_key, local directory (load_command has a
     * default) */
    snprintf(text, sizeof text, "%s[keys]\nverify_key = /v\nsecret_key = /s\n", remote);
    expect_err(text, CFG_CMD_RESTORE, ": [local] directory: missing, required by restore");
    snprintf(text, sizeof text, "%s[keys]\nsecret_key = /s\n[local]\ndirectory = /d\n", remote);
    expect_err(text, CFG_CMD_RESTORE, ":4: [keys] verify_key: missing, required by restore");
    snprintf(text, sizeof text,
             "%s[keys]\nverify_key = /v\nsecret_key = /s\n[local]\ndirectory = /d\n", remote);
    config *c = load_ok(text, CFG_CMD_RESTORE);
    assert_non_null(c->neo4j.load_command);
    config_free(c);

    /* prune, status: a remote or the local directory */
    expect_err("[general]\n", CFG_CMD_PRUNE,
               ": [local] directory: missing, required by prune when no remote section is "
               "configured");
    expect_err("[local]\nname_prefix = p\n", CFG_CMD_STATUS,
               ":1: [local] directory: missing, required by status when no remote section is "
               "configured");
    config_free(load_ok(remote, CFG_CMD_PRUNE));
    config_free(load_ok("[local]\ndirectory = /d\n", CFG_CMD_STATUS));

    /* keygen: nothing */
    config_free(load_ok("", CFG_CMD_KEYGEN));
    config_free(load_ok("# nothing\n", 0));

    /* A remote lacking a key its type requires: whatever the command. */
    expect_err("[general]\n\n[remote \"o\"]\ntype = sftp\nhost = h\nuser = u\n"
               "identity_file = /i\npath = /p\n",
               0, ":3: [remote \"o\"] known_hosts: missing, required for sftp remotes");
    expect_err("[remote \"n\"]\ntype = local\n", CFG_CMD_LIST,
               ":1: [remote \"n\"] path: missing, required for local remotes");
    expect_err("[remote \"s\"]\ntype = s3\nendpoint = https://h\nbucket = bkt\n", 0,
               ":1: [remote \"s\"] region: missing, required for s3 remotes");
}

static void test_missing_file(void **state)
{
    (void)state;
    char path[600];
    snprintf(path, sizeof path, "%s/does-not-exist.conf", tmpdir);
    err_clear();
    assert_null(config_load(path, CFG_CMD_LIST));
    assert_int_equal(err_get_kind(), ERR_USAGE);
    char want[700];
    snprintf(want, sizeof want, "cannot open config file %s: No such file or directory", path);
    assert_string_equal(err_msg(), want);

    /* A directory opens but cannot be read. */
    err_clear();
    assert_null(config_load(tmpdir, 0));
    assert_int_equal(err_get_kind(), ERR_USAGE);
    snprintf(want, sizeof want, "cannot read config file %s: Is a directory", tmpdir);
    assert_string_equal(err_msg(), want);
}

static void test_require_and_find(void **state)
{
    (void)state;
    config *c = load_ok("[general]\nsyslog = no\n\n[keys]\nverify_key = /v\n"
                        "[remote \"nas\"]\ntype = local\npath = /n\n"
                        "[remote \"o\"]\ntype = sftp\nhost = h\nuser = u\nidentity_file = /i\n"
                        "known_hosts = /k\npath = /p\n",
                        CFG_CMD_VERIFY);
    assert_int_equal(config_require(c, "keys", "verify_key", "verify"), 0);
    err_clear();
    assert_int_equal(config_require(c, "keys", "secret_key", "verify --deep"), -1);
    assert_int_equal(err_get_kind(), ERR_USAGE);
    char want[700];
    snprintf(want, sizeof want, "%s:4: [keys] secret_key: missing, required by verify --deep",
             cfgpath);
    assert_string_equal(err_msg(), want);
    assert_int_equal(config_require(c, "notify", "ping_url", "--ping"), -1);
    snprintf(want, sizeof want, "%s: [notify] ping_url: missing, required by --ping", cfgpath);
    assert_string_equal(err_msg(), want);
    assert_int_equal(config_require(c, "remote \"o\"", "host", "x"), 0);
    assert_int_equal(
        config_require(c, "remote \"o\"", "identity_passphrase_file", "an encrypted identity"), -1);
    snprintf(want, sizeof want,
             "%s:9: [remote \"o\"] identity_passphrase_file: missing, required by an encrypted "
             "identity",
             cfgpath);
    assert_string_equal(err_msg(), want);

    const config_remote *r = config_remote_find(c, "o");
    assert_non_null(r);
    assert_string_equal(r->host, "h");
    assert_ptr_equal(config_remote_find(c, "nas"), &c->remotes[0]);
    err_clear();
    assert_null(config_remote_find(c, "s3"));
    assert_int_equal(err_get_kind(), ERR_USAGE);
    snprintf(want, sizeof want, "no remote \"s3\" in %s (configured: nas, o)", cfgpath);
    assert_string_equal(err_msg(), want);
    config_free(c);
    config_free(NULL);
}

static void test_parse_units(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        long v;
    } durs[] = {{"0", 0},       {"45", 45},     {"90s", 90},     {"30m", 1800},    {"6h", 21600},
                {"2d", 172800}, {"1w", 604800}, {"1h30m", 5400}, {"1d12h", 129600}};
    for (size_t i = 0; i < sizeof durs / sizeof durs[0]; i++) {
        long v = -1;
        assert_int_equal(config_parse_duration(durs[i].s, &v), 0);
        assert_int_equal(v, durs[i].v);
    }
    static const char *const bad_durs[] = {
        "", "h", "6x", "1h30", "-5", "6 h", "1.5h", "99999999999999999999", "9999999999999999w"};
    for (size_t i = 0; i < sizeof bad_durs / sizeof bad_durs[0]; i++) {
        long v;
        if (config_parse_duration(bad_durs[i], &v) == 0)
            fail_msg("duration \"%s\" accepted", bad_durs[i]);
    }
    static const struct {
        const char *s;
        uint64_t v;
    } sizes[] = {{"0", 0},
                 {"1024", 1024},
                 {"8MiB", 8ull << 20},
                 {"8M", 8ull << 20},
                 {"8mib", 8ull << 20},
                 {"5MB", 5000000},
                 {"512KiB", 512ull << 10},
                 {"2k", 2048},
                 {"3kB", 3000},
                 {"1 GiB", 1ull << 30},
                 {"5TiB", 5ull << 40},
                 {"1TB", 1000000000000ull},
                 {"7B", 7}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint64_t v = 1;
        assert_int_equal(config_parse_size(sizes[i].s, &v), 0);
        assert_int_equal(v, sizes[i].v);
    }
    static const char *const bad_sizes[] = {
        "", "MiB", "8XiB", "-1", "1.5GiB", "8 M B", "99999999999999999999", "20000000TiB"};
    for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
        uint64_t v;
        if (config_parse_size(bad_sizes[i], &v) == 0)
            fail_msg("size \"%s\" accepted", bad_sizes[i]);
    }
}

/* The examples set version_command.  While this build still reserves it
 * (docs/CONFIG.md, "Reserved keys"), SRC is copied without that key (its line
 * and continuation lines) into the test directory and the copy is loaded, so
 * that everything else in the example is still checked; once it is built,
 * the example itself is loaded.  The path to load is left in OUT. */
static void example_path(const char *src, char *out, size_t outlen)
{
    const config_key *k = config_key_find(CONFIG_SEC_NEO4J, "version_command");
    assert_non_null(k);
    if (!k->reserved) {
        snprintf(out, outlen, "%s", src);
        return;
    }
    print_message("example %s: version_command is still reserved in this build: "
                  "checking a copy without it\n",
                  src);
    FILE *in = fopen(src, "r");
    assert_non_null(in);
    snprintf(out, outlen, "%s/example%d.conf", tmpdir, ++counter);
    FILE *o = fopen(out, "w");
    assert_non_null(o);
    char line[1024];
    int skipping = 0, dropped = 0;
    while (fgets(line, sizeof line, in)) {
        if (skipping && (line[0] == ' ' || line[0] == '\t') && line[strspn(line, " \t")] != '\n')
            continue; /* a continuation line of version_command */
        skipping = strncmp(line, "version_command", 15) == 0 && strchr(" \t=", line[15]);
        if (skipping) {
            dropped++;
            continue;
        }
        fputs(line, o);
    }
    assert_int_equal(fclose(in), 0);
    assert_int_equal(fclose(o), 0);
    assert_int_equal(dropped, 1);
}

static void test_examples(void **state)
{
    (void)state;
    const char *src = getenv("N4O_SOURCE");
    if (!src)
        skip(); /* run by ctest, which sets N4O_SOURCE */
    char example[1024], path[1024];
    snprintf(example, sizeof example, "%s/conf/neo4j-offsite.conf", src);
    example_path(example, path, sizeof path);
    config *c = config_load(path, CFG_CMD_BACKUP);
    if (!c) {
        fail_msg("%s", err_msg());
        return;
    }
    assert_string_equal(c->neo4j.stop_command, "docker stop --time 120 haia-neo4j");
    assert_int_equal(c->neo4j.n_databases, 2);
    assert_string_equal(c->neo4j.databases[1], "system");
    assert_string_equal(c->neo4j.dump_command,
                        "docker run --rm --user 7474:7474 --volumes-from haia-neo4j --network none "
                        "--log-driver none neo4j:5.26.0-community "
                        "neo4j-admin database dump --to-stdout {database}");
    assert_string_equal(c->neo4j.load_command,
                        "docker run --rm --interactive --user 7474:7474 --volumes-from haia-neo4j "
                        "--network none neo4j:5.26.0-community neo4j-admin database load "
                        "--from-stdin --overwrite-destination=true {database}");
    assert_non_null(strstr(c->neo4j.check_command, "docker exec haia-neo4j sh -c 'export "));
    if (c->neo4j.version_command)
        assert_string_equal(c->neo4j.version_command,
                            "docker run --rm --network none neo4j:5.26.0-community "
                            "neo4j-admin --version");
    assert_string_equal(c->local.directory, "/var/lib/docker/volumes/haia_neo4j-backups/_data");
    assert_null(c->keys.secret_key);
    assert_int_equal(c->retention.keep_weekly, 4);
    assert_int_equal(c->retention.keep_monthly, 6);
    assert_int_equal(c->n_remotes, 3);
    assert_string_equal(c->remotes[0].type, "local");
    assert_string_equal(c->remotes[1].type, "sftp");
    assert_string_equal(c->remotes[2].type, "s3");
    config_free(c);
    static const unsigned cmds[] = {CFG_CMD_PUSH,  CFG_CMD_LIST,  CFG_CMD_VERIFY,
                                    CFG_CMD_PRUNE, CFG_CMD_AUDIT, CFG_CMD_STATUS};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        c = config_load(path, cmds[i]);
        if (!c)
            fail_msg("%s for %s: %s", path, config_cmd_name(cmds[i]), err_msg());
        config_free(c);
    }

    snprintf(example, sizeof example, "%s/conf/bare-metal.conf", src);
    example_path(example, path, sizeof path);
    c = config_load(path, CFG_CMD_BACKUP);
    if (!c) {
        fail_msg("%s", err_msg());
        return;
    }
    assert_int_equal(c->neo4j.n_databases, 2);
    assert_string_equal(c->neo4j.databases[1], "system");
    assert_string_equal(c->neo4j.stop_command, "systemctl stop neo4j");
    assert_string_equal(c->neo4j.load_command,
                        "runuser -u neo4j -- neo4j-admin database load --from-stdin "
                        "--overwrite-destination=true {database}");
    if (c->neo4j.version_command)
        assert_string_equal(c->neo4j.version_command, "neo4j-admin --version");
    assert_int_equal(c->general.syslog, 0);
    assert_int_equal(c->retention.keep_days, 14);
    assert_int_equal(c->retention.min_keep, 3);
    assert_int_equal(c->n_remotes, 2);
    assert_string_equal(c->remotes[1].url_style, "path");
    assert_string_equal(c->remotes[1].credentials, "/etc/neo4j-offsite/s3-credentials");
    assert_int_equal(c->remotes[0].io_timeout, 120);
    config_free(c);
}

/* --------------------------------------------------- issues 10 and 11 */

#define HASH_REASON                                                                                \
    "'#' after white space, outside quotes: a comment after a value starts with ' ;' (value   ; "  \
    "comment); a '#' that belongs to the value needs quotes around the value (\"...\" or '...')"

/* " #" outside quotes is refused (never a silent cut, never a comment kept
 * in the value); quoted, or without white space before it, '#' is text. */
static void test_hash_after_space(void **state)
{
    (void)state;
    expect_err("[remote \"n\"]\ntype = local\npath = /x #comment\n", 0,
               ":3: [remote \"n\"] path: " HASH_REASON);
    expect_err("[local]\ndirectory = /srv/a\t# tab before\n", 0,
               ":2: [local] directory: " HASH_REASON);
    expect_err("[neo4j]\nstop_command = docker stop x # comment\n", 0,
               ":2: [neo4j] stop_command: " HASH_REASON);
    /* on a continuation line: that line, the key it continues */
    expect_err("[neo4j]\nload_command = a\n  b #c\n", 0, ":3: [neo4j] load_command: " HASH_REASON);

    config *c = load_ok("[local]\ndirectory = \"/srv/a #b\"   ; quoted\n"
                        "[neo4j]\ncheck_command = sh -c 'echo a # b'\nstop_command = x#y\n",
                        0);
    assert_string_equal(c->local.directory, "/srv/a #b");
    assert_string_equal(c->neo4j.check_command, "sh -c 'echo a # b'");
    assert_string_equal(c->neo4j.stop_command, "x#y");
    config_free(c);
}

/* Quotes enclose a whole value (or list item) or nothing. */
static void test_quotes_whole_value(void **state)
{
    (void)state;
    expect_err_prefix("[remote \"n\"]\ntype = local\npath = \"/x\" extra\n", 0,
                      ":3: [remote \"n\"] path: \"/x\" extra: quotes must enclose the whole value");
    expect_err_prefix("[local]\ndirectory = /x/\"y\"/z\n", 0,
                      ":2: [local] directory: /x/\"y\"/z: quotes must enclose the whole value");
    expect_err_prefix("[remote \"s\"]\ntype = s3\nregion = 'eu' 'west'\n", 0,
                      ":3: [remote \"s\"] region: 'eu' 'west': quotes must enclose the whole");
    expect_err_prefix("[keys]\nverify_key = /a.pub, \"/b.pub\" x\n", 0,
                      ":2: [keys] verify_key: \"/b.pub\" x: quotes must enclose the whole value");
    expect_err_prefix("[neo4j]\ncommand_timeout = \"6h\"h\n", 0,
                      ":2: [neo4j] command_timeout: \"6h\"h: quotes must enclose the whole");
    /* templates keep quotes anywhere: the command splitter reads them */
    config *c = load_ok("[neo4j]\nstop_command = docker stop \"haia neo4j\" --time 1\n", 0);
    assert_string_equal(c->neo4j.stop_command, "docker stop \"haia neo4j\" --time 1");
    config_free(c);
}

/* Templates are split as they will run when the file is read. */
static void test_templates_checked(void **state)
{
    (void)state;
    expect_err_prefix("[neo4j]\nstop_command = docker stop x | tee /tmp/log\n", 0,
                      ":2: [neo4j] stop_command: shell operator '|' needs `sh -c '...'` (character "
                      "15)");
    expect_err_prefix("[neo4j]\n\nstart_command = docker start x && echo up\n", 0,
                      ":3: [neo4j] start_command: shell operator '&&' needs `sh -c '...'` "
                      "(character 16)");
    /* balanced for the INI reader (\" starts a quote there), not for the
     * splitter, where \" is a literal quote */
    expect_err("[neo4j]\ncheck_command = echo \\\"x\"\n", 0,
               ":2: [neo4j] check_command: unbalanced \" quote (opened at character 9)");
    expect_err_prefix("[neo4j]\ndump_command = neo4j-admin database dump $DB\n", 0,
                      ":2: [neo4j] dump_command: '$D' at character 27 would need a shell");
    expect_err("[neo4j]\nload_command = sh -c\n", 0,
               ":2: [neo4j] load_command: `sh -c` needs a script");
    /* the line of the key also when the problem is on a continuation line */
    expect_err_prefix(
        "[neo4j]\nload_command = neo4j-admin database load\n    {database} > /dev/null\n", 0,
        ":2: [neo4j] load_command: shell operator '>' needs `sh -c '...'` "
        "(character 38)");
    expect_err_prefix("[neo4j]\ndump_command = neo4j-admin database dump {databse}\n", 0,
                      ":2: [neo4j] dump_command: unknown placeholder {databse}");

    config *c = load_ok("[neo4j]\nstop_command = sh -c 'docker stop x | tee /tmp/log'\n"
                        "start_command = sh -c docker start x && echo up\n",
                        0);
    assert_string_equal(c->neo4j.stop_command, "sh -c 'docker stop x | tee /tmp/log'");
    config_free(c);
}

static void test_insecure_http(void **state)
{
    (void)state;
    static const char *const refused[] = {
        "http://minio.lan:9000",     "http://10.0.0.5",         "http://user:pw@example.org/",
        "http://[2001:db8::1]:9000", "http://127.0.0.1.nip.io", "http://localhost.example.org",
    };
    static const char *const hosts[] = {
        "minio.lan",   "10.0.0.5",         "example.org",
        "2001:db8::1", "127.0.0.1.nip.io", "localhost.example.org",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        char text[512], want[1024];
        snprintf(text, sizeof text,
                 "[remote \"s\"]\ntype = s3\nregion = r\nendpoint = %s\nbucket = bkt\n",
                 refused[i]);
        snprintf(want, sizeof want,
                 ":4: [remote \"s\"] endpoint: http:// to %s would send the access key id, the "
                 "session token and every request in clear: use https://, or add "
                 "allow_insecure_http = yes to this remote if the network to %s is trusted",
                 hosts[i], hosts[i]);
        expect_err(text, CFG_CMD_LIST, want);
    }
    static const char *const loopback[] = {
        "http://127.0.0.1:9000",      "http://127.8.9.10/",     "http://localhost:9000",
        "http://LOCALHOST",           "http://[::1]:9000",      "http://bucket.s3.localhost:1",
        "http://[::ffff:127.0.0.1]/", "https://minio.lan:9000",
    };
    for (size_t i = 0; i < sizeof loopback / sizeof loopback[0]; i++) {
        char text[512];
        snprintf(text, sizeof text,
                 "[remote \"s\"]\ntype = s3\nregion = r\nendpoint = %s\nbucket = bkt\n",
                 loopback[i]);
        config_free(load_ok(text, CFG_CMD_LIST));
    }
    config *c = load_ok("[remote \"s\"]\ntype = s3\nendpoint = http://minio.lan:9000\nregion = r\n"
                        "bucket = bkt\nallow_insecure_http = yes\n",
                        CFG_CMD_LIST);
    assert_int_equal(c->remotes[0].allow_insecure_http, 1);
    config_free(c);
    expect_err("[remote \"o\"]\ntype = sftp\nallow_insecure_http = yes\n", 0,
               ":3: [remote \"o\"] allow_insecure_http: not valid for a sftp remote (only for s3)");
}

static void test_relative_paths(void **state)
{
    (void)state;
    char sub[256], cwd[4096];
    snprintf(sub, sizeof sub, "%s/rel", tmpdir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(cfgpath, sizeof cfgpath, "%s/c.conf", sub);
    FILE *f = fopen(cfgpath, "w");
    assert_non_null(f);
    fputs("[general]\nlock_file = run/x.lock\n"
          "[local]\ndirectory = ./dumps\n"
          "[keys]\npublic_key = keys/archive.pub\nsigning_key = ../signing.key\n"
          "secret_key = /abs/archive.key\nverify_key = keys/a.pub, /abs/b.pub, 'k s/c.pub'\n"
          "[remote \"nas\"]\ntype = local\npath = ../nas\n"
          "[remote \"off\"]\ntype = sftp\nhost = h\nuser = u\nidentity_file = id\n"
          "identity_passphrase_file = ./pw\nknown_hosts = kh\npath = on/the/server\n"
          "[remote \"s\"]\ntype = s3\nendpoint = https://h\nregion = r\nbucket = bkt\n"
          "credentials = creds\nca_file = ca.pem\n"
          "[remote \"e\"]\ntype = s3\nendpoint = https://h\nregion = r\nbucket = bkt2\n"
          "credentials = env\n",
          f);
    assert_int_equal(fclose(f), 0);
    assert_non_null(getcwd(cwd, sizeof cwd));
    /* the same result from another directory, through an absolute and a
     * relative name of the file */
    static const char *const from[] = {"/", NULL, "."};
    for (int i = 0; i < 3; i++) {
        const char *path = cfgpath;
        char relname[700];
        if (i == 1) {
            assert_int_equal(chdir(tmpdir), 0);
            path = "rel/c.conf";
        } else if (i == 2) {
            assert_int_equal(chdir(sub), 0);
            snprintf(relname, sizeof relname, "./c.conf");
            path = relname;
        } else {
            assert_int_equal(chdir(from[i]), 0);
        }
        config *c = config_load(path, CFG_CMD_BACKUP);
        assert_int_equal(chdir(cwd), 0);
        if (!c) {
            fail_msg("%s", err_msg());
            return;
        }
        char want[800];
#define WANT(field, rel)                                                                           \
    do {                                                                                           \
        snprintf(want, sizeof want, "%s/%s", sub, rel);                                            \
        assert_string_equal(field, want);                                                          \
    } while (0)
        assert_string_equal(c->dir, sub);
        WANT(c->general.lock_file, "run/x.lock");
        WANT(c->local.directory, "dumps");
        WANT(c->keys.public_key, "keys/archive.pub");
        WANT(c->keys.signing_key, "../signing.key");
        assert_string_equal(c->keys.secret_key, "/abs/archive.key");
        assert_int_equal(c->keys.n_verify_keys, 3);
        WANT(c->keys.verify_keys[0], "keys/a.pub");
        assert_string_equal(c->keys.verify_keys[1], "/abs/b.pub");
        WANT(c->keys.verify_keys[2], "k s/c.pub");
        WANT(c->remotes[0].path, "../nas");
        WANT(c->remotes[1].identity_file, "id");
        WANT(c->remotes[1].identity_passphrase_file, "pw");
        WANT(c->remotes[1].known_hosts, "kh");
        assert_string_equal(c->remotes[1].path, "on/the/server"); /* on the server */
        WANT(c->remotes[2].credentials, "creds");
        WANT(c->remotes[2].ca_file, "ca.pem");
        assert_string_equal(c->remotes[3].credentials, "env");
#undef WANT
        config_free(c);
    }

    /* a path too long once resolved: file, line and key */
    char text[8192];
    size_t n = (size_t)snprintf(text, sizeof text, "[local]\n\ndirectory = d\n");
    for (int i = 0; i < 25; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "  %0180d\n", i);
    expect_err_prefix(text, 0, ":3: [local] directory: \"d 000");
    assert_non_null(strstr(err_msg(), "is longer than 4095 bytes"));
}

static void test_duplicate_remotes(void **state)
{
    (void)state;
    expect_err_at("[remote \"NAS\"]\ntype = local\npath = /a\n\n[remote \"nas\"]\ntype = local\n"
                  "path = /b\n",
                  0,
                  ":5: [remote \"nas\"]: remote name differs only in case from [remote \"NAS\"] "
                  "at @F:1; remote names must differ in more than case");
    expect_err_at("[remote \"a\"]\ntype = local\npath = /srv/x\n[remote \"b\"]\ntype = local\n"
                  "path = /srv//./x/\n",
                  CFG_CMD_LIST,
                  ":4: [remote \"b\"]: same target as [remote \"a\"] at @F:1 (local directory "
                  "/srv/x): the two would hold one copy of each archive, counted as two; remove "
                  "one of them or point it elsewhere");
    /* one relative, one absolute: the same directory once resolved */
    char text[2048];
    snprintf(text, sizeof text,
             "[remote \"a\"]\ntype = local\npath = nas\n[remote \"b\"]\ntype = local\n"
             "path = %s/nas\n",
             tmpdir);
    expect_err_prefix(text, 0, ":4: [remote \"b\"]: same target as [remote \"a\"] at ");
    /* two names of one directory (a symbolic link) */
    char real[600], link[600];
    snprintf(real, sizeof real, "%s/real", tmpdir);
    snprintf(link, sizeof link, "%s/link", tmpdir);
    assert_int_equal(mkdir(real, 0700), 0);
    assert_int_equal(symlink(real, link), 0);
    snprintf(text, sizeof text,
             "[remote \"a\"]\ntype = local\npath = %s\n[remote \"b\"]\ntype = local\n"
             "path = %s\n",
             real, link);
    expect_err_prefix(text, 0, ":4: [remote \"b\"]: same target as [remote \"a\"] at ");

    const char *sftp = "type = sftp\nidentity_file = /i\nknown_hosts = /k\n";
    snprintf(text, sizeof text,
             "[remote \"a\"]\n%shost = Backup.example.org\nuser = u\npath = /srv/b\n"
             "[remote \"b\"]\n%shost = backup.example.org\nport = 22\nuser = u\npath = /srv/b/\n",
             sftp, sftp);
    expect_err_at(text, 0,
                  ":8: [remote \"b\"]: same target as [remote \"a\"] at @F:1 (sftp "
                  "u@backup.example.org:22 /srv/b): the two would hold one copy of each archive, "
                  "counted as two; remove one of them or point it elsewhere");
    const char *s3 = "type = s3\nregion = r\nbucket = bkt\n";
    snprintf(text, sizeof text,
             "[remote \"a\"]\n%sendpoint = https://S3.example.org/\nprefix = p\n"
             "[remote \"b\"]\n%sendpoint = https://s3.example.org\nprefix = p/\n",
             s3, s3);
    expect_err_at(text, 0,
                  ":7: [remote \"b\"]: same target as [remote \"a\"] at @F:1 (s3 "
                  "https://s3.example.org bucket bkt prefix \"p/\"): the two would hold one copy "
                  "of each archive, counted as two; remove one of them or point it elsewhere");

    /* different targets are fine */
    snprintf(text, sizeof text,
             "[remote \"a\"]\n%shost = h\nuser = u\npath = /srv/b\n"
             "[remote \"b\"]\n%shost = h\nport = 2222\nuser = u\npath = /srv/b\n"
             "[remote \"c\"]\n%shost = h\nuser = v\npath = /srv/b\n"
             "[remote \"d\"]\ntype = local\npath = /srv/b\n"
             "[remote \"e\"]\n%sendpoint = https://h\nprefix = p/\n"
             "[remote \"f\"]\n%sendpoint = https://h\nprefix = q/\n"
             "[remote \"g\"]\n%sendpoint = https://h2\nprefix = p/\n",
             sftp, sftp, sftp, s3, s3, s3);
    config *c = load_ok(text, CFG_CMD_LIST);
    assert_int_equal(c->n_remotes, 7);
    config_free(c);
}

/* Keys nothing implements: refused unless left at their default (or unset),
 * so a config never asks for a feature that silently does not happen. */
/* [retention] is read: values, defaults and limits */
static void test_retention_keys(void **state)
{
    (void)state;
    config *c = load_ok("[local]\ndirectory = /tmp\n[retention]\nkeep_days = 14\nmin_keep = 5\n"
                        "keep_weekly = 4\nkeep_monthly = 6\n",
                        CFG_CMD_PRUNE);
    assert_int_equal(c->retention.keep_days, 14);
    assert_int_equal(c->retention.min_keep, 5);
    assert_int_equal(c->retention.keep_weekly, 4);
    assert_int_equal(c->retention.keep_monthly, 6);
    config_free(c);
    c = load_ok("[local]\ndirectory = /tmp\n[retention]\n", CFG_CMD_PRUNE);
    assert_int_equal(c->retention.keep_days, 7);
    assert_int_equal(c->retention.min_keep, 3);
    assert_int_equal(c->retention.keep_weekly, 0);
    assert_int_equal(c->retention.keep_monthly, 0);
    config_free(c);
    /* never fewer than one good backup */
    expect_err("[local]\ndirectory = /tmp\n[retention]\nmin_keep = 0\n", CFG_CMD_PRUNE,
               ":4: [retention] min_keep: 0 is out of range (allowed 1..100000)");
    expect_err("[local]\ndirectory = /tmp\n[retention]\nkeep_days = -1\n", CFG_CMD_PRUNE,
               ":4: [retention] keep_days: -1 is out of range (allowed 0..36500)");
}

static void test_reserved_keys(void **state)
{
    (void)state;
    static const struct {
        const char *name, *text, *want;
    } cases[] = {
        {"syslog", "[general]\nsyslog = yes\n",
         ":2: [general] syslog: syslog is not implemented in this version (log messages go to "
         "stderr only): remove the line or set it to no"},
        {"ping_url", "[notify]\nping_url = https://hc-ping.example/UUID\n",
         ":2: [notify] ping_url: ping_url is not implemented in this version (no notification "
         "is sent yet): remove the line"},
        {"metrics_textfile", "[notify]\nmetrics_textfile = /m/x.prom\n",
         ":2: [notify] metrics_textfile: metrics_textfile is not implemented in this version (no "
         "notification is sent yet): remove the line"},
        {"object_lock",
         "[remote \"s\"]\ntype = s3\nendpoint = https://h\nregion = r\nbucket = bkt\n"
         "object_lock = governance\n",
         ":6: [remote \"s\"] object_lock: object_lock is not implemented in this version "
         "(archives are not locked yet): remove the line or set it to off"},
        {"object_lock_extra_days",
         "[remote \"s\"]\ntype = s3\nendpoint = https://h\nregion = r\nbucket = bkt\n"
         "object_lock_extra_days = 3\n",
         ":6: [remote \"s\"] object_lock_extra_days: object_lock_extra_days is not implemented "
         "in this version (archives are not locked yet): remove the line or set it to 1"},
        {"prune_credentials",
         "[remote \"s\"]\ntype = s3\nendpoint = https://h\nregion = r\nbucket = bkt\n"
         "prune_credentials = /etc/neo4j-offsite/prune-credentials\n",
         ":6: [remote \"s\"] prune_credentials: prune_credentials is not implemented in this "
         "version (prune deletes with the remote's own credentials until Object Lock is built): "
         "remove the line"},
    };
    size_t n = sizeof cases / sizeof cases[0];
    for (size_t i = 0; i < n; i++)
        expect_err(cases[i].text, CFG_CMD_BACKUP, cases[i].want);
    /* every reserved key of the table has a case above */
    for (size_t i = 0; i < config_key_count; i++) {
        if (!config_key_table[i].reserved)
            continue;
        size_t j = 0;
        while (j < n && strcmp(cases[j].name, config_key_table[i].name) != 0)
            j++;
        if (j == n)
            fail_msg("reserved key %s has no test case", config_key_table[i].name);
    }

    /* the default, "off" or an empty value ask for nothing */
    config *c = load_ok("[general]\nsyslog = off\n[neo4j]\nversion_command =\n"
                        "[retention]\nkeep_days = 7\nmin_keep = 3\nkeep_weekly = 0\n"
                        "keep_monthly = 0\n[notify]\nping_url =\nmetrics_textfile =\n"
                        "[remote \"s\"]\ntype = s3\nendpoint = https://h\nregion = r\n"
                        "bucket = bkt\nobject_lock = off\nobject_lock_extra_days = 1\n"
                        "prune_credentials =\n",
                        0);
    assert_string_equal(c->remotes[0].object_lock, "off");
    config_free(c);
    /* no longer reserved: backup records the version, restore checks it */
    c = load_ok("[neo4j]\nversion_command = docker exec haia-neo4j neo4j-admin --version\n", 0);
    assert_string_equal(c->neo4j.version_command, "docker exec haia-neo4j neo4j-admin --version");
    config_free(c);
    /* a bad value is still a bad value */
    expect_err("[remote \"s\"]\ntype = s3\nobject_lock = on\n", 0,
               ":3: [remote \"s\"] object_lock: bad value \"on\": expected "
               "off/governance/compliance");
}

static void test_reference(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    config_write_reference(f);
    assert_int_equal(fclose(f), 0);
    /* every key of the table appears as a table row */
    for (size_t i = 0; i < config_key_count; i++) {
        char row[96];
        snprintf(row, sizeof row, "\n| `%s` |", config_key_table[i].name);
        if (!strstr(buf, row))
            fail_msg("no row for %s", config_key_table[i].name);
    }
    for (int k = 0; k < CONFIG_SEC_REMOTE; k++) {
        char head[64];
        snprintf(head, sizeof head, "\n## [%s]\n", config_section_name(k));
        assert_non_null(strstr(buf, head));
    }
    assert_non_null(strstr(buf, "\n## [remote \"NAME\"]\n"));
    assert_non_null(strstr(buf, "| `part_size` | s3 | - | size | `8MiB` | 5MiB..5GiB |"));
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),           cmocka_unit_test(test_spec_example),
        cmocka_unit_test(test_url_style_default),  cmocka_unit_test(test_values),
        cmocka_unit_test(test_inline_comments),    cmocka_unit_test(test_quoted_semicolon_and_hash),
        cmocka_unit_test(test_continuation),       cmocka_unit_test(test_long_line),
        cmocka_unit_test(test_error_sections),     cmocka_unit_test(test_error_keys),
        cmocka_unit_test(test_error_values),       cmocka_unit_test(test_error_required),
        cmocka_unit_test(test_missing_file),       cmocka_unit_test(test_require_and_find),
        cmocka_unit_test(test_parse_units),        cmocka_unit_test(test_examples),
        cmocka_unit_test(test_reference),          cmocka_unit_test(test_hash_after_space),
        cmocka_unit_test(test_quotes_whole_value), cmocka_unit_test(test_templates_checked),
        cmocka_unit_test(test_insecure_http),      cmocka_unit_test(test_relative_paths),
        cmocka_unit_test(test_duplicate_remotes),  cmocka_unit_test(test_reserved_keys),
        cmocka_unit_test(test_retention_keys),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
