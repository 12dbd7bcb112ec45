#!/usr/bin/env bash
# User story: the link to the bucket went silent in the middle of a backup
# and the operator presses Ctrl-C.  A proxy in front of s3rver
# (tests/tools/s3_fault_proxy.py, action "stall") reads chosen requests and
# never answers them.  SIGINT to neo4j-offsite ends the run within 2 s
# (not after io_timeout x retries), with exit 1 and "interrupted by signal
# 2"; the multipart upload is aborted and nothing is published, as an
# independent client (boto3, tests/tools/s3_inspect.py) sees.  The same
# while the parts stall, while the very first request stalls, during the
# retry backoff of a server that answers 503, and during a fetch.  Ctrl-C
# while the server completes the upload (its answer held back): the run
# fails, so the object it completed is deleted, and the error says so.
. "$(dirname "$0")/common.bash"
. "$N4O_SOURCE/tests/tools/s3_harness.sh"
. "$N4O_SOURCE/tests/tools/s3_signal.bash"

if ! why=$(s3_available); then
    echo "SKIP: $why"
    exit 77
fi
if ! python3 -c 'import boto3' 2>/dev/null; then
    echo "SKIP: python3 boto3 is not installed"
    exit 77
fi
BUCKET=n4o-interrupt
s3_start "$T/s3data" "$BUCKET" || exit 1
trap 'proxy_stop; s3_stop; e2e_cleanup' EXIT
export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY
unset AWS_SESSION_TOKEN
INSPECT="$N4O_SOURCE/tests/tools/s3_inspect.py"

proxied() { # the s3 remote through the proxy: long timeouts, many retries
    write_config "[remote \"s3\"]
type = s3
endpoint = http://127.0.0.1:$PROXY_PORT
region = us-east-1
bucket = $BUCKET
prefix = db/
part_size = 5MiB
parallel_parts = 3
retries = 8
io_timeout = 60s"
}
seen() { grep -cE -- "$1" "$T/proxy.log"; }
# The keys under db/ as boto3 sees them.  A client that fails is a failed
# check (said on stderr), never an empty bucket.
objects() {
    local out
    if ! out=$(python3 "$INSPECT" "http://127.0.0.1:$S3_PORT" "$BUCKET" db/ objects 2>"$T/inspect.err"); then
        echo "    s3_inspect.py failed: $(tail -1 "$T/inspect.err")" >&2
        return 1
    fi
    if [ -n "$out" ]; then printf '%s\n' "$out"; fi
}
no_objects() { # nothing under db/
    local out
    out=$(objects) && test -z "$out"
}
n_objects() { # N: exactly N keys under db/
    local out
    out=$(objects) && test "$(printf '%s' "$out" | grep -c .)" = "$1"
}

keygen
gen_dump "$T/src.dump" 40M 51
seed_db neo4j "$T/src.dump"

# --- every part stalls: the writer waits for part buffers, the workers for
# answers
proxy_start "$T/proxy.log" 'partNumber=:stall:always' || exit 1
proxied
interrupt "$T/proxy.log" 'partNumber=.* -> stall' backup --remote s3
check "backup interrupted while parts stall: exit 1" test "$RC" = 1
check "it ended within 2 s of SIGINT (${MS} ms)" test "$MS" -lt 2000
expect_in "$T/err" "interrupted by signal 2"
check "the probe's test upload was created and aborted" \
    test "$(seen '[.]n4o-write-probe[?]uploads= -> 200')/$(seen '^DELETE .*[.]n4o-write-probe[?]uploadId=')" = 1/1
check "the upload had started" test "$(seen '[.]dump[.]enc[?]uploads= -> 200')" = 1
check "the upload was aborted" test "$(seen '^DELETE .*[.]dump[.]enc[?]uploadId=')" = 1
check "no CompleteMultipartUpload" test "$(seen '^POST .*[?]uploadId=')" = 0
check "no manifest written" test "$(seen '^PUT .*manifest')" = 0
check "nothing in the bucket (boto3)" no_objects
uploads=$(python3 "$INSPECT" "http://127.0.0.1:$S3_PORT" "$BUCKET" db/ uploads 2>&1)
case $? in
0) check "no multipart upload left (boto3)" test -z "$uploads" ;;
3) echo "note: s3rver cannot list multipart uploads ($uploads); the abort request above is" \
    "what is checked here (tests/e2e/s3_rgw.sh checks the listing on radosgw)" ;;
