#!/usr/bin/env bash
# gendump writes well-formed dumps: tar lists every entry it claims, the
# metadata block is true, dumpcheck accepts them (DZV1 and the other
# layouts), the same seed gives the same bytes, and a cut copy is rejected.
set -euo pipefail
B=${N4O_BUILD:?N4O_BUILD not set}
GEN=$B/gendump
CHK=$B/dumpcheck_tool
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

for spec in "0 1" "100K 3" "3M 22" "20M 40"; do
    set -- $spec
    size=$1 files=$2
    "$GEN" --size "$size" --files "$files" --seed 7 "$T/d.dump" 2>"$T/gen.err"
    cat "$T/gen.err"
    [ "$(head -c 4 "$T/d.dump")" = DZV1 ] || fail "$size: no DZV1 prefix"
    # the README's cross-check: tar lists the entries
    tail -c +5 "$T/d.dump" | zstd -dc >"$T/plain"
    tail -c +25 "$T/plain" | tar -tvf - >"$T/list"
    n_reg=$(grep -c '^-' "$T/list" || true)
    n_all=$(wc -l <"$T/list")
    sum=$(awk '/^-/ {s += $3} END {print s + 0}' "$T/list")
    [ "$n_reg" -eq "$files" ] || fail "$size: tar lists $n_reg files, asked for $files"
    # metadata block says the same
    meta_files=$((16#$(head -c 16 "$T/plain" | tail -c 8 | od -An -tx1 | tr -d ' \n')))
    meta_bytes=$((16#$(head -c 24 "$T/plain" | tail -c 8 | od -An -tx1 | tr -d ' \n')))
    [ "$meta_files" -eq "$n_reg" ] || fail "$size: metadata files $meta_files != $n_reg"
    [ "$meta_bytes" -eq "$sum" ] || fail "$size: metadata bytes $meta_bytes != $sum"
    # about the requested size (plaintext), for non-trivial sizes
    plain=$(stat -c %s "$T/plain")
    if [ "$size" = 20M ]; then
        want=$((20 * 1024 * 1024))
        [ $((plain - want)) -lt 65536 ] && [ $((want - plain)) -lt 65536 ] ||
            fail "20M: plaintext is $plain bytes"
    fi
    # frames carry checksums
    tail -c +5 "$T/d.dump" >"$T/d.zst"
    zstd -lv "$T/d.zst" 2>/dev/null | grep -q 'Check: XXH64' || fail "$size: no frame checksum"
    out=$("$CHK" "$T/d.dump") || fail "$size: dumpcheck rejected: $out"
    echo "$out"
    echo "$out" | grep -q "format=DZV1 era=5.x files=$n_reg bytes=$sum entries=$n_all " ||
        fail "$size: dumpcheck says '$out', tar says $n_reg files / $sum bytes / $n_all entries"
done

# same seed, same bytes; another seed, other bytes; streaming to stdout
"$GEN" --size 1M --seed 5 "$T/a.dump" 2>/dev/null
"$GEN" --size 1M --seed 5 - 2>/dev/null >"$T/b.dump"
"$GEN" --size 1M --seed 6 - 2>/dev/null >"$T/c.dump"
cmp -s "$T/a.dump" "$T/b.dump" || fail "same seed gave different dumps"
cmp -s "$T/a.dump" "$T/c.dump" && fail "different seeds gave the same dump"

# the other layouts
for f in zstd DGV1 gzip; do
    "$GEN" --size 2M --format "$f" "$T/f.dump" 2>/dev/null
    out=$("$CHK" --piece 777 "$T/f.dump") || fail "$f: rejected: $out"
    echo "$out" | grep -q "format=$f " || fail "$f: $out"
done
zstd -dc "$T/a.dump" >/dev/null 2>&1 && fail "zstd should not read a DZV1 file directly"
tail -c +5 "$T/a.dump" | zstd -t -q - || fail "zstd -t failed on gendump output"

# a cut copy is rejected with exit 4
head -c 300000 "$T/a.dump" >"$T/cut.dump"
set +e
"$CHK" "$T/cut.dump" 2>"$T/cut.err"
rc=$?
set -e
[ "$rc" -eq 4 ] || fail "cut dump: exit $rc, want 4"
grep -q "dump ended inside a zstd frame" "$T/cut.err" || fail "cut dump: $(cat "$T/cut.err")"
echo "PASS"
