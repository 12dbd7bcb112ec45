#!/usr/bin/env bash
# User story: the link to the bucket is flaky.  A fault-injecting proxy
# (tests/tools/s3_fault_proxy.py) in front of s3rver answers 503 SlowDown,
# 500 or cuts the connection for chosen requests: each request is retried on
# its own and the archive arrives byte-identical, exactly once; a part that
# fails on every attempt fails the backup (exit 1), the upload is aborted and
# nothing is published.
. "$(dirname "$0")/common.bash"
. "$N4O_SOURCE/tests/tools/s3_harness.sh"

if ! why=$(s3_available); then
    echo "SKIP: $why"
    exit 77
fi
BUCKET=n4o-faults
s3_start "$T/s3data" "$BUCKET" || exit 1
trap 'proxy_stop; s3_stop; e2e_cleanup' EXIT
export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY
OBJ="$T/s3data/$BUCKET/db"

# proxied CONFIG: the s3 remote through the proxy, RETRIES retries
proxied() { # RETRIES
    write_config "[remote \"s3\"]
type = s3
endpoint = http://127.0.0.1:$PROXY_PORT
region = us-east-1
bucket = $BUCKET
prefix = db/
part_size = 5MiB
parallel_parts = 3
retries = $1"
}
seen() { grep -cE -- "$1" "$T/proxy.log"; }

keygen
gen_dump "$T/src.dump" 40M 31
seed_db neo4j "$T/src.dump"

# --- one fault of each kind, on different requests
proxy_start "$T/proxy.log" '[?]uploads=:500' 'partNumber=2&:503' 'partNumber=3&:500' \
    'partNumber=4&:reset' '^POST .*[?]uploadId=:503' '^GET .*[.]enc$:cut' '^GET .*[.]enc$:503' ||
    exit 1
proxied 3
run 0 backup --remote s3
expect_in "$T/out" "remotes: s3 ok"
check "CreateMultipartUpload retried after 500" test "$(seen '[?]uploads= -> ')" = 2
check "part 2 retried after 503 SlowDown" test "$(seen 'partNumber=2&.* -> (503|200)')" = 2
check "part 3 retried after 500" test "$(seen 'partNumber=3&.* -> (500|200)')" = 2
check "part 4 retried after a reset" test "$(seen 'partNumber=4&.* -> (reset|200)')" = 2
check "CompleteMultipartUpload retried after 503" test "$(seen '^POST .*[?]uploadId=.* -> ')" = 2
parts=$(grep -oE 'partNumber=[0-9]+' "$T/proxy.log" | sort -u | wc -l)
check "$parts parts, each stored once" test "$(seen 'partNumber=.* -> 200')" = "$parts"
check "exactly one archive" test "$(find "$OBJ" -name '*.dump.enc._S3rver_object' | wc -l)" = 1
expect_in "$T/err" "retrying \(1 of 3\)"
name=$(basename "$(ls "$T/local"/*.dump)" .dump)
run 0 fetch --remote s3 "$name" --output "$T/back.dump"
check "fetch resumed after a cut and a 503" test "$(seen '^GET .*[.]enc -> (cut|503)')" = 2
expect_in "$T/err" "resuming at byte [1-9][0-9]*"
check "fetched dump byte-identical" cmp -s "$T/back.dump" "$T/src.dump"
run 0 verify --remote s3 --latest --deep
proxy_stop

# --- a part cut on every attempt: exit 1, upload aborted, nothing published
rm -f "$T/local"/*
sleep 1
: >"$T/proxy.log"
proxy_start "$T/proxy.log" 'partNumber=2&:reset:always' || exit 1
proxied 2
run 1 backup --remote s3
check "part 2 tried 3 times" test "$(seen 'partNumber=2&.* -> reset')" = 3
check "the upload was aborted" test "$(seen '^DELETE .*[?]uploadId=')" = 1
check "no CompleteMultipartUpload" test "$(seen '^POST .*[?]uploadId=')" = 0
check "still exactly one archive" \
    test "$(find "$OBJ" -name '*.dump.enc._S3rver_object' | wc -l)" = 1
expect_in "$T/err" "remote s3 failed: .*after 3 attempts"

e2e_finish
