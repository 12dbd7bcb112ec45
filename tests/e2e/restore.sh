#!/usr/bin/env bash
# User story: the operator at 3 a.m. restores Neo4j from the archives.
# Nothing touches Neo4j before the archive is verified in full; a safety
# dump of the current state is taken while Neo4j is stopped; a failed load
# puts the previous state back; a restore killed mid-load is never
# forgotten; `system` (users and roles) comes first with --all-databases;
# a dump from a newer Neo4j is refused; and a fresh host holding only the
# config, archive.key and signing.pub is rebuilt in one command.  Neo4j is
# the stand-in tests/tools/neo4j-admin (its store really changes on load);
# the remotes are local directories (restore_remote.sh covers SFTP and S3).
. "$(dirname "$0")/common.bash"

write_config "[remote \"far\"]
type = local
path = $T/far"
sed -i "s|^database      = neo4j|database      = neo4j, system\nversion_command = $STANDIN --version|" "$T/conf"
mkdir -p "$T/far"
keygen
STORE="$NEO4J_STANDIN_HOME/databases"
"$STANDIN" server start >/dev/null

# The archived state A (real dumps when ../shared is there), then the
# current state B that a restore replaces.
archived_dumps
gen_dump "$T/B.neo4j" 200K 21
gen_dump "$T/B.system" 90K 22
seed_db neo4j "$T/A.neo4j"
seed_db system "$T/A.system"
run 0 backup
newest() { # DB: the newest archive name of DB on remote nas
    find "$T/nas" -name "haia_backup_$1_*.dump.enc" -printf '%f\n' | sort | tail -1 | sed 's/\.dump\.enc$//'
}
A_NEO4J=$(newest neo4j)
seed_db neo4j "$T/B.neo4j"
seed_db system "$T/B.system"
unchanged() { same "$STORE/neo4j/store.dump" "$T/B.neo4j" && same "$STORE/system/store.dump" "$T/B.system"; }
safety_of() { find "$T/local" -name "haia_backup_$1_pre_restore_*.dump" | sort | tail -1; }

# ---- without a terminal, --yes is required ----
m=$(mark)
run 2 restore --latest </dev/null
expect_in "$T/err" "give --yes"
check "no --yes: nothing changed, Neo4j not stopped" test -z "$(events_since "$m")"
check "... the stores are as they were" unchanged

# ---- restore --latest --yes: the archived bytes, a safety dump of before ----
m=$(mark)
run 0 restore --latest --yes
check "neo4j holds the archived bytes" same "$STORE/neo4j/store.dump" "$T/A.neo4j"
check "system untouched (not asked for)" same "$STORE/system/store.dump" "$T/B.system"
safety=$(safety_of neo4j)
check "the safety dump holds the previous state, byte for byte" same "$safety" "$T/B.neo4j"
check_eq "stop, safety dump, load, start, in that order (taken while stopped)" \
    "$(events_since "$m")" "stop dump neo4j drop neo4j load neo4j start "
check "Neo4j running again" running
expect_in "$T/out" "restored database neo4j from $A_NEO4J \(remote nas"
expect_in "$T/err" "holds the archive's plaintext .*used without downloading"
check "no temporary file left" no_partials "$T/local" "$T/nas"
check "no restore record left" test ! -e "$T/run/neo4j-offsite.lock.restore"

# ---- the same without the local copy: downloaded, verified, then kept ----
rm -f "$T/local/$A_NEO4J.dump"
seed_db neo4j "$T/B.neo4j"
run 0 restore --latest --yes
expect_in "$T/err" "downloading $A_NEO4J from remote nas"
check "downloaded: neo4j holds the archived bytes" same "$STORE/neo4j/store.dump" "$T/A.neo4j"
check "the verified dump stays in the local directory as <name>.dump" same "$T/local/$A_NEO4J.dump" "$T/A.neo4j"

# ---- a local file of that name with other bytes is left alone ----
echo "not the dump" >"$T/local/$A_NEO4J.dump"
seed_db neo4j "$T/B.neo4j"
run 0 restore "$A_NEO4J" --yes
expect_in "$T/err" "exists with other bytes than archive"
check "other bytes: restored from the archive all the same" same "$STORE/neo4j/store.dump" "$T/A.neo4j"
check "... the foreign file left as it was" test "$(cat "$T/local/$A_NEO4J.dump")" = "not the dump"
check "... the stand-in name removed after the load" test "$(count_files "$T/local" "$A_NEO4J.restore-*")" = 0
rm -f "$T/local/$A_NEO4J.dump"

