#!/usr/bin/env bash
# Ceph radosgw on loopback for the tests: a production S3 implementation
# that verifies SigV4 signatures and payload hashes.  One mon, one bluestore
# OSD (sparse file), one radosgw, auth none inside the cluster, all state in
# one directory, every daemon in the foreground as a background process.
# Needs the Debian packages ceph-mon ceph-osd radosgw ceph-common
# (--no-install-recommends).  RGW_BLOCK_SIZE: the sparse OSD block file (bytes,
# default 8 GiB).
#
# As a library (source it):  rgw_start DIR BUCKET -> RGW_PORT, RGW_ACCESS_KEY,
#                                                    RGW_SECRET_KEY
#                            rgw_stop
#   with RGW_FAKETIME=1 at rgw_start (needs the Debian package faketime):
#                            rgw_stale_multipart BUCKET KEY HOURS_AGO -> UploadId
# As a command:              rgw_harness.sh DIR BUCKET  (runs until Ctrl-C)

RGW_ACCESS_KEY=N4OTESTACCESSKEY0001
RGW_SECRET_KEY=n4oTestSecretKey0000000000000000000000001
RGW_PIDS=()

rgw_available() {
    local t
    for t in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph-authtool ceph curl; do
        if ! command -v "$t" >/dev/null; then
            echo "$t is not installed (apt-get install --no-install-recommends ceph-mon ceph-osd radosgw ceph-common)"
            return 1
        fi
    done
}

# A base port with BASE..BASE+63 free.
rgw_free_base() {
    local base p used
    used=$(ss -Htan 2>/dev/null | awk '{print $4}' | sed 's/.*://' | sort -u)
    for _ in $(seq 1 50); do
        base=$((20000 + (RANDOM % 400) * 100))
        for p in $(seq "$base" $((base + 63))); do
            grep -qx "$p" <<<"$used" && continue 2
        done
        echo "$base"
        return 0
    done
    return 1
}

rgw_wait() { # SECONDS what command...: until the command succeeds
    local secs=$1 what=$2 i
    shift 2
    for i in $(seq 1 $((secs * 10))); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "rgw harness: $what did not come up in $secs s" >&2
    return 1
}

rgw_start() {
    local d=$1 bucket=$2 base fsid uuid id
    mkdir -p "$d"/{run,log,mon,osd}
    d=$(cd "$d" && pwd)
    RGW_DIR=$d
    base=$(rgw_free_base) || {
        echo "rgw harness: no free ports" >&2
        return 1
    }
    RGW_PORT=$((base + 2))
    fsid=$(uuidgen)
    cat >"$d/ceph.conf" <<CONF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$base,v1:127.0.0.1:$((base + 1))]
mon initial members = a
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
run dir = $d/run
admin socket = $d/run/\$name.asok
log file = $d/log/\$name.log
pid file = $d/run/\$name.pid
keyring = $d/keyring
ms bind port min = $((base + 10))
ms bind port max = $((base + 63))
osd objectstore = bluestore
bluestore block create = true
bluestore block size = ${RGW_BLOCK_SIZE:-8589934592}
bluestore fsck on mount = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
osd max object name len = 460
osd max object namespace len = 64
osd memory target = 536870912
bluestore cache autotune = false
bluestore cache size = 134217728
mon data = $d/mon/\$cluster-\$id
osd data = $d/osd/\$cluster-\$id

[client.rgw.a]
auth client required = none
ms mon client mode = crc
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw data = $d/rgw
rgw dns name = localhost
CONF
    local C=(-c "$d/ceph.conf")
    ceph-authtool --create-keyring "$d/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null &&
        monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$base,v1:127.0.0.1:$((base + 1))]" \
            "$d/monmap" >/dev/null &&
        ceph-mon "${C[@]}" --mkfs -i a --monmap "$d/monmap" --keyring "$d/keyring" 2>>"$d/log/setup.log" || {
        echo "rgw harness: mon setup failed" >&2
        return 1
    }
    ceph-mon "${C[@]}" -i a -f 2>>"$d/log/mon.err" &
    RGW_PIDS+=($!)
    rgw_wait 20 "ceph-mon" timeout 5 ceph "${C[@]}" mon stat || return 1
    uuid=$(uuidgen)
    id=$(timeout 20 ceph "${C[@]}" osd new "$uuid" 2>>"$d/log/setup.log") || {
        echo "rgw harness: ceph osd new failed" >&2
        return 1
    }
    mkdir -p "$d/osd/ceph-$id"
    ceph-osd "${C[@]}" -i "$id" --mkfs --osd-uuid "$uuid" >>"$d/log/setup.log" 2>&1 || {
        echo "rgw harness: ceph-osd --mkfs failed" >&2
        tail -5 "$d/log/setup.log" >&2
        return 1
    }
    ceph-osd "${C[@]}" -i "$id" -f 2>>"$d/log/osd.err" &
    RGW_PIDS+=($!)
    rgw_wait 60 "ceph-osd" bash -c "timeout 5 ceph -c '$d/ceph.conf' osd stat | grep -q '1 up'" ||
        return 1
    local pre=() w
    if [ -n "${RGW_FAKETIME:-}" ]; then
        w=$(rgw_faketime_env "$d/faketime") || return 1
        read -ra pre <<<"$w"
        echo "+0" >"$d/faketime"
    fi
    "${pre[@]}" radosgw "${C[@]}" -n client.rgw.a -f 2>>"$d/log/rgw.err" &
    RGW_PIDS+=($!)
    rgw_wait 60 "radosgw" curl -sf "http://127.0.0.1:$RGW_PORT/" || return 1
    timeout 30 radosgw-admin "${C[@]}" -n client.rgw.a user create --uid n4o --display-name n4o \
        --access-key "$RGW_ACCESS_KEY" --secret "$RGW_SECRET_KEY" >>"$d/log/setup.log" 2>&1 || {
        echo "rgw harness: radosgw-admin user create failed" >&2
        return 1
    }
    curl -sf -X PUT -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
        --aws-sigv4 "aws:amz:us-east-1:s3" --user "$RGW_ACCESS_KEY:$RGW_SECRET_KEY" \
        "http://127.0.0.1:$RGW_PORT/$bucket" >>"$d/log/setup.log" 2>&1 || {
        echo "rgw harness: cannot create bucket $bucket" >&2
        return 1
    }
}

