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
check "the upload was aborted" test "$(seen '^DELETE .*[?]uploadId=.* -> 204')" = 1
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
INSPECT="$N4O_SOURCE/tests/tools/s3_inspect.py"
objects_before=$(python3 "$INSPECT" "http://127.0.0.1:$RGW_PORT" "$BUCKET" flaky/ objects)
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
check "the upload was aborted" test "$(seen '^DELETE .*[?]uploadId=.* -> 204')" = 1
check "no CompleteMultipartUpload" test "$(seen '^POST .*[?]uploadId=')" = 0
uploads=$(python3 "$INSPECT" "http://127.0.0.1:$RGW_PORT" "$BUCKET" flaky/ uploads)
check "no multipart upload left (boto3 ListMultipartUploads)" test -z "$uploads"
check "the objects are as before (boto3)" test "$(python3 "$INSPECT" \
    "http://127.0.0.1:$RGW_PORT" "$BUCKET" flaky/ objects)" = "$objects_before"

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
