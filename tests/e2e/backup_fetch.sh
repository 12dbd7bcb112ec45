#!/usr/bin/env bash
# User story: the nightly backup to a local remote, then list, verify and
# fetch it back byte for byte; tampering and a wrong key are caught.  The
# backup records the Neo4j version (version_command) in the manifest.
. "$(dirname "$0")/common.bash"

keygen
write_config
sed -i "s|^command_timeout .*|&\nversion_command = $STANDIN --version|" "$T/conf"
gen_dump "$T/source.dump" 3M 7
seed_db neo4j "$T/source.dump"

NEO4J_STANDIN_VERSION=2025.01.0 run 0 backup
expect_in "$T/out" "haia_backup_neo4j_[0-9]{8}_[0-9]{6}: dump .*remotes: nas ok"
expect_in "$T/err" "Neo4j version 2025\.01\.0 \(version_command\)"
local_copy=$(ls "$T/local"/haia_backup_neo4j_*.dump 2>/dev/null | head -1)
check "local copy has the SPEC name" test -n "$local_copy"
check "local copy is byte-identical to the dump" cmp -s "$local_copy" "$T/source.dump"
name=$(basename "$local_copy" .dump)
check "remote holds the archive" test -s "$T/nas/$name.dump.enc"
check "remote holds the manifest" test -s "$T/nas/$name.dump.manifest"
check "remote holds nothing else" test "$(ls "$T/nas" | wc -l)" = 2
expect_in "$T/nas/$name.dump.manifest" '"neo4j_version":"2025\.01\.0"'
check "the archive is not the plaintext" bash -c "! cmp -s '$T/nas/$name.dump.enc' '$T/source.dump'"
check "the archive does not start like a dump" bash -c "! head -c 4 '$T/nas/$name.dump.enc' | grep -q DZV1"
check "stand-in saw stop, dump, start in order" \
    test "$(tr '\n' ' ' <"$NEO4J_STANDIN_HOME/events.log")" = "stop dump neo4j start "
check "no temporary files" no_partials "$T/local" "$T/nas"

run 0 list
expect_in "$T/out" "nas +$name +neo4j +[0-9-]{10}T[0-9:]{8}Z +[0-9]+ +complete"
run 0 --json list
check "list --json is the SPEC shape" /usr/bin/python3 -c "
import json,sys
d=json.load(open('$T/out'))
a=d['archives'][0]
assert set(a)=={'remote','name','database','created','size','state'}, a
assert a['remote']=='nas' and a['name']=='$name' and a['database']=='neo4j'
assert a['state']=='complete' and a['size']==$(stat -c %s "$T/nas/$name.dump.enc")
assert a['created'].endswith('Z')
"

run 0 verify --latest
expect_in "$T/out" "^OK +$name"
run 0 verify --deep "$name"
expect_in "$T/out" "dump decrypted and valid"
run 0 verify --all
run 0 verify "$name.dump.enc"

run 0 fetch --latest --output "$T/fetched.dump"
check "fetch --latest returns identical bytes" cmp -s "$T/fetched.dump" "$T/source.dump"
check "fetched file is 0600" test "$(stat -c %a "$T/fetched.dump")" = 600
run 2 fetch --latest --output "$T/fetched.dump"
expect_in "$T/err" "exists; fetch never overwrites"
"$N4O_BIN" -c "$T/conf" --no-progress fetch "$name" --output - >"$T/stdout.dump" 2>"$T/err"
check "fetch to stdout returns identical bytes" cmp -s "$T/stdout.dump" "$T/source.dump"

# One flipped bit in the remote archive: verify and fetch refuse, nothing written.
cp "$T/nas/$name.dump.enc" "$T/good.enc"
/usr/bin/python3 - "$T/nas/$name.dump.enc" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
b[len(b) // 2] ^= 0x10
open(p, 'wb').write(b)
PY
run 4 verify --latest
expect_in "$T/out" "FAILED .*BLAKE2b mismatch"
run 4 verify --deep --latest
run 4 fetch --latest --output "$T/bad.dump"
check "no output file after a flipped bit" test ! -e "$T/bad.dump"
check "no partial output after a flipped bit" no_partials "$T"

# Truncation.
head -c $(($(stat -c %s "$T/good.enc") - 1000)) "$T/good.enc" >"$T/nas/$name.dump.enc"
run 4 verify --latest
expect_in "$T/out" "truncated"
run 4 fetch --latest --output "$T/bad.dump"
check "no output file after truncation" test ! -e "$T/bad.dump"
cp "$T/good.enc" "$T/nas/$name.dump.enc"

# A manifest edited by hand no longer verifies.
cp "$T/nas/$name.dump.manifest" "$T/good.manifest"
sed -i 's/"database":"neo4j"/"database":"system"/' "$T/nas/$name.dump.manifest"
run 4 verify --latest
cp "$T/good.manifest" "$T/nas/$name.dump.manifest"

# An archive and manifest copied under another name are refused.
other="haia_backup_neo4j_20200101_000000"
cp "$T/good.enc" "$T/nas/$other.dump.enc"
cp "$T/good.manifest" "$T/nas/$other.dump.manifest"
run 4 verify "$other"
expect_in "$T/out" "describes archive $name"
rm "$T/nas/$other".*

# Wrong secret key: a clear error, nothing written.
mkdir "$T/other-keys"
"$N4O_BIN" keygen --out "$T/other-keys" >/dev/null
sed -i "s|secret_key  = .*|secret_key  = $T/other-keys/archive.key|" "$T/conf"
run 4 fetch --latest --output "$T/wrong.dump"
expect_in "$T/err" "archive is for key [0-9a-f]{16}"
check "no output with a wrong key" test ! -e "$T/wrong.dump"

# A manifest signed by a key that is not trusted.
sed -i "s|verify_key  = .*|verify_key  = $T/other-keys/signing.pub|" "$T/conf"
run 4 verify --latest
expect_in "$T/out" "unknown key"

e2e_finish
