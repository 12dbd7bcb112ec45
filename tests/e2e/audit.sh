#!/usr/bin/env bash
# User story: an auditor holding only signing.pub proves that every archive
# is complete, untampered and signed by the backup host, that retention
# holds and that backups are fresh - without being able to decrypt
# anything, and without changing anything.  Each way an archive can be
# wrong is made by hand on the remote's files (a manifest edited by one
# character, a byte of the body or of the header flipped, an archive
# deleted with its manifest left, another signer, an archive kept past
# retention, an upload abandoned a day ago) and must be a finding (exit 4)
# naming the archive; a stale newest backup is 5, an unreadable remote 1.
# The backup host's own view adds the local directory: its dumps with age,
# validity (dumpcheck) and retention.  audit_remote.sh does the same over
# SFTP and S3 and measures memory.
. "$(dirname "$0")/common.bash"

write_config "[retention]
keep_days = 30
min_keep = 1"
keygen
stamp_ago() { date -u -d "$1 ago" +%Y%m%d_%H%M%S; }
# three nights of dumps an older script left, shipped under their own names
gen_dump "$T/db.dump" 300K 5
OLD=haia_backup_neo4j_$(stamp_ago '228 hours')
MID=haia_backup_neo4j_$(stamp_ago '2 days')
NEW=haia_backup_neo4j_$(stamp_ago '1 hour')
for n in "$OLD" "$MID" "$NEW"; do cp "$T/db.dump" "$T/local/$n.dump"; done
run 0 push
check "push: three archives with their manifests" test "$(count_files "$T/nas" '*.dump.enc')" = 3

# The auditor: signing.pub and the remote, nothing else (the secret key
# files are moved away: nothing may need them).
mkdir -p "$T/auditor" "$T/away"
cp "$T/keys/signing.pub" "$T/auditor/"
mv "$T/keys/archive.key" "$T/keys/signing.key" "$T/away/"
auditor_conf() { # [EXTRA_LINES]
    cat >"$T/auditor/conf" <<CONF
[keys]
verify_key = $T/auditor/signing.pub

[retention]
keep_days = 30
min_keep = 1

[remote "nas"]
type = local
path = $T/nas
${1:-}
CONF
}
auditor_conf
audit() { # EXPECTED ARGS...: audit with the auditor's config
    local want=$1
    shift
    "$N4O_BIN" -c "$T/auditor/conf" --no-progress audit "$@" >"$T/out" 2>"$T/err"
    local got=$?
    if [ "$got" = "$want" ]; then ok "auditor: audit $* -> exit $got"; else
        bad "auditor: audit $* -> exit $got, expected $want"
        sed 's/^/    stderr: /' "$T/err" | tail -10
        sed 's/^/    stdout: /' "$T/out" | tail -20
    fi
}
finding_on() { # NAME PATTERN: NAME's row is a finding whose problem matches PATTERN
    if grep -A1 -E "^  finding +$1 " "$T/out" | tail -1 | grep -Eq -- "$2"; then
        ok "finding on $1: '$2'"
    else
        bad "finding on $1 matching '$2'"
        sed 's/^/    /' "$T/out" | tail -12
    fi
}

# ---- clean: 0, every archive ok, read to the header or every byte ----
audit 0
for n in "$OLD" "$MID" "$NEW"; do expect_in "$T/out" "^  ok +$n +archive .* header +[0-9a-f]{16} "; done
expect_in "$T/out" "^  newest neo4j: $NEW, 1\.0 h old: ok"
expect_in "$T/out" "^AUDIT OK: 3 objects on 1 target, no finding, every newest backup younger than 25 h \(manifests and headers read\)"
audit 0 --read-data
expect_in "$T/out" "^  ok +$NEW +archive .* data "
"$N4O_BIN" -c "$T/auditor/conf" --json audit >"$T/json" 2>"$T/err"
check "--json: exit 0" test $? = 0
check "--json: one document listing every archive on the remote, each ok and signed by signing.pub" python3 -c '
import json, os, sys
d = json.load(open(sys.argv[1]))
names = sorted(f[:-len(".dump.enc")] for f in os.listdir(sys.argv[2]) if f.endswith(".dump.enc"))
t = d["targets"]
assert d["verdict"] == "ok" and d["findings"] == 0 and d["read_data"] is False, d
assert d["policy"] == {"keep_days": 30, "min_keep": 1, "keep_weekly": 0, "keep_monthly": 0}, d
assert [x["type"] for x in t] == ["remote"] and t[0]["target"] == "nas" and "error" not in t[0], t
items = t[0]["items"]
assert sorted(i["name"] for i in items) == names and len(names) == 3, (items, names)
key = open(sys.argv[3]).read()
for i in items:
    assert i["result"] == "ok" and i["kind"] == "archive" and i["read"] == "header", i
    assert i["format"] == 2 and len(i["signer"]) == 16 and i["size"] > 0, i
    assert i["retention"] == "within keep_days" and "problem" not in i, i
