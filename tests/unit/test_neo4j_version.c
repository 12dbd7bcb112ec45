/* Tests of neo4j_version: the version number in what real Neo4j tools
 * print (neo4j-admin and neo4j of 3.5 to the 2025 calendar versions,
 * cypher-shell, docker), what is not one, the numeric order, and
 * version_command run as a real child: a version, a failure, output with
 * no version, too much output, a timeout, and the stand-in
 * tests/tools/neo4j-admin. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "child.h"
#include "err.h"
#include "neo4j_version.h"

#include "child_helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[64];
static char saved_path[8192] = "/usr/local/bin:/usr/bin:/bin";

/* ------------------------------------------------------------ parse */

static void assert_parses(const char *text, const char *want)
{
    char out[NEO4J_VERSION_MAX];
    memset(out, 'x', sizeof out);
    err_clear();
    if (neo4j_version_parse(text, out) != 0)
        fail_msg("no version found in \"%s\", expected %s", text, want);
    assert_string_equal(out, want);
    /* a parsed version parses as itself: the manifest's check */
    char again[NEO4J_VERSION_MAX];
    assert_int_equal(neo4j_version_parse(out, again), 0);
    assert_string_equal(again, out);
    assert_int_equal(err_get_kind(), ERR_NONE);
}

static void assert_none(const char *text)
{
    char out[NEO4J_VERSION_MAX];
    err_clear();
    if (neo4j_version_parse(text, out) == 0)
        fail_msg("\"%s\" gave version %s", text ? text : "(null)", out);
    assert_int_equal(err_get_kind(), ERR_NONE); /* no error set */
}

/* What the tools print, as they print it. */
static void test_parse_real_output(void **state)
{
    (void)state;
    /* neo4j-admin --version, Neo4j 3.5 to 5 */
    assert_parses("neo4j-admin 3.5.35\n", "3.5.35");
    assert_parses("neo4j-admin 4.4.30\n", "4.4.30");
    assert_parses("neo4j-admin 5.26.0\n", "5.26.0");
    assert_parses("5.26.0\n", "5.26.0");
    /* the calendar versions, from 2025.01 */
    assert_parses("neo4j-admin 2025.01.0\n", "2025.01.0");
    assert_parses("neo4j 2025.01.0", "2025.01.0");
    assert_parses("2025.10.1\r\n", "2025.10.1");
    /* neo4j --version, through docker exec */
    assert_parses("neo4j 4.4.30\n", "4.4.30");
    assert_parses("neo4j-admin\t5.26.1\r\n", "5.26.1");
    /* suffixes and image tags */
    assert_parses("5.26.0-enterprise", "5.26.0");
    assert_parses("neo4j:5.26.0-community", "5.26.0");
    assert_parses("neo4j 5.26.0, enterprise edition", "5.26.0");
    assert_parses("neo4j 4.4.0-rc1", "4.4.0");
    assert_parses("Neo4j\xc2\xa0"
                  "5.26.0",
                  "5.26.0"); /* after a no-break space */
    /* cypher-shell: CALL dbms.components() */
    assert_parses("name, versions, edition\n\"Neo4j Kernel\", [\"5.26.1\"], \"enterprise\"\n",
                  "5.26.1");
    /* the stand-in */
    assert_parses("neo4j-admin 5.26.0 (STAND-IN for tests, not Neo4j)\n", "5.26.0");
    /* a JVM's notes before the version: digits inside words are not one */
    assert_parses("Picked up JAVA_TOOL_OPTIONS: -Xmx512m -Dfile.encoding=UTF-8\n"
                  "neo4j-admin 5.26.2\n",
                  "5.26.2");
}

