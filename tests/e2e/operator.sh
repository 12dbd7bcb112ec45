#!/usr/bin/env bash
# Issue 11: what an operator trips over, run as the operator would.  Neo4j
# left down is never a success; what can be checked before stop_command is
# checked before it; every remote's outcome is named; a killed run is
# noticed and Neo4j started again; names, times and paths say the truth.
. "$(dirname "$0")/common.bash"

keygen
write_config
gen_dump "$T/source.dump" 2M 21
seed_db neo4j "$T/source.dump"
events() { tr '\n' ' ' <"$NEO4J_STANDIN_HOME/events.log"; }
reset_events() { : >"$NEO4J_STANDIN_HOME/events.log"; }

# --- 1. a failed start_command: exit 1, "Neo4j NOT started" last on stderr,
#        the archive (good) stays published
reset_events
NEO4J_STANDIN_FAIL=start run 1 backup
check "start failed: the archive was published" test "$(ls "$T/nas"/*.dump.manifest | wc -l)" = 1
check "start failed: last stderr line says Neo4j NOT started" \
    bash -c "tail -n1 '$T/err' | grep -q 'Neo4j NOT started'"
expect_in "$T/out" "remotes: nas ok"
# the next run notices and starts Neo4j first
reset_events
run 0 backup
expect_in "$T/err" "previous run \(pid [0-9]+, backup\) stopped Neo4j at .* could not start it again"
check "next run: start_command ran first" test "$(events)" = "start stop dump neo4j start "

# --- kill -9 between stop and start: the next run says so and starts Neo4j
reset_events
NEO4J_STANDIN_DUMP_DELAY=30 "$N4O_BIN" -c "$T/conf" --no-progress backup >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q '^dump' "$NEO4J_STANDIN_HOME/events.log" 2>/dev/null && break; sleep 0.1; done
kill -9 "$pid"
wait "$pid" 2>/dev/null
reset_events
run 0 backup
expect_in "$T/err" "previous run \(pid $pid, backup\) was killed after stopping Neo4j at [0-9T:-]+Z and never started it"
check "after kill -9: start_command ran before anything else" \
    test "$(events)" = "start stop dump neo4j start "
run 0 backup
check "a clean run leaves no warning" bash -c "! grep -q 'previous run' '$T/err'"

# the record of a stop survives runs that fail before they could start
# Neo4j again (here: its start_command fails, and no remote can be written)
printf '999999\ncommand=backup\nstopped=1700000000\n' >"$T/run/neo4j-offsite.lock"
rm -f "$NEO4J_STANDIN_HOME/running"
cat >>"$T/conf" <<CONF
[remote "gone"]
type = local
path = $T/does-not-exist
CONF
NEO4J_STANDIN_FAIL=start run 1 backup --remote gone
expect_in "$T/err" "was killed after stopping Neo4j at 2023-11-14T22:13:20Z"
check "a failed recovery keeps the stop on record" grep -q '^stopped=1700000000$' "$T/run/neo4j-offsite.lock"
reset_events
run 0 backup --remote nas
expect_in "$T/err" "Neo4j has been down since run 999999 stopped it at 2023-11-14T22:13:20Z"
check "the next run starts Neo4j first" test "$(events)" = "start stop dump neo4j start "
check "Neo4j runs" test -e "$NEO4J_STANDIN_HOME/running"
write_config
# a start_command that fails once (the recovery) and then works: the run
# ends with Neo4j started, so it is a success
printf '999999\ncommand=backup\nstopped=1700000000\n' >"$T/run/neo4j-offsite.lock"
cat >"$T/flaky-start" <<SH
#!/bin/sh
[ -e "$T/started-once" ] && exec "$STANDIN" server start
touch "$T/started-once"
echo "start failed (first time)" >&2
exit 1
SH
chmod +x "$T/flaky-start"
sed -i "s#^start_command = .*#start_command = $T/flaky-start#" "$T/conf"
run 0 backup
check "flaky start: no false 'NOT started'" bash -c "! grep -q 'NOT started' '$T/err'"
write_config
find "$T/local" -name '*.partial' -delete

