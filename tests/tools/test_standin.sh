#!/usr/bin/env bash
# Tests of the neo4j-admin stand-in (tests/tools/neo4j-admin): every
# behaviour and error its header documents.  The store is a real Neo4j 5 dump
# from $N4O_FIXTURES when present, else a small file with the DZV1 magic (the
# stand-in only streams bytes, so the test still means something).
# shellcheck disable=SC2015 # `cond && ok || bad`: ok never fails
set -u
here=$(cd "$(dirname "$0")" && pwd)
admin=$here/neo4j-admin
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export NEO4J_STANDIN_HOME=$work/home
unset NEO4J_STANDIN_FAIL NEO4J_STANDIN_CUT_AT NEO4J_STANDIN_INJECT NEO4J_STANDIN_DUMP_DELAY \
    NEO4J_STANDIN_HANG NEO4J_STANDIN_LOAD_FAIL_AFTER NEO4J_STANDIN_LOAD_FAIL_DB \
    NEO4J_STANDIN_LOAD_FAIL_COUNT_FILE NEO4J_STANDIN_VERSION

failures=0
checks=0
ok() {
    checks=$((checks + 1))
}
bad() {
    checks=$((checks + 1))
    failures=$((failures + 1))
    echo "FAIL: $*" >&2
}
# run EXPECTED_RC DESCRIPTION CMD...: stdout in $work/out, stderr in $work/err
run() {
    local want=$1 desc=$2
    shift 2
    "$@" >"$work/out" 2>"$work/err"
    local rc=$?
    if [ "$rc" -eq "$want" ]; then ok; else
        bad "$desc: exit $rc, expected $want; stderr: $(head -c 500 "$work/err")"
    fi
}
has() { # FILE TEXT DESCRIPTION
    if grep -qF -- "$2" "$1"; then ok; else bad "$3: '$2' not in $(basename "$1"): $(head -c 500 "$1")"; fi
}
same() { # A B DESCRIPTION
    if cmp -s "$1" "$2"; then ok; else bad "$3: $1 and $2 differ"; fi
}
last_event() { # TEXT DESCRIPTION
    local got
    got=$(tail -n 1 "$NEO4J_STANDIN_HOME/events.log" 2>/dev/null)
    if [ "$got" = "$1" ]; then ok; else bad "$2: last event '$got', expected '$1'"; fi
}
size() { stat -c %s "$1"; }

# --- the store ---------------------------------------------------------------------
store=$NEO4J_STANDIN_HOME/databases/neo4j/store.dump
mkdir -p "$NEO4J_STANDIN_HOME/databases/neo4j"
if [ -n "${N4O_FIXTURES:-}" ] && [ -f "$N4O_FIXTURES/movies-50.dump" ]; then
    cp "$N4O_FIXTURES/movies-50.dump" "$work/orig.dump"
    echo "store: real Neo4j 5 dump $N4O_FIXTURES/movies-50.dump"
else
    { printf 'DZV1'; head -c 20000 /dev/urandom; } >"$work/orig.dump"
    echo "store: generated DZV1 file (no fixtures at ${N4O_FIXTURES:-<unset>})"
fi
cp "$work/orig.dump" "$store"
{ printf '\x28\xb5\x2f\xfd'; head -c 9000 /dev/urandom; } >"$work/other.dump" # a bare zstd "dump"

# --- environment ----------------------------------------------------------------------
run 1 "no NEO4J_STANDIN_HOME" env -u NEO4J_STANDIN_HOME "$admin" database dump --to-stdout neo4j
has "$work/err" "NEO4J_STANDIN_HOME is not set" "no NEO4J_STANDIN_HOME"
run 0 "--version" "$admin" --version
has "$work/out" "STAND-IN" "--version says it is a stand-in"
has "$work/out" "neo4j-admin 5.26.0 (STAND-IN for tests, not Neo4j)" "--version: 5.26.0 by default"
NEO4J_STANDIN_VERSION=2025.01.0 run 0 "version, NEO4J_STANDIN_VERSION" "$admin" version
has "$work/out" "neo4j-admin 2025.01.0 (STAND-IN" "NEO4J_STANDIN_VERSION is printed"
NEO4J_STANDIN_VERSION=4.4.30 run 0 "neo4j --version (symlink)" "$here/neo4j" --version
has "$work/out" "neo4j 4.4.30 (STAND-IN" "neo4j --version"
grep -q "STAND-IN for neo4j-admin" "$admin" && ok || bad "header does not say STAND-IN"

