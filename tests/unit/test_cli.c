/* Unit tests: cli (the command table and the usage helpers): every command
 * is found by its name, its help and the overview show what the table
 * holds (commands not implemented yet marked so), usage errors say what is
 * wrong and return exit code 2, and --help / -h is found before "--". */
#include <getopt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli.h"

/* ---- capturing a standard stream ------------------------------------------- */

static FILE *cap_file;
static int saved_fd = -1, cap_fd;

static void capture_start(int fd)
{
    fflush(stdout);
    fflush(stderr);
    cap_fd = fd;
    cap_file = tmpfile();
    assert_non_null(cap_file);
    saved_fd = dup(fd);
    assert_int_equal(dup2(fileno(cap_file), fd), fd);
}

static char *capture_end(void)
{
    fflush(stdout);
    fflush(stderr);
    dup2(saved_fd, cap_fd);
    close(saved_fd);
    long n = ftell(cap_file);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    rewind(cap_file);
    assert_int_equal(fread(buf, 1, (size_t)n, cap_file), (size_t)n);
    buf[n] = '\0';
    fclose(cap_file);
    return buf;
}

/* The commands of SPEC.md, in the order of the overview. */
static const char *const spec_commands[] = {"keygen", "backup",  "push",  "list",  "verify",
                                            "fetch",  "restore", "prune", "audit", "status"};
#define N_SPEC (sizeof spec_commands / sizeof spec_commands[0])

static void test_find(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_SPEC; i++) {
        const cli_command *c = cli_find(spec_commands[i]);
        assert_non_null(c);
        assert_ptr_equal(c, &cli_commands[i]);
        assert_string_equal(c->name, spec_commands[i]);
        /* the usage line starts with the command's own name */
        assert_int_equal(strncmp(c->usage, c->name, strlen(c->name)), 0);
        assert_true(strlen(c->summary) > 0);
        assert_true(strlen(c->help) > 0);
        /* a command without a function says so in its help */
        if (!c->fn)
            assert_non_null(strstr(c->help, "Not implemented yet"));
    }
    assert_null(cli_find("nope"));
    assert_null(cli_find(""));
    assert_null(cli_find("Backup")); /* names are exact */
    assert_null(cli_find("back"));
    /* the commands of this version that do work */
    const char *const working[] = {"keygen", "backup", "list", "verify", "fetch"};
    for (size_t i = 0; i < sizeof working / sizeof working[0]; i++)
        assert_non_null(cli_find(working[i])->fn);
}

static void test_help(void **state)
{
    (void)state;
    const cli_command *c = cli_find("fetch");
    capture_start(1);
    cli_print_help(c);
    char *out = capture_end();
    char want[512];
    snprintf(want, sizeof want, "Usage: neo4j-offsite [global options] %s\n\n%s.\n\n", c->usage,
             c->summary);
    assert_int_equal(strncmp(out, want, strlen(want)), 0);
    assert_non_null(strstr(out, c->help));
    assert_non_null(strstr(out, "Global options"));
    free(out);
}

static void test_overview(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    cli_print_overview(f);
    long n = ftell(f);
    char *out = malloc((size_t)n + 1);
    rewind(f);
    assert_int_equal(fread(out, 1, (size_t)n, f), (size_t)n);
    out[n] = '\0';
    fclose(f);
    assert_int_equal(strncmp(out, "Usage: neo4j-offsite", 20), 0);
    assert_non_null(strstr(out, CLI_DEFAULT_CONFIG));
    const char *prev = out;
    for (size_t i = 0; i < N_SPEC; i++) {
        const cli_command *c = cli_find(spec_commands[i]);
        char line[256];
        snprintf(line, sizeof line, "  %-8s %s%s\n", c->name, c->summary,
                 c->fn ? "" : " (not implemented yet)");
        const char *at = strstr(out, line);
        if (!at)
            fail_msg("overview lacks the line \"%s\"", line);
        assert_true(at > prev); /* in table order */
        prev = at;
    }
    /* every exit code of SPEC.md is explained */
    for (int code = 0; code <= 6; code++) {
        char word[8];
        snprintf(word, sizeof word, "%d ", code);
        assert_non_null(strstr(strstr(out, "Exit codes"), word));
    }
    free(out);
}

static void test_usage_error(void **state)
{
    (void)state;
    capture_start(2);
    int rc = cli_usage_error("list", "--database needs %s", "a name");
    char *out = capture_end();
    assert_int_equal(rc, 2);
    assert_string_equal(out, "neo4j-offsite list: --database needs a name\n"
                             "Try 'neo4j-offsite list --help'.\n");
    free(out);
}

/* getopt_long's ':' and '?' as cli_option_error reports them. */
static int parse(int argc, char **argv, char *err, size_t cap)
{
    static const struct option opts[] = {{"remote", required_argument, NULL, 'r'},
                                         {"all", no_argument, NULL, 'a'},
                                         {NULL, 0, NULL, 0}};
    optind = 0; /* a full reset of getopt's state */
    opterr = 0;
    int c, rc = 0;
    capture_start(2);
    while ((c = getopt_long(argc, argv, ":r:a", opts, NULL)) != -1)
        if (c == ':' || c == '?') {
            rc = cli_option_error("verify", c, argv);
            break;
        }
    char *out = capture_end();
    snprintf(err, cap, "%s", out);
    free(out);
    return rc;
}

static void test_option_errors(void **state)
{
    (void)state;
    char err[512];
    char *missing[] = {"verify", "--all", "--remote", NULL};
    assert_int_equal(parse(3, missing, err, sizeof err), 2);
    assert_string_equal(err, "neo4j-offsite verify: option --remote needs a value\n"
                             "Try 'neo4j-offsite verify --help'.\n");
    char *unknown[] = {"verify", "--bogus", NULL};
    assert_int_equal(parse(2, unknown, err, sizeof err), 2);
    assert_string_equal(err, "neo4j-offsite verify: unknown option --bogus\n"
                             "Try 'neo4j-offsite verify --help'.\n");
    char *fine[] = {"verify", "--remote", "nas", "--all", NULL};
    assert_int_equal(parse(4, fine, err, sizeof err), 0);
    assert_string_equal(err, "");
}

static void test_wants_help(void **state)
{
    (void)state;
    char *a[] = {"list", "--all", "--help", NULL};
    assert_int_equal(cli_wants_help(3, a), 1);
    char *b[] = {"list", "-h", NULL};
    assert_int_equal(cli_wants_help(2, b), 1);
    char *c[] = {"list", "--all", NULL};
    assert_int_equal(cli_wants_help(2, c), 0);
    /* after "--" it is an argument (an archive named --help) */
    char *d[] = {"verify", "--", "--help", NULL};
    assert_int_equal(cli_wants_help(3, d), 0);
    /* argv[0] is the command name, not an option */
    char *e[] = {"--help", NULL};
    assert_int_equal(cli_wants_help(1, e), 0);
    /* only whole words count */
    char *f[] = {"list", "--helpful", "-hx", NULL};
    assert_int_equal(cli_wants_help(3, f), 0);
    assert_int_equal(cli_wants_help(0, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find),          cmocka_unit_test(test_help),
        cmocka_unit_test(test_overview),      cmocka_unit_test(test_usage_error),
        cmocka_unit_test(test_option_errors), cmocka_unit_test(test_wants_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