# --- A radosgw clock that can be turned back, for stale multipart uploads ---
# radosgw stamps a multipart upload's Initiated (ListMultipartUploads) with
# its own clock when the upload starts, and nothing (no radosgw-admin
# command, no option) sets it afterwards.  With RGW_FAKETIME=1 in the
# environment, rgw_start runs radosgw (only radosgw: mon and OSD keep the
# real clock) under libfaketime (Debian package faketime), reading its
# offset from $RGW_DIR/faketime ("+0" = the real time) at most every second.
# rgw_stale_multipart turns that clock back, starts the upload with a boto3
# client under the same offset (SigV4 allows 15 minutes of skew), and turns
# it forward again; radosgw keeps serving normally afterwards.  The
# monotonic clock is never faked (timeouts and timers keep working).

rgw_faketime_lib() { # the multi-threaded libfaketime, or a message
    local l
    for l in /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 \
        /usr/lib/*/faketime/libfaketimeMT.so.1; do
        [ -r "$l" ] && echo "$l" && return 0
    done
    echo "libfaketime is not installed (apt-get install --no-install-recommends faketime)"
    return 1
}

rgw_faketime_env() { # FILE|OFFSET: env words to run a command under libfaketime
    local lib
    lib=$(rgw_faketime_lib) || {
        echo "rgw harness: $lib" >&2
        return 1
    }
    case $1 in
    /*) echo env "LD_PRELOAD=$lib" "FAKETIME_TIMESTAMP_FILE=$1" FAKETIME_CACHE_DURATION=1 \
        FAKETIME_DONT_FAKE_MONOTONIC=1 ;;
    *) echo env "LD_PRELOAD=$lib" "FAKETIME=$1" FAKETIME_DONT_FAKE_MONOTONIC=1 ;;
    esac
}

rgw_clock() { # radosgw's clock (the Date of an answer), in seconds since 1970
    local d
    d=$(curl -sI --max-time 5 "http://127.0.0.1:$RGW_PORT/" | tr -d '\r' | sed -n 's/^[Dd]ate: //p')
    [ -n "$d" ] && date -d "$d" +%s
}

rgw_faked() { # radosgw runs under libfaketime, or a message on stderr
    [ -f "${RGW_DIR:-/nonexistent}/faketime" ] && return 0
    echo "rgw harness: radosgw does not run under libfaketime (RGW_FAKETIME=1 rgw_start)" >&2
    return 1
}

rgw_set_clock() { # SECONDS_BEHIND: radosgw's clock runs that far behind (0: real)
    local behind=$1 want got i
    rgw_faked || return 1
    if [ "$behind" = 0 ]; then echo "+0"; else echo "-$behind"; fi >"$RGW_DIR/faketime.new"
    mv "$RGW_DIR/faketime.new" "$RGW_DIR/faketime"
    for i in $(seq 1 100); do
        want=$(($(date +%s) - behind))
        got=$(rgw_clock) && [ $((got - want)) -le 5 ] && [ $((want - got)) -le 5 ] && return 0
        sleep 0.1
    done
    echo "rgw harness: radosgw's clock is ${got:-unknown}, not $want" >&2
    return 1
}

# rgw_stale_multipart BUCKET KEY HOURS_AGO: a multipart upload of KEY with one
# 5 MiB part, Initiated HOURS_AGO hours ago; prints its UploadId.  Needs
# RGW_FAKETIME=1 at rgw_start.  radosgw is back at the real time afterwards
# (also when the upload failed).
rgw_stale_multipart() {
    local bucket=$1 key=$2 behind=$(($3 * 3600)) w pre id rc=0
    rgw_faked || return 1
    w=$(rgw_faketime_env "-$behind") || return 1
    read -ra pre <<<"$w"
    rgw_set_clock "$behind" || {
        rgw_set_clock 0
        return 1
    }
    id=$("${pre[@]}" AWS_ACCESS_KEY_ID="$RGW_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$RGW_SECRET_KEY" \
        python3 "$(dirname "${BASH_SOURCE[0]}")/rgw_stale_upload.py" \
        "http://127.0.0.1:$RGW_PORT" "$bucket" "$key" create 2>"$RGW_DIR/log/stale.err") || {
        rc=1
        echo "rgw harness: the stale upload failed: $(tail -1 "$RGW_DIR/log/stale.err")" >&2
    }
    rgw_set_clock 0 || rc=1
    [ $rc = 0 ] && echo "$id"
    return $rc
}

rgw_stop() {
    local i
    for ((i = ${#RGW_PIDS[@]} - 1; i >= 0; i--)); do
        kill "${RGW_PIDS[i]}" 2>/dev/null
        wait "${RGW_PIDS[i]}" 2>/dev/null
    done
    RGW_PIDS=()
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -u
    [ $# = 2 ] || {
        echo "usage: $0 DIR BUCKET" >&2
        exit 2
    }
    rgw_available || exit 1
    trap rgw_stop EXIT INT TERM
    rgw_start "$1" "$2" || exit 1
    echo "radosgw on http://127.0.0.1:$RGW_PORT bucket $2 (keys $RGW_ACCESS_KEY / $RGW_SECRET_KEY)"
    wait
fi
