#!/usr/bin/env bash
# A real S3 server on loopback for the tests: s3rver (npm, pinned in
# tests/s3/package.json; install with `npm ci` in tests/s3).  s3rver checks
# SigV4 signatures; its keys are S3RVER / S3RVER.
#
# As a library (source it):  s3_start DIR BUCKET  -> S3_PORT, S3_PID, S3_LOG
#                            s3_stop
# As a command:              s3_harness.sh DIR BUCKET  (runs until Ctrl-C)
# s3_available says why not (and returns 1) when node or s3rver is missing.

S3_HARNESS_SOURCE=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
S3RVER_JS="$S3_HARNESS_SOURCE/tests/s3/node_modules/s3rver/bin/s3rver.js"
S3_ACCESS_KEY=S3RVER
S3_SECRET_KEY=S3RVER

s3_available() {
    if ! command -v node >/dev/null; then
        echo "node is not installed"
        return 1
    fi
    if [ ! -f "$S3RVER_JS" ]; then
        echo "s3rver is not installed (run: cd tests/s3 && npm ci)"
        return 1
    fi
}

# s3_start DIR BUCKET [S3RVER OPTIONS...]: serve DIR (created) with BUCKET on
# a free port (e.g. --key K --cert C for HTTPS).
s3_start() {
    local dir=$1 bucket=$2 i
    shift 2
    mkdir -p "$dir"
    S3_LOG="$dir.log"
    # Node 20 needs the legacy provider, or continuation tokens fail (500)
    NODE_OPTIONS=--openssl-legacy-provider node "$S3RVER_JS" -d "$dir" -a 127.0.0.1 -p 0 \
        --configure-bucket "$bucket" "$@" >"$S3_LOG" 2>&1 &
    S3_PID=$!
    S3_PORT=
    for i in $(seq 1 200); do
        S3_PORT=$(sed -n 's/.*S3rver listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$S3_LOG" | head -1)
        [ -n "$S3_PORT" ] && return 0
        if ! kill -0 "$S3_PID" 2>/dev/null; then
            echo "s3rver exited:" >&2
            cat "$S3_LOG" >&2
            return 1
        fi
        sleep 0.05
    done
    echo "s3rver did not start in 10 s:" >&2
    cat "$S3_LOG" >&2
    s3_stop
    return 1
}

# proxy_start LOG RULE...: the fault-injecting proxy (s3_fault_proxy.py) in
# front of the running s3rver (or of port PROXY_UPSTREAM_PORT) -> PROXY_PORT,
# PROXY_PID.
proxy_start() {
    local log=$1 i
    shift
    python3 "$S3_HARNESS_SOURCE/tests/tools/s3_fault_proxy.py" \
        --upstream "127.0.0.1:${PROXY_UPSTREAM_PORT:-$S3_PORT}" \
        --log "$log" "$@" >"$log.out" 2>&1 &
    PROXY_PID=$!
    PROXY_PORT=
    for i in $(seq 1 100); do
        PROXY_PORT=$(sed -n 's/^listening on \([0-9][0-9]*\)$/\1/p' "$log.out")
        [ -n "$PROXY_PORT" ] && return 0
        kill -0 "$PROXY_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "the fault proxy did not start:" >&2
    cat "$log.out" >&2
    return 1
}

proxy_stop() {
    if [ -n "${PROXY_PID:-}" ]; then
        kill "$PROXY_PID" 2>/dev/null
        wait "$PROXY_PID" 2>/dev/null
    fi
    PROXY_PID=
}

s3_stop() {
    if [ -n "${S3_PID:-}" ]; then
        kill "$S3_PID" 2>/dev/null
        wait "$S3_PID" 2>/dev/null
    fi
    S3_PID=
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -eu
    [ $# = 2 ] || {
        echo "usage: $0 DIR BUCKET" >&2
        exit 2
    }
    s3_available || exit 1
    s3_start "$1" "$2"
    echo "s3rver on http://127.0.0.1:$S3_PORT bucket $2 (keys $S3_ACCESS_KEY/$S3_SECRET_KEY), pid $S3_PID"
    trap s3_stop EXIT INT TERM
    wait "$S3_PID"
fi
