/* Unit tests: catalog (names <-> database + time). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "catalog.h"
#include "err.h"

static void test_name_round_trip(void **state)
{
    (void)state;
    char name[CATALOG_NAME_MAX];
    time_t t = 1795824000; /* 2026-11-28T00:00:00Z */
    assert_int_equal(catalog_name(name, sizeof name, "haia_backup", "neo4j", t + 3723, 0), 0);
    assert_string_equal(name, "haia_backup_neo4j_20261128_010203");
    catalog_entry e;
    char file[300];
    snprintf(file, sizeof file, "%s.dump.enc", name);
    assert_int_equal(catalog_parse("haia_backup", file, &e), 0);
    assert_string_equal(e.name, name);
    assert_string_equal(e.database, "neo4j");
    assert_int_equal(e.created, t + 3723);
    assert_int_equal(e.kind, CATALOG_ARCHIVE);
}

static void test_kinds(void **state)
{
    (void)state;
    catalog_entry e;
    assert_int_equal(catalog_parse("haia_backup", "haia_backup_system_20260101_000000.dump", &e),
                     0);
    assert_int_equal(e.kind, CATALOG_DUMP);
    assert_string_equal(e.database, "system");
    assert_int_equal(
        catalog_parse("haia_backup", "haia_backup_neo4j_pre_restore_20260101_000000.dump", &e), 0);
    assert_int_equal(e.kind, CATALOG_SAFETY_DUMP);
    assert_string_equal(e.database, "neo4j");
    assert_string_equal(e.name, "haia_backup_neo4j_pre_restore_20260101_000000");
    assert_int_equal(
        catalog_parse("haia_backup", "dir/haia_backup_my-db.v2_20260101_000000.dump.manifest", &e),
        0);
    assert_int_equal(e.kind, CATALOG_MANIFEST);
    assert_string_equal(e.database, "my-db.v2");
}

static void test_rejects(void **state)
{
    (void)state;
    catalog_entry e;
    const char *bad[] = {
        "other_neo4j_20260101_000000.dump",       /* prefix */
        "haia_backup_neo4j_20261301_000000.dump", /* month 13 */
        "haia_backup_neo4j_2026010_1000000.dump", /* separator */
        "haia_backup__20260101_000000.dump",      /* empty database */
        "haia_backup_neo4j_20260101_000000.txt",  /* suffix */
        "haia_backup_my_db_20260101_000000.dump", /* '_' in a database */
        "haia_backup_neo4j_20260101_000000.dump.enc.partial",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(catalog_parse("haia_backup", bad[i], &e), -1);
}

static void test_archive_arg(void **state)
{
    (void)state;
    char out[CATALOG_NAME_MAX];
    catalog_archive_arg("haia_backup_neo4j_20260101_000000.dump.enc", out, sizeof out);
    assert_string_equal(out, "haia_backup_neo4j_20260101_000000");
    catalog_archive_arg("prod/haia_backup_neo4j_20260101_000000.dump.manifest", out, sizeof out);
    assert_string_equal(out, "haia_backup_neo4j_20260101_000000");
    catalog_archive_arg("haia_backup_neo4j_20260101_000000", out, sizeof out);
    assert_string_equal(out, "haia_backup_neo4j_20260101_000000");
}

static void test_database_names(void **state)
{
    (void)state;
    assert_int_equal(catalog_check_database("neo4j"), 0);
    assert_int_equal(catalog_check_database("my-db.2"), 0);
    assert_int_equal(catalog_check_database("my_db"), -1);
    assert_int_equal(err_get_kind(), ERR_USAGE);
    assert_non_null(strstr(err_msg(), "my_db"));
    assert_int_equal(catalog_check_database("a b"), -1);
    assert_int_equal(catalog_check_database(""), -1);
    assert_int_equal(catalog_check_database("../etc"), -1);
}

static void test_rfc3339(void **state)
{
    (void)state;
    char buf[32];
    catalog_rfc3339(1795824000 + 3723, buf);
    assert_string_equal(buf, "2026-11-28T01:02:03Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_round_trip), cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_rejects),         cmocka_unit_test(test_archive_arg),
        cmocka_unit_test(test_database_names),  cmocka_unit_test(test_rfc3339),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
