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

/* A file is ours only when its database part passes Neo4j's rule
 * (neo4j_check_database, tested in test_neo4j.c): the names we write. */
static void test_database_names(void **state)
{
    (void)state;
    catalog_entry e;
    static const char *const ok[] = {"neo4j", "system", "my-db.v2", "Movies-40", "2025q1", "abc"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char name[CATALOG_NAME_MAX], file[300];
        assert_int_equal(catalog_name(name, sizeof name, "haia_backup", ok[i], 1795824000, 0), 0);
        snprintf(file, sizeof file, "%s.dump.enc", name);
        if (catalog_parse("haia_backup", file, &e) != 0)
            fail_msg("%s not parsed", file);
        assert_string_equal(e.database, ok[i]);
    }
    static const char *const bad[] = {
        "haia_backup_ab_20260101_000000.dump.enc",       /* 2 characters */
        "haia_backup_-x-_20260101_000000.dump.enc",      /* leading '-' */
        "haia_backup_.db_20260101_000000.dump.enc",      /* leading '.' */
        "haia_backup_system2_20260101_000000.dump.enc",  /* reserved */
        "haia_backup_my db_20260101_000000.dump.enc",    /* space */
        "haia_backup_neo\x01j_20260101_000000.dump.enc", /* control byte */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (catalog_parse("haia_backup", bad[i], &e) != -1)
            fail_msg("%s parsed", bad[i]);
    /* '_' separates the fields: with another prefix the same file is not
     * ours, its database part holding a '_'. */
    assert_int_equal(catalog_parse("haia", "haia_backup_neo4j_20260101_000000.dump.enc", &e), -1);
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
