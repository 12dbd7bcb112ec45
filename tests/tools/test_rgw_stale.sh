#!/usr/bin/env bash
# The harness can make a stale multipart upload on a real radosgw: with
# RGW_FAKETIME=1, rgw_stale_multipart turns radosgw's clock (only radosgw's)
# back 30 h while it starts an upload, then forward again.  boto3's
# ListMultipartUploads then shows one upload Initiated more than 24 h ago and
# a fresh one less than 1 h ago; afterwards radosgw serves normally (put,
# get, list, abort of the stale upload) at the real time.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/rgw_harness.sh"

if ! why=$(rgw_available) || ! why=$(rgw_faketime_lib); then
    echo "SKIP: $why"
    exit 77
fi
python3 -c 'import boto3' 2>/dev/null || {
    echo "SKIP: python3-boto3 is not installed"
    exit 77
}
T=$(mktemp -d /tmp/n4o-rgw-stale.XXXXXX)
trap 'rgw_stop; rm -rf "$T"' EXIT
fails=0 passes=0
ok() {
    passes=$((passes + 1))
    echo "ok: $*"
}
bad() {
    fails=$((fails + 1))
    echo "FAILED: $*"
}

BUCKET=n4o-stale
RGW_FAKETIME=1 rgw_start "$T/rgw" "$BUCKET" || {
    tail -20 "$T"/rgw/log/*.log 2>/dev/null
    exit 1
}
export AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY
EP=http://127.0.0.1:$RGW_PORT
UP=$here/rgw_stale_upload.py
SECONDS=0

if stale=$(rgw_stale_multipart "$BUCKET" prod/stale.dump.enc 30); then
    ok "rgw_stale_multipart made upload $stale"
else
    bad "rgw_stale_multipart failed"
fi
if fresh=$(python3 "$UP" "$EP" "$BUCKET" prod/fresh.dump.enc create 2>"$T/err"); then
    ok "a fresh upload $fresh"
else
    bad "a fresh upload: $(tail -1 "$T/err")"
fi
now=$(date +%s)
clock=$(rgw_clock)
if [ -n "$clock" ] && [ $((clock - now)) -le 5 ] && [ $((now - clock)) -le 5 ]; then
    ok "radosgw's clock is the real time again"
else
    bad "radosgw's clock is ${clock:-unknown}, the real time is $now"
fi

python3 "$UP" "$EP" "$BUCKET" prod/ ages >"$T/ages" 2>"$T/err" || bad "listing uploads: $(tail -1 "$T/err")"
sed 's/^/    /' "$T/ages"
age_of() { awk -v k="$1" -v id="$2" '$1 == k && $2 == id { print $3 }' "$T/ages"; }
a=$(age_of prod/stale.dump.enc "${stale:-}")
if [ -n "$a" ] && [ "$a" -gt $((24 * 3600)) ] && [ "$a" -lt $((31 * 3600)) ]; then
    ok "the stale upload was Initiated $a s ago (30 h)"
else
    bad "the stale upload's age is '${a}' s, expected 30 h"
fi
a=$(age_of prod/fresh.dump.enc "${fresh:-}")
if [ -n "$a" ] && [ "$a" -lt 3600 ] && [ "$a" -gt -60 ]; then
    ok "the fresh upload was Initiated $a s ago"
else
    bad "the fresh upload's age is '${a}' s, expected < 1 h"
fi
if [ "$(grep -c . "$T/ages")" = 2 ]; then ok "two uploads listed"; else bad "$(grep -c . "$T/ages") uploads listed"; fi

# radosgw works normally afterwards: put, get, list, abort (with boto3)
if python3 - "$EP" "$BUCKET" "${stale:-}" >"$T/after" 2>&1 <<'PY'; then
import sys, boto3, botocore.config
ep, bucket, stale = sys.argv[1:]
s3 = boto3.client("s3", endpoint_url=ep, region_name="us-east-1",
                  config=botocore.config.Config(retries={"max_attempts": 1},
                                                s3={"addressing_style": "path"}))
body = bytes(range(256)) * 4096
s3.put_object(Bucket=bucket, Key="after/object", Body=body)
assert s3.get_object(Bucket=bucket, Key="after/object")["Body"].read() == body, "get differs"
keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="after/").get("Contents", [])]
assert keys == ["after/object"], keys
s3.abort_multipart_upload(Bucket=bucket, Key="prod/stale.dump.enc", UploadId=stale)
left = [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]
assert left == ["prod/fresh.dump.enc"], left
PY
    ok "put, get, list, and abort of the stale upload work afterwards"
else
    bad "radosgw after the clock change: $(tail -3 "$T/after")"
fi
echo "(${SECONDS} s after radosgw started)"

echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
