#!/usr/bin/env bash
# Hostile story: what a reviewer tried against restore.  A file swapped in
# the local directory between verification and load is never loaded to the
# end; a remote that answers but lacks an archive is not silently replaced
# by another remote; a restore record that points at a file outside the
# local directory is refused; a restore that is running is reported as
# running, not as killed; after a kill -9, a later restore that cannot take
# its safety dumps leaves Neo4j stopped rather than started on a
# half-loaded store; a database that does not exist earlier in the run
# never makes a failed safety dump look like "does not exist".
. "$(dirname "$0")/common.bash"

write_config "[remote \"far\"]
type = local
path = $T/far"
sed -i "s|^database      = neo4j|database      = neo4j, system|" "$T/conf"
mkdir -p "$T/far"
keygen
STORE="$NEO4J_STANDIN_HOME/databases"
"$STANDIN" server start >/dev/null
gen_dump "$T/A.neo4j" 200K 31
gen_dump "$T/A.system" 90K 32
gen_dump "$T/B.neo4j" 150K 41
gen_dump "$T/B.system" 80K 42
seed_db neo4j "$T/A.neo4j"
seed_db system "$T/A.system"
run 0 backup --no-local-copy
seed_db neo4j "$T/B.neo4j"
seed_db system "$T/B.system"

# ---- the verified dump swapped during the stop: the load is stopped ----
cat >"$T/swapstop" <<SH
#!/bin/sh
for f in "$T"/local/haia_backup_neo4j_2*.dump; do cp "$T/B.system" "\$f"; done
exec "$STANDIN" server stop
SH
chmod +x "$T/swapstop"
sed "s|^stop_command  = .*|stop_command  = $T/swapstop|" "$T/conf" >"$T/conf.swap"
"$N4O_BIN" -c "$T/conf.swap" --no-progress restore --latest --yes >"$T/out" 2>"$T/err"
check "swapped after verification: exit 1" test $? = 1
expect_in "$T/err" "changed since it was verified \(BLAKE2b differs\): load stopped"
expect_in "$T/err" "previous state reinstated from"
check "... neo4j holds its previous state, not the swapped bytes" same "$STORE/neo4j/store.dump" "$T/B.neo4j"
check "... Neo4j running" running
rm -f "$T"/local/haia_backup_neo4j_2*.dump
# without a safety dump to fall back on, the swapped bytes are still never
# loaded: the load is killed before the end of its input
m=$(mark)
"$N4O_BIN" -c "$T/conf.swap" --no-progress restore --latest --yes --no-safety-backup >"$T/out" 2>"$T/err"
check "swapped, no safety dump: exit 1" test $? = 1
check "... the swapped bytes were not loaded" \
    bash -c "! cmp -s '$STORE/neo4j/store.dump' '$T/B.system'"
check "... the load never completed (no 'load neo4j' event)" \
    test "$(events_since "$m" | grep -c 'load neo4j')" = 0
rm -f "$T"/local/haia_backup_neo4j_2*.dump "$T/run/neo4j-offsite.lock.restore" "$T/local/.haia_backup.restore"
seed_db neo4j "$T/B.neo4j"
"$STANDIN" server start >/dev/null

# ---- a remote that answers but lacks an archive: no silent other remote ----
rm -f "$T"/nas/haia_backup_system_*
run 1 restore --latest --all-databases --yes
expect_in "$T/err" "remote nas has no complete archive of database system .*give --remote NAME"
check "... no other remote tried" test "$(grep -c 'trying the next remote' "$T/err")" = 0
run 0 restore --latest --all-databases --yes --remote far
check "--remote far: both from far" same "$STORE/system/store.dump" "$T/A.system"
seed_db neo4j "$T/B.neo4j"
seed_db system "$T/B.system"

# ---- a running restore is said to be running; kill -9; then a failing stop ----
NEO4J_STANDIN_HANG=load "$N4O_BIN" -c "$T/conf" --no-progress restore --latest --yes \
    --remote far >"$T/out" 2>"$T/err" &