/* The rule at its edges. */
static void test_parse_edges(void **state)
{
    (void)state;
    assert_parses("5.26", "5.26");
    assert_parses("1.2.3.4", "1.2.3.4");
    assert_parses("5.26.0.", "5.26.0"); /* the end of a sentence */
    assert_parses("(5.26.0)", "5.26.0");
    assert_parses("0.0", "0.0");
    assert_parses("123456789.1", "123456789.1");
    assert_parses("123456789.123456789.123456789.1", "123456789.123456789.123456789.1");
    /* the first one wins, candidates that fail are passed over */
    assert_parses("java 17.0.2, neo4j 5.26.0", "17.0.2");
    assert_parses("x5.1 6.2", "6.2");
    assert_parses("1.2.3.4.5 then 5.26.0", "5.26.0");
    assert_parses("1234567890.1 5.26.0", "5.26.0");
    assert_parses("5. 5.26", "5.26");

    assert_none(NULL);
    assert_none("");
    assert_none("version 5");
    assert_none("neo4j 5");
    assert_none("neo4j");
    assert_none("garbage \x01\xff\n");
    assert_none("v5.26.0"); /* preceded by a letter */
    assert_none("neo4j-admin5.26.0");
    assert_none(".5.26"); /* preceded by '.' */
    assert_none("5.");
    assert_none("5..26");
    assert_none("1.2.3.4.5");    /* 5 groups */
    assert_none("1234567890.1"); /* a group of 10 digits */
    assert_none("1.1234567890");
    assert_none("123456789.123456789.123456789.12"); /* 32 characters */
    assert_none("Usage: neo4j-admin [-hV] [COMMAND]");
}

/* ------------------------------------------------------------ compare */

static void assert_order(const char *a, const char *b, int want)
{
    int got = neo4j_version_compare(a, b), back = neo4j_version_compare(b, a);
    int sign = got < 0 ? -1 : got > 0;
    int back_sign = back < 0 ? -1 : back > 0;
    if (sign != want || back_sign != -want)
        fail_msg("compare(%s, %s) = %d, compare(%s, %s) = %d, expected %d", a, b, got, b, a, back,
                 want);
}

static void test_compare(void **state)
{
    (void)state;
    assert_order("5.26.0", "5.26.0", 0);
    assert_order("5.26", "5.26.0", 0); /* a missing group is 0 */
    assert_order("5.26", "5.26.0.0", 0);
    assert_order("2025.01.0", "2025.1.0", 0); /* numbers, not text */
    assert_order("5.9.0", "5.26.0", -1);
    assert_order("5.26.0", "5.26.1", -1);
    assert_order("5.26.0", "5.26.0.1", -1);
    assert_order("4.4.30", "5.1.0", -1);
    assert_order("3.5.35", "4.0.0", -1);
    assert_order("5.26.10", "2025.01.0", -1); /* calendar versions follow 5.26 */
    assert_order("2025.01.0", "2025.10.0", -1);
    assert_order("2025.12.3", "2026.01.0", -1);
    assert_order("999999999.0", "1000.0", 1);
    assert_order("999999999.999999999.999999999.9", "999999999.999999999.999999999.8", 1);
}

/* ------------------------------------------------------------ query */

static void assert_query(const char *tmpl, const char *want)
{
    char out[NEO4J_VERSION_MAX] = "";
    err_clear();
    if (neo4j_version_query(tmpl, 30, out) != 0)
        fail_msg("%s: %s", tmpl, err_msg());
    assert_string_equal(out, want);
}

static void assert_query_fails(const char *tmpl, long timeout_s, err_kind kind, const char *want)
{
    char out[NEO4J_VERSION_MAX] = "";
    err_clear();
    if (neo4j_version_query(tmpl, timeout_s, out) == 0)
        fail_msg("%s: gave version %s", tmpl, out);
    assert_int_equal(err_get_kind(), kind);
    if (!strstr(err_msg(), want))
        fail_msg("%s: message \"%s\" lacks \"%s\"", tmpl, err_msg(), want);
}

static void test_query(void **state)
{
    (void)state;
    assert_query("sh -c 'echo neo4j 5.26.1'", "5.26.1");
    assert_query("echo neo4j-admin 2025.01.0", "2025.01.0");
    assert_query("sh -c 'echo; echo \"neo4j 4.4.30\"; echo 9.9.9'", "4.4.30");
    /* a version on stderr is only logged: stdout is what counts */
    assert_query("sh -c 'echo 1.0.0 >&2; echo 5.26.2'", "5.26.2");
    /* more than 64 KiB that ends: the first 64 KiB are read, the rest dropped */
    assert_query("sh -c 'echo neo4j 5.26.3; head -c 300000 /dev/zero'", "5.26.3");
}

