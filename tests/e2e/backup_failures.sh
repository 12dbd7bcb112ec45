#!/usr/bin/env bash
# User story: things go wrong during the nightly backup.  Every failure has
# its exit code, Neo4j is started again, and nothing is published or left
# half-written.
. "$(dirname "$0")/common.bash"

keygen
write_config
gen_dump "$T/source.dump" 2M 3
seed_db neo4j "$T/source.dump"

nothing_published() {
    check "$1: no archive on the remote" test "$(ls "$T/nas" | wc -l)" = 0
    check "$1: no local copy" test "$(ls "$T/local" | wc -l)" = 0
    check "$1: no temporary file anywhere" no_partials "$T/local" "$T/nas"
    check "$1: Neo4j was started again" test -e "$NEO4J_STANDIN_HOME/running"
    : >"$NEO4J_STANDIN_HOME/events.log"
}

# The dump command fails.
NEO4J_STANDIN_FAIL=dump run 1 backup
expect_in "$T/err" "dump_command failed \(exit 1\)"
nothing_published "failing dump"

# A dump command that fails and prints its error where the dump goes (a
# wrapper such as `docker exec` does): the command's failure is the cause
# (exit 1), not an invalid dump (exit 4); the dump's reason comes after.
cp "$T/conf" "$T/conf.keep"
sed -i "s|^dump_command .*|dump_command = sh -c 'echo \"Error: No such container: neo4j\"; echo \"see the docs\" >\&2; exit 1'|" "$T/conf"
run 1 backup
expect_in "$T/err" "dump_command failed \(exit 1\).*see the docs.*; what it wrote is not a dump: .*Error: No such container"
nothing_published "failing dump that writes its error to stdout"
# the same garbage from a command that exits 0 is an invalid dump
sed -i "s|^dump_command .*|dump_command = sh -c 'echo \"Error: No such container: neo4j\"; exit 0'|" "$T/conf"
run 4 backup
expect_in "$T/err" "not a Neo4j dump"
nothing_published "garbage from a command that exits 0"
# ... or that then hangs: it gets 2 s to end by itself, then is killed
sed -i "s|^dump_command .*|dump_command = sh -c 'echo \"Error: No such container: neo4j\"; exec sleep 60'|" "$T/conf"
t0=$(date +%s)
run 4 backup
expect_in "$T/err" "not a Neo4j dump"
check "a hanging command is given up on after its grace ($(($(date +%s) - t0)) s)" \
    test $(($(date +%s) - t0)) -le 10
check "... and killed" test -z "$(pgrep -f 'exec sleep 60|^sleep 60$')"
nothing_published "garbage from a command that then hangs"
cp "$T/conf.keep" "$T/conf"

# A cut stream: the dump exits 0 but stops early.
NEO4J_STANDIN_CUT_AT=100000 run 4 backup
expect_in "$T/err" "database neo4j: .*(cut|ended|truncat)"
nothing_published "cut dump"

# Log lines injected into the stream (Neo4j 5.15-5.18 --verbose).
NEO4J_STANDIN_INJECT="2024-01-01 12:00:00.000+0000 INFO  [o.n.c.d.DumpCommand] Starting dump" run 4 backup
expect_in "$T/err" "database neo4j: text inside the dump at offset 4096: .*Starting dump"
nothing_published "polluted dump"

# Without a stop command and without a local copy, the remotes are fed from
# the live stream: a bad dump must still publish nothing.
write_config
sed -i '/^stop_command/d; /^start_command/d' "$T/conf"
"$STANDIN" server stop >/dev/null
NEO4J_STANDIN_CUT_AT=500000 run 4 backup --no-local-copy
check "live stream, cut dump: nothing on the remote" test "$(ls "$T/nas" | wc -l)" = 0
check "live stream, cut dump: no temporary file" no_partials "$T/nas" "$T/local"
"$STANDIN" server start >/dev/null
write_config

# version_command runs before Neo4j is stopped: when it fails, or prints no
# version, the run fails (exit 1) with Neo4j untouched; a program that is
# not there is a config error (exit 2).
: >"$NEO4J_STANDIN_HOME/events.log"
sed -i "s|^command_timeout .*|&\nversion_command = sh -c 'echo \"Error: No such container: haia-neo4j\" >\&2; exit 125'|" "$T/conf"
run 1 backup
expect_in "$T/err" "version_command failed \(exit 125\): Error: No such container: haia-neo4j; this run did not stop Neo4j"
check "failing version_command: Neo4j was not stopped" test ! -s "$NEO4J_STANDIN_HOME/events.log"
nothing_published "failing version_command"
sed -i "s|^version_command .*|version_command = $STANDIN server status|" "$T/conf"
run 1 backup
expect_in "$T/err" "version_command printed no version number: 'Neo4j is running\.'"
check "version_command without a version: Neo4j was not stopped" test ! -s "$NEO4J_STANDIN_HOME/events.log"
nothing_published "version_command without a version"
sed -i "s|^version_command .*|version_command = $T/no-such-neo4j-admin --version|" "$T/conf"
run 2 backup
expect_in "$T/err" "\[neo4j\] version_command: program $T/no-such-neo4j-admin not found"
nothing_published "version_command not found"
write_config

