#!/usr/bin/env bash
# User story: the old setup rotated with `find -mtime +7 -delete`, which
# empties the shelf when backups stop for a week.  Ours keeps keep_days of
# archives, never fewer than min_keep complete ones per database, locally
# (only files named like our dumps) and on every remote: a local directory
# and a real OpenSSH sftp server on 127.0.0.1, checked with OpenSSH's sftp
# client.  `push` ships the dumps an older script left in the backups
# volume; `prune --dry-run` changes nothing.
. "$(dirname "$0")/common.bash"
. "$N4O_SOURCE/tests/tools/sshd_harness.sh"

sshd_start main || exit 1
SRV="$SSHD_BASE/srv/haia"
mkdir -p "$SRV"
chmod 750 "$SRV"
sshd_known_line main "$SSHD_PORT" ed25519 >"$T/known_hosts"
write_config "[remote \"off\"]
type = sftp
host = 127.0.0.1
port = $SSHD_PORT
user = $SSHD_USER
identity_file = $SSHD_BASE/user/id_ed25519
known_hosts = $T/known_hosts
path = $SRV
connect_timeout = 20s
io_timeout = 20s"
keygen

NOW0=$(date -u +%Y-%m-%dT%H:%M:%SZ) # every name is dated from this one moment
stamp() { date -u -d "$NOW0 $1 ago" +%Y%m%d_%H%M%S; } # AGO ("3 days", "2 hours")
name() { echo "haia_backup_${2:-neo4j}_$(stamp "$1")"; }
dir_state() { (cd "$1" && find . -mindepth 1 -printf '%p %s %T@\n' | sort | md5sum); }
# the archives (or manifests) a remote holds, by name, one a line
on_sftp() { # SUFFIX
    echo "ls -1 $SRV" | sshd_sftp main "$SSHD_PORT" 2>/dev/null | sed 's|.*/||' |
        grep -F -- "$1" | grep -v '^sftp>' | sed "s/$1\$//" | sort
}
on_dir() { find "$1" -maxdepth 1 -type f -name "haia_backup_*$2" -printf '%f\n' | sed "s/$2\$//" | sort; }

# ---- ten dumps of an older script, 1 to 12 days old, and foreign files ----
for d in 1 2 3 4 5 6 8 9 10 12; do
    gen_dump "$T/local/$(name "$d days").dump" 150K "$d"
done
want_kept=$(for d in 1 2 3 4 5 6; do name "$d days"; done | sort)
echo "not ours" >"$T/local/notes.txt"
printf 'x' >"$T/local/haia_backup_neo4j_20200101_000000.dump.bak"
printf 'x' >"$T/local/other_neo4j_20200101_000000.dump"
echo "outside" >"$T/outside.dump"
ln -s "$T/outside.dump" "$T/local/haia_backup_neo4j_20200102_000000.dump"

before=$(dir_state "$T/local")
run 0 prune --dry-run
check "--dry-run: nothing changed locally" test "$(dir_state "$T/local")" = "$before"
check "--dry-run: the plan has the 10 dumps" test "$(grep -c '\.dump ' "$T/out")" = 10
check "--dry-run: 4 to delete, each with its reason" \
    test "$(grep -c '^  delete .*older than keep_days' "$T/out")" = 4
check "--dry-run: 6 kept within keep_days" test "$(grep -c '^  keep .*within keep_days' "$T/out")" = 6
check "--dry-run: the symlink and foreign files are not in the plan" \
    test "$(grep -c -e notes.txt -e '\.bak' -e other_neo4j -e 20200102 "$T/out")" = 0
"$N4O_BIN" -c "$T/conf" --json prune --dry-run >"$T/json" 2>/dev/null
check "--dry-run --json: a document with the plan and reasons" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["dry_run"] is True and d["policy"]["keep_days"] == 7
local = [t for t in d["targets"] if t["type"] == "local"][0]
acts = sorted((i["action"], i["reason"]) for i in local["items"])
assert acts.count(("delete", "older than keep_days")) == 4, acts
assert acts.count(("keep", "within keep_days")) == 6, acts
assert not any(i["deleted"] for t in d["targets"] for i in t["items"])
' "$T/json"

# ---- push: what retention keeps is shipped, then retention runs ----
run 0 push
check "push: 6 shipped to each remote" test "$(grep -c ': shipped to ' "$T/out")" = 12
check "push: 4 left to retention on each remote" \
    test "$(grep -c 'retention would delete it there' "$T/out")" = 8
check "local: exactly the dumps within 7 days are left" \
    test "$(on_dir "$T/local" .dump)" = "$want_kept"