# --- dump -----------------------------------------------------------------------------
run 0 "dump to stdout" "$admin" database dump --to-stdout neo4j
same "$work/out" "$store" "dump to stdout equals the store"
has "$work/err" "Starting dump of database 'neo4j'" "dump logs on stderr with --to-stdout"
last_event "dump neo4j" "dump event"
run 0 "dump, options after the name" "$admin" database dump neo4j --verbose --to-stdout
same "$work/out" "$store" "dump with options after the name"

mkdir "$work/to"
run 0 "dump --to-path" "$admin" database dump --to-path="$work/to" neo4j
same "$work/to/neo4j.dump" "$store" "dump --to-path writes DIR/DB.dump"
has "$work/out" "Dump completed successfully" "dump --to-path logs on stdout"
run 1 "dump --to-path onto an existing file" "$admin" database dump --to-path "$work/to" neo4j
has "$work/err" "Archive already exists: $work/to/neo4j.dump" "existing archive refused"
echo garbage >"$work/to/neo4j.dump"
run 0 "dump --overwrite-destination" "$admin" database dump --overwrite-destination=true --to-path="$work/to" neo4j
same "$work/to/neo4j.dump" "$store" "dump --overwrite-destination replaces the file"
run 1 "dump --to-path to a missing dir" "$admin" database dump --to-path="$work/nowhere" neo4j
has "$work/err" "is not an existing directory" "missing --to-path dir"
run 0 "dump to the default dir" "$admin" database dump neo4j
same "$NEO4J_STANDIN_HOME/dumps/neo4j.dump" "$store" "dump without --to-*: dumps/DB.dump"

run 1 "dump of a missing database" "$admin" database dump --to-stdout nope
has "$work/err" "Database does not exist: nope" "missing database message"
[ -s "$work/out" ] && bad "dump of a missing database wrote to stdout" || ok

# --- server, in use -----------------------------------------------------------------------
run 3 "status when stopped" "$admin" server status
has "$work/out" "Neo4j is not running" "status stopped"
run 0 "server start" "$admin" server start
[ -e "$NEO4J_STANDIN_HOME/running" ] && ok || bad "server start did not create the marker"
last_event "start" "start event"
run 0 "status when running" "$admin" server status
has "$work/out" "Neo4j is running" "status running"
run 1 "dump while running" "$admin" database dump --to-stdout neo4j
has "$work/err" "The database is in use. Stop database 'neo4j' and try again." "dump in use"
last_event "refused dump neo4j: in use" "dump in use event"
[ -s "$work/out" ] && bad "dump while running wrote to stdout" || ok
run 1 "load while running" "$admin" database load --from-stdin --overwrite-destination=true neo4j <"$work/other.dump"
has "$work/err" "The database is in use. Stop database 'neo4j' and try again." "load in use"
same "$store" "$work/orig.dump" "load while running leaves the store"
run 0 "server stop" "$admin" server stop
[ -e "$NEO4J_STANDIN_HOME/running" ] && bad "server stop left the marker" || ok
last_event "stop" "stop event"
run 0 "neo4j start (symlink)" "$here/neo4j" start
[ -e "$NEO4J_STANDIN_HOME/running" ] && ok || bad "neo4j start did not create the marker"
run 0 "neo4j stop (symlink)" "$here/neo4j" stop
[ -e "$NEO4J_STANDIN_HOME/running" ] && bad "neo4j stop left the marker" || ok
tail -n 7 "$NEO4J_STANDIN_HOME/events.log" | tr '\n' ',' >"$work/order"
has "$work/order" "start,refused dump neo4j: in use,refused load neo4j: in use,stop,start,stop," "events in order"

