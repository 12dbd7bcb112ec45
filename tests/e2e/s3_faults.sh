#!/usr/bin/env bash
# User story: the link to the bucket is flaky.  A fault-injecting proxy
# (tests/tools/s3_fault_proxy.py) in front of s3rver answers 503 SlowDown,
# 500 or cuts the connection for chosen requests: each request is retried on
# its own and the archive arrives byte-identical, exactly once; a part that
# fails on every attempt fails the backup (exit 1), the upload is aborted and
# nothing is published.  The answer to CompleteMultipartUpload lost after
# the server completed the object: the run finds its object (a HEAD: this
# run's token, its size) and reports it committed, as boto3 sees it.
. "$(dirname "$0")/common.bash"
. "$N4O_SOURCE/tests/tools/s3_harness.sh"

if ! why=$(s3_available); then
    echo "SKIP: $why"
    exit 77
fi
if ! python3 -c 'import boto3' 2>/dev/null; then
    echo "SKIP: python3 boto3 is not installed"
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
# the keys under db/ as boto3 sees them; a failing client fails the check
objects() {
    local out
    if ! out=$(python3 "$N4O_SOURCE/tests/tools/s3_inspect.py" "http://127.0.0.1:$S3_PORT" \
        "$BUCKET" db/ objects 2>"$T/inspect.err"); then
        echo "    s3_inspect.py failed: $(tail -1 "$T/inspect.err")" >&2
        return 1
    fi
    if [ -n "$out" ]; then printf '%s\n' "$out"; fi
}

keygen
gen_dump "$T/src.dump" 40M 31
seed_db neo4j "$T/src.dump"

# --- one fault of each kind, on different requests
proxy_start "$T/proxy.log" '[.]dump[.]enc[?]uploads=:500' 'partNumber=2&:503' 'partNumber=3&:500' \
    'partNumber=4&:reset' '^POST .*[?]uploadId=:503' '^GET .*[.]enc$:cut' '^GET .*[.]enc$:503' ||
    exit 1
proxied 3
run 0 backup --remote s3
expect_in "$T/out" "remotes: s3 ok"
check "CreateMultipartUpload retried after 500" test "$(seen '[.]dump[.]enc[?]uploads= -> ')" = 2
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
check "the upload was aborted" test "$(seen '^DELETE .*[.]dump[.]enc[?]uploadId=')" = 1
check "no CompleteMultipartUpload" test "$(seen '^POST .*[?]uploadId=')" = 0
check "still exactly one archive" \
    test "$(find "$OBJ" -name '*.dump.enc._S3rver_object' | wc -l)" = 1
expect_in "$T/err" "remote s3 failed: .*after 3 attempts"
proxy_stop

# --- the answer to CompleteMultipartUpload is lost: s3rver completed the
# object, the connection dropped before its answer; the retry cannot
# complete the upload again.  The object is this run's: committed, said
# once, and the manifest follows.
rm -f "$T/local"/*
sleep 1
before=$(objects) || bad "boto3 cannot list the bucket"
: >"$T/proxy.log"
proxy_start "$T/proxy.log" '^POST .*[.]dump[.]enc[?]uploadId=:drop' || exit 1
proxied 3
run 0 backup --remote s3
expect_in "$T/out" "remotes: s3 ok"
check "Complete reached the server, its answer was lost" \
    test "$(seen '^POST .*[?]uploadId=.* -> dropped 200')" = 1
# (s3rver answers the repeated Complete with 500 and is retried)
check "Complete was sent again" test "$(seen '^POST .*[.]dump[.]enc[?]uploadId=')" -ge 2
expect_in "$T/err" "the server has the object all the same, written by this run \([0-9]+ bytes\): committed"
check "the object was not deleted" test "$(seen '^DELETE /[^?]*[.]dump[.]enc -> ')" = 0
name=$(basename "$(ls "$T/local"/*.dump)" .dump)
after=$(objects) || bad "boto3 cannot list the bucket"
check "boto3: the archive and its manifest are new, once each" \
    test "$(comm -13 <(printf '%s\n' "$before" | sort) <(printf '%s\n' "$after" | sort) | tr '\n' ' ')" = \
    "db/$name.dump.enc db/$name.dump.manifest "
run 0 verify --remote s3 "$name" --deep

e2e_finish
