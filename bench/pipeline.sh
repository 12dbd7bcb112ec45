#!/usr/bin/env bash
# Backup and fetch of a generated dump to a local remote on tmpfs: wall time,
# MB/s, CPU s/GiB and peak RSS (/usr/bin/time -v), at several dump sizes,
# next to the single stages measured in the same run (bench_crypto's
# encrypt, bench_dumpcheck) and to plain `cat` / `zstd -dc` of the same file.
#   bench/pipeline.sh [BUILD_DIR] [SIZES...]     (defaults: build, 1G 4G)
set -euo pipefail
B=$(cd "${1:-build}" && pwd)
shift || true
SIZES=${*:-1G 4G}
SRC=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d /dev/shm/n4o-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
export NEO4J_STANDIN_HOME=$W/neo4j
mkdir -p "$W/keys" "$W/local" "$W/remote" "$NEO4J_STANDIN_HOME/databases/neo4j"
"$B/neo4j-offsite" keygen --out "$W/keys" >/dev/null

conf() { # STOP(yes/no)
    cat <<CONF
[general]
lock_file = $W/lock
[neo4j]
database = neo4j
dump_command = $SRC/tests/tools/neo4j-admin database dump --to-stdout {database}
$([ "$1" = yes ] && echo "stop_command = $SRC/tests/tools/neo4j-admin server stop")
$([ "$1" = yes ] && echo "start_command = $SRC/tests/tools/neo4j-admin server start")
[local]
directory = $W/local
[keys]
public_key = $W/keys/archive.pub
signing_key = $W/keys/signing.key
secret_key = $W/keys/archive.key
verify_key = $W/keys/signing.pub
[remote "tmpfs"]
type = local
path = $W/remote
CONF
}
conf yes >"$W/stop.conf"
conf no >"$W/live.conf"

measure() { # LABEL BYTES command...
    local label=$1 bytes=$2
    shift 2
    /usr/bin/time -v "$@" >/dev/null 2>"$W/time" || { cat "$W/time"; exit 1; }
    awk -v l="$label" -v b="$bytes" '
        /Elapsed \(wall clock\)/ { n = split($NF, p, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + p[i] }
        /User time/ { u = $NF } /System time/ { s = $NF }
        /Maximum resident set size/ { r = $NF }
        END { printf "%-34s %7.2f s %8.0f MB/s %6.2f CPU s/GiB %7.1f MiB peak RSS\n",
              l, w, b / w / 1e6, (u + s) / (b / 1073741824), r / 1024 }' "$W/time"
}

for size in $SIZES; do
    dump=$NEO4J_STANDIN_HOME/databases/neo4j/store.dump
    "$B/gendump" --size "$size" --seed 1 "$dump" 2>/dev/null
    bytes=$(stat -c %s "$dump")
    echo "== dump: $size plaintext tar, $bytes bytes compressed (tmpfs)"
    measure "cat dump > /dev/null" "$bytes" cat "$dump"
    echo "-- single stages on this dump / in memory (same run):"
    "$B/bench_dumpcheck" "$dump" | sed 's/^/   /'
    "$B/bench_crypto" 1024 | sed 's/^/   /'
    echo "-- peer tools on the same dump (same run):"
    measure "zstd -dc (decompress only)" "$bytes" sh -c "tail -c +5 '$dump' | zstd -q -dc"
    if command -v age >/dev/null; then
        # What a careful shell script does today: encrypt with age, hash with b2sum.
        [ -f "$W/age.key" ] || age-keygen -o "$W/age.key" 2>/dev/null
        pub=$(age-keygen -y "$W/age.key")
        measure "peer: age -r (encrypt only)" "$bytes" age -r "$pub" -o "$W/remote/x.age" "$dump"
        measure "peer: age -r | tee >(b2sum) > file" "$bytes" bash -c \
            "age -r '$pub' '$dump' | tee >(b2sum >/dev/null) >'$W/remote/x.age'"
        rm -f "$W/remote/x.age"
    fi
    echo "-- whole commands:"
    "$SRC/tests/tools/neo4j-admin" server start >/dev/null
    rm -f "$W/local"/* "$W/remote"/*
    measure "backup (stop: local copy, 2 passes)" "$bytes" "$B/neo4j-offsite" -q --no-progress -c "$W/stop.conf" backup
    rm -f "$W/local"/* "$W/remote"/*
    "$SRC/tests/tools/neo4j-admin" server stop >/dev/null # no stop_command: dump a stopped DBMS
    measure "backup (live stream + local copy)" "$bytes" "$B/neo4j-offsite" -q --no-progress -c "$W/live.conf" backup
    rm -f "$W/local"/* "$W/remote"/*
    measure "backup --no-local-copy (live)" "$bytes" "$B/neo4j-offsite" -q --no-progress -c "$W/live.conf" backup --no-local-copy
    measure "fetch --latest" "$bytes" "$B/neo4j-offsite" -q --no-progress -c "$W/live.conf" fetch --latest --output "$W/fetched.dump"
    cmp "$W/fetched.dump" "$dump" || { echo "fetched bytes differ"; exit 1; }
    rm -f "$W/fetched.dump" "$W/local"/* "$W/remote"/*
done
