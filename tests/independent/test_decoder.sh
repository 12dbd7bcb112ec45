#!/usr/bin/env bash
# The archive format is documented well enough for an outsider: archives
# and manifests written by the project (keygen + sealtool) are verified and
# decrypted by tests/independent/decode.py, which uses only docs/FORMAT.md,
# /usr/bin/python3 and python3-nacl.  The decoder must also reject damage.
set -euo pipefail

: "${N4O_BIN:?}" "${N4O_BUILD:?}" "${N4O_SOURCE:?}"
PY=/usr/bin/python3
DEC="$N4O_SOURCE/tests/independent/decode.py"
SEAL="$N4O_BUILD/sealtool"
C=65536

if ! "$PY" -c 'import nacl.bindings' 2>/dev/null; then
    echo "SKIP: /usr/bin/python3 has no nacl (install python3-nacl)"
    exit 77
fi

t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fails=0
fail() {
    echo "FAIL: $*"
    fails=$((fails + 1))
}

"$N4O_BIN" keygen --out "$t/keys" >"$t/keygen.out"
K="$t/keys"
# keygen prints the ids that FORMAT.md defines (BLAKE2b-256 of the key, 8 bytes)
for f in archive signing; do
    id=$("$PY" -c 'import base64,sys,nacl.hashlib
line=[l for l in open(sys.argv[1]) if l.strip() and not l.startswith("#")][0]
h=nacl.hashlib.blake2b(base64.b64decode(line.split()[1]), digest_size=32)
print(h.hexdigest()[:16])' "$K/$f.pub")
    grep -q "^$f key id $id\$" "$t/keygen.out" || fail "keygen did not print $f key id $id"
done
# keygen never overwrites: exit 2, files unchanged
cp -a "$K" "$t/keys.before"
rc=0
"$N4O_BIN" keygen --out "$K" >/dev/null 2>"$t/keygen.err" || rc=$?
[ "$rc" = 2 ] || fail "keygen over existing keys: exit $rc, want 2"
diff -r "$K" "$t/keys.before" >/dev/null || fail "keygen changed existing key files"
grep -q 'never overwrites' "$t/keygen.err" || fail "keygen refusal message: $(cat "$t/keygen.err")"

seal() { # IN NAME [extra sealtool options...]
    local in=$1 name=$2
    shift 2
    "$SEAL" seal --pub "$K/archive.pub" --signing-key "$K/signing.key" --database neo4j \
        --name "$name" "$@" "$in" "$t/$name.enc" "$t/$name.manifest"
}

decode() { # NAME OUT [extra decode.py options...]; prints the exit code
    local name=$1 out=$2
    shift 2
    rm -f "$out"
    local rc=0
    "$PY" "$DEC" --secret-key "$K/archive.key" --verify-key "$K/signing.pub" "$@" \
        "$t/$name.enc" "$t/$name.manifest" "$out" 2>>"$t/decode.err" || rc=$?
    echo "$rc"
}

expect_reject() { # WHAT NAME [decode options]
    local what=$1 name=$2
    shift 2
    local rc
    rc=$(decode "$name" "$t/rejected" "$@")
    if [ "$rc" != 4 ]; then
        fail "decoder accepted $what (exit $rc, want 4)"
    elif [ -e "$t/rejected" ]; then
        fail "decoder left output behind for $what"
    fi
}

# 1. Random plaintexts around the chunk boundaries, including 0 and exact
#    multiples of the chunk size.
for n in 0 1 1000 $((C - 1)) $C $((C + 1)) $((2 * C)) 200000 $((16 * C + 5)); do
    head -c "$n" /dev/urandom >"$t/p$n"
    seal "$t/p$n" "r$n"
    chunks=$(((n + C - 1) / C))
    [ "$chunks" -eq 0 ] && chunks=1
    want=$((128 + n + 17 * chunks))
    got=$(stat -c %s "$t/r$n.enc")
    [ "$got" -eq "$want" ] || fail "size $n: archive is $got bytes, FORMAT.md says $want"
    rc=$(decode "r$n" "$t/out$n")
    if [ "$rc" != 0 ]; then
        fail "size $n: decoder exit $rc: $(tail -n1 "$t/decode.err")"
    elif ! cmp -s "$t/p$n" "$t/out$n"; then
        fail "size $n: decoded bytes differ"
    fi
done
echo "ok: random plaintexts of 9 sizes decoded"

# A non-default chunk size is read from the header.
head -c 5000 /dev/urandom >"$t/small"
seal "$t/small" small --chunk-size 1024
rc=$(decode small "$t/small.out")
[ "$rc" = 0 ] && cmp -s "$t/small" "$t/small.out" || fail "1 KiB chunks: exit $rc"

# 2. Damage to the archive: with the manifest's hash check and, to show the
#    decryption itself catches it, without.
A=r200000
cp "$t/$A.enc" "$t/good.enc"
flip() { # OFFSET: flip the low bit of the byte at OFFSET of $A.enc
    cp "$t/good.enc" "$t/$A.enc"
    local b
    b=$(od -An -tu1 -j "$1" -N1 "$t/$A.enc" | tr -d ' ')
    printf "$(printf '\\%03o' $((b ^ 1)))" |
        dd of="$t/$A.enc" bs=1 seek="$1" conv=notrunc status=none
}
for off in 0 9 11 14 20 30 90 110 $((128 + 5)) $((128 + C + 17 + 7)) \
    $((128 + 3 * (C + 17) + 100)) $(($(stat -c %s "$t/good.enc") - 1)); do
    flip "$off"
    cmp -s "$t/good.enc" "$t/$A.enc" && fail "flip at $off changed nothing"
    expect_reject "a flipped bit at offset $off" "$A"
    expect_reject "a flipped bit at offset $off (no hash check)" "$A" --ignore-archive-hash
done
cp "$t/good.enc" "$t/$A.enc"
for cut in $((128 + C + 17)) $((128 + 2 * (C + 17))) $((128 + C + 17 + 1000)) 128 100; do
    head -c "$cut" "$t/good.enc" >"$t/$A.enc"
    expect_reject "truncation at $cut" "$A" --ignore-archive-hash
done
{ cat "$t/good.enc"; printf 'x'; } >"$t/$A.enc"
expect_reject "an appended byte" "$A" --ignore-archive-hash
slice() { # FROM COUNT of good.enc to stdout
    dd if="$t/good.enc" bs=64K iflag=skip_bytes,count_bytes skip="$1" count="$2" status=none
}
# chunks 1 and 2 swapped
{
    slice 0 $((128 + C + 17))
    slice $((128 + 2 * (C + 17))) $((C + 17))
    slice $((128 + C + 17)) $((C + 17))
    slice $((128 + 3 * (C + 17))) 1000000
} >"$t/$A.enc"
[ "$(stat -c %s "$t/$A.enc")" = "$(stat -c %s "$t/good.enc")" ] || fail "swap built wrongly"
expect_reject "swapped chunks" "$A" --ignore-archive-hash
# chunk 1 duplicated in place of chunk 2
{
    slice 0 $((128 + 2 * (C + 17)))
    slice $((128 + C + 17)) $((C + 17))
    slice $((128 + 3 * (C + 17))) 1000000
} >"$t/$A.enc"
expect_reject "a duplicated chunk" "$A" --ignore-archive-hash
cp "$t/good.enc" "$t/$A.enc"
rc=$(decode "$A" "$t/again")
[ "$rc" = 0 ] || fail "restored archive no longer decodes"
echo "ok: flipped bits, truncation, appended bytes and swapped chunks rejected"

# 3. Tampered manifests.
cp "$t/$A.manifest" "$t/good.manifest"
tamper_manifest() { # WHAT SED-EXPRESSION
    sed -e "$2" "$t/good.manifest" >"$t/$A.manifest"
    cmp -s "$t/good.manifest" "$t/$A.manifest" && fail "manifest edit '$1' changed nothing"
    expect_reject "a manifest with $1" "$A"
}
tamper_manifest "another database" 's/"database":"neo4j"/"database":"neo4k"/'
tamper_manifest "another plaintext size" 's/"plaintext_size":200000/"plaintext_size":200001/'
edit_json() { # WHAT PYTHON-STATEMENT on dict m
    "$PY" -c 'import base64,json,sys
m = json.load(open(sys.argv[1]))
exec(sys.argv[2])
sys.stdout.write(json.dumps(m, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n")' \
        "$t/good.manifest" "$2" >"$t/$A.manifest"
    cmp -s "$t/good.manifest" "$t/$A.manifest" && fail "manifest edit '$1' changed nothing"
    expect_reject "a manifest with $1" "$A"
}
edit_json "one signature bit flipped" \
    's = bytearray(base64.b64decode(m["signature"])); s[5] ^= 1; m["signature"] = base64.b64encode(s).decode()'
edit_json "another signer id" 'm["signer_key_id"] = "%016x" % (int(m["signer_key_id"], 16) ^ 1)'
edit_json "another archive hash" 'm["archive_blake2b"] = "%064x" % (int(m["archive_blake2b"], 16) ^ 1)'
edit_json "another dump count" 'm["dump"]["files"] = 7'
edit_json "format_version 3" 'm["format_version"] = 3'
edit_json "a downgrade to format_version 1" 'm["format_version"] = 1; del m["archive_header_blake2b"]'
edit_json "another header hash" \
    'm["archive_header_blake2b"] = "%064x" % (int(m["archive_header_blake2b"], 16) ^ 1)'
tamper_manifest "a duplicate member" 's/^{/{"database":"x",/'
# a re-indented manifest still verifies: the signature covers the canonical form
"$PY" -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), indent=2))' \
    "$t/good.manifest" >"$t/$A.manifest"