# --- a dropped session (SIGHUP) mid-dump: Neo4j is started again
reset_events
NEO4J_STANDIN_DUMP_DELAY=30 "$N4O_BIN" -c "$T/conf" --no-progress backup >/dev/null 2>"$T/err" &
pid=$!
for _ in $(seq 100); do grep -q '^dump' "$NEO4J_STANDIN_HOME/events.log" 2>/dev/null && break; sleep 0.1; done
kill -HUP "$pid"
wait "$pid"
rc=$?
check "SIGHUP: exit 1 (got $rc)" test "$rc" = 1
check "SIGHUP: start_command ran" test "$(events)" = "stop dump neo4j start "
check "SIGHUP: nothing published" test "$(find "$T/nas" -newer "$T/err" -name '*.manifest' | wc -l)" = 0
find "$T/local" -name '*.partial' -delete

# --- 2. what can be checked before stop_command is checked before it
reset_events
mkdir -p "$T/ro"
if mount -t tmpfs -o ro,size=1m tmpfs "$T/ro" 2>/dev/null; then
    sed "s#^directory   = .*#directory   = $T/ro#" "$T/conf" >"$T/conf.ro"
    "$N4O_BIN" -c "$T/conf.ro" --no-progress backup >"$T/out" 2>"$T/err"
    rc=$?
    check "read-only local directory: exit 1 (got $rc)" test "$rc" = 1
    expect_in "$T/err" "local directory: cannot create files in $T/ro: Read-only file system"
    check "read-only local directory: Neo4j never stopped" test -z "$(events)"
    # a read-only local remote is skipped before the stop; another one works
    cat >>"$T/conf" <<CONF
[remote "nas2"]
type = local
path = $T/ro
CONF
    run 3 backup
    expect_in "$T/err" "remote nas2: cannot create files in $T/ro"
    expect_in "$T/out" "remotes: nas ok, nas2 FAILED \(remote nas2: cannot create files in $T/ro"
    check "read-only remote: found before the stop (one stop/start)" \
        test "$(events)" = "stop dump neo4j start "
    umount "$T/ro"
    write_config
    # a full local directory is found before the stop too
    mount -t tmpfs -o size=64k tmpfs "$T/ro"
    head -c 1M /dev/zero >"$T/ro/filler" 2>/dev/null
    sed "s#^directory   = .*#directory   = $T/ro#" "$T/conf" >"$T/conf.full"
    reset_events
    "$N4O_BIN" -c "$T/conf.full" --no-progress backup >"$T/out" 2>"$T/err"
    rc=$?
    check "full local directory: exit 1 (got $rc)" test "$rc" = 1
    expect_in "$T/err" "local directory: cannot write files in $T/ro: No space left on device"
    check "full local directory: Neo4j never stopped" test -z "$(events)"
    umount "$T/ro"
else
    echo "SKIP: cannot mount a tmpfs here: read-only checks not run"
fi
# a dump_command whose program is not in PATH (the default neo4j-admin on a
# host without it), a placeholder typo, a shell operator without sh -c:
# exit 2 and Neo4j never stopped
reset_events
write_config
sed -i "s#^dump_command  = .*#dump_command  = neo4j-admin-not-here database dump --to-stdout {database}#" "$T/conf"
run 2 backup
expect_in "$T/err" "dump_command: program neo4j-admin-not-here not found in PATH"
check "program not found: Neo4j never stopped" test -z "$(events)"
write_config
sed -i "s#^dump_command  = \(.*\){database}#dump_command  = \1{databse}#" "$T/conf"
run 2 backup
expect_in "$T/err" "conf:[0-9]+.*unknown placeholder \{databse\}"
write_config
sed -i "s#^stop_command  = \(.*\)#stop_command  = \1 \# comment#" "$T/conf"
run 2 backup
expect_in "$T/err" "conf:[0-9]+"
check "config errors: Neo4j never stopped" test -z "$(events)"
write_config
# a relative program path means the config file's directory, from anywhere
mkdir -p "$T/bin"
ln -sf "$STANDIN" "$T/bin/admin"
sed -i -e "s#^dump_command  = $STANDIN#dump_command  = bin/admin#" \
    -e "s#^stop_command  = $STANDIN#stop_command  = ./bin/admin#" "$T/conf"
