#!/usr/bin/env bash
# User story: the bucket is on Ceph radosgw, a production S3 implementation
# that verifies every SigV4 signature, x-amz-content-sha256 and Content-MD5,
# and implements ListMultipartUploads and AbortMultipartUpload (which
# s3rver does not).  Multipart and single-PUT backups fetch byte-identical;
# a wrong secret fails fast with the server's reason; a body corrupted in
# transit is refused by the server and retried; a part cut on every attempt
# fails the backup with no multipart upload left behind; unfinished uploads
# show in list --all; Ctrl-C while the parts stall ends the run within 2 s
# and the upload is aborted for real (boto3 lists no multipart upload); a
# key holding ESC is listed url-encoded and skipped with an escaped warning.
# The probe writes (a test upload, aborted): read-only credentials (a
# second user that a bucket policy lets list and read) are refused before
# Neo4j is stopped.  Answers lost after radosgw acted (Complete; the
# manifest's PutObject: the retry, sent with If-None-Match: *, finds the
# name taken) leave this run's objects, which it recognises and reports
# committed.  radosgw honours If-None-Match on
# PutObject: another writer's object that appeared after the checks is not
# replaced ("already exists").  Ctrl-C while radosgw completes the upload:
# the object is deleted and the error says so.
. "$(dirname "$0")/common.bash"
. "$N4O_SOURCE/tests/tools/s3_harness.sh"
. "$N4O_SOURCE/tests/tools/rgw_harness.sh"
. "$N4O_SOURCE/tests/tools/s3_signal.bash"

if ! why=$(rgw_available); then
    echo "SKIP: $why"
    exit 77
