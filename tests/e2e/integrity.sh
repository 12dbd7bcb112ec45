#!/usr/bin/env bash
# Issue 10, reproduced as a user or an attacker would, against the built
# binary: a forged archive under a genuine manifest streams nothing; output
# failures are reported as what they are; a manifest whose archive is gone
# is a finding, never a silent fallback; temporary files never follow or
# clobber; a lock_file naming another file is left alone; a signer the
# config cannot verify is refused before Neo4j is touched.
. "$(dirname "$0")/common.bash"

keygen
write_config
gen_dump "$T/source.dump" 3M 11
seed_db neo4j "$T/source.dump"
SEAL="$N4O_BUILD/sealtool"

run 0 backup
name=$(basename "$(ls "$T/nas"/*.dump.enc)" .dump.enc)
check "the manifest is format 2 with the header hash" \
    grep -q '"archive_header_blake2b":"[0-9a-f]\{64\}".*"format_version":2,' "$T/nas/$name.dump.manifest"

# --- 1. a forgery: same archive.pub, another signer, renamed onto the real
#        archive's name next to its real manifest
"$N4O_BIN" keygen --out "$T/mallory" >/dev/null
gen_dump "$T/evil.dump" 3M 666
"$SEAL" seal --pub "$T/keys/archive.pub" --signing-key "$T/mallory/signing.key" \
    --database neo4j --name "$name" "$T/evil.dump" "$T/evil.enc" "$T/evil.manifest"
cp "$T/nas/$name.dump.enc" "$T/genuine.enc"
cp "$T/evil.enc" "$T/nas/$name.dump.enc"
"$N4O_BIN" -c "$T/conf" --no-progress fetch --latest --output - >"$T/stdout.bin" 2>"$T/err"
rc=$?
check "forgery: fetch --output - exits 4 (got $rc)" test "$rc" = 4
check "forgery: zero plaintext bytes on stdout" test ! -s "$T/stdout.bin"
expect_in "$T/err" "does not match its signed manifest"
run 4 fetch --latest --output "$T/forged.dump"
check "forgery: no output file" test ! -e "$T/forged.dump"
run 4 verify --latest --deep
cp "$T/genuine.enc" "$T/nas/$name.dump.enc"

# --- 1b. format 1 archives (release 0.1) stay readable, never to a pipe
"$SEAL" seal --pub "$T/keys/archive.pub" --signing-key "$T/keys/signing.key" --database neo4j \
    --name haia_backup_neo4j_20200101_000000 --format 1 "$T/source.dump" \
    "$T/nas/haia_backup_neo4j_20200101_000000.dump.enc" \
    "$T/nas/haia_backup_neo4j_20200101_000000.dump.manifest"
run 0 verify --deep haia_backup_neo4j_20200101_000000
run 0 fetch haia_backup_neo4j_20200101_000000 --output "$T/v1.dump"
check "format 1: fetched to a file, identical" cmp -s "$T/v1.dump" "$T/source.dump"
"$N4O_BIN" -c "$T/conf" --no-progress fetch haia_backup_neo4j_20200101_000000 --output - \
    >"$T/stdout.bin" 2>"$T/err"
rc=$?
check "format 1 to a pipe: refused with exit 2 (got $rc)" test "$rc" = 2
check "format 1 to a pipe: nothing written" test ! -s "$T/stdout.bin"
expect_in "$T/err" "format 1 archive.*fetch it to a file"

# --- 1c. fetch of a format 2 archive to a pipe, and to /dev/null
"$N4O_BIN" -c "$T/conf" --no-progress fetch --latest --output - >"$T/piped.dump" 2>"$T/err"
check "format 2 to a pipe: identical bytes" cmp -s "$T/piped.dump" "$T/source.dump"
run 0 fetch --latest --output /dev/null
"$N4O_BIN" -c "$T/conf" --no-progress fetch --latest --output /dev/stdout 2>"$T/err" | cat >"$T/devstdout.dump"
check "fetch --output /dev/stdout streams like -" cmp -s "$T/devstdout.dump" "$T/source.dump"
run 2 fetch --latest --output "$T"
expect_in "$T/err" "is a directory"