rc=$(decode "$A" "$t/again")
[ "$rc" = 0 ] || fail "a re-indented manifest was rejected (exit $rc)"
cp "$t/good.manifest" "$t/$A.manifest"
echo "ok: tampered manifests rejected, re-indented manifest accepted"

# 3b. Format 2 binds the header to the signed manifest: an archive made by
#     someone else with the same (public) archive.pub, put under a genuine
#     manifest, is refused from its header on, before any chunk is
#     decrypted, also without the archive hash check.
"$N4O_BIN" keygen --out "$t/mallory" >/dev/null
"$SEAL" seal --pub "$K/archive.pub" --signing-key "$t/mallory/signing.key" --database neo4j \
    --name forged "$t/p1000" "$t/forged.enc" "$t/forged.manifest"
cp "$t/forged.enc" "$t/$A.enc"
expect_reject "another writer's archive under a genuine manifest" "$A" --ignore-archive-hash
grep -q "header does not match its signed manifest" "$t/decode.err" ||
    fail "the decoder did not name the header binding"
cp "$t/good.enc" "$t/$A.enc"
echo "ok: a forged archive under a genuine manifest rejected by the header hash"

# 3c. The optional neo4j_version of format 2: accepted, covered by the
#     signature, and refused when it is not exactly a version number even
#     when signed (re-signed here with signing.key, as FORMAT.md says).
seal "$t/p1000" nv --neo4j-version 2025.01.0
grep -q '"neo4j_version":"2025.01.0"' "$t/nv.manifest" || fail "sealtool wrote no neo4j_version"
rc=$(decode nv "$t/nv.out")
[ "$rc" = 0 ] && cmp -s "$t/p1000" "$t/nv.out" || fail "a manifest with neo4j_version: decoder exit $rc"
cp "$t/nv.manifest" "$t/nv.good"
nv_edit() { # WHAT PYTHON-STATEMENT on dict m; RESIGN (1: signed again); WANT exit code;
    #          [the decoder's message for it]
    "$PY" -c 'import base64,json,sys,nacl.signing
m = json.load(open(sys.argv[1]))
exec(sys.argv[2])
if sys.argv[3] == "1":
    line = [l for l in open(sys.argv[4]) if l.strip() and not l.startswith("#")][0]
    key = nacl.signing.SigningKey(base64.b64decode(line.split()[1]))
    del m["signature"]
    body = json.dumps(m, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    m["signature"] = base64.b64encode(key.sign(body.encode()).signature).decode()
sys.stdout.write(json.dumps(m, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n")' \
        "$t/nv.good" "$2" "$3" "$K/signing.key" >"$t/nv.manifest"
    local rc
    rc=$(decode nv "$t/nv.out")
    [ "$rc" = "$4" ] || fail "a manifest with $1: decoder exit $rc, want $4"
    if [ -n "${5:-}" ] && ! tail -n 1 "$t/decode.err" | grep -qF -- "$5"; then
        fail "a manifest with $1: the decoder said '$(tail -n 1 "$t/decode.err")', not '$5'"
    fi
}
nv_edit "neo4j_version re-signed as another version" 'm["neo4j_version"] = "5.26.0"' 1 0
nv_edit "neo4j_version changed" 'm["neo4j_version"] = "5.26.0"' 0 4 "signature does not verify"
nv_edit "neo4j_version removed" 'del m["neo4j_version"]' 0 4 "signature does not verify"
for v in '"v5.26.0"' '"5.26.0-enterprise"' '"5"' '"1.2.3.4.5"' '"1234567890.1"' \
    '"123456789.123456789.123456789.12"' '"\u0665.26"' '"5.26.0\n"'; do
    nv_edit "neo4j_version $v (signed)" "m[\"neo4j_version\"] = $v" 1 4 \
        "neo4j_version is not a version number"
done
for v in '""' 526; do
    nv_edit "neo4j_version $v (signed)" "m[\"neo4j_version\"] = $v" 1 4 \
        "neo4j_version is not a non-empty string"
done
nv_edit "neo4j_version in format 1 (signed)" \
    'm["format_version"] = 1; del m["archive_header_blake2b"]' 1 4 "members differ"
cp "$t/nv.good" "$t/nv.manifest"
echo "ok: the optional neo4j_version accepted, signed, and checked"

# 3d. Format 1 archives (release 0.1) are still decoded.
seal "$t/p200000" v1 --format 1
grep -q '"format_version":1,' "$t/v1.manifest" || fail "sealtool --format 1 wrote no version 1"
grep -q 'archive_header_blake2b' "$t/v1.manifest" && fail "a version 1 manifest has the header hash"
[ "$(od -An -tu1 -j9 -N1 "$t/v1.enc" | tr -d ' ')" = 1 ] || fail "v1 header version byte"
rc=$(decode v1 "$t/v1.out")
[ "$rc" = 0 ] && cmp -s "$t/p200000" "$t/v1.out" || fail "format 1 archive: decoder exit $rc"
echo "ok: format 1 archive decoded"

# 4. Passphrase-wrapped keys (Argon2id): written by keygen, unwrapped by
#    the decoder from FORMAT.md.
printf 'correct horse battery staple\n' >"$t/pw"
chmod 600 "$t/pw"
N4O_TEST_PWHASH_INTERACTIVE=1 "$N4O_BIN" keygen --out "$t/wkeys" --passphrase-file "$t/pw" \
    >/dev/null
grep -q '^N4O-ARCHIVE-KEY-ARGON2ID-1 ' "$t/wkeys/archive.key" || fail "archive.key not wrapped"
NEO4J_OFFSITE_PASSPHRASE_FILE="$t/pw" "$SEAL" seal --pub "$t/wkeys/archive.pub" \
    --signing-key "$t/wkeys/signing.key" --database neo4j --name w "$t/p1000" "$t/w.enc" \
    "$t/w.manifest"
rc=0
"$PY" "$DEC" --secret-key "$t/wkeys/archive.key" --verify-key "$t/wkeys/signing.pub" \
    --passphrase-file "$t/pw" "$t/w.enc" "$t/w.manifest" "$t/w.out" || rc=$?
[ "$rc" = 0 ] && cmp -s "$t/p1000" "$t/w.out" || fail "wrapped keys: decoder exit $rc"
printf 'wrong\n' >"$t/badpw"
chmod 600 "$t/badpw"
rc=0
"$PY" "$DEC" --secret-key "$t/wkeys/archive.key" --verify-key "$t/wkeys/signing.pub" \
    --passphrase-file "$t/badpw" "$t/w.enc" "$t/w.manifest" "$t/w.out2" 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "wrong passphrase: decoder exit $rc, want 2"
echo "ok: passphrase-wrapped keys"

# 5. Real Neo4j dumps.
shopt -s nullglob
dumps=()
[ -n "${N4O_FIXTURES:-}" ] && [ -d "$N4O_FIXTURES" ] && dumps=("$N4O_FIXTURES"/*.dump)
for d in "${dumps[@]}"; do
    name=$(basename "$d" .dump)
    seal "$d" "$name"
    rc=$(decode "$name" "$t/$name.out")
    if [ "$rc" != 0 ]; then
        fail "$name: decoder exit $rc: $(tail -n1 "$t/decode.err")"
    elif ! cmp -s "$d" "$t/$name.out"; then
        fail "$name: decoded bytes differ"
    fi
done
[ ${#dumps[@]} -gt 0 ] && echo "ok: ${#dumps[@]} real dumps decoded"

if [ "$fails" -ne 0 ]; then
    echo "$fails failure(s); decoder messages:"
    tail -n 20 "$t/decode.err"
    exit 1
fi
if [ ${#dumps[@]} -eq 0 ]; then
    echo "SKIP: no fixture dumps in '${N4O_FIXTURES:-}' (the random-data checks above passed)"
    exit 77
fi
echo "PASS"