# ---- a tampered archive: exit 4, the older good one named, nothing touched ----
seed_db neo4j "$T/A.neo4j"
sleep 1
run 0 backup --database neo4j --no-local-copy
A2=$(newest neo4j)
check "a second archive" test "$A2" != "$A_NEO4J"
cp "$T/nas/$A2.dump.enc" "$T/good.enc"
size=$(stat -c %s "$T/nas/$A2.dump.enc")
printf '\x55' | dd of="$T/nas/$A2.dump.enc" bs=1 seek=$((size - 40)) conv=notrunc 2>/dev/null
seed_db neo4j "$T/B.neo4j"
m=$(mark)
run 4 restore --latest --yes
expect_in "$T/err" "the newest older archive that verifies is $A_NEO4J"
check "tampered: Neo4j not stopped, nothing loaded" test -z "$(events_since "$m")"
check "... the stores are as they were" unchanged
check "... no staged dump or temporary file" \
    test "$(count_files "$T/local" "$A2.*")" = 0 -a "$(count_files "$T/local" "*.partial")" = 0
cp "$T/good.enc" "$T/nas/$A2.dump.enc"

# ---- a failing load: the previous state is put back ----
rm -f "$T/failed-once"
NEO4J_STANDIN_LOAD_FAIL_DB=neo4j NEO4J_STANDIN_LOAD_FAIL_COUNT_FILE="$T/failed-once" run 1 restore --latest --yes
safety=$(safety_of neo4j)
expect_in "$T/err" "restore failed .*previous state reinstated from $safety"
check "load failed: the previous state is back" unchanged
check "... Neo4j running" running
check "... no record left" test ! -e "$T/run/neo4j-offsite.lock.restore"

# ---- the load fails and so does putting the previous state back ----
m=$(mark)
NEO4J_STANDIN_LOAD_FAIL_DB=neo4j run 1 restore --latest --yes
expect_in "$T/err" "could not be reinstated: Neo4j is left stopped"
expect_in "$T/err" "database neo4j: HALF-LOADED from .*to reinstate its previous state run: "
check "... Neo4j not started on the half-loaded store" test ! -e "$NEO4J_STANDIN_HOME/running"
check "... the record stays" test -s "$T/run/neo4j-offsite.lock.restore"
run 0 restore --latest --yes
expect_in "$T/err" "this run keeps it as the way back"
check "a new restore of that database clears it" test ! -e "$T/run/neo4j-offsite.lock.restore"
check "... restored and running" same "$STORE/neo4j/store.dump" "$T/A.neo4j"
running || bad "Neo4j running after the second restore"
seed_db neo4j "$T/B.neo4j"

# ---- SIGTERM during a load: that load is finished, the next not begun ----
cat >"$T/slowload" <<SH
#!/bin/sh
sleep 1
exec "$STANDIN" "\$@"
SH
chmod +x "$T/slowload"
sed "s|^load_command  = $STANDIN|load_command  = $T/slowload|" "$T/conf" >"$T/conf.slow"
m=$(mark)
"$N4O_BIN" -c "$T/conf.slow" --no-progress restore --latest --all-databases --yes >"$T/out" 2>"$T/err" &
pid=$!
for i in $(seq 200); do grep -q "loading .* into database system" "$T/err" && break; sleep 0.05; done
kill -TERM "$pid"
wait "$pid"
rc=$?
check "SIGTERM during the first load: exit 1" test "$rc" = 1
expect_in "$T/err" "interrupted by signal 15: database neo4j not loaded \(unchanged\)"
check "... system completely loaded" same "$STORE/system/store.dump" "$T/A.system"
check "... neo4j unchanged" same "$STORE/neo4j/store.dump" "$T/B.neo4j"
check "... Neo4j started again" running
check "... no record left (every store is sound)" test ! -e "$T/run/neo4j-offsite.lock.restore"
check "... stdout names only what was restored" \
    test "$(grep -c 'restored database system' "$T/out")$(grep -c 'restored database neo4j' "$T/out")" = 10
seed_db system "$T/B.system"