assert len({i["signer"] for i in items}) == 1, items
n = t[0]["newest"]
assert len(n) == 1 and n[0]["database"] == "neo4j" and n[0]["state"] == "ok" and n[0]["name"] == max(names), n
' "$T/json" "$T/nas" "$T/auditor/signing.pub"
check "the auditor changed nothing on the remote" test "$(ls "$T/nas" | wc -l)" = 6

# ---- a manifest edited by one character ----
M="$T/nas/$MID.dump.manifest"
cp "$M" "$T/good.manifest"
sed -i 's/"database":"neo4j"/"database":"neo4J"/' "$M"
check "the manifest differs by one character" test "$(cmp -l "$M" "$T/good.manifest" | wc -l)" = 1
audit 4
finding_on "$MID" "bad signature"
expect_in "$T/out" "^AUDIT FAILED: 1 finding in 3 objects"
cp "$T/good.manifest" "$M"
audit 0

# ---- one byte of an archive's body: only reading every byte finds it ----
A="$T/nas/$MID.dump.enc"
cp "$A" "$T/good.enc"
flip() { # FILE OFFSET: that byte inverted
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "\\x$(printf %02x $((b ^ 0xff)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
flip "$A" 5000
audit 0
expect_in "$T/out" "^  ok +$MID +archive .* header "
audit 4 --read-data
finding_on "$MID" "remote nas: $MID\.dump\.enc: archive BLAKE2b mismatch"
expect_in "$T/out" "^AUDIT FAILED: 1 finding in 3 objects \(every byte read\)"
cp "$T/good.enc" "$A"
# ---- one byte of its header: the plain audit finds it ----
flip "$A" 60
audit 4
finding_on "$MID" "its header is not the one its signed manifest names"
cp "$T/good.enc" "$A"
# ---- a byte appended: the size ----
printf 'x' >>"$A"
audit 4
finding_on "$MID" "bytes, its signed manifest says .*appended"
cp "$T/good.enc" "$A"
audit 0 --read-data

# ---- an archive deleted, its manifest left ----
mv "$A" "$T/moved.enc"
audit 4
finding_on "$MID" "$MID\.dump\.enc is missing although its signed manifest is there"
mv "$T/moved.enc" "$A"

# ---- another signer: 4, then 0 once its key is a second verify_key ----
mkdir -p "$T/other"
"$N4O_BIN" keygen --out "$T/other" >/dev/null
write_config "[retention]
keep_days = 30
min_keep = 1"
sed -i "s#^public_key .*#public_key = $T/other/archive.pub#; s#^signing_key .*#signing_key = $T/other/signing.key#; s#^verify_key .*#verify_key = $T/other/signing.pub#" "$T/conf"
seed_db neo4j "$T/db.dump"
run 0 backup --no-local-copy
OTHER=$(ls "$T/nas" | grep -v -e "$OLD" -e "$MID" -e "$NEW" | grep '\.dump\.enc$' | sed 's/\.dump\.enc$//')
check "the other signer's archive is on the remote" test -n "$OTHER"
audit 4
finding_on "$OTHER" "signed by unknown key [0-9a-f]{16} \(not a configured verify_key\)"
expect_in "$T/out" "^  newest neo4j: $NEW, 1\.0 h old: ok"
cp "$T/other/signing.pub" "$T/auditor/other.pub"
sed -i "s#^verify_key = .*#verify_key = $T/auditor/signing.pub, $T/auditor/other.pub#" "$T/auditor/conf"
audit 0
expect_in "$T/out" "^  newest neo4j: $OTHER, 0\.0 h old: ok"
rm -f "$T/nas/$OTHER".dump.*

# ---- kept past retention (a 7-day policy, the 9.5-day-old archive still there) ----
auditor_conf "" # one key again
sed -i 's/^keep_days = 30/keep_days = 7/' "$T/auditor/conf"
audit 4
finding_on "$OLD" "kept past retention: 9\.5 days old, the policy keeps 7 days"
expect_in "$T/out" "^  ok +$MID +archive .* within keep_days"
# min_keep keeps it, however old: no finding
sed -i 's/^min_keep = 1/min_keep = 3/' "$T/auditor/conf"
audit 0
expect_in "$T/out" "^  ok +$OLD +archive .* min_keep"
# up to a day overdue is the nightly prune's slack: 9.5 days old under a
# 9-day window is no finding
sed -i 's/^min_keep = 3/min_keep = 1/; s/^keep_days = 7/keep_days = 9/' "$T/auditor/conf"
audit 0
expect_in "$T/out" "^  ok +$OLD +archive .* older than keep_days"
sed -i 's/^keep_days = 9/keep_days = 7/' "$T/auditor/conf"
# the backup host prunes; the auditor then finds nothing
sed -i 's/^keep_days = 30/keep_days = 7/' "$T/conf"
mv "$T/away/archive.key" "$T/away/signing.key" "$T/keys/"
write_config "[retention]
keep_days = 7
min_keep = 1"
run 0 prune --remote nas
check "prune deleted the 9.5-day-old archive" test ! -e "$T/nas/$OLD.dump.enc"
audit 0

# ---- an upload abandoned more than 24 h ago; one in progress is only noted ----
NOW=haia_backup_neo4j_$(stamp_ago '1 second')
: >"$T/nas/$NOW.dump.enc.0123456789abcdef.partial"
STALE=haia_backup_neo4j_$(stamp_ago '30 hours')
: >"$T/nas/$STALE.dump.enc.fedcba9876543210.partial"
touch -d '30 hours ago' "$T/nas/$STALE.dump.enc.fedcba9876543210.partial"
audit 4
finding_on "$STALE" "an upload without manifest, 30\.0 h old: an interrupted backup or deletion that no prune has removed"
expect_in "$T/out" "^  note +$NOW +incomplete .*"
expect_in "$T/out" "an upload without manifest, 0\.0 h old: an upload in progress or just cut short"
rm -f "$T/nas/$STALE".*.partial
audit 0
rm -f "$T/nas/"*.partial

# ---- stale: 5; a finding outranks it ----
audit 5 --max-age 0
expect_in "$T/out" "^  newest neo4j: $NEW, 1\.0 h old: stale"
expect_in "$T/out" "^AUDIT STALE: 1 newest backup is older than 0 h"
audit 0 --max-age 2
audit 2 --max-age soon
expect_in "$T/err" "--max-age soon: give the hours as a number"
flip "$T/nas/$NEW.dump.enc" 60
audit 4 --max-age 0
# the tampered newest does not count as fresh: the newest that verifies is MID
expect_in "$T/out" "^  newest neo4j: $MID, [0-9.]+ h old: stale"
audit 4
# (repair NEW from the backup host's own copy: push ships nothing over a same-named archive)
rm -f "$T/nas/$NEW".dump.*
run 0 push
audit 0

# ---- a remote that cannot be read: 1, the others still audited; a finding outranks it ----
auditor_conf "[remote \"gone\"]
type = local
path = $T/gone"
audit 1
expect_in "$T/out" "^REMOTE gone$"
expect_in "$T/out" "^  cannot be read: remote gone: "
expect_in "$T/out" "^  ok +$NEW +archive "
expect_in "$T/out" "^AUDIT INCOMPLETE: 1 target or object could not be read"
"$N4O_BIN" -c "$T/auditor/conf" --json audit >"$T/json" 2>/dev/null
check "--json, a remote down: exit 1, its error in the document, nas still audited" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
t = {x["target"]: x for x in d["targets"]}
assert d["verdict"] == "unreadable" and t["gone"]["error"].startswith("remote gone: "), d
assert t["gone"]["items"] == [] and len(t["nas"]["items"]) == 2 and "error" not in t["nas"], t
' "$T/json"
audit 0 --remote nas
audit 2 --remote nowhere
expect_in "$T/err" "nowhere"
flip "$T/nas/$MID.dump.enc" 60
audit 4
cp "$T/good.enc" "$T/nas/$MID.dump.enc"

# ---- configuration: only what audit needs, and nothing it cannot use ----
printf '[remote "nas"]\ntype = local\npath = %s\n' "$T/nas" >"$T/auditor/nokey.conf"
"$N4O_BIN" -c "$T/auditor/nokey.conf" audit >"$T/out" 2>"$T/err"
check "no verify_key: exit 2" test $? = 2
expect_in "$T/err" "verify_key"
"$N4O_BIN" -c "$T/nonexistent.conf" --json audit >"$T/json" 2>/dev/null
check "--json, a config that cannot be read: exit 2 and one valid document holding the error" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["verdict"] == "error" and "nonexistent.conf" in d["error"] and d["targets"] == [], d
' "$T/json"

# ---- the backup host's view: its local directory too ----
gen_dump "$T/big.dump" 3M 7
BIGN=haia_backup_neo4j_$(stamp_ago '3 hours')
head -c $(($(stat -c %s "$T/big.dump") - 1000)) "$T/big.dump" >"$T/local/$BIGN.dump"
: >"$T/local/haia_backup_neo4j_$(stamp_ago '5 hours').dump"
run 4 audit
expect_in "$T/out" "^LOCAL DIRECTORY $T/local$"
expect_in "$T/out" "^  ok +$NEW\.dump +dump .* full "
expect_in "$T/out" "^  ok +$BIGN\.dump +dump .* head " # its first MiB is valid
expect_in "$T/out" "is empty: not a backup"
run 4 audit --read-data
if grep -A1 -E "^  finding +$BIGN\.dump " "$T/out" | tail -1 | grep -q 'invalid dump: '; then
    ok "--read-data: the truncated local dump is an invalid dump"
else bad "--read-data: the truncated local dump should be invalid"; fi
rm -f "$T/local/$BIGN.dump"
find "$T/local" -name '*.dump' -size 0 -delete
run 0 audit --read-data
expect_in "$T/out" "^  newest neo4j: $NEW\.dump, 1\.0 h old: ok"
run 0 audit --remote nas
check "--remote: the local directory is not audited" test "$(grep -c '^LOCAL DIRECTORY' "$T/out")" = 0

e2e_finish