# --- load -------------------------------------------------------------------------------
copy=$NEO4J_STANDIN_HOME/databases/copy/store.dump
run 0 "load a new database from stdin" "$admin" database load --from-stdin copy <"$work/orig.dump"
same "$copy" "$work/orig.dump" "load creates the store"
last_event "load copy" "load event"
run 1 "load onto an existing database" "$admin" database load --from-stdin copy <"$work/other.dump"
has "$work/err" "Database already exists: copy" "existing database refused"
same "$copy" "$work/orig.dump" "refused load leaves the store"
run 1 "load --overwrite-destination=false" "$admin" database load --from-stdin --overwrite-destination=false copy <"$work/other.dump"
has "$work/err" "Database already exists: copy" "overwrite=false refused"
run 0 "load --overwrite-destination=true" "$admin" database load --from-stdin --overwrite-destination=true copy <"$work/other.dump"
same "$copy" "$work/other.dump" "load with overwrite replaces the store"
tail -n 2 "$NEO4J_STANDIN_HOME/events.log" | tr '\n' ',' >"$work/order"
has "$work/order" "drop copy,load copy," "overwrite: drop, then load"
# while the input is read the old store is gone and no partial one is seen
{
    head -c 1000 "$work/orig.dump"
    sleep 1
    tail -c +1001 "$work/orig.dump"
} | "$admin" database load --from-stdin --overwrite-destination=true copy >/dev/null 2>&1 &
pid=$!
sleep 0.5
[ -e "$copy" ] && bad "a store is visible while the load reads its input" || ok
wait "$pid" && ok || bad "slow load failed"
same "$copy" "$work/orig.dump" "slow load complete"
cp "$work/other.dump" "$copy"
run 0 "load --overwrite-destination (no value)" "$admin" database load --from-stdin --overwrite-destination copy <"$work/orig.dump"
same "$copy" "$work/orig.dump" "load with bare --overwrite-destination"

mkdir "$work/from"
cp "$work/other.dump" "$work/from/copy.dump"
run 0 "load --from-path" "$admin" database load --from-path="$work/from" --overwrite-destination=true copy
same "$copy" "$work/other.dump" "load --from-path reads DIR/DB.dump"
run 1 "load --from-path, archive missing" "$admin" database load --from-path="$work/from" fresh
has "$work/err" "Archive does not exist: $work/from/fresh.dump" "missing archive"
[ -e "$NEO4J_STANDIN_HOME/databases/fresh" ] && bad "failed load created the database" || ok

# Like Neo4j 5, a load with --overwrite-destination=true deletes the store
# before it reads: a load that fails then leaves no database at all.
printf 'Starting dump of database neo4j\n' >"$work/notdump"
run 1 "load of a non-dump" "$admin" database load --from-stdin --overwrite-destination=true copy <"$work/notdump"
has "$work/err" "Not a valid Neo4j archive" "non-dump refused"
[ -e "$copy" ] && bad "a failed overwriting load left the store" || ok
tail -n 2 "$NEO4J_STANDIN_HOME/events.log" | tr '\n' ',' >"$work/order"
has "$work/order" "drop copy,refused load copy: not a dump," "non-dump: dropped, then refused"
run 1 "dump of the dropped database" "$admin" database dump --to-stdout copy
has "$work/err" "Database does not exist: copy" "the dropped database does not exist"
cp "$work/other.dump" "$copy"
run 1 "load of empty input" "$admin" database load --from-stdin --overwrite-destination=true copy </dev/null
[ -e "$copy" ] && bad "empty input left the store" || ok
# without overwrite the existing store is refused before anything: untouched
cp "$work/other.dump" "$copy"
run 1 "load of a non-dump, no overwrite" "$admin" database load --from-stdin copy <"$work/notdump"
has "$work/err" "Database already exists: copy" "no overwrite: refused first"
same "$copy" "$work/other.dump" "no overwrite: the store stays"
# a new database: nothing to drop
run 1 "load of a non-dump, new database" "$admin" database load --from-stdin --overwrite-destination=true brand-new <"$work/notdump"
grep -q "drop brand-new" "$NEO4J_STANDIN_HOME/events.log" && bad "dropped a database that was not there" || ok
[ -e "$NEO4J_STANDIN_HOME/databases/brand-new/store.dump" ] && bad "a failed load created a store" || ok
for magic in 'DGV1' '\x1f\x8b\x08\x00'; do
    { printf '%b' "$magic"; head -c 100 /dev/urandom; } >"$work/m.dump"
    run 0 "load accepts magic $magic" "$admin" database load --from-stdin --overwrite-destination=true magic <"$work/m.dump"
    same "$NEO4J_STANDIN_HOME/databases/magic/store.dump" "$work/m.dump" "load with magic $magic"
