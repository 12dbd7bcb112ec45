/* Tests of command_template: splitting a template into words like a shell
 * does for quotes (no expansion, operators refused), the {database}
 * placeholder, the `sh -c` form, and the promise that the config-time check
 * and the run-time split are one rule with one message. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "command_template.h"
#include "err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void assert_argv(char **argv, const char *const *want)
{
    if (!argv)
        fail_msg("split failed: %s", err_msg());
    size_t i = 0;
    for (; want[i]; i++) {
        assert_non_null(argv[i]);
        assert_string_equal(argv[i], want[i]);
    }
    assert_null(argv[i]);
    command_template_free(argv);
}

static void assert_split_fails(const char *what, const char *tmpl, const char *db,
                               const char *needle)
{
    err_clear();
    char **argv = command_template_split(what, tmpl, db);
    if (argv)
        fail_msg("'%s' was accepted (argv[0] '%s')", tmpl, argv[0]);
    assert_int_equal(err_get_kind(), ERR_USAGE);
    if (!strstr(err_msg(), needle))
        fail_msg("'%s': message '%s' lacks '%s'", tmpl, err_msg(), needle);
}

static void test_split_quoting(void **state)
{
    (void)state;
    assert_argv(command_template_split(NULL, "a 'b c' \"d e\"", NULL),
                (const char *[]){"a", "b c", "d e", NULL});
    assert_argv(command_template_split(NULL, "  a'b'c  ", NULL), (const char *[]){"abc", NULL});
    assert_argv(command_template_split(NULL, "x \"\" ''", NULL),
                (const char *[]){"x", "", "", NULL});
    assert_argv(command_template_split(NULL, "\"a\\\"b\" a\\ b 'it'\\''s'", NULL),
                (const char *[]){"a\"b", "a b", "it's", NULL});
    /* In "..." only \" \\ \$ \` escape; other backslashes stay. */
    assert_argv(command_template_split(NULL, "\"a\\nb\\\\c\\$d\"", NULL),
                (const char *[]){"a\\nb\\c$d", NULL});
    /* Single quotes keep everything, also backslashes and operators. */
    assert_argv(command_template_split(NULL, "echo 'a|b;c>d $HOME \\'", NULL),
                (const char *[]){"echo", "a|b;c>d $HOME \\", NULL});
    assert_argv(command_template_split(NULL, "\"a|b\" c#d", NULL),
                (const char *[]){"a|b", "c#d", NULL});
    /* No expansion: globs, ~ and a lone $ stay literal. */
    assert_argv(command_template_split(NULL, "ls * ~ a$", NULL),
                (const char *[]){"ls", "*", "~", "a$", NULL});
    assert_argv(command_template_split(NULL, "a\tb\nc", NULL),
                (const char *[]){"a", "b", "c", NULL});
}

/* {database} is replaced inside each word, after splitting: whatever the
 * value holds stays in its word (which values may reach a template is
 * neo4j_check_database's business). */
static void test_split_database(void **state)
{
    (void)state;
    assert_argv(
        command_template_split(NULL, "neo4j-admin database dump --to-stdout {database}", "neo4j"),
        (const char *[]){"neo4j-admin", "database", "dump", "--to-stdout", "neo4j", NULL});
    assert_argv(
        command_template_split(NULL,
                               "x --to-path=/b/{database} '{database}.x' \"pre {database}\" "
                               "{database}{database}",
                               "my.db-2"),
        (const char *[]){"x", "--to-path=/b/my.db-2", "my.db-2.x", "pre my.db-2", "my.db-2my.db-2",
                         NULL});
    assert_argv(command_template_split(NULL, "dump {database}", "two words; 'q' $X"),
                (const char *[]){"dump", "two words; 'q' $X", NULL});
    /* A template without the placeholder needs no database. */
    assert_argv(command_template_split("stop_command", "docker stop n", NULL),
                (const char *[]){"docker", "stop", "n", NULL});
    assert_split_fails("dump_command", "dump {database}", NULL,
                       "dump_command uses {database} but no database was given");
    assert_split_fails(NULL, "dump {nope}", "neo4j",
                       "command template: unknown placeholder {nope}");
}

/* Unfilled: the same words, every placeholder as written. */
static void test_split_unfilled(void **state)
{
    (void)state;
    assert_argv(command_template_split_unfilled("dump_command", "/opt/{database}/dump '{database}' "
                                                                "sh"),
                (const char *[]){"/opt/{database}/dump", "{database}", "sh", NULL});
    assert_argv(command_template_split_unfilled(NULL, "sh -c 'echo {database} {x}' {database}"),
                (const char *[]){"sh", "-c", "echo {database} {x}", "{database}", NULL});
    err_clear();
    assert_null(command_template_split_unfilled("dump_command", "dump {databse}"));
    assert_int_equal(err_get_kind(), ERR_USAGE);
    assert_non_null(strstr(err_msg(), "dump_command: unknown placeholder {databse}"));
    assert_null(command_template_split_unfilled("dump_command", " "));
    assert_string_equal(err_msg(), "dump_command is empty");
}

