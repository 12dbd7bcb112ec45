#!/usr/bin/env bash
# User story: retention on a real S3 implementation (Ceph radosgw), checked
# with boto3, an independent client, not only with our own list.  `push`
# ships the dumps an older script left behind, only those retention keeps;
# `prune --dry-run` changes nothing on the bucket; an expired archive left
# without manifest by a deletion cut short (2 h ago by radosgw's clock) is
# removed, a fresh one is not
# (and neither is ever listed as complete); expired archives go with
# DeleteObjects (POST ?delete, at most 1,000 keys a request, never one
# DELETE per object), and a key the server refuses to delete is reported
# (exit 1) with the manifest-first order kept: an archive whose manifest
# could not go stays; multipart uploads older than 24 h by radosgw's own
# Initiated time (radosgw's clock turned back with libfaketime) are aborted,
# fresh ones (also of an old dump, named before the window) and other
# writers' uploads are left; a manifest whose archive is missing is exit 4 and stays; a
# same-named archive with other content is never overwritten; when every
# dump is past the window exactly min_keep survive, locally and on the
# bucket.
. "$(dirname "$0")/common.bash"
. "$N4O_SOURCE/tests/tools/rgw_harness.sh"

if ! why=$(rgw_available) || ! why=$(rgw_faketime_lib); then
    echo "SKIP: $why"
    exit 77
