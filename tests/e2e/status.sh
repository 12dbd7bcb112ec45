#!/usr/bin/env bash
# User story: monitoring learns in one cheap call that backups stopped.
# `status` lists each remote once (an archive counts when its manifest is
# there) and scans the local directory: the newest backup per target and
# database with its age; exit 5 when one is too old or missing, 1 when a
# target cannot be read; --json for tools; --nagios as a Nagios plugin
# (OK / WARNING past 80 % of the limit / CRITICAL / UNKNOWN, with
# performance data).
. "$(dirname "$0")/common.bash"

write_config
keygen
gen_dump "$T/db.dump" 100K 5
seed_db neo4j "$T/db.dump"
run 0 backup
stamp_ago() { date -u -d "$1 ago" +%Y%m%d_%H%M%S; }

# ---- fresh: 0, every row ok ----
run 0 status
expect_in "$T/out" "^remote +nas +neo4j +haia_backup_neo4j_[0-9_]+ .* ok$"
expect_in "$T/out" "^local +local +neo4j +haia_backup_neo4j_[0-9_]+\.dump .* ok$"
expect_in "$T/out" "^OK: every newest backup is younger than 25 h"
run 0 status --max-age 25
run 5 status --max-age 0
expect_in "$T/out" "^STALE: 2 of 2 newest backups are older than 0 h"
run 2 status --max-age soon
expect_in "$T/err" "--max-age soon: give the hours as a number"

# ---- --json ----
"$N4O_BIN" -c "$T/conf" --json status >"$T/json" 2>"$T/err"
check "--json: exit 0" test $? = 0
check "--json: one document with every target, its age and the verdict" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["verdict"] == "ok" and d["max_age_hours"] == 25 and d["errors"] == [], d
kinds = sorted((t["type"], t["target"], t["database"], t["state"]) for t in d["targets"])
assert kinds == [("local", "local", "neo4j", "ok"), ("remote", "nas", "neo4j", "ok")], kinds
for t in d["targets"]:
    assert 0 <= t["age_hours"] < 0.1 and t["newest"].startswith("haia_backup_neo4j_"), t
' "$T/json"

# ---- --nagios: OK, WARNING, CRITICAL ----
run 0 status --nagios
expect_in "$T/out" "^NEO4J-OFFSITE OK - newest backup 0\.[0-9] h old \(limit 25 h\) \| age_hours=0\.[0-9]{3};20\.000;25\.000;0 'remote_nas_neo4j_age_hours'=0\.[0-9]{3};20\.000;25\.000 'local_local_neo4j_age_hours'="
check "--nagios: one line" test "$(wc -l <"$T/out")" = 1
# a second remote whose newest archive is 22 h old (names are what status reads)
mkdir -p "$T/old"
a=$(find "$T/nas" -name '*.dump.enc' | head -1)
old="haia_backup_neo4j_$(stamp_ago '22 hours')"
cp "$a" "$T/old/$old.dump.enc"
cp "${a%.enc}.manifest" "$T/old/$old.dump.manifest"
cat >>"$T/conf" <<CONF
[remote "old"]
type = local
path = $T/old
CONF
run 1 status --nagios
expect_in "$T/out" "^NEO4J-OFFSITE WARNING - newest backup 22\.0 h old \(warning at 20 h, limit 25 h\) \| age_hours=22\.0[0-9]{2};20\.000;25\.000;0"
run 0 status
run 2 status --nagios --max-age 21
expect_in "$T/out" "^NEO4J-OFFSITE CRITICAL - newest backup 22\.0 h old \(limit 21 h\)"
run 5 status --max-age 21
expect_in "$T/out" "^remote +old +neo4j +$old .* stale$"
# an archive without its manifest does not count
rm -f "$T/old/$old.dump.manifest"
run 5 status
expect_in "$T/out" "^remote +old +neo4j +\(none\) .* none$"
run 2 status --nagios
expect_in "$T/out" "^NEO4J-OFFSITE CRITICAL - 1 target holds no backup of a database"

# ---- a remote that cannot be read: 1 (Nagios: CRITICAL) ----
mv "$T/old" "$T/old.gone"
run 1 status
expect_in "$T/out" "^error +old +cannot be read: "
expect_in "$T/out" "^UNREACHABLE: 1 target could not be read"
run 1 status --max-age 0 # unreachable (1) outranks stale (5)
run 2 status --nagios
expect_in "$T/out" "^NEO4J-OFFSITE CRITICAL - old cannot be read: "
"$N4O_BIN" -c "$T/conf" --json status >"$T/json" 2>/dev/null
check "--json, a remote down: exit 1 and the error in the document" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["verdict"] == "unreachable" and [e["target"] for e in d["errors"]] == ["old"], d
' "$T/json"
mv "$T/old.gone" "$T/old"

# ---- a name dated in the future never makes status look fresh ----
future="haia_backup_neo4j_$(date -u -d '+3 days' +%Y%m%d_%H%M%S)"
cp "$a" "$T/old/$future.dump.enc"
cp "${a%.enc}.manifest" "$T/old/$future.dump.manifest"
run 5 status
expect_in "$T/out" "^remote +old +neo4j +$future .* future$"
run 2 status --nagios
expect_in "$T/out" "^NEO4J-OFFSITE CRITICAL - 1 newest backup is dated in the future"
rm -f "$T/old/$future".*

# ---- --nagios answers UNKNOWN to a usage error wherever it stands ----
run 3 status --bogus --nagios
expect_in "$T/out" "^NEO4J-OFFSITE UNKNOWN - usage error"

# ---- one remote's settings are wrong: the others are still judged; exit 2 ----
cp "$T/conf" "$T/conf.good"
cat >>"$T/conf" <<CONF
[remote "broken"]
type = sftp
host = 127.0.0.1
user = nobody
identity_file = $T/no-such-key
known_hosts = $T/no-such-known-hosts
path = /srv
CONF
"$N4O_BIN" -c "$T/conf" --no-progress status >"$T/out" 2>"$T/err"
rc=$?
if grep -q "no-such-key" "$T/err" "$T/out"; then
    check "a remote's bad settings: exit 2 (config), not 1" test "$rc" = 2
    expect_in "$T/out" "^remote +nas +neo4j +haia_backup_neo4j_[0-9_]+ .* ok$"
    "$N4O_BIN" -c "$T/conf" --no-progress status --nagios >"$T/out" 2>"$T/err"
    check "... --nagios: UNKNOWN (3)" test $? = 3
else
    bad "a remote with a missing identity_file was not reported: $(cat "$T/err")"
fi
cp "$T/conf.good" "$T/conf"

# ---- a config error: Nagios UNKNOWN (3) ----
echo "bogus_key = 1" >>"$T/conf"
run 3 status --nagios
expect_in "$T/out" "^NEO4J-OFFSITE UNKNOWN - .*bogus_key"
run 2 status

e2e_finish