*) bad "listing the multipart uploads failed: $uploads" ;;
esac
proxy_stop

# --- the very first request stalls (one-pass: the dump streams to S3)
rm -f "$T/local"/*
: >"$T/proxy.log"
proxy_start "$T/proxy.log" '^HEAD :stall:always' || exit 1
proxied
interrupt "$T/proxy.log" '^HEAD .* -> stall' backup --remote s3 --no-local-copy
check "interrupted at the first request: exit 1" test "$RC" = 1
check "it ended within 2 s of SIGINT (${MS} ms)" test "$MS" -lt 2000
# the dump streams at the same time: whichever stage notices first reports
expect_in "$T/err" "interrupted by (signal 2|SIGINT)"
check "no multipart upload was started" test "$(seen '[.]dump[.]enc[?]uploads=')" = 0
check "still nothing in the bucket (boto3)" no_objects
proxy_stop

# --- a server that answers 503 to everything: SIGINT during the backoff
rm -f "$T/local"/*
: >"$T/proxy.log"
proxy_start "$T/proxy.log" '.:503:always' || exit 1
proxied
interrupt "$T/proxy.log" '-> 503' backup --remote s3
check "interrupted during the retry backoff: exit 1" test "$RC" = 1
check "it ended within 2 s of SIGINT (${MS} ms)" test "$MS" -lt 2000
expect_in "$T/err" "interrupted by (signal 2|SIGINT)"
check "fewer attempts than the retries allow" test "$(seen ' -> 503')" -lt 9
check "still nothing in the bucket (boto3)" no_objects
proxy_stop

# --- Ctrl-C while the server completes the upload: CompleteMultipartUpload
# reaches s3rver, which completes the object, and its answer is held back.
# The run fails, so the object must not stay: a HEAD finds it (this run's
# token and size), it is deleted, and the error says so.
rm -f "$T/local"/*
: >"$T/proxy.log"
proxy_start "$T/proxy.log" '^POST .*[?]uploadId=:hold:always' || exit 1
proxied
interrupt "$T/proxy.log" '^POST .*[?]uploadId=.* -> held 200' backup --remote s3
check "interrupted while the server completes: exit 1" test "$RC" = 1
check "it ended within 2 s of SIGINT (${MS} ms)" test "$MS" -lt 2000
expect_in "$T/err" "interrupted by signal 2; the server had stored db/haia_backup_neo4j_[0-9_]+[.]dump[.]enc all the same; deleted it"
check "the completed object was deleted" test "$(seen '^DELETE /[^?]*[.]dump[.]enc -> 204')" = 1
check "no manifest written" test "$(seen '^PUT .*manifest')" = 0
check "nothing in the bucket (boto3)" no_objects
proxy_stop

# --- a fetch whose download stalls halfway
rm -f "$T/local"/*
: >"$T/proxy.log"
proxy_start "$T/proxy.log" || exit 1
proxied
run 0 backup --remote s3
check "one archive and its manifest (boto3)" n_objects 2
proxy_stop
: >"$T/proxy.log"
proxy_start "$T/proxy.log" '^GET .*[.]enc$:stall:always' || exit 1
proxied
interrupt "$T/proxy.log" '^GET .*[.]enc -> stall' fetch --remote s3 --latest --output "$T/back.dump"
check "fetch interrupted: exit 1" test "$RC" = 1
check "it ended within 2 s of SIGINT (${MS} ms)" test "$MS" -lt 2000
expect_in "$T/err" "interrupted by signal 2"
check "no output file" test ! -e "$T/back.dump"

e2e_finish
