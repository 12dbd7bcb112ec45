#!/usr/bin/env bash
# dumpcheck throughput on a generated dump, compared with `zstd -dc`.
#   bench/dumpcheck.sh [BUILD_DIR] [SIZE]      (defaults: build, 1G)
# Writes the dump to ${TMPDIR:-/tmp} and removes it afterwards.
set -euo pipefail
B=${1:-build}
SIZE=${2:-1G}
D=$(mktemp "${TMPDIR:-/tmp}/bench-dumpcheck.XXXXXX.dump")
trap 'rm -f "$D" "$D.zst"' EXIT
echo "== gendump --size $SIZE --seed 1 (zstd level 1, frame checksums)"
"$B/gendump" --size "$SIZE" --seed 1 "$D"
ls -l "$D"
cat "$D" >/dev/null # warm the page cache so both readers see the same I/O
echo "== bench_dumpcheck (single thread, 1 MiB pieces)"
"$B/bench_dumpcheck" "$D"
echo "== zstd -dc (reference: decompression alone, checksums verified), same stream without DZV1"
tail -c +5 "$D" >"$D.zst"
cat "$D.zst" >/dev/null
T=$( { /usr/bin/time -f '%e %U %S' zstd -q -dc "$D.zst" >/dev/null ; } 2>&1 )
set -- $T
bytes=$(stat -c %s "$D")
awk -v w="$1" -v u="$2" -v s="$3" -v b="$bytes" 'BEGIN {
    printf "zstd -dc: wall %.2f s, cpu %.2f s ; %.0f MB/s of dump, %.2f cpu s/GiB of dump\n",
           w, u + s, b / w / 1e6, (u + s) / (b / 1073741824) }'