/* The stand-in, as a version_command of the tests would run it. */
static void test_query_standin(void **state)
{
    (void)state;
    const char *src = getenv("N4O_SOURCE");
    char admin[4096], home[256], tmpl[8192];
    if (src) {
        snprintf(admin, sizeof admin, "%s/tests/tools/neo4j-admin", src);
    } else {
        /* __FILE__ is absolute in CMake builds */
        snprintf(admin, sizeof admin, "%s", __FILE__);
        char *cut = strstr(admin, "/tests/unit/");
        assert_non_null(cut);
        strcpy(cut, "/tests/tools/neo4j-admin");
    }
    assert_int_equal(access(admin, X_OK), 0);
    snprintf(home, sizeof home, "%s/standin", tmpdir);
    setenv("NEO4J_STANDIN_HOME", home, 1);
    snprintf(tmpl, sizeof tmpl, "'%s' --version", admin);
    unsetenv("NEO4J_STANDIN_VERSION");
    assert_query(tmpl, "5.26.0");
    setenv("NEO4J_STANDIN_VERSION", "2025.01.0", 1);
    assert_query(tmpl, "2025.01.0");
    setenv("NEO4J_STANDIN_VERSION", "unknown", 1);
    assert_query_fails(tmpl, 30, ERR_FAIL,
                       "version_command printed no version number: 'neo4j-admin unknown "
                       "(STAND-IN for tests, not Neo4j)'");
    unsetenv("NEO4J_STANDIN_VERSION");
    unsetenv("NEO4J_STANDIN_HOME");
}

static void test_query_failures(void **state)
{
    (void)state;
    char logf[256];
    snprintf(logf, sizeof logf, "%s/log.txt", tmpdir);

    /* it failed: its exit status and what it said, which is logged */
    capture_stderr(logf);
    char out[NEO4J_VERSION_MAX];
    err_clear();
    int rc = neo4j_version_query("sh -c 'echo 5.26.0; echo container haia-neo4j is not running "
                                 ">&2; exit 3'",
                                 30, out);
    restore_stderr();
    assert_int_equal(rc, -1);
    assert_int_equal(err_get_kind(), ERR_FAIL);
    assert_string_equal(err_msg(),
                        "version_command failed (exit 3): container haia-neo4j is not running");
    size_t n = 0;
    char *log = slurp(logf, &n);
    assert_non_null(strstr(log, "neo4j: version_command: container haia-neo4j is not running"));
    free(log);

    /* it printed no version: its first line, escaped and cut */
    assert_query_fails("true", 30, ERR_FAIL, "version_command printed nothing on stdout");
    assert_query_fails("sh -c 'echo 5.26.0 >&2'", 30, ERR_FAIL,
                       "version_command printed nothing on stdout");
    assert_query_fails("sh -c 'printf \"\\n  \\n\"'", 30, ERR_FAIL,
                       "version_command printed nothing on stdout");
    assert_query_fails("sh -c 'echo; echo \"  Neo4j version 5\"; echo other'", 30, ERR_FAIL,
                       "version_command printed no version number: 'Neo4j version 5'");
    assert_query_fails("printf 'bad\\033[31mred\\n'", 30, ERR_FAIL,
                       "version_command printed no version number: 'bad\\x1b[31mred'");
    char tmpl[512], want[256];
    snprintf(tmpl, sizeof tmpl, "sh -c 'printf \"%%0300d\\n\" 0 | tr 0 y'");
    memset(want, 'y', 100);
    snprintf(want + 100, sizeof want - 100, "...'");
    assert_query_fails(tmpl, 30, ERR_FAIL, want);

    /* it could not run */
    assert_query_fails("/nonexistent/neo4j-admin --version", 30, ERR_FAIL,
                       "version_command: program /nonexistent/neo4j-admin not found");
    assert_query_fails("neo4j-admin --version {database}", 30, ERR_USAGE, "version_command");

    /* it hangs, or never stops talking */
    child_set_kill_grace_ms(200);
    double t0 = now_s();
    assert_query_fails("sleep 30", 1, ERR_FAIL,
                       "version_command timed out after 1 s (command_timeout)");
    assert_true(now_s() - t0 < 10);
    t0 = now_s();
    assert_query_fails("yes 5.26.0", 0, ERR_FAIL,
                       "version_command printed more than 64 KiB and did not end");
    assert_true(now_s() - t0 < 10);
    child_set_kill_grace_ms(3000);
}

/* ------------------------------------------------------------ main */

static int setup(void **state)
{
    (void)state;
    return child_tests_setup(tmpdir, sizeof tmpdir, "neo4j-version", saved_path, sizeof saved_path);
}

static int teardown(void **state)
{
    (void)state;
    return child_tests_teardown(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_real_output), cmocka_unit_test(test_parse_edges),
        cmocka_unit_test(test_compare),           cmocka_unit_test(test_query),
        cmocka_unit_test(test_query_standin),     cmocka_unit_test(test_query_failures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