pid=$!
for i in $(seq 200); do grep -q "loading .* into database neo4j" "$T/err" && break; sleep 0.05; done
run 0 list --remote far
expect_in "$T/err" "a restore \(pid $pid\) is running now"
check "... not reported as killed" test "$(grep -c 'did not finish' "$T/err")" = 0
run 6 backup
kill -9 "$pid"
wait "$pid" 2>/dev/null
NEO4J_STANDIN_FAIL=stop run 1 restore --latest --yes --remote far
expect_in "$T/err" "a database may be half-loaded .*Neo4j is not started"
check "after a kill -9, a later restore whose stop fails does not start Neo4j" \
    test ! -e "$NEO4J_STANDIN_HOME/running"

# ---- a record naming a file outside the local directory is refused ----
rec="$T/run/neo4j-offsite.lock.restore"
python3 - "$rec" <<'PY'
import json, sys
p = sys.argv[1]
r = json.load(open(p))
r["databases"][0]["safety_dump"] = "/etc/passwd"
json.dump(r, open(p, "w"))
PY
m=$(mark)
run 1 restore --latest --yes --remote far
expect_in "$T/err" "names /etc/passwd as the safety dump of neo4j: not a safety dump of this config's local directory"
check "... nothing touched" test -z "$(events_since "$m")"
rm -f "$rec" "$T/local/.haia_backup.restore"
"$STANDIN" server start >/dev/null

# ---- a missing database earlier in the run never excuses a failed safety dump ----
write_config "[remote \"far\"]
type = local
path = $T/far"
sed -i "s|^database      = neo4j|database      = analytics, neo4j|" "$T/conf"
seed_db analytics "$T/A.neo4j"
run 0 backup --no-local-copy --database analytics
rm -rf "$STORE/analytics"
seed_db neo4j "$T/B.neo4j"
# the second safety dump hangs and is killed at command_timeout: not a
# dump, and not "does not exist" (the first one's verdict)
cat >"$T/cutdump" <<SH
#!/bin/sh
[ "\$NEO4J_OFFSITE_DATABASE" = neo4j ] && export NEO4J_STANDIN_HANG=dump
exec "$STANDIN" "\$@"
SH
chmod +x "$T/cutdump"
sed -i -e "s|^dump_command  = $STANDIN|dump_command  = $T/cutdump|" \
    -e "s|^command_timeout = .*|command_timeout = 3s|" "$T/conf"
m=$(mark)
run 1 restore --latest --all-databases --yes
expect_in "$T/err" "database analytics does not exist yet"
expect_in "$T/err" "safety dump of database neo4j failed, nothing changed"
check "... neo4j never loaded without its safety dump" same "$STORE/neo4j/store.dump" "$T/B.neo4j"
check "... nothing loaded at all" test "$(events_since "$m" | grep -c 'load ')" = 0
check "... Neo4j started again" running

# ---- a record whose pid now belongs to another process (pid reuse) ----
python3 - "$T/run/neo4j-offsite.lock.restore" "$$" "$T/local" <<'PY'
import json, sys
path, pid, local = sys.argv[1], int(sys.argv[2]), sys.argv[3]
json.dump({"pid": pid, "started": "2026-01-01T00:00:00Z", "databases": [{
    "database": "neo4j", "target": "neo4j", "archive": "haia_backup_neo4j_20260101_000000",
    "safety_dump": "", "safety_blake2b": "", "existed": False, "state": "loading"}]},
    open(path, "w"))
PY
run 1 backup
expect_in "$T/err" "did not finish: it was killed or lost power while loading"
check "backup, holding the lock, never takes a live pid for a running restore" \
    test "$(grep -c 'is running now' "$T/err")" = 0
run 5 status --max-age 0
expect_in "$T/err" "is running now|did not finish"
rm -f "$T/run/neo4j-offsite.lock.restore"

e2e_finish