static void test_is_blank(void **state)
{
    (void)state;
    assert_true(command_template_is_blank(NULL));
    assert_true(command_template_is_blank(""));
    assert_true(command_template_is_blank(" \t\r\n"));
    assert_false(command_template_is_blank(" x "));
    assert_false(command_template_is_blank("''"));
    command_template_free(NULL);
}

static void test_split_errors(void **state)
{
    (void)state;
    assert_split_fails("dump_command", "a 'b", NULL, "dump_command: unbalanced ' quote");
    assert_split_fails("load_command", "a \"b 'c'", NULL, "load_command: unbalanced \" quote");
    assert_split_fails("dump_command", "a | b", NULL,
                       "dump_command: shell operator '|' needs `sh -c '...'`");
    assert_split_fails("dump_command", "a;b", NULL, "operator ';'");
    assert_split_fails("dump_command", "a > f", NULL, "operator '>'");
    assert_split_fails("dump_command", "a < f", NULL, "operator '<'");
    assert_split_fails("dump_command", "a && b", NULL, "operator '&&'");
    assert_split_fails("dump_command", "a 2>&1", NULL, "operator '>&'");
    assert_split_fails("dump_command", "(a)", NULL, "operator '('");
    assert_split_fails("dump_command", "a #comment", NULL, "operator '#'");
    /* The whole message: the operator, where, and both ways out. */
    assert_split_fails("stop_command", "docker stop haia-neo4j # stop it", NULL,
                       "stop_command: shell operator '#' needs `sh -c '...'` (character 24): "
                       "templates run without a shell and have no comments; to pass it to the "
                       "program as text, quote it: \"#\"");
    assert_split_fails("dump_command", "a || b", NULL,
                       "dump_command: shell operator '||' needs `sh -c '...'` (character 3): "
                       "templates run without a shell; to pass it to the program as text, quote "
                       "it: \"||\"");
    assert_split_fails("dump_command", "echo $HOME", NULL, "no expansion");
    assert_split_fails("dump_command", "echo \"${X}\"", NULL, "no expansion");
    assert_split_fails("dump_command", "echo $(id)", NULL, "no expansion");
    assert_split_fails("dump_command", "echo `id`", NULL, "no expansion");
    assert_split_fails("stop_command", "", NULL, "stop_command is empty");
    assert_split_fails("stop_command", "   \t ", NULL, "stop_command is empty");
    assert_split_fails("stop_command", "a \\", NULL, "backslash");
    assert_split_fails("stop_command", "sh -c", NULL, "needs a script");
    assert_split_fails("stop_command", "sh -c 'a", NULL, "unbalanced");
}

static void test_split_sh_c(void **state)
{
    (void)state;
    /* Quoted script: split as usual; operators inside the quotes are the
     * shell's business. */
    assert_argv(
        command_template_split(
            NULL, "sh -c 'neo4j-admin database dump --to-stdout {database} | cat' x y", "neo4j"),
        (const char *[]){"sh", "-c", "neo4j-admin database dump --to-stdout neo4j | cat", "x", "y",
                         NULL});
    /* Unquoted: the rest of the line runs as written. */
    assert_argv(
        command_template_split(
            NULL, "sh -c docker exec n neo4j-admin dump {database} | zstd -d > 'f' ", "neo4j"),
        (const char *[]){"sh", "-c", "docker exec n neo4j-admin dump neo4j | zstd -d > 'f'", NULL});
    assert_argv(command_template_split(
                    NULL, "/bin/bash -c \"echo \\\"\\$NEO4J_OFFSITE_DATABASE\\\"\"", "neo4j"),
                (const char *[]){"/bin/bash", "-c", "echo \"$NEO4J_OFFSITE_DATABASE\"", NULL});
    /* A quoted script is still a template: "$X" would be expanded by a
     * shell, so it is refused here; '...' or \$ pass it on. */
    assert_split_fails("dump_command", "sh -c \"echo $NEO4J_OFFSITE_DATABASE\"", NULL,
                       "no expansion");
    /* Not the sh -c form: an operator is still refused. */
    assert_split_fails("dump_command", "sh x -c a | b", NULL, "operator '|'");
}

static void assert_check_fails(const char *what, const char *tmpl, const char *needle)
{
    err_clear();
    if (command_template_check(what, tmpl) == 0)
        fail_msg("check accepted '%s'", tmpl);
    assert_int_equal(err_get_kind(), ERR_USAGE);
    if (!strstr(err_msg(), needle))
        fail_msg("'%s': message '%s' lacks '%s'", tmpl, err_msg(), needle);
    /* One rule: what the check refuses, splitting refuses when it runs,
     * with the same message. */
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", err_msg());
    err_clear();
    char **argv = command_template_split(what, tmpl, "neo4j");
    if (argv)
        fail_msg("'%s' refused by the check but split at run time", tmpl);
    assert_string_equal(err_msg(), msg);
}