fi
BUCKET=n4o-rgw
rgw_start "$T/rgw" "$BUCKET" || {
    tail -20 "$T"/rgw/log/*.log 2>/dev/null
    exit 1
}
trap 'proxy_stop; rgw_stop; e2e_cleanup' EXIT
export AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY
PROXY_UPSTREAM_PORT=$RGW_PORT
proxy_start "$T/proxy.log" 'partNumber=2&:flip' '^PUT .*manifest$:flip' || exit 1

keygen
write_config "[remote \"rgw\"]
type = s3
endpoint = http://127.0.0.1:$RGW_PORT
region = us-east-1
bucket = $BUCKET
prefix = prod/nightly/
part_size = 5MiB
parallel_parts = 3
retries = 2

[remote \"flaky\"]
type = s3
endpoint = http://127.0.0.1:$PROXY_PORT
region = us-east-1
bucket = $BUCKET
prefix = flaky
part_size = 5MiB
parallel_parts = 2
retries = 2"
seen() { grep -cE -- "$1" "$T/proxy.log"; }
INSPECT="$N4O_SOURCE/tests/tools/s3_inspect.py"
# inspect PREFIX objects|uploads: boto3's view (not our code's); a client
# that fails is said on stderr and fails the check that uses it
inspect() {
    local out
    if ! out=$(python3 "$INSPECT" "http://127.0.0.1:$RGW_PORT" "$BUCKET" "$1" "$2" 2>"$T/inspect.err"); then
        echo "    s3_inspect.py $1 $2 failed: $(tail -1 "$T/inspect.err")" >&2
        return 1
    fi
    if [ -n "$out" ]; then printf '%s\n' "$out"; fi
}
none() { # PREFIX objects|uploads: boto3 sees none
    local out
    out=$(inspect "$1" "$2") && test -z "$out"
}
same_as() { # PREFIX TEXT: boto3 lists exactly TEXT under PREFIX
    local out
    out=$(inspect "$1" objects) && test "$out" = "$2"
}
point_flaky() { # the "flaky" remote through the proxy just started
    sed -i "/\[remote \"flaky\"\]/,/^retries/ s|^endpoint = .*|endpoint = http://127.0.0.1:$PROXY_PORT|" "$T/conf"
}

gen_dump "$T/big.dump" 40M 41
seed_db neo4j "$T/big.dump"
run 0 backup --remote rgw
expect_in "$T/out" "remotes: rgw ok"
big=$(basename "$(ls "$T/local"/*.dump)" .dump)
run 0 fetch --remote rgw "$big" --output "$T/big.back"
check "multipart archive fetched byte-identical" cmp -s "$T/big.back" "$T/big.dump"
run 0 verify --remote rgw --latest --deep

rm -f "$T/local"/*
gen_dump "$T/small.dump" 1M 42
seed_db neo4j "$T/small.dump"
sleep 1
run 0 backup --remote rgw
small=$(basename "$(ls "$T/local"/*.dump)" .dump)
run 0 fetch --remote rgw "$small" --output "$T/small.back"
check "single-PUT archive fetched byte-identical" cmp -s "$T/small.back" "$T/small.dump"
run 0 list --remote rgw --all
check "two complete archives, nothing incomplete" \
    test "$(grep -c ' complete' "$T/out")/$(grep -c incomplete "$T/out")" = 2/0

# the server checks signatures: a wrong secret fails at once with its reason
(
    export AWS_SECRET_ACCESS_KEY=wrong-secret-never-shown
    run 1 list --remote rgw
    expect_in "$T/err" "HTTP 403 SignatureDoesNotMatch"
    check "not retried" test "$(grep -c retrying "$T/err")" = 0
    check "the secret is not in the messages" test "$(grep -c never-shown "$T/err")" = 0
    exit "$E2E_FAILED"
) || E2E_FAILED=$((E2E_FAILED + 1))

# a bit flipped in transit (part 2, the manifest): the server refuses the
# body (its hash differs), the request is retried and the archive is intact
rm -f "$T/local"/*
seed_db neo4j "$T/big.dump"
sleep 1
run 0 backup --remote flaky
expect_in "$T/out" "remotes: flaky ok"
check "the probe wrote a test upload under the prefix and aborted it (2 requests)" \
    test "$(seen '^POST .*/flaky/[.]n4o-write-probe[?]uploads= -> 200')/$(seen '^DELETE .*/flaky/[.]n4o-write-probe[?]uploadId=.* -> 204')/$(seen 'n4o-write-probe')" = 1/1/2
expect_in "$T/err" "(XAmzContentSHA256Mismatch|BadDigest).*retrying"
check "the corrupted part was refused, then stored" \
    test "$(seen 'partNumber=2&.* -> flipped 400')/$(seen 'partNumber=2&.* -> 200')" = 1/1
check "the corrupted manifest was refused, then stored" \
    test "$(seen '^PUT .*manifest -> flipped 400')/$(seen '^PUT .*manifest -> 200')" = 1/1
run 0 verify --remote flaky --latest --deep
proxy_stop

# a part cut on every attempt: exit 1, and the upload is aborted for real
: >"$T/proxy.log"
proxy_start "$T/proxy.log" 'partNumber=2&:reset:always' || exit 1
sed -i "/\[remote \"flaky\"\]/,/^retries/ s|^endpoint = .*|endpoint = http://127.0.0.1:$PROXY_PORT|" "$T/conf"
rm -f "$T/local"/*
sleep 1
run 1 backup --remote flaky
check "part 2 tried 3 times" test "$(seen 'partNumber=2&.* -> reset')" = 3
check "the upload was aborted" test "$(seen '^DELETE .*[.]dump[.]enc[?]uploadId=.* -> 204')" = 1
run 0 list --remote flaky --all
check "no multipart upload left behind (ListMultipartUploads), still one archive" \
    test "$(grep -c incomplete "$T/out")/$(grep -c ' complete' "$T/out")" = 0/1

# an upload left unfinished (a killed run) shows with --all only
curl -sf -X POST -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user "$RGW_ACCESS_KEY:$RGW_SECRET_KEY" \
    "http://127.0.0.1:$RGW_PORT/$BUCKET/prod/nightly/haia_backup_neo4j_20200101_000000.dump.enc?uploads=" >/dev/null
run 0 list --remote rgw
check "list: no unfinished upload" test "$(grep -c 20200101 "$T/out")" = 0
run 0 list --remote rgw --all
expect_in "$T/out" "haia_backup_neo4j_20200101_000000 .*incomplete"

# Ctrl-C while every part stalls: out within 2 s, the upload aborted for
# real, nothing published (seen by boto3, not by our code; the keys are
# the RGW ones exported above)
objects_before=$(inspect flaky/ objects) || bad "boto3 cannot list flaky/"
proxy_stop
: >"$T/proxy.log"
proxy_start "$T/proxy.log" 'partNumber=:stall:always' || exit 1
sed -i "/\[remote \"flaky\"\]/,/^retries/ s|^endpoint = .*|endpoint = http://127.0.0.1:$PROXY_PORT|" "$T/conf"
rm -f "$T/local"/*
sleep 1
interrupt "$T/proxy.log" 'partNumber=.* -> stall' backup --remote flaky
check "interrupted while parts stall: exit 1" test "$RC" = 1
check "it ended within 2 s of SIGINT (${MS} ms)" test "$MS" -lt 2000
expect_in "$T/err" "interrupted by signal 2"
check "the upload was aborted" test "$(seen '^DELETE .*[.]dump[.]enc[?]uploadId=.* -> 204')" = 1
check "no CompleteMultipartUpload" test "$(seen '^POST .*[?]uploadId=')" = 0
check "no multipart upload left (boto3 ListMultipartUploads)" none flaky/ uploads
check "the objects are as before (boto3)" same_as flaky/ "$objects_before"

# Ctrl-C while radosgw completes the upload (Complete forwarded, its answer
# held back): the run fails, so the object it completed must not stay:
# deleted, and the error says so
proxy_stop
: >"$T/proxy.log"
proxy_start "$T/proxy.log" '^POST .*[.]dump[.]enc[?]uploadId=:hold:always' || exit 1
point_flaky
rm -f "$T/local"/*
sleep 1
interrupt "$T/proxy.log" '^POST .*[?]uploadId=.* -> held 200' backup --remote flaky
check "interrupted while radosgw completes: exit 1" test "$RC" = 1
check "it ended within 2 s of SIGINT (${MS} ms)" test "$MS" -lt 2000
expect_in "$T/err" "interrupted by signal 2; the server had stored flaky/haia_backup_neo4j_[0-9_]+[.]dump[.]enc all the same; deleted it"
check "the completed object was deleted" test "$(seen '^DELETE /[^?]*[.]dump[.]enc -> 204')" = 1
check "no multipart upload left (boto3)" none flaky/ uploads
check "the objects are as before (boto3)" same_as flaky/ "$objects_before"

# answers lost after radosgw acted: Complete (radosgw answers the retry
# 200: it knows the upload it completed) and the manifest's PutObject (the
# retry, sent with If-None-Match: *, finds the name taken, 412: the object
# is this run's, a HEAD says: its token, its size): committed, said, and
# the archive verifies.
proxy_stop
: >"$T/proxy.log"
proxy_start "$T/proxy.log" '^POST .*[.]dump[.]enc[?]uploadId=:drop' '^PUT .*manifest$:drop' || exit 1
point_flaky
rm -f "$T/local"/*
sleep 1
run 0 backup --remote flaky
expect_in "$T/out" "remotes: flaky ok"
# (radosgw answers a repeated Complete of an upload it completed with 200)
check "Complete reached radosgw, its answer was lost; the retry: 200" \
    test "$(seen '^POST .*[?]uploadId=.* -> dropped 200')/$(seen '^POST .*[?]uploadId=.* -> 200')" = 1/1
check "the manifest reached radosgw, its answer was lost; the retry: 412" \
    test "$(seen '^PUT .*manifest -> dropped 200')/$(seen '^PUT .*manifest -> 412')" = 1/1
expect_in "$T/err" "PreconditionFailed.*; the server has the object all the same, written by this run \([0-9]+ bytes\): committed"
check "nothing deleted" test "$(seen '^DELETE /[^?]* -> ')" = 0
lost=$(basename "$(ls "$T/local"/*.dump)" .dump)
check "boto3: the archive and its manifest are there" \
    same_as "flaky/$lost" "$(printf 'flaky/%s\nflaky/%s' "$lost.dump.enc" "$lost.dump.manifest")"
run 0 verify --remote flaky "$lost" --deep
objects_before=$(inspect flaky/ objects) || bad "boto3 cannot list flaky/"

# two writers of one name: another writer's object appears after our checks
# (the proxy answers the two HEADs "not found").  PutObject carries
# If-None-Match: *; radosgw refuses it (412): "already exists", the other
# object untouched (boto3)
proxy_stop
: >"$T/proxy.log"
proxy_start "$T/proxy.log" '^HEAD .*/flaky/race[.]bin$:404:2' || exit 1
point_flaky
printf 'the other writer' >"$T/other.bin"
python3 - "http://127.0.0.1:$RGW_PORT" "$BUCKET" "$T/other.bin" <<'PY'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
s3.put_object(Bucket=sys.argv[2], Key="flaky/race.bin", Body=open(sys.argv[3], "rb").read())
PY
head -c 100000 "$T/small.dump" >"$T/race.bin"
"$N4O_BUILD/backend_tool" "$T/conf" flaky put race.bin <"$T/race.bin" 2>"$T/err"
check "the second writer fails" test $? = 1
check "both checks were fooled" test "$(seen '^HEAD .*/flaky/race[.]bin -> 404')" = 2
expect_in "$T/err" "flaky/race[.]bin already exists \(PUT flaky/race[.]bin: HTTP 412 PreconditionFailed"
check "the other writer's object is as it was (boto3)" \
    cmp -s "$T/other.bin" <(python3 "$INSPECT" "http://127.0.0.1:$RGW_PORT" "$BUCKET" flaky/race.bin get)
# CompleteMultipartUpload: radosgw 16 ignores If-None-Match there (AWS and
# MinIO refuse with 412), so the HEAD before Complete is the guard; shown
# here so that a radosgw that changes is noticed
python3 - "http://127.0.0.1:$RGW_PORT" "$BUCKET" <<'PY'
import sys, boto3
from botocore.exceptions import ClientError
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
u = s3.create_multipart_upload(Bucket=sys.argv[2], Key="flaky/race.bin")["UploadId"]
p = s3.upload_part(Bucket=sys.argv[2], Key="flaky/race.bin", UploadId=u, PartNumber=1, Body=b"x")
try:
    s3.complete_multipart_upload(Bucket=sys.argv[2], Key="flaky/race.bin", UploadId=u, IfNoneMatch="*",
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p["ETag"]}]})
    print("note: radosgw replaced an object on CompleteMultipartUpload with If-None-Match: *")