done
leftovers=$(find "$NEO4J_STANDIN_HOME/databases" -name '.load-*' | wc -l)
[ "$leftovers" -eq 0 ] && ok || bad "$leftovers temporary load files left"

# --- usage errors: exit 2 -------------------------------------------------------------
run 2 "unknown option" "$admin" database dump --foo --to-stdout neo4j
has "$work/err" "Unknown option: '--foo'" "unknown option message"
run 2 "missing database" "$admin" database dump --to-stdout
has "$work/err" "Missing required parameter: '<database>'" "missing database parameter"
run 2 "missing database (load)" "$admin" database load --from-stdin
has "$work/err" "Missing required parameter: '<database>'" "missing database parameter (load)"
run 2 "two databases" "$admin" database dump --to-stdout neo4j system
has "$work/err" "Unmatched argument" "extra argument"
run 2 "--to-stdout with --to-path" "$admin" database dump --to-stdout --to-path="$work/to" neo4j
has "$work/err" "mutually exclusive" "exclusive targets"
run 2 "--to-stdout on load" "$admin" database load --to-stdout neo4j
has "$work/err" "Unknown option: '--to-stdout'" "dump option on load"
run 2 "bad boolean" "$admin" database load --from-stdin --overwrite-destination=maybe neo4j
has "$work/err" "is not a boolean" "bad boolean"
run 2 "unknown subcommand" "$admin" database frobnicate neo4j
run 2 "unknown server subcommand" "$admin" server reboot
run 2 "no subcommand" "$admin"
same "$store" "$work/orig.dump" "usage errors leave the store"

# --- failures on demand -------------------------------------------------------------------
for action in dump load stop start; do
    : >"$NEO4J_STANDIN_HOME/running.before"
    [ -e "$NEO4J_STANDIN_HOME/running" ] && running_before=1 || running_before=0
    case $action in
    dump) NEO4J_STANDIN_FAIL=dump run 1 "FAIL=dump" "$admin" database dump --to-stdout neo4j ;;
    load) NEO4J_STANDIN_FAIL=load run 1 "FAIL=load" "$admin" database load --from-stdin --overwrite-destination=true neo4j <"$work/other.dump" ;;
    *) NEO4J_STANDIN_FAIL=$action run 1 "FAIL=$action" "$admin" server "$action" ;;
    esac
    has "$work/err" "NEO4J_STANDIN_FAIL=$action" "FAIL=$action message"
    [ -e "$NEO4J_STANDIN_HOME/running" ] && running_after=1 || running_after=0
    [ "$running_before" = "$running_after" ] && ok || bad "FAIL=$action changed the running marker"
done
[ -s "$work/out" ] && bad "FAIL=dump wrote to stdout" || ok
same "$store" "$work/orig.dump" "FAIL=load leaves the store"
NEO4J_STANDIN_FAIL=dump run 0 "FAIL=dump does not affect load" "$admin" database load --from-stdin --overwrite-destination=true copy <"$work/orig.dump"