reset_events
(cd / && "$N4O_BIN" -c "$T/conf" --no-progress backup >"$T/out" 2>"$T/err")
rc=$?
check "relative program run from /: exit 0 (got $rc)" test "$rc" = 0
check "relative program: stop, dump, start" test "$(events)" = "stop dump neo4j start "
rm "$T/bin/admin"
(cd "$T/bin" && "$N4O_BIN" -c "$T/conf" --no-progress backup >"$T/out" 2>"$T/err")
check "missing relative program: exit 2" test $? = 2
expect_in "$T/err" "program bin/admin not found \(relative to the config file's directory: $T/bin/admin\)"
write_config
# a remote that cannot be reached: reported, skipped, exit 3 at the end
reset_events
cat >>"$T/conf" <<CONF
[remote "gone"]
type = local
path = $T/does-not-exist
CONF
run 3 backup
expect_in "$T/out" "remotes: nas ok, gone FAILED \(remote gone: directory $T/does-not-exist: No such file"
# nothing but unreachable remotes: Neo4j is not stopped at all
reset_events
run 1 backup --remote gone
check "only unreachable remotes: Neo4j never stopped" test -z "$(events)"
expect_in "$T/err" "this run did not stop Neo4j"
write_config

# --- 4. names and times: the manifest records the real start of the dump
#        even when the name moved to the next free second
reset_events
stamp=$(date -u +%Y%m%d_%H%M%S)
now=$(date -u +%s)
for i in 0 1 2 3 4 5; do
    s=$(date -u -d "@$((now + i))" +%Y%m%d_%H%M%S)
    touch "$T/local/haia_backup_neo4j_$s.dump"
done
run 0 backup
newest=$(ls "$T/nas"/*.dump.manifest | sort | tail -1)
check "name moved past the taken seconds" \
    test "$(basename "$newest")" \> "haia_backup_neo4j_$(date -u -d "@$((now + 5))" +%Y%m%d_%H%M%S).dump.manifest"
check "manifest: dump_started <= dump_ended and is the real start" /usr/bin/python3 -c "
import json, datetime
m = json.load(open('$newest'))
p = lambda s: datetime.datetime.strptime(s, '%Y-%m-%dT%H:%M:%SZ').timestamp()
assert p(m['dump_started']) <= p(m['dump_ended']), m
assert abs(p(m['dump_started']) - $now) <= 3, (m['dump_started'], $now)
"
rm -f "$T/local"/haia_backup_neo4j_*.dump

# verify with a directory part: only an object of the remote itself
name=$(basename "$newest" .dump.manifest)
cp "$T/nas/$name.dump.enc" "$T/elsewhere.dump.enc"
run 2 verify "$T/elsewhere.dump.enc"
expect_in "$T/err" "is not an object of the remote"
run 0 verify "$T/nas/$name.dump.enc"
run 0 verify "$name"

# --- 5. list --json names the remotes it could not list
cat >>"$T/conf" <<CONF
[remote "gone"]
type = local
path = $T/does-not-exist
CONF
run 3 --json list
check "list --json: errors name the remote and the cause" /usr/bin/python3 -c "
import json
d = json.load(open('$T/out'))
assert [e['remote'] for e in d['errors']] == ['gone'], d['errors']
assert 'No such file' in d['errors'][0]['message'], d['errors']
assert len(d['archives']) >= 1
"
"$N4O_BIN" --json -c "$T/"$'\xff'"nope.conf" list >"$T/out" 2>/dev/null
check "list --json: a non-UTF-8 error is still valid JSON" /usr/bin/python3 -c "
import json
d = json.load(open('$T/out'))
assert 'nope.conf' in d['errors'][0]['message'], d
"
echo '[broken' >"$T/conf"
run 2 --json list
check "list --json: a config error is still one JSON document" /usr/bin/python3 -c "
import json
d = json.load(open('$T/out'))
assert d['archives'] == [] and d['errors'][0]['remote'] is None, d
"
write_config

# --- 5. on a terminal, log lines never share a line with the progress display
if command -v script >/dev/null; then
    gen_dump "$T/big.dump" 48M 22
    seed_db neo4j "$T/big.dump"
    NEO4J_STANDIN_DUMP_DELAY=1 script -qec \
        "'$N4O_BIN' -c '$T/conf' --progress backup --no-local-copy" /dev/null >"$T/tty.out" 2>&1
    check "terminal: progress was shown" grep -q 'MiB/s' "$T/tty.out"
    check "terminal: every log line starts its own line" /usr/bin/python3 -c "
import re, sys
text = open('$T/tty.out', 'rb').read().decode('utf-8', 'replace')
for line in text.split('\n'):
    i = line.find('neo4j-offsite: ')
    if i > 0 and not line[:i].endswith('\r\x1b[K'):
        sys.exit('shares a line: %r' % line[max(0, i - 60):i + 40])
"
    seed_db neo4j "$T/source.dump"
else
    echo "SKIP: no script(1): terminal check not run"
fi

e2e_finish