fi
python3 -c 'import boto3' 2>/dev/null || {
    echo "SKIP: python3-boto3 is not installed"
    exit 77
}
BUCKET=n4o-retention
RGW_FAKETIME=1 rgw_start "$T/rgw" "$BUCKET" || {
    tail -20 "$T"/rgw/log/*.log 2>/dev/null
    exit 1
}
trap 'exec 7>&- 8<&-; rgw_stop; e2e_cleanup' EXIT
SECONDS=0
export AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY
EP=http://127.0.0.1:$RGW_PORT
P=prod/nightly/ # the prefix of remote "s3"

keygen
write_config "[remote \"s3\"]
type = s3
endpoint = $EP
region = us-east-1
bucket = $BUCKET
prefix = $P
retries = 2

[remote \"aged\"]
type = s3
endpoint = $EP
region = us-east-1
bucket = $BUCKET
prefix = aged/
retries = 2"

NOW0=$(date -u +%Y-%m-%dT%H:%M:%SZ) # every name is dated from this one moment
stamp() { date -u -d "$NOW0 $1 ago" +%Y%m%d_%H%M%S; } # AGO ("3 days", "2 hours")
name() { echo "haia_backup_${2:-neo4j}_$(stamp "$1")"; }
on_dir() { find "$1" -maxdepth 1 -type f -name "haia_backup_*$2" -printf '%f\n' | sed "s/$2\$//" | sort; }

# ---- boto3's view of the bucket, and its changes (not our code) ----
# One boto3 client for the whole test (a python3 start with boto3 costs a
# second or more on a busy machine), fed one command a line through a FIFO;
# each answer ends with "__end__ RC".
cat >"$T/s3ops.py" <<'PY'
import calendar, concurrent.futures, sys, time, traceback
import boto3, botocore.config
ep, bucket = sys.argv[1:3]
s3 = boto3.client("s3", endpoint_url=ep, region_name="us-east-1",
                  config=botocore.config.Config(retries={"max_attempts": 1},
                                                s3={"addressing_style": "path"},
                                                max_pool_connections=32))
def objects():
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        yield from page.get("Contents", [])
def uploads():
    for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        yield from page.get("Uploads", [])
def name_at(p, db, t):
    return "%shaia_backup_%s_%s" % (p, db, time.strftime("%Y%m%d_%H%M%S", time.gmtime(t)))
def do(op, args):
    if op == "look":        # every object (key, ETag, size, time) and upload (key, id, Initiated)
        for o in objects():
            print("object", repr(o["Key"])[1:-1], o["ETag"], o["Size"], o["LastModified"].isoformat())
        for u in uploads():
            print("upload", repr(u["Key"])[1:-1], u["UploadId"],
                  calendar.timegm(u["Initiated"].utctimetuple()))
    elif op == "put":       # KEY FILE
        s3.put_object(Bucket=bucket, Key=args[0], Body=open(args[1], "rb").read())
    elif op == "copy":      # SRC DST (CopyObject)
        s3.copy_object(Bucket=bucket, Key=args[1], CopySource={"Bucket": bucket, "Key": args[0]})
    elif op == "copy-body": # SRC DST: a new object with SRC's bytes (GetObject, PutObject)
        body = s3.get_object(Bucket=bucket, Key=args[0])["Body"].read()
        s3.put_object(Bucket=bucket, Key=args[1], Body=body)
    elif op == "delete":    # KEY...
        for k in args:
            s3.delete_object(Bucket=bucket, Key=k)
    elif op == "mpu":       # KEY: a multipart upload started now; its UploadId
        print(s3.create_multipart_upload(Bucket=bucket, Key=args[0])["UploadId"])
    elif op == "abort":     # KEY UPLOADID
        s3.abort_multipart_upload(Bucket=bucket, Key=args[0], UploadId=args[1])
    elif op == "deny-delete": # KEY...: a bucket policy refuses DeleteObject of these keys
        import json
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Deny", "Principal": "*", "Action": ["s3:DeleteObject"],
            "Resource": ["arn:aws:s3:::%s/%s" % (bucket, k) for k in args]}]}))
    elif op == "no-policy":
        s3.delete_bucket_policy(Bucket=bucket)
    elif op == "orphans":   # PREFIX DB EPOCH N: N tiny archives without manifest, from EPOCH back, a minute apart
        p, db, t0, n = args[0], args[1], int(args[2]), int(args[3])
        def put(i):
            s3.put_object(Bucket=bucket, Key=name_at(p, db, t0 - 60 * i) + ".dump.enc", Body=b"x")
        with concurrent.futures.ThreadPoolExecutor(32) as ex:
            list(ex.map(put, range(n)))
    else:
        raise ValueError("unknown op " + op)
for line in sys.stdin:
    words = line.split()
    rc = 0
    try:
        do(words[0], words[1:])
    except Exception:
        traceback.print_exc(file=sys.stderr)
        sys.stderr.flush()
        rc = 1
    print("__end__", rc, flush=True)
PY
mkfifo "$T/s3ops.in" "$T/s3ops.out"
python3 "$T/s3ops.py" "$EP" "$BUCKET" <"$T/s3ops.in" >"$T/s3ops.out" 2>"$T/s3ops.err" &
exec 7>"$T/s3ops.in" 8<"$T/s3ops.out"
# s3 OP ARGS...: a failing boto3 call is said on stderr and fails the caller
s3() {
    local line rc=1
    # (a helper that died: this write fails, SIGPIPE does not end the test)
    (trap '' PIPE && printf '%s\n' "$*" >&7) 2>/dev/null
    while IFS= read -r line <&8; do
        case $line in "__end__ "*)
            rc=${line#__end__ }
            break
            ;;
        esac
        printf '%s\n' "$line"
    done
    [ "$rc" = 0 ] || echo "    boto3 $1 failed: $(grep -v '^ ' "$T/s3ops.err" | tail -1)" >&2
    return "$rc"
}
look() { s3 look >"$T/look" || bad "boto3 cannot list the bucket"; } # -> $T/look
# from the last look: the names under PREFIX ending in SUFFIX (both cut), sorted
objs() { # PREFIX SUFFIX
    awk -v p="$1" -v s="$2" '$1 == "object" && index($2, p) == 1 && length($2) > length(p s) &&
        substr($2, length($2) - length(s) + 1) == s {
        print substr($2, length(p) + 1, length($2) - length(p) - length(s)) }' "$T/look" | sort
}
etag() { awk -v k="$1" '$1 == "object" && $2 == k { e = $3 } END { print e ? e : "none" }' "$T/look"; }
ups() { awk -v p="$1" '$1 == "upload" && index($2, p) == 1 { print $2, $3 }' "$T/look" | sort; }
age() { awk -v id="$1" -v now="$(date +%s)" '$1 == "upload" && $3 == id { print now - $4 }' "$T/look"; }
same() { # WHAT GOT WANT: equal, else both shown
    if [ "$2" = "$3" ]; then return 0; fi
    echo "    got:  $(tr '\n' ' ' <<<"$2")" >&2
    echo "    want: $(tr '\n' ' ' <<<"$3")" >&2
    return 1
}
section() { echo "---- $* (${SECONDS} s after radosgw started)"; }
log_reqs() { grep -cE -- "$1" "$T/err"; } # the -v lines "s3: METHOD URL" matching ERE

# ==== 1. ten dumps of an older script, 1 to 12 days old: push ships 6 ====
section "1: push and --dry-run"
for d in 1 2 3 4 5 6 8 9 10 12; do
    gen_dump "$T/local/$(name "$d days").dump" 100K "$d"
done
want_kept=$(for d in 1 2 3 4 5 6; do name "$d days"; done | sort)
printf 'not ours' >"$T/readme.txt"
s3 put "${P}README.txt" "$T/readme.txt" # another writer's object under the prefix
look
cp "$T/look" "$T/look.before"
run 0 prune --dry-run
look
check "--dry-run: the bucket is unchanged (boto3)" cmp -s "$T/look" "$T/look.before"
check "--dry-run: 4 local dumps would go" \
    test "$(grep -c '^  delete .*older than keep_days' "$T/out")" = 4
check "--dry-run: nothing deleted locally" test "$(on_dir "$T/local" .dump | wc -l)" = 10

run 0 push --remote s3
check "push: 6 shipped" test "$(grep -c ': shipped to s3$' "$T/out")" = 6
check "push: 4 left to retention" test "$(grep -c 'retention would delete it there' "$T/out")" = 4
look
check "boto3: exactly the 6 within 7 days are on the bucket" same archives "$(objs "$P" .dump.enc)" "$want_kept"
check "boto3: each with its manifest" same manifests "$(objs "$P" .dump.manifest)" "$want_kept"
check "boto3: no upload left" same uploads "$(ups "")" ""
check "local: exactly the 6 within 7 days are left" same local "$(on_dir "$T/local" .dump)" "$want_kept"
check "boto3: the other writer's object is there" test "$(etag "${P}README.txt")" != none
run 0 verify --remote s3 --all
check "verify: the 6 verify" test "$(grep -c '^OK' "$T/out")" = 6
run 0 push --remote s3
check "push again: nothing shipped" test "$(grep -c ': shipped to ' "$T/out")" = 0
expect_in "$T/out" "push: 6 local dumps, 0 uploads, 6 already there"

# in_past HOURS <<<"OP ARGS" lines: the s3ops commands on stdin, run by a
# client of their own while radosgw's clock and the client's are HOURS
# behind (what they write is dated then), radosgw back at the real time
# after
in_past() {
    local behind=$(($1 * 3600)) rc=0 w pre
    w=$(rgw_faketime_env "-$behind") || return 1
    read -ra pre <<<"$w"
    rgw_set_clock "$behind" || return 1
    "${pre[@]}" python3 "$T/s3ops.py" "$EP" "$BUCKET" >"$T/past.out" 2>"$T/past.err" || rc=1
    [ "$(grep -c '^__end__ 0' "$T/past.out")" = "$(grep -c '^__end__' "$T/past.out")" ] || rc=1
    rgw_set_clock 0 || rc=1
    [ $rc = 0 ] || sed 's/^/    past: /' "$T/past.err" | tail -5
    return $rc
}

# ==== 2. archives without manifest: a deletion cut short, an upload in flight ====
section "2: archives without manifest"
cut_short=$(name "11 days")      # an expired archive whose manifest was deleted
fresh_orphan=$(name "30 minutes") # an upload that has not written its manifest yet
in_past 2 <<<"copy-body $P$(name "2 days").dump.enc $P$cut_short.dump.enc" ||
    bad "cannot write the archive of a deletion cut short 2 h ago"
s3 copy-body "$P$(name "2 days").dump.enc" "$P$fresh_orphan.dump.enc"
run 0 list --remote s3
check "list: neither archive without manifest is listed" \
    test "$(grep -c -e "$cut_short" -e "$fresh_orphan" "$T/out")" = 0
run 0 list --remote s3 --all
check "list --all: both shown incomplete, never complete" \
    same states "$(grep -e "$cut_short" -e "$fresh_orphan" "$T/out" | awk '{print $NF}')" "$(printf 'incomplete\nincomplete')"
run 0 prune --remote s3
look
check "prune: the expired archive without manifest is gone (boto3)" test "$(etag "$P$cut_short.dump.enc")" = none
check "prune: the one less than 24 h old is left (boto3)" test "$(etag "$P$fresh_orphan.dump.enc")" != none
check "prune: the 6 backups are all there (boto3)" same manifests "$(objs "$P" .dump.manifest)" "$want_kept"
run 0 list --remote s3
check "list after prune: the fresh one is still not listed" test "$(grep -c "$fresh_orphan" "$T/out")" = 0

# ==== 3. expired archives go with DeleteObjects, not one DELETE each ====
section "3: DeleteObjects"
expired=$(for d in 9 13 15 17 20; do name "$d days"; done)
src=$P$(name "2 days")
for e in $expired; do
    s3 copy "$src.dump.enc" "$P$e.dump.enc"
    s3 copy "$src.dump.manifest" "$P$e.dump.manifest"
done
look
check "boto3: 11 archives with manifests before prune" \
    same manifests "$(objs "$P" .dump.manifest)" "$(printf '%s\n' "$expired" "$want_kept" | sort)"
cp "$T/look" "$T/look.before"
run 0 prune --remote s3 --dry-run
check "--dry-run: 5 would be deleted" test "$(grep -c '^  delete .*older than keep_days' "$T/out")" = 5
look
check "--dry-run: the bucket is unchanged (boto3: keys, ETags, times, uploads)" \
    cmp -s "$T/look" "$T/look.before"
run 0 -v prune --remote s3
expect_in "$T/out" "remote s3: 11 backups, deleted 5, keep 7"
check "two DeleteObjects requests (manifests, then archives)" test "$(log_reqs 's3: POST [^ ]*[?]delete')" = 2
check "no DELETE request at all" test "$(log_reqs 's3: DELETE ')" = 0
look
check "boto3: the 5 expired archives are gone, the others remain" \
    same archives "$(objs "$P" .dump.enc)" "$(printf '%s\n' "$want_kept" "$fresh_orphan" | sort)"
check "boto3: their manifests too" same manifests "$(objs "$P" .dump.manifest)" "$want_kept"
check "boto3: the other writer's object is still there" test "$(etag "${P}README.txt")" != none

# deletions refused key by key (a bucket policy denies DeleteObject): an
# archive whose manifest could not be deleted is not deleted either (it
# would leave a manifest without archive); an archive refused after its
# manifest went is left without manifest, and the next prune removes it
section "3: deletions refused"
held=$(name "10 days")   # its manifest cannot be deleted
halfway=$(name "12 days") # its archive cannot be deleted
# uploaded 2 h ago: a deletion cut short is finished by the next prune
in_past 2 <<<"copy $src.dump.enc $P$held.dump.enc
copy $src.dump.manifest $P$held.dump.manifest
copy $src.dump.enc $P$halfway.dump.enc
copy $src.dump.manifest $P$halfway.dump.manifest" || bad "cannot write the two archives 2 h ago"
s3 deny-delete "$P$held.dump.manifest" "$P$halfway.dump.enc"
run 1 prune --remote s3
expect_in "$T/out" "remote s3: 8 backups, deleted 0, keep 7 \(some deletions FAILED\)"
expect_in "$T/err" "remote s3: could not delete $held: .*${held}[.]dump[.]manifest: AccessDenied"
expect_in "$T/err" "remote s3: could not delete $halfway: .*${halfway}[.]dump[.]enc: AccessDenied"
look
check "boto3: the archive whose manifest was refused is still there, with its manifest" \
    test "$(etag "$P$held.dump.enc")" != none -a "$(etag "$P$held.dump.manifest")" != none
check "boto3: the manifest of the refused archive is gone, the archive is left" \
    test "$(etag "$P$halfway.dump.enc")" != none -a "$(etag "$P$halfway.dump.manifest")" = none
s3 no-policy
run 0 list --remote s3
check "list: the archive left without manifest is not a backup" test "$(grep -c "$halfway" "$T/out")" = 0
run 0 prune --remote s3
look
check "boto3: the next prune finished both" \
    same archives "$(objs "$P" .dump.enc)" "$(printf '%s\n' "$want_kept" "$fresh_orphan" | sort)"
check "boto3: and their manifests" same manifests "$(objs "$P" .dump.manifest)" "$want_kept"

# 1,001 expired archives without manifest (deletions cut short): 1,000
# keys a DeleteObjects request, radosgw's limit too, so two requests
section "3: 1,001 at once"
B=bulk/
in_past 2 <<<"orphans $B neo4j $(date -u -d "$NOW0 30 days ago" +%s) 1001" ||
    bad "boto3 cannot write the 1,001 archives"
for d in 1 2 3; do # three backups, kept by min_keep... and by keep_days
    s3 copy "$src.dump.enc" "$B$(name "$d days").dump.enc"
    s3 copy "$src.dump.manifest" "$B$(name "$d days").dump.manifest"
done
sed "s|^prefix = aged/|prefix = $B|" "$T/conf" >"$T/conf.bulk"
"$N4O_BIN" -c "$T/conf.bulk" --no-progress -v prune --remote aged >"$T/out" 2>"$T/err"
check "1,001 archives without manifest pruned: exit $?" test $? = 0
expect_in "$T/out" "remote aged: 3 backups, deleted 1001, keep 3"
check "two DeleteObjects requests" test "$(log_reqs 's3: POST [^ ]*[?]delete')" = 2
check "no DELETE" test "$(log_reqs 's3: DELETE ')" = 0
look
check "boto3: the 3 backups are left, nothing else" \
    same objects "$(objs "$B" "")" "$(for d in 1 2 3; do name "$d days" | sed 's/$/.dump.enc/;p;s/enc$/manifest/'; done | sort)"
# shellcheck disable=SC2046 # (one word a key)
s3 delete $(for d in 1 2 3; do echo "$B$(name "$d days").dump.enc" "$B$(name "$d days").dump.manifest"; done)

# ==== 4. multipart uploads: stale ones aborted, fresh and foreign ones left ====
section "4: multipart uploads"
stale_key="$P$(name "30 hours").dump.enc" # started 30 h ago by radosgw's clock
foreign_key="${P}someone-else.bin"        # another writer's, as old
stale=$(rgw_stale_multipart "$BUCKET" "$stale_key" 30) || bad "cannot make the stale upload"
foreign=$(rgw_stale_multipart "$BUCKET" "$foreign_key" 30) || bad "cannot make the other writer's stale upload"
fresh_key="$P$(name "2 hours").dump.enc"
fresh=$(s3 mpu "$fresh_key") || bad "cannot make the fresh upload"
old_name_key="$P$(name "10 days").dump.enc" # started now, named before the window (an old dump pushed)
old_name=$(s3 mpu "$old_name_key") || bad "cannot make the upload named before the window"
look
a=$(age "${stale:-x}")
check "the stale upload was Initiated ${a:-?} s ago (> 24 h)" test "${a:-0}" -gt $((24 * 3600))
a=$(age "${foreign:-x}")
check "the other writer's was Initiated ${a:-?} s ago (> 24 h)" test "${a:-0}" -gt $((24 * 3600))
a=$(age "${fresh:-x}")
check "the fresh upload was Initiated ${a:-?} s ago (< 1 h)" test "${a:-99999}" -lt 3600
run 0 list --remote s3 --all
expect_in "$T/out" "$(name "30 hours") .*incomplete"
run 0 -v prune --remote s3
check "one upload aborted (DELETE ?uploadId)" test "$(log_reqs 's3: DELETE [^ ]*[?]uploadId=')" = 1
check "... the stale one" test "$(grep -c -e "s3: DELETE .*${stale:-x}" "$T/err")" = 1
look
check "boto3: the fresh uploads (also one of an old dump) and the other writer's are left" \
    same uploads "$(ups "$P")" "$(printf '%s %s\n' "$fresh_key" "$fresh" "$foreign_key" "$foreign" "$old_name_key" "$old_name" | sort)"
check "boto3: the backups are untouched" same manifests "$(objs "$P" .dump.manifest)" "$want_kept"
check "boto3: the fresh archive without manifest is still there" test "$(etag "$P$fresh_orphan.dump.enc")" != none
s3 delete "$P$fresh_orphan.dump.enc"
s3 abort "$fresh_key" "$fresh"
s3 abort "$foreign_key" "$foreign"
s3 abort "$old_name_key" "$old_name"

# ==== 5. a manifest whose archive is missing: exit 4, the manifest stays ====
section "5: a missing archive"
gone=$(name "4 days")
s3 copy "$P$gone.dump.enc" "aside/$gone.dump.enc"
s3 delete "$P$gone.dump.enc"
look
man_etag=$(etag "$P$gone.dump.manifest")
run 4 prune --remote s3
expect_in "$T/err" "$gone: its manifest is there but its archive is missing"
look
check "boto3: within the window the manifest stays" test "$(etag "$P$gone.dump.manifest")" = "$man_etag"
check "boto3: nothing else deleted" same manifests "$(objs "$P" .dump.manifest)" "$want_kept"
s3 copy "aside/$gone.dump.enc" "$P$gone.dump.enc"
s3 delete "aside/$gone.dump.enc"
run 0 prune --remote s3

# ==== 6. a same-named archive with other content is never overwritten ====
section "6: same name, other content"
newest=$(name "1 days")
look
etag_arc=$(etag "$P$newest.dump.enc")
etag_man=$(etag "$P$newest.dump.manifest")
gen_dump "$T/local/$newest.dump" 100K 77
run 4 push --remote s3
expect_in "$T/err" "$newest: remote s3 holds an archive of this name with other content"
look
check "boto3: the archive's ETag is unchanged" test "$(etag "$P$newest.dump.enc")" = "$etag_arc"
check "boto3: the manifest's ETag is unchanged" test "$(etag "$P$newest.dump.manifest")" = "$etag_man"
check "boto3: no upload left behind" same uploads "$(ups "")" ""

# ==== 7. every dump 20+ days old: exactly min_keep = 3 survive ====
section "7: every dump past the window"
rm -f "$T/local/"haia_backup_neo4j_*.dump
for d in 20 21 22 23 24; do gen_dump "$T/local/$(name "$d days").dump" 100K "$d"; done
want3=$(for d in 20 21 22; do name "$d days"; done | sort)
run 0 push --remote aged
check "stale only: the 3 newest are shipped" test "$(grep -c ': shipped to aged$' "$T/out")" = 3
check "stale only: 2 left to retention" test "$(grep -c 'retention would delete it there' "$T/out")" = 2
check "stale only: local keeps min_keep = 3" same local "$(on_dir "$T/local" .dump)" "$want3"
look
check "stale only (boto3): the 3 newest archives on the bucket" same archives "$(objs aged/ .dump.enc)" "$want3"
check "stale only (boto3): with their manifests" same manifests "$(objs aged/ .dump.manifest)" "$want3"
run 0 prune --remote aged
expect_in "$T/out" "remote aged: 3 backups, deleted 0, keep 3"
look
check "prune again (boto3): still the 3" same archives "$(objs aged/ .dump.enc)" "$want3"

echo "(${SECONDS} s after radosgw started)"
e2e_finish