NEO4J_STANDIN_CUT_AT=1000 run 0 "CUT_AT" "$admin" database dump --to-stdout neo4j
[ "$(size "$work/out")" -eq 1000 ] && ok || bad "CUT_AT=1000 wrote $(size "$work/out") bytes"
head -c 1000 "$store" >"$work/prefix"
same "$work/out" "$work/prefix" "CUT_AT output is the start of the store"

NEO4J_STANDIN_INJECT="2024-01-01 INFO [o.n.c.d.DumpCommand] Starting dump" run 0 "INJECT" "$admin" database dump --to-stdout neo4j
{
    head -c 4096 "$store"
    echo "2024-01-01 INFO [o.n.c.d.DumpCommand] Starting dump"
    tail -c +4097 "$store"
} >"$work/injected"
same "$work/out" "$work/injected" "INJECT puts the line after 4096 bytes"

start=$(date +%s%N)
NEO4J_STANDIN_DUMP_DELAY=1.5 "$admin" database dump --to-stdout neo4j >"$work/delayed" 2>/dev/null &
pid=$!
sleep 0.7
mid=$(size "$work/delayed")
kill -0 "$pid" 2>/dev/null && ok || bad "DUMP_DELAY: dump ended early"
# The delay is a child process (see the header): tests of process-group
# kills rely on it.
children=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null)
[ -n "$children" ] && [ "$(tr -d '\0' <"/proc/${children%% *}/comm" 2>/dev/null)" = sleep ] && ok ||
    bad "DUMP_DELAY: the stand-in does not wait in a child sleep (children: '$children')"
[ "$mid" -eq 4096 ] && ok || bad "DUMP_DELAY: $mid bytes written during the delay, expected 4096"
wait "$pid" && ok || bad "DUMP_DELAY: dump failed"
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
[ "$elapsed_ms" -ge 1500 ] && ok || bad "DUMP_DELAY=1.5 took only $elapsed_ms ms"
same "$work/delayed" "$store" "DUMP_DELAY output complete"

NEO4J_STANDIN_HANG=dump run 124 "HANG=dump" timeout -k 2 1.5 "$admin" database dump --to-stdout neo4j
[ "$(size "$work/out")" -eq 4096 ] && ok || bad "HANG=dump wrote $(size "$work/out") bytes, expected 4096"
NEO4J_STANDIN_HANG=load run 124 "HANG=load" timeout -k 2 1.5 "$admin" database load --from-stdin --overwrite-destination=true neo4j <"$work/other.dump"
same "$store" "$work/orig.dump" "HANG=load leaves the store"

NEO4J_STANDIN_LOAD_FAIL_AFTER=100 run 1 "LOAD_FAIL_AFTER" "$admin" database load --from-stdin --overwrite-destination=true neo4j <"$work/other.dump"
has "$work/err" "after 100 bytes" "LOAD_FAIL_AFTER message"
[ -e "$store" ] && bad "LOAD_FAIL_AFTER with overwrite left the store (Neo4j 5 drops it first)" || ok
last_event "failed load neo4j: NEO4J_STANDIN_LOAD_FAIL_AFTER" "LOAD_FAIL_AFTER event"
cp "$work/orig.dump" "$store"
NEO4J_STANDIN_LOAD_FAIL_AFTER=100 run 1 "LOAD_FAIL_AFTER, no overwrite" "$admin" database load --from-stdin neo4j <"$work/other.dump"
has "$work/err" "Database already exists: neo4j" "LOAD_FAIL_AFTER, no overwrite: refused first"
same "$store" "$work/orig.dump" "LOAD_FAIL_AFTER, no overwrite: the store stays"
NEO4J_STANDIN_LOAD_FAIL_AFTER=100 run 1 "LOAD_FAIL_AFTER, new db" "$admin" database load --from-stdin never <"$work/other.dump"
[ -e "$NEO4J_STANDIN_HOME/databases/never" ] && bad "LOAD_FAIL_AFTER created the database" || ok

