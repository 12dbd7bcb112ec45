# Ctrl-C for the e2e tests (source it after tests/e2e/common.bash):
#
#   interrupt PROXY_LOG PATTERN ARGS...
#
# runs neo4j-offsite ARGS with the test config in the background (output in
# $T/out and $T/err), sends it SIGINT half a second after PROXY_LOG (the
# fault proxy's log) first matches PATTERN (grep -E), and waits for it:
# the exit code in $RC, the milliseconds from the signal to the exit in $MS.
interrupt() {
    local log=$1 pattern=$2 i t0 t1
    shift 2
    "$N4O_BIN" -c "$T/conf" --no-progress "$@" >"$T/out" 2>"$T/err" &
    local pid=$!
    for i in $(seq 1 600); do
        grep -qE -- "$pattern" "$log" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if ! grep -qE -- "$pattern" "$log"; then
        bad "the proxy never saw '$pattern'"
        sed 's/^/    stderr: /' "$T/err" | tail -10
    fi
    sleep 0.5 # well inside the stall
    t0=$(date +%s%N)
    kill -INT "$pid"
    wait "$pid"
    RC=$?
    t1=$(date +%s%N)
    MS=$(((t1 - t0) / 1000000))
    echo "    exit $RC, ${MS} ms after SIGINT"
}