check "nas: exactly those archives" test "$(on_dir "$T/nas" .dump.enc)" = "$want_kept"
check "nas: a manifest for each" test "$(on_dir "$T/nas" .dump.manifest)" = "$want_kept"
check "sftp (OpenSSH sftp): exactly those archives" test "$(on_sftp .dump.enc)" = "$want_kept"
check "sftp (OpenSSH sftp): a manifest for each" test "$(on_sftp .dump.manifest)" = "$want_kept"
check "foreign files and the symlink survive" test -f "$T/local/notes.txt" -a \
    -f "$T/local/haia_backup_neo4j_20200101_000000.dump.bak" -a \
    -f "$T/local/other_neo4j_20200101_000000.dump" -a -L "$T/local/haia_backup_neo4j_20200102_000000.dump"
check "the symlink's target is untouched" test "$(cat "$T/outside.dump")" = outside
run 0 verify --remote off --all
check "verify: the 6 pushed archives verify on sftp" test "$(grep -c '^OK' "$T/out")" = 6
run 0 push
check "push again: nothing shipped" test "$(grep -c ': shipped to ' "$T/out")" = 0
"$N4O_BIN" -c "$T/conf" --json push >"$T/json" 2>/dev/null
check "push --json: each dump present on each remote, nothing else" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["summary"] == {"local_dumps": 6, "shipped": 0, "present": 12, "skipped": 0, "findings": 0}, d["summary"]
assert sorted({e["action"] for e in d["dumps"]}) == ["present"] and len(d["dumps"]) == 12, d["dumps"]
assert d["errors"] == []
' "$T/json"
"$N4O_BIN" -c "$T/nonexistent.conf" --json push >"$T/json" 2>/dev/null
check "push --json, a run that fails: one valid document holding its error" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["dumps"] == [] and "nonexistent.conf" in d["errors"][0]["message"], d
' "$T/json"

# ---- a same-named archive with other content is reported, never overwritten ----
newest=$(name "1 days")
sum_before=$(sha256sum "$T/nas/$newest.dump.enc" | cut -d' ' -f1)
gen_dump "$T/local/$newest.dump" 150K 77
run 4 push
expect_in "$T/err" "$newest: remote nas holds an archive of this name with other content"
expect_in "$T/err" "$newest: remote off holds an archive of this name with other content"
check "the remote archive is unchanged" \
    test "$(sha256sum "$T/nas/$newest.dump.enc" | cut -d' ' -f1)" = "$sum_before"

# ---- an invalid dump is reported and skipped, the others still shipped ----
bad_dump=$(name "3 hours")
good_dump=$(name "2 hours")
head -c 40000 "$T/local/$(name "2 days").dump" >"$T/local/$bad_dump.dump"
gen_dump "$T/local/$good_dump.dump" 150K 5
run 4 push --remote nas
expect_in "$T/out" "$bad_dump: INVALID dump, not shipped"
check "the invalid dump is not on the remote" test ! -e "$T/nas/$bad_dump.dump.enc"
check "the valid one after it is shipped" test -f "$T/nas/$good_dump.dump.manifest"
rm -f "$T/local/$bad_dump.dump" "$T/local/$newest.dump"

# ---- archives without manifest: never a backup; cut-short deletions cleaned ----
orphan=$(name "10 days")
cp "$T/nas/$(name "2 days").dump.enc" "$T/nas/$orphan.dump.enc"
touch -d '-2 hours' "$T/nas/$orphan.dump.enc" # its upload (or cut-short deletion) long past
fresh_orphan=$(name "30 minutes")
cp "$T/nas/$(name "2 days").dump.enc" "$T/nas/$fresh_orphan.dump.enc"
run 0 list --remote nas
check "list: an archive without manifest is not listed" test "$(grep -c -e "$orphan" -e "$fresh_orphan" "$T/out")" = 0
run 0 list --remote nas --all
check "list --all: it is incomplete" test "$(grep "$orphan" "$T/out" | awk '{print $NF}')" = incomplete
# an interrupted deletion: the manifest of an expired archive gone, the archive left
cut_short=$(name "9 days")
cp "$T/nas/$(name "3 days").dump.enc" "$T/nas/$cut_short.dump.enc"
echo "put $T/nas/$cut_short.dump.enc $SRV/$cut_short.dump.enc" | sshd_sftp main "$SSHD_PORT" >/dev/null 2>&1
touch -d '-2 hours' "$T/nas/$cut_short.dump.enc" "$SRV/$cut_short.dump.enc"
# stale and fresh temporary files of uploads (SFTP), by their mtime
stale_tmp="$(name "1 days").dump.enc.0123456789abcdef.partial"
fresh_tmp="$(name "1 hours").dump.enc.fedcba9876543210.partial"
echo stale >"$SRV/$stale_tmp"
touch -d '-25 hours' "$SRV/$stale_tmp"
echo fresh >"$SRV/$fresh_tmp"
run 0 prune
check "prune: the expired archive without manifest is removed (nas)" test ! -e "$T/nas/$orphan.dump.enc"
check "prune: the cut-short deletion is finished (nas)" test ! -e "$T/nas/$cut_short.dump.enc"
check "prune: the cut-short deletion is finished (sftp)" test -z "$(on_sftp .dump.enc | grep -x "$cut_short")"
check "prune: an archive without manifest less than 24 h old is left" test -f "$T/nas/$fresh_orphan.dump.enc"
check "prune: the stale temporary file is removed (sftp)" test "$(on_sftp .partial | grep -c 0123456789abcdef)" = 0
check "prune: the fresh one is left (sftp)" test "$(on_sftp .partial | grep -c fedcba9876543210)" = 1
check "prune: the backups are still all there" test "$(on_dir "$T/nas" .dump.manifest | wc -l)" = 7
rm -f "$T/nas/$fresh_orphan.dump.enc" "$SRV/$fresh_tmp"