# --- 4. output failures are exit 1 with the real cause, not "tampered"
mkdir "$T/tiny"
if mount -t tmpfs -o size=1m tmpfs "$T/tiny" 2>/dev/null; then
    run 1 fetch --latest --output "$T/tiny/out.dump"
    expect_in "$T/err" "No space left on device"
    check "disk full: not reported as tampering" bash -c "! grep -q 'tamper\|corrupt\|authentication' '$T/err'"
    check "disk full: no output or temporary file left" test -z "$(ls -A "$T/tiny")"
    umount "$T/tiny"
else
    echo "SKIP: cannot mount a tmpfs here (not root?): disk-full case not run"
fi
set -o pipefail
"$N4O_BIN" -c "$T/conf" --no-progress fetch --latest --output - 2>"$T/err" | head -c 1000 >/dev/null
rc=${PIPESTATUS[0]}
set +o pipefail
check "reader gone: exit 1 (got $rc)" test "$rc" = 1
expect_in "$T/err" "output closed by the reading process \(EPIPE\)"
check "reader gone: not reported as tampering" bash -c "! grep -q 'tamper\|corrupt\|authentication' '$T/err'"

# --- 3. temporary files: a symlink at the old fixed temporary name of the
#        output is not followed, the output is a new 0600 file
echo precious >"$T/victim"
chmod 644 "$T/victim"
ln -s "$T/victim" "$T/out.dump.partial"
run 0 fetch --latest --output "$T/out.dump"
check "symlink at out.dump.partial: target untouched" test "$(cat "$T/victim")" = precious
check "output is a regular file" test -f "$T/out.dump" -a ! -L "$T/out.dump"
check "output is 0600" test "$(stat -c %a "$T/out.dump")" = 600
check "output identical" cmp -s "$T/out.dump" "$T/source.dump"
# symlinks planted in the local remote at the names the next backup may
# use (old fixed temporary names, this second and the next few)
now=$(date -u +%s)
for i in 0 1 2 3 4 5 6 7 8 9; do
    stamp=$(date -u -d "@$((now + i))" +%Y%m%d_%H%M%S)
    for s in dump.enc.partial dump.manifest.partial; do
        ln -sf "$T/victim" "$T/nas/haia_backup_neo4j_${stamp}.$s"
    done
    ln -sf "$T/victim" "$T/local/haia_backup_neo4j_${stamp}.dump.partial"
done
run 0 backup
check "planted symlinks: target untouched" test "$(cat "$T/victim")" = precious
find "$T/nas" "$T/local" -name '*.partial' -type l -delete
run 0 verify --all

# --- 3b. two backups into one local remote in the same second (two hosts,
#         one NAS): distinct verifiable archives, or one clean failure
#         (--no-prune: counting archives, nothing may go meanwhile)
sed -e "s#$T/run/#$T/run2/#" -e "s#directory   = $T/local#directory   = $T/local2#" \
    "$T/conf" >"$T/conf2"
