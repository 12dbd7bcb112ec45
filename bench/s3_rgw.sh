#!/usr/bin/env bash
# The S3 backend against Ceph radosgw on loopback (tests/tools/rgw_harness.sh)
# next to `rclone rcat` into an rclone crypt remote on the same radosgw
# (Debian's rclone, provider Ceph, its default 5 MiB chunks x 4) and a single
# `curl -T` PUT of the same bytes: RUNS alternating runs each, median wall
# time, peak RSS and CPU (/usr/bin/time; "machine s": CPU seconds of the
# whole machine during the command, radosgw included), then fetch against
# `rclone cat`.
#   bench/s3_rgw.sh [BUILD_DIR] [DUMP_SIZE] [RUNS] [PART_SIZE] [PARALLEL]
#   (defaults: build 1G 3 8MiB 4; DUMP_SIZE is gendump's plaintext --size)
set -euo pipefail
B=$(cd "${1:-build}" && pwd)
SIZE=${2:-1G}
RUNS=${3:-3}
PART=${4:-8MiB}
PAR=${5:-4}
SRC=$(cd "$(dirname "$0")/.." && pwd)
. "$SRC/tests/tools/rgw_harness.sh"
rgw_available >/dev/null || {
    rgw_available
    exit 1
}
command -v rclone >/dev/null || {
    echo "rclone is not installed"
    exit 1
}
W=$(mktemp -d /tmp/n4o-s3bench.XXXXXX)
trap 'rgw_stop; rm -rf "$W"' EXIT
BUCKET=bench
RGW_BLOCK_SIZE=$((64 * 1024 * 1024 * 1024)) rgw_start "$W/rgw" "$BUCKET"
export AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY

"$B/gendump" --size "$SIZE" --seed 7 "$W/src.dump" 2>/dev/null
DUMP_BYTES=$(stat -c %s "$W/src.dump")
mkdir -p "$W/keys" "$W/local"
"$B/neo4j-offsite" keygen --out "$W/keys" >/dev/null
cat >"$W/conf" <<CONF
[general]
lock_file = $W/lock
[neo4j]
database = neo4j
dump_command = cat $W/src.dump
[local]
directory = $W/local
[keys]
public_key = $W/keys/archive.pub
signing_key = $W/keys/signing.key
secret_key = $W/keys/archive.key
verify_key = $W/keys/signing.pub
[remote "rgw"]
type = s3
endpoint = http://127.0.0.1:$RGW_PORT
region = us-east-1
bucket = $BUCKET
prefix = n4o/
part_size = $PART
parallel_parts = $PAR
CONF
cat >"$W/rclone.conf" <<CONF
[rgw]
type = s3
provider = Ceph
access_key_id = $RGW_ACCESS_KEY
secret_access_key = $RGW_SECRET_KEY
endpoint = http://127.0.0.1:$RGW_PORT
region = us-east-1

[crypt]
type = crypt
remote = rgw:$BUCKET/rclone
password = $(rclone obscure n4o-bench-password)
CONF
export RCLONE_CONFIG=$W/rclone.conf
unset AWS_CA_BUNDLE # an inherited bundle makes rclone refuse its plain-HTTP transport

. "$SRC/bench/machine_cpu.bash"

measure() { # NAME command...: appends "wall rss_kib user sys machine_cpu" to $W/NAME
    local name=$1 c0 c1
    shift
    c0=$(machine_cpu)
    /usr/bin/time -f "%e %M %U %S" -o "$W/t" "$@" >/dev/null 2>"$W/err" || {
        echo "$name failed:" >&2
        cat "$W/err" >&2
        exit 1
    }
    c1=$(machine_cpu)
    echo "$(cat "$W/t") $(echo "$c1 - $c0" | bc)" >>"$W/$name"
}
median() { # FILE COLUMN
    awk -v c="$2" '{print $c}' "$1" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

for i in $(seq 1 "$RUNS"); do
    measure n4o-up "$B/neo4j-offsite" -c "$W/conf" --no-progress backup --no-local-copy
    measure rclone-up rclone rcat "crypt:run$i" --s3-upload-concurrency 4 <"$W/src.dump"
    measure curl-up curl -sf -T "$W/src.dump" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
        --aws-sigv4 "aws:amz:us-east-1:s3" --user "$RGW_ACCESS_KEY:$RGW_SECRET_KEY" \
        "http://127.0.0.1:$RGW_PORT/$BUCKET/curl/run$i"
    sleep 1 # archive names have one-second resolution
done
for i in $(seq 1 "$RUNS"); do
    measure n4o-fetch "$B/neo4j-offsite" -c "$W/conf" --no-progress fetch --latest --output -
    measure rclone-fetch rclone cat "crypt:run$i"
done

printf 'dump %s bytes (%s plaintext), %s runs, part_size %s x %s, radosgw %s\n' \
    "$DUMP_BYTES" "$SIZE" "$RUNS" "$PART" "$PAR" "$(radosgw --version | awk '{print $3}')"
printf '%-14s %10s %12s %10s %8s %10s\n' what "wall s" "MB/s" "RSS MiB" "CPU s" "machine s"
for n in n4o-up rclone-up curl-up n4o-fetch rclone-fetch; do
    w=$(median "$W/$n" 1)
    r=$(median "$W/$n" 2)
    c=$(awk '{print $3 + $4}' "$W/$n" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    m=$(median "$W/$n" 5)
    printf '%-14s %10s %12.1f %10.1f %8s %10s\n' "$n" "$w" "$(echo "$DUMP_BYTES / $w / 1000000" | bc -l)" \
        "$(echo "$r / 1024" | bc -l)" "$c" "$m"
done