# ---- --all-databases: system first; the second load fails -> both back ----
rm -f "$T/failed-once"
m=$(mark)
NEO4J_STANDIN_LOAD_FAIL_DB=neo4j NEO4J_STANDIN_LOAD_FAIL_COUNT_FILE="$T/failed-once" \
    run 1 restore --latest --all-databases --yes
check_eq "one stop, safety dumps, system loaded first, neo4j failed, both reinstated, one start" \
    "$(events_since "$m")" \
    "stop dump system dump neo4j drop system load system drop neo4j failed load neo4j: NEO4J_STANDIN_LOAD_FAIL_DB load neo4j drop system load system start "
check "--all-databases, second load failed: both databases as before" unchanged
expect_in "$T/err" "previous state reinstated from .*pre_restore.*, .*pre_restore"
run 0 restore --latest --all-databases --yes
check "--all-databases: neo4j restored" same "$STORE/neo4j/store.dump" "$T/A.neo4j"
check "--all-databases: system restored" same "$STORE/system/store.dump" "$T/A.system"

# ---- --as scratch: only that name ----
seed_db neo4j "$T/B.neo4j"
seed_db system "$T/B.system"
run 0 restore --latest --as scratch --yes
check "--as scratch: scratch holds the archive" same "$STORE/scratch/store.dump" "$T/A.neo4j"
check "--as scratch: neo4j and system untouched" unchanged
expect_in "$T/err" "database scratch does not exist yet"

# ---- --as with a load_command that names its database is refused ----
sed "s|--overwrite-destination=true {database}|--overwrite-destination=true neo4j|" "$T/conf" >"$T/conf.fixed"
m=$(mark)
"$N4O_BIN" -c "$T/conf.fixed" --no-progress restore --latest --as scratch2 --yes >"$T/out" 2>"$T/err"
check "--as, load_command without {database}: exit 2" test $? = 2
expect_in "$T/err" "load_command names no \{database\}: with --as it would act on the database written in it"
check "... nothing touched" test -z "$(events_since "$m")"

# ---- a FIFO where the record goes does not hang a command ----
mkfifo "$T/run/neo4j-offsite.lock.restore"
timeout 20 "$N4O_BIN" -c "$T/conf" --no-progress list >"$T/out" 2>"$T/err"
check "a FIFO as the record: list does not hang (exit 0)" test $? = 0
expect_in "$T/err" "not a regular file"
rm -f "$T/run/neo4j-offsite.lock.restore"

# ---- a dump from a newer Neo4j is refused ----
seed_db neo4j "$T/A.neo4j"
sleep 1
NEO4J_STANDIN_VERSION=5.27.0 run 0 backup --database neo4j --no-local-copy
m=$(mark)
run 4 restore --latest --yes
expect_in "$T/err" "dumped by Neo4j 5\.27\.0; this Neo4j is 5\.26\.0"
check "newer version: nothing touched" test -z "$(events_since "$m")"
seed_db neo4j "$T/B.neo4j"
run 0 restore --latest --yes --allow-version-mismatch
expect_in "$T/err" "loading anyway"
check "--allow-version-mismatch: loaded" same "$STORE/neo4j/store.dump" "$T/A.neo4j"

# ---- the first remote cannot be read: the next one, said ----
mv "$T/nas" "$T/nas.gone"
seed_db neo4j "$T/B.neo4j"
run 0 restore --latest --yes --allow-version-mismatch
expect_in "$T/err" "remote nas: .*trying the next remote, far"
expect_in "$T/out" "\(remote far"
run 1 restore --latest --yes --remote nas
check "--remote nas given: no other remote tried" test "$(grep -c 'trying the next remote' "$T/err")" = 0
mv "$T/nas.gone" "$T/nas"

# ---- on a terminal the operator types the database name (script(1)) ----
if command -v script >/dev/null; then
    seed_db neo4j "$T/B.neo4j"
    cmd="$N4O_BIN -c $T/conf --no-progress restore --latest --allow-version-mismatch"
    echo wrong | script -qec "$cmd" /dev/null >"$T/tty" 2>&1
    check "terminal, wrong answer: exit 1" test "$(grep -c 'nothing done' "$T/tty")" -ge 1
    check "... nothing changed" unchanged
    echo neo4j | script -qec "$cmd; echo EXIT=\$?" /dev/null >"$T/tty" 2>&1
    expect_in "$T/tty" "database neo4j  <- archive haia_backup_neo4j_"
    expect_in "$T/tty" "signed by key [0-9a-f]+"
    expect_in "$T/tty" "Type its name to go on"
    expect_in "$T/tty" "EXIT=0"
    check "terminal, name typed: restored" same "$STORE/neo4j/store.dump" "$T/A.neo4j"