# Unknown config key: exit 2 naming file, line and key.
printf '[neo4j]\ndatabse = neo4j\n' >"$T/typo.conf"
"$N4O_BIN" -c "$T/typo.conf" backup >"$T/out" 2>"$T/err"
check "unknown config key -> exit 2" test $? = 2
expect_in "$T/err" "typo.conf:2: .*databse"

# A remote that cannot be written (missing directory) while another works:
# exit 3, the good remote holds a complete archive.
mkdir -p "$T/nas2"
write_config "[remote \"gone\"]
type = local
path = $T/does-not-exist
[remote \"nas2\"]
type = local
path = $T/nas2"
run 3 backup
check "partial: the working remote has the archive" test "$(count_files "$T/nas2" '*.dump.manifest')" = 1
rm -rf "$T/nas2" "$T/local"/* "$T/nas"/*
write_config

# Free space: the previous dump's size says the next one will not fit, so
# the backup stops before dumping (and before stopping Neo4j for long).
mkdir "$T/small"
last=$(stat -c %s "$T/source.dump")
if mount -t tmpfs -o size=$(((last + last / 2) / 1024 + 4))k tmpfs "$T/small" 2>/dev/null; then
    : >"$NEO4J_STANDIN_HOME/events.log"
    cp "$T/source.dump" "$T/small/haia_backup_neo4j_20200101_000000.dump"
    sed -i "s|^directory .*|directory   = $T/small|" "$T/conf"
    run 1 backup
    expect_in "$T/err" "local directory $T/small has .* free; the last dump of neo4j took"
    check "free space: nothing published" test "$(ls "$T/nas" | wc -l)" = 0
    check "free space: only the old dump in the small directory" test "$(ls "$T/small" | wc -l)" = 1
    check "free space: refused before Neo4j was stopped" bash -c "! grep -q stop '$NEO4J_STANDIN_HOME/events.log'"
    umount "$T/small"
    write_config
else
    echo "SKIP: free-space check needs a small tmpfs (mount -t tmpfs failed: not root?)"
fi

# SIGTERM in the middle of a dump: start_command runs, nothing published,
# exit non-zero.
: >"$NEO4J_STANDIN_HOME/events.log"
NEO4J_STANDIN_DUMP_DELAY=7 "$N4O_BIN" -c "$T/conf" --no-progress backup >"$T/out" 2>"$T/err" &
pid=$!
for _ in $(seq 50); do grep -q "dump neo4j" "$NEO4J_STANDIN_HOME/events.log" 2>/dev/null && break; sleep 0.1; done
sleep 0.3
kill -TERM $pid
wait $pid
rc=$?
check "SIGTERM mid-backup -> non-zero exit ($rc)" test $rc -ne 0
check "SIGTERM mid-backup: start_command ran after the dump" \
    test "$(tail -1 "$NEO4J_STANDIN_HOME/events.log")" = start
expect_in "$T/err" "interrupted by SIGTERM"
check "SIGTERM mid-backup: nothing on the remote" test "$(ls "$T/nas" | wc -l)" = 0
check "SIGTERM mid-backup: no local copy, no temporary file" test "$(ls "$T/local" | wc -l)" = 0
check "SIGTERM mid-backup: the dump child and its children are gone" \
    test -z "$(procs_with_env NEO4J_STANDIN_DUMP_DELAY=7)"

# Two overlapping backups: the second exits 6 at once, naming the holder.
NEO4J_STANDIN_DUMP_DELAY=3 "$N4O_BIN" -c "$T/conf" --no-progress backup >"$T/out1" 2>"$T/err1" &
pid=$!
for _ in $(seq 50); do [ -s "$T/run/neo4j-offsite.lock" ] && break; sleep 0.1; done
start=$(date +%s)
run 6 backup
expect_in "$T/err" "another run \(pid $pid, backup\) holds the lock"
check "the second run did not wait" test $(($(date +%s) - start)) -le 1
wait $pid
check "the first run completed" test $? = 0

# kill -9 leaves nothing stale: the next run takes the lock.
NEO4J_STANDIN_DUMP_DELAY=3 "$N4O_BIN" -c "$T/conf" --no-progress backup >/dev/null 2>&1 &
pid=$!
for _ in $(seq 50); do grep -q "dump neo4j" "$NEO4J_STANDIN_HOME/events.log" 2>/dev/null && break; sleep 0.1; done
kill -9 $pid
wait $pid 2>/dev/null
# the orphaned dump child of this test only (other tests may run in parallel)
for p in $(procs_with_env NEO4J_STANDIN_DUMP_DELAY=3); do kill "$p" 2>/dev/null; done
sleep 1
run 0 backup

e2e_finish