except ClientError as e:
    print("note: radosgw refused CompleteMultipartUpload with If-None-Match: * (%s)"
          % e.response["Error"]["Code"])
    s3.abort_multipart_upload(Bucket=sys.argv[2], Key="flaky/race.bin", UploadId=u)
s3.delete_object(Bucket=sys.argv[2], Key="flaky/race.bin")
PY
proxy_stop

# read-only credentials: a second user whom a bucket policy lets list and
# read.  They list fine; the probe's test upload is refused, so the backup
# stops before Neo4j is stopped, and nothing is written
RO_KEY=N4OREADONLYKEY000001
RO_SECRET=n4oReadOnlySecret00000000000000000000001
timeout 30 radosgw-admin -c "$RGW_DIR/ceph.conf" -n client.rgw.a user create --uid ro \
    --display-name ro --access-key "$RO_KEY" --secret "$RO_SECRET" >/dev/null 2>&1 ||
    bad "radosgw-admin cannot create the read-only user"
python3 - "http://127.0.0.1:$RGW_PORT" "$BUCKET" <<'PY' || bad "cannot set the bucket policy"
import json, sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
b = sys.argv[2]
s3.put_bucket_policy(Bucket=b, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam:::user/ro"]},
    "Action": ["s3:ListBucket", "s3:ListBucketMultipartUploads", "s3:GetObject"],
    "Resource": ["arn:aws:s3:::%s" % b, "arn:aws:s3:::%s/*" % b]}]}))