# ---- a manifest whose archive is missing: a finding, deleted only past the window ----
gone=$(name "4 days")
rm "$T/nas/$gone.dump.enc"
run 4 prune --remote nas
expect_in "$T/err" "$gone: its manifest is there but its archive is missing"
check "within the window the manifest stays" test -f "$T/nas/$gone.dump.manifest"
short=$(name "5 days")
truncate -s 100 "$T/nas/$short.dump.enc"
run 4 prune --remote nas --dry-run
expect_in "$T/err" "$short: its manifest is there but its archive is missing or shorter"
mv "$T/nas/$gone.dump.manifest" "$T/nas/$(name "20 days").dump.manifest"
run 4 prune --remote nas
check "past the window a missing archive's manifest is deleted" \
    test ! -e "$T/nas/$(name "20 days").dump.manifest"

# ---- every dump 20+ days old: exactly min_keep survive everywhere ----
rm -f "$T/local/"haia_backup_neo4j_2026*.dump "$T/nas/"* "$SRV/"*
for d in 20 21 22 23 24; do gen_dump "$T/local/$(name "$d days").dump" 100K "$d"; done
want3=$(for d in 20 21 22; do name "$d days"; done | sort)
run 0 push
check "stale only: the 3 newest are shipped" test "$(grep -c ': shipped to ' "$T/out")" = 6
check "stale only: local keeps min_keep = 3" test "$(on_dir "$T/local" .dump)" = "$want3"
check "stale only: nas keeps the 3 newest" test "$(on_dir "$T/nas" .dump.enc)" = "$want3"
check "stale only: sftp keeps the 3 newest" test "$(on_sftp .dump.manifest)" = "$want3"
run 0 prune
check "prune again: still 3 on sftp" test "$(on_sftp .dump.enc)" = "$want3"
expect_in "$T/out" "off: 3 backups, deleted 0, keep 3"

# ---- backup applies retention; a failed backup deletes nothing ----
gen_dump "$T/db.dump" 200K 9
seed_db neo4j "$T/db.dump"
run 0 backup
check "backup: its archive and the 2 newest old ones are left on sftp (min_keep 3)" \
    test "$(on_sftp .dump.manifest | wc -l)" = 3
check "backup: the oldest one went" \
    test "$(on_sftp .dump.manifest | grep -c "$(name "22 days")")" = 0
expect_in "$T/err" "remote off: deleted $(name "22 days")"
before_nas=$(dir_state "$T/nas")
before_local=$(dir_state "$T/local")
NEO4J_STANDIN_FAIL=dump "$N4O_BIN" -c "$T/conf" --no-progress backup >"$T/out" 2>"$T/err"
check "a failed backup exits 1 ($?)" test $? = 1
check "a failed backup deletes nothing (nas)" test "$(dir_state "$T/nas")" = "$before_nas"
check "... nor locally" test "$(dir_state "$T/local")" = "$before_local"

# ---- prune holds the run lock ----
mkdir -p "$T/run"
flock "$T/run/neo4j-offsite.lock" sleep 3 &
holder=$!
sleep 0.5
run 6 prune --dry-run
wait "$holder"

# ---- a remote that failed is not pruned; the others are ----
mkdir -p "$T/nas2"
mount -t tmpfs -o size=96k tmpfs "$T/nas2"
for d in 20 21 22 23; do # expired archives there: retention would delete one
    head -c 2000 /dev/urandom >"$T/nas2/$(name "$d days").dump.enc"
    echo "{}" >"$T/nas2/$(name "$d days").dump.manifest"
done
printf '[remote "nas2"]\ntype = local\npath = %s\n' "$T/nas2" >>"$T/conf"
before_nas2=$(on_dir "$T/nas2" .dump.manifest)
gen_dump "$T/db.dump" 400K 10
seed_db neo4j "$T/db.dump"
run 3 backup
expect_in "$T/out" "nas2 FAILED"
check "the failed remote is not pruned" test "$(on_dir "$T/nas2" .dump.manifest)" = "$before_nas2"
check "... while the others are (3 left on nas)" test "$(on_dir "$T/nas" .dump.manifest | wc -l)" = 3

e2e_finish