mkdir -p "$T/local2"
before=$(ls "$T/nas"/*.dump.enc | wc -l)
"$N4O_BIN" -c "$T/conf" --no-progress backup --no-prune >"$T/o1" 2>"$T/e1" &
p1=$!
"$N4O_BIN" -c "$T/conf2" --no-progress backup --no-prune >"$T/o2" 2>"$T/e2" &
p2=$!
wait $p1
r1=$?
wait $p2
r2=$?
after=$(ls "$T/nas"/*.dump.enc | wc -l)
echo "    concurrent backups: exit $r1 and $r2, archives $before -> $after"
check "concurrent: at least one succeeded" test "$r1" = 0 -o "$r2" = 0
check "concurrent: a failure is a clean one (exit 1 or 3)" \
    bash -c "for r in $r1 $r2; do case \$r in 0|1|3) ;; *) exit 1;; esac; done"
for i in 1 2; do
    r=$([ $i = 1 ] && echo $r1 || echo $r2)
    [ "$r" = 0 ] && continue
    expect_in "$T/e$i" "already exists \(written meanwhile by another run\?\); not replaced"
    expect_in "$T/o$i" "remotes: nas FAILED"
done
check "concurrent: every success published its archive" \
    test "$after" -ge "$((before + (r1 == 0) + (r2 == 0)))"
run 0 verify --all
check "concurrent: no temporary files left" no_partials "$T/nas" "$T/local" "$T/local2"

# --- 5. a manifest whose archive is gone is a finding, not a fallback
newest=$(ls "$T/nas"/*.dump.enc | sort | tail -1)
newest_name=$(basename "$newest" .dump.enc)
older_name=$(basename "$(ls "$T/nas"/*.dump.enc | sort | tail -2 | head -1)" .dump.enc)
mv "$newest" "$T/moved.enc"
run 4 verify --all
expect_in "$T/out" "FAILED +$newest_name: .*missing"
run 4 verify --latest
expect_in "$T/err" "newest older archive that verifies is $older_name"
run 4 fetch --latest --output "$T/fallback.dump"
check "fetch --latest: no silent fallback (no output)" test ! -e "$T/fallback.dump"
expect_in "$T/err" "$newest_name.dump.enc is missing"
expect_in "$T/err" "newest older archive that verifies is $older_name"
run 0 list --all
expect_in "$T/out" "$newest_name +neo4j .* missing"
check "list: no false 'incomplete (no manifest)'" bash -c "! grep -q '$newest_name.*incomplete' '$T/out'"
run 0 --json list
check "list --json: state missing" /usr/bin/python3 -c "
import json
d = json.load(open('$T/out'))
st = {a['name']: a['state'] for a in d['archives']}
assert st['$newest_name'] == 'missing', st
assert d['errors'] == [], d
"
# shorter than recorded is missing too
head -c 1000 "$T/moved.enc" >"$newest"
run 0 list
expect_in "$T/out" "$newest_name .* missing"
run 4 verify --latest
# a directory or a symlink in its place is no archive either, for every command
rm -f "$newest"
mkdir "$newest"
run 4 verify --latest
expect_in "$T/err" "newest older archive that verifies is $older_name"
rmdir "$newest"
ln -s "$T/moved.enc" "$newest"
run 0 list
expect_in "$T/out" "$newest_name .* missing"
run 4 fetch --latest --output "$T/fallback.dump"
expect_in "$T/err" "is missing although its signed manifest is there"
rm "$newest"
mv "$T/moved.enc" "$newest"
run 0 verify --latest

# --- 6. names with control characters never reach the terminal raw
touch "$T/nas/haia_backup_neo4j_20260101_000000"$'\e]2;pwned\a'".dump.enc"
run 0 list --all
check "list: no ESC on stdout or stderr" bash -c "! grep -q \$'\e' '$T/out' '$T/err'"
expect_in "$T/err" 'control characters: .*\\x1b'
rm -f "$T/nas/"*$'\e'*

# --- lock_file naming another file: refused and left alone
printf 'important data\n' >"$T/precious.txt"
sed "s#^lock_file = .*#lock_file = $T/precious.txt#" "$T/conf" >"$T/conf.lock"
cp "$T/conf.lock" "$T/conf"
run 2 backup
expect_in "$T/err" "not a neo4j-offsite lock"
check "lock_file naming another file: content intact" test "$(cat "$T/precious.txt")" = "important data"
ln -s "$T/precious.txt" "$T/lock.link"
sed -i "s#^lock_file = .*#lock_file = $T/lock.link#" "$T/conf"
run 2 backup
expect_in "$T/err" "symbolic link"
check "lock_file symlink: content intact" test "$(cat "$T/precious.txt")" = "important data"
write_config

# --- a signing key the verify keys cannot verify: refused before stop
: >"$NEO4J_STANDIN_HOME/events.log"
write_config
sed -i "s#^verify_key  = .*#verify_key  = $T/mallory/signing.pub#" "$T/conf"
run 2 backup
expect_in "$T/err" "signing_key .* is not among the configured verify_key"
check "untrusted signer: Neo4j was not stopped" test ! -s "$NEO4J_STANDIN_HOME/events.log"

e2e_finish