# LOAD_FAIL_DB: only loads of that database fail, after the drop and the read
mkdir -p "$NEO4J_STANDIN_HOME/databases/second"
second=$NEO4J_STANDIN_HOME/databases/second/store.dump
cp "$work/orig.dump" "$second"
export NEO4J_STANDIN_LOAD_FAIL_DB=second
run 0 "LOAD_FAIL_DB: another database loads" "$admin" database load --from-stdin --overwrite-destination=true neo4j <"$work/other.dump"
same "$store" "$work/other.dump" "LOAD_FAIL_DB: another database is loaded"
run 1 "LOAD_FAIL_DB: that database fails" "$admin" database load --from-stdin --overwrite-destination=true second <"$work/other.dump"
has "$work/err" "Failed to load database 'second': stand-in failure (NEO4J_STANDIN_LOAD_FAIL_DB=second)" "LOAD_FAIL_DB message"
has "$work/err" "Load failed for databases: 'second'" "LOAD_FAIL_DB last line"
[ -e "$second" ] && bad "LOAD_FAIL_DB left the store (dropped first)" || ok
tail -n 2 "$NEO4J_STANDIN_HOME/events.log" | tr '\n' ',' >"$work/order"
has "$work/order" "drop second,failed load second: NEO4J_STANDIN_LOAD_FAIL_DB," "LOAD_FAIL_DB events"
run 1 "LOAD_FAIL_DB: fails every time without a count file" "$admin" database load --from-stdin --overwrite-destination=true second <"$work/other.dump"
# it reads the whole input before failing: a writer never sees EPIPE
{
    cat "$work/other.dump"
    head -c 3000000 /dev/urandom
} | "$admin" database load --from-stdin --overwrite-destination=true second 2>/dev/null
rcs=("${PIPESTATUS[@]}")
[ "${rcs[0]}" = 0 ] && [ "${rcs[1]}" = 1 ] && ok || bad "LOAD_FAIL_DB: writer exit ${rcs[0]}, load exit ${rcs[1]}"

# LOAD_FAIL_COUNT_FILE: only the first matching load fails
count=$work/load-failed
export NEO4J_STANDIN_LOAD_FAIL_COUNT_FILE=$count
cp "$work/orig.dump" "$second"
run 0 "COUNT_FILE: another database does not count" "$admin" database load --from-stdin --overwrite-destination=true neo4j <"$work/orig.dump"
[ -e "$count" ] && bad "COUNT_FILE written by a load of another database" || ok
run 1 "COUNT_FILE: the first load fails" "$admin" database load --from-stdin --overwrite-destination=true second <"$work/other.dump"
has "$work/err" "NEO4J_STANDIN_LOAD_FAIL_DB=second" "COUNT_FILE: first failure message"
[ -e "$count" ] && ok || bad "COUNT_FILE not written by the failed load"
[ -e "$second" ] && bad "COUNT_FILE: the failed load left the store" || ok
run 0 "COUNT_FILE: the second load succeeds" "$admin" database load --from-stdin --overwrite-destination=true second <"$work/orig.dump"
same "$second" "$work/orig.dump" "COUNT_FILE: the second load is loaded"
run 0 "COUNT_FILE: later loads succeed" "$admin" database load --from-stdin --overwrite-destination=true second <"$work/other.dump"
same "$second" "$work/other.dump" "COUNT_FILE: a third load is loaded"
unset NEO4J_STANDIN_LOAD_FAIL_DB
rm -f "$count"
run 0 "COUNT_FILE alone fails nothing" "$admin" database load --from-stdin --overwrite-destination=true second <"$work/orig.dump"
[ -e "$count" ] && bad "COUNT_FILE written without LOAD_FAIL_DB" || ok
unset NEO4J_STANDIN_LOAD_FAIL_COUNT_FILE

leftovers=$(find "$NEO4J_STANDIN_HOME/databases" -name '.load-*' | wc -l)
[ "$leftovers" -eq 0 ] && ok || bad "$leftovers temporary load files left after failures"

echo "$checks checks, $failures failed"
[ "$failures" -eq 0 ]
