#!/usr/bin/env bash
# User story: the backup is killed with SIGKILL (an OOM kill, `kill -9`, a
# container stopped without grace) in the middle of a dump.  Nothing it
# started may live on: not the dump command (the stand-in), not what that
# started (the stand-in sleeps in a child process, as a JVM launcher or an
# `sh -c` pipeline would run one), else a dump would hold the store while the
# next run stops and dumps again.  The next run then works as usual.
. "$(dirname "$0")/common.bash"

keygen
write_config
if [ -f "${N4O_FIXTURES:-}/movies-50.dump" ]; then
    seed_db neo4j "$N4O_FIXTURES/movies-50.dump"
else
    gen_dump "$T/source.dump" 2M 3
    seed_db neo4j "$T/source.dump"
fi
"$STANDIN" server start >/dev/null

# Every process of this run carries MARK in its environment (children
# inherit it), so they can be found without guessing at command lines.
MARK="N4O_CHILDREN_KILL9=$$"
# Processes with MARK but the tool itself (PID).
marked_others() { # PID
    local p
    for p in $(procs_with_env "$MARK"); do [ "$p" != "$1" ] && echo "$p"; done
}
cmd_of() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null; }
# Running, not a zombie waiting for whoever reaps orphans here.
alive() { # PID
    local st
    st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "${st%% *}" != Z ]
}

for mode in "local copy" "--no-local-copy"; do
    : >"$NEO4J_STANDIN_HOME/events.log"
    args=(backup)
    [ "$mode" = "--no-local-copy" ] && args+=(--no-local-copy)
    env "$MARK" NEO4J_STANDIN_DUMP_DELAY=60 "$N4O_BIN" -c "$T/conf" --no-progress "${args[@]}" \
        >"$T/out" 2>"$T/err" &
    pid=$!
    for _ in $(seq 100); do
        grep -q "dump neo4j" "$NEO4J_STANDIN_HOME/events.log" 2>/dev/null && break
        sleep 0.1
    done
    sleep 0.3 # the stand-in is in its delay: 4096 bytes out, a sleep child running
    dump_pid="" sleep_pid=""
    for p in $(marked_others "$pid"); do
        case "$(cmd_of "$p")" in
        *neo4j-admin*database*dump*) dump_pid=$p ;;
        sleep*) sleep_pid=$p ;;
        esac
    done
    check "$mode: the dump runs (pid ${dump_pid:-none})" test -n "$dump_pid"
    check "$mode: the dump's child runs (pid ${sleep_pid:-none})" test -n "$sleep_pid"

    before=$(marked_others "$pid") # the dump, its child, and any helper of the tool
    kill -9 "$pid"
    wait "$pid" 2>/dev/null
    killed=$(date +%s%N)
    # Gone within two seconds: polled by pid (a scan of /proc takes long).
    ms=0
    while :; do
        left=""
        for p in $before; do alive "$p" && left="$left $p"; done
        ms=$((($(date +%s%N) - killed) / 1000000))
        [ -z "$left" ] || [ "$ms" -gt 2000 ] && break
        sleep 0.05
    done
    if [ -z "$left" ]; then
        ok "$mode: kill -9 of the tool: all it started is gone after $ms ms ($(echo $before | wc -w) processes)"
    else
        bad "$mode: kill -9 of the tool: still running after $ms ms:"
        for p in $left; do echo "    $p: $(cmd_of "$p")"; done
    fi
    left=$(marked_others "$pid")
    check "$mode: no process of the run is left at all" test -z "$left"
    for p in $left; do kill -9 "$p" 2>/dev/null; done
    check "$mode: no partial archive was published" test -z "$(find "$T/nas" -name '*.manifest')"
done

# The next run takes the lock, says the last one was killed with Neo4j
# stopped and starts it first, then stops, dumps, starts and publishes.
: >"$NEO4J_STANDIN_HOME/events.log"
run 0 backup
expect_in "$T/err" "was killed after stopping Neo4j"
check "the next run: start first, then stop, dump, start" \
    test "$(tr '\n' ,  <"$NEO4J_STANDIN_HOME/events.log")" = "start,stop,dump neo4j,start,"
check "the next run published an archive" test -n "$(find "$T/nas" -name '*.manifest')"

e2e_finish