static void assert_check_ok(const char *tmpl)
{
    err_clear();
    if (command_template_check("dump_command", tmpl) != 0)
        fail_msg("check refused '%s': %s", tmpl, err_msg());
    char **argv = command_template_split("dump_command", tmpl, "neo4j");
    if (!argv)
        fail_msg("'%s' passed the check but does not split: %s", tmpl, err_msg());
    command_template_free(argv);
}

static void test_check_template(void **state)
{
    (void)state;
    /* The shapes of docs/CONFIG.md and conf/, and shell text with braces. */
    assert_check_ok("neo4j-admin database dump --to-stdout {database}");
    assert_check_ok("neo4j-admin database load --from-stdin --overwrite-destination=true "
                    "{database}");
    assert_check_ok("docker exec haia-neo4j neo4j-admin database dump --to-stdout {database}");
    assert_check_ok("docker stop haia-neo4j");
    assert_check_ok("find /backups -name '*.dump' -exec ls {} ';'");
    assert_check_ok("echo '{a,b}' '{ x }' {} {1..3} {-x}");
    assert_check_ok("sh -c 'neo4j-admin database dump --to-stdout {database} | zstd -q'");
    assert_check_ok("sh -c '{ date; neo4j-admin server status; } >&2; awk \"{print \\$1}\" /f'");
    assert_check_ok("sh -c 'awk '\\''{print}'\\'' /f; jq \"{name, id}\" x; echo ${HOME} $HOME'");
    assert_check_ok("sh -c { echo a; echo {database}; } | awk '{print}' > /dev/null");
    assert_check_ok("bash -c 'echo {print} {next} {db_size} {dbms}' arg0 {database}");
    assert_int_equal(command_template_check("stop_command", NULL), 0);
    assert_int_equal(command_template_check("stop_command", ""), 0);
    assert_int_equal(command_template_check("stop_command", "  \t"), 0);

    /* Unknown placeholders: named, with the known ones. */
    assert_check_fails("dump_command", "neo4j-admin database dump --to-stdout {databse}",
                       "dump_command: unknown placeholder {databse} (did you mean {database}?); "
                       "known placeholders: {database} (every {name} outside an `sh -c` script "
                       "is taken for one)");
    assert_check_fails("dump_command", "neo4j-admin database dump '--to-path=/b/{db}'",
                       "unknown placeholder {db} (did you mean {database}?)");
    assert_check_fails("load_command", "neo4j-admin load {DATABASE}",
                       "load_command: unknown placeholder {DATABASE} (did you mean {database}?)");
    assert_check_fails("check_command", "awk '{print}' /var/log/neo4j.log",
                       "check_command: unknown placeholder {print}; known placeholders: "
                       "{database} (every {name} outside an `sh -c` script is taken for one)");
    /* In an sh -c script only what was surely meant as {database}. */
    assert_check_fails("dump_command", "sh -c 'neo4j-admin database dump --to-stdout {databse}'",
                       "dump_command: unknown placeholder {databse} in the `sh -c` script (did "
                       "you mean {database}?); known placeholders: {database}");
    assert_check_fails("dump_command", "sh -c neo4j-admin database dump {Database} | cat",
                       "unknown placeholder {Database} in the `sh -c` script (did you mean");
    assert_check_fails("dump_command", "sh -c 'dump {db_name}'", "unknown placeholder {db_name}");
    assert_check_fails("dump_command", "sh -c 'dump ${database}'",
                       "dump_command: ${database} in the `sh -c` script is the shell variable "
                       "$database, not the placeholder: write {database}, or "
                       "\"$NEO4J_OFFSITE_DATABASE\"");
    /* Arguments after the script are plain words again. */
    assert_check_fails("dump_command", "sh -c 'dump \"$1\"' sh {name}",
                       "unknown placeholder {name}");

    /* Operators and quotes. */
    assert_check_fails("stop_command", "docker stop haia-neo4j # stop it",
                       "stop_command: shell operator '#' needs `sh -c '...'` (character 24)");
    assert_check_fails("stop_command", "docker stop haia-neo4j; sleep 1",
                       "shell operator ';' needs `sh -c '...'` (character 23)");
    assert_check_fails("dump_command", "neo4j-admin dump > /tmp/x", "quote it: \">\"");
    assert_check_fails("dump_command", "neo4j-admin 'dump", "dump_command: unbalanced ' quote");
    assert_check_fails("dump_command", "sh -c \"dump", "dump_command: unbalanced \" quote");
    assert_check_fails("dump_command", "echo $HOME", "no expansion");
    assert_check_fails("dump_command", "sh -c", "needs a script");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_quoting),  cmocka_unit_test(test_split_database),
        cmocka_unit_test(test_split_errors),   cmocka_unit_test(test_split_sh_c),
        cmocka_unit_test(test_split_unfilled), cmocka_unit_test(test_check_template),
        cmocka_unit_test(test_is_blank),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