else
    echo "SKIP: script(1) missing (util-linux)"
fi

# ---- killed mid-load: the record, and nothing started on the store ----
seed_db neo4j "$T/B.neo4j"
NEO4J_STANDIN_HANG=load "$N4O_BIN" -c "$T/conf" --no-progress restore --latest --yes \
    --allow-version-mismatch >"$T/out" 2>"$T/err" &
pid=$!
for i in $(seq 200); do grep -q "loading .* into database neo4j" "$T/err" && break; sleep 0.05; done
sleep 0.3
kill -9 "$pid"
wait "$pid" 2>/dev/null
check "killed: the record is next to the lock" test -s "$T/run/neo4j-offsite.lock.restore"
check "killed: Neo4j was not started" test ! -e "$NEO4J_STANDIN_HOME/running"
check "killed: a copy of the record beside the safety dumps" test -s "$T/local/.haia_backup.restore"
# a power loss empties /run, where lock files usually are: the copy remains
rm -f "$T/run/neo4j-offsite.lock.restore"
run 0 list
expect_in "$T/err" "did not finish: it was killed or lost power while loading"
safety=$(safety_of neo4j)
expect_in "$T/err" "database neo4j: HALF-LOADED from .*run: .*neo4j-admin database load --from-stdin --overwrite-destination=true neo4j < $safety"
run 1 backup
expect_in "$T/err" "not backing up while a restore is unfinished"
# the printed command works as printed
cmdline=$(grep -o "run: .* < [^ ]*\.dump" "$T/err" | head -1 | sed 's/^run: //')
check "the printed command reinstates the safety dump" bash -c "$cmdline" >/dev/null 2>&1
check "... the previous state is back" same "$STORE/neo4j/store.dump" "$T/B.neo4j"
# a new restore of that database takes over, with the recorded safety dump
run 0 restore --latest --yes --allow-version-mismatch
expect_in "$T/err" "this run keeps it as the way back"
check "the new restore removed the record" test ! -e "$T/run/neo4j-offsite.lock.restore" -a ! -e "$T/local/.haia_backup.restore"
check "... and started Neo4j" running

# ---- disaster recovery: a fresh host with the config, archive.key and signing.pub ----
DR="$T/dr"
mkdir -p "$DR/keys" "$DR/local" "$DR/neo4j"
cp "$T/keys/archive.key" "$T/keys/signing.pub" "$DR/keys/"
cat >"$DR/conf" <<CONF
[general]
lock_file = $DR/run/lock
[neo4j]
database      = neo4j, system
dump_command  = $STANDIN database dump --to-stdout {database}
load_command  = $STANDIN database load --from-stdin --overwrite-destination=true {database}
stop_command  = $STANDIN server stop
start_command = $STANDIN server start
[local]
directory   = $DR/local
name_prefix = haia_backup
[keys]
secret_key  = $DR/keys/archive.key
verify_key  = $DR/keys/signing.pub
[remote "nas"]
type = local
path = $T/far
CONF
NEO4J_STANDIN_HOME="$DR/neo4j" "$N4O_BIN" -c "$DR/conf" --no-progress restore --latest --all-databases --yes >"$T/out" 2>"$T/err"
check "DR: restore --latest --all-databases --yes on a fresh host: exit 0" test $? = 0
check "DR: neo4j identical to the backed-up dump" same "$DR/neo4j/databases/neo4j/store.dump" "$T/A.neo4j"
check "DR: system identical to the backed-up dump" same "$DR/neo4j/databases/system/store.dump" "$T/A.system"
check "DR: system loaded before neo4j" test "$(grep -o 'load [a-z0-9]*$' "$DR/neo4j/events.log" | tr '\n' ' ')" = "load system load neo4j "
expect_in "$T/err" "database system does not exist yet"
check "DR: Neo4j running" test -e "$DR/neo4j/running"

e2e_finish