PY
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$RO_KEY" "$RO_SECRET" \
    >"$T/ro-credentials"
chmod 600 "$T/ro-credentials"
cp "$T/conf" "$T/conf.main"
sed -i "/^\[remote \"rgw\"\]/a credentials = $T/ro-credentials" "$T/conf"
prod_before=$(inspect prod/nightly/ objects) || bad "boto3 cannot list prod/nightly/"
run 0 list --remote rgw
check "read-only credentials list the archives" test "$(grep -c ' complete' "$T/out")" = 2
rm -f "$T/local"/*
: >"$NEO4J_STANDIN_HOME/events.log"
run 1 backup --remote rgw
expect_in "$T/err" "remote rgw: endpoint http://127.0.0.1:$RGW_PORT, bucket $BUCKET: the credentials can read but not write under prod/nightly/ \(a test upload was refused\): POST prod/nightly/[.]n4o-write-probe: HTTP 403 AccessDenied"
expect_in "$T/err" "this run did not stop Neo4j"
check "read-only credentials: Neo4j was not stopped" \
    bash -c "! grep -q stop '$NEO4J_STANDIN_HOME/events.log'"
check "nothing written under prod/nightly/ (boto3)" same_as prod/nightly/ "$prod_before"
check "no upload left under prod/nightly/ but the unfinished one made above (boto3)" \
    test "$(inspect prod/nightly/ uploads | grep -c .)" = 1
cp "$T/conf.main" "$T/conf"

# a key holding ESC (another writer's object): radosgw lists it url-encoded,
# list skips it with one warning that shows it escaped, nothing raw
python3 - "http://127.0.0.1:$RGW_PORT" "$BUCKET" "$RGW_ACCESS_KEY" "$RGW_SECRET_KEY" <<'PY'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                  aws_access_key_id=sys.argv[3], aws_secret_access_key=sys.argv[4])
s3.put_object(Bucket=sys.argv[2], Key="prod/nightly/haia_backup_neo4j_20200102_000000\x1b[2J.dump.enc",
              Body=b"x")
PY
run 0 list --remote rgw
expect_in "$T/err" 'skipping object "prod/nightly/haia_backup_neo4j_20200102_000000\\x1b\[2J[.]dump[.]enc": the name holds control'
check "one warning" test "$(grep -c skipping "$T/err")" = 1
check "no raw ESC on the terminal" test "$(cat "$T/out" "$T/err" | grep -c $'\x1b')" = 0
check "the other archives are listed" test "$(grep -c ' complete' "$T/out")" = 2

e2e_finish
