#!/usr/bin/env bash
# Retention at scale (issue 13): `prune` of N expired archives (2N objects)
# on Ceph radosgw (tests/tools/rgw_harness.sh) and on a real OpenSSH sshd
# (tests/tools/sshd_harness.sh), both on 127.0.0.1, next to `rclone delete
# --min-age 7d` on the same seeded bucket and directory.
#   bench/prune.sh [BUILD_DIR] [N_ARCHIVES] [RUNS]      (build 1000 3)
#   GENDUMP=path/to/gendump (default BUILD_DIR/gendump, a BUILD_TESTING=ON
#   build's) makes the one real dump that `push` ships; KEEP=1 keeps the
#   work directory (logs of every run in its res/).
# One real archive is pushed to both remotes, then copied (S3: server-side
# CopyObject with boto3; SFTP: file copies in the served directory) to 6
# more recent names (1-7 hours old, within keep_days = 7: they must survive;
# min_keep = 3 is met by them) and, before every run, to N names 10 days +
# 0..N-1 hours old (expired).  Every copy also carries its name's time as
# its modification time (S3: x-amz-meta-mtime, which rclone reads; SFTP: the
# file's mtime), so rclone's age filter selects the same 2N objects.
# Each run: median wall time and peak RSS (/usr/bin/time), the requests made
# as the server saw them (radosgw's beast access log at debug_rgw 1;
# sftp-server -l DEBUG3, one "request N: KIND" line per request) and, for
# neo4j-offsite on S3, as its own -v log says ("s3: METHOD URL" per
# attempt); after each run the remote must hold exactly the 7 recent pairs.
#
#   bench/prune.sh BUILD_DIR N_ARCHIVES RUNS --prepare DIR
# leaves the timing to an outside harness: it starts the same servers, seeds
# RUNS+1 independent targets per tool per store (S3 prefixes a1/..aK/ for
# neo4j-offsite and b1/..bK/ for rclone, K = RUNS+1, and as many SFTP
# directories), each with the 7 recent pairs and the N expired ones, writes
# a configuration per target and four wrappers, DIR/ours-s3,
# DIR/rclone-s3, DIR/ours-sftp and DIR/rclone-sftp: plain sh, each takes the
# next unused target of its kind (counter DIR/KIND.used) and execs the tool
# on it, its output to DIR/logs/KIND-I.  When all is seeded it creates
# DIR/ready, then keeps the servers up until DIR/stop exists (at most
# PREPARE_MAX_WAIT seconds, default 7200); then every used target must
# hold exactly the 7 recent pairs: the verdict goes to stdout and to
# DIR/verdict, and the script's status is 0 only if all used targets pass.
# A harness that runs each command RUNS times after one warm-up uses all
# K targets of each kind.
set -uo pipefail
PREP=
if [ $# -ge 5 ] && [ "$4" = --prepare ]; then
    PREP=$5
    mkdir -p "$PREP" || exit 1
    PREP=$(cd "$PREP" && pwd)
    rm -f "$PREP/ready" "$PREP/stop" "$PREP/verdict"
elif [ $# -gt 3 ]; then
    echo "usage: $0 [BUILD_DIR] [N_ARCHIVES] [RUNS] [--prepare DIR]" >&2
    exit 2
fi
B=$(cd "${1:-build}" && pwd)
N=${2:-1000}
RUNS=${3:-3}
SRC=$(cd "$(dirname "$0")/.." && pwd)
BIN=$B/neo4j-offsite
GENDUMP=${GENDUMP:-$B/gendump}
HELP="$SRC/bench/prune_seed.py"
[ -x "$GENDUMP" ] || {
    echo "no gendump at $GENDUMP: set GENDUMP (built by a BUILD_TESTING=ON build)" >&2
    exit 1
}
command -v rclone >/dev/null || {
    echo "rclone is not installed" >&2
    exit 1
}
python3 -c 'import boto3' 2>/dev/null || {
    echo "python3-boto3 is not installed" >&2
    exit 1
}
. "$SRC/tests/tools/rgw_harness.sh"
rgw_available >/dev/null || {
    rgw_available
    exit 1
}
export SSHD_SFTP_LOG=1 SSHD_SFTP_LOG_LEVEL=DEBUG3
. "$SRC/tests/tools/sshd_harness.sh" # exits 77 without sshd
W=$(mktemp -d /tmp/n4o-prunebench.XXXXXX)
trap 'rgw_stop; sshd_stop_all; [ -n "${KEEP:-}" ] && echo "kept $W" || rm -rf "$W"' EXIT
T0=$(date +%s)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

BUCKET=bench
PREFIX=n4o/
rgw_start "$W/rgw" "$BUCKET" || exit 1
RGWLOG=$W/rgw/log/client.rgw.a.log
EP=http://127.0.0.1:$RGW_PORT
export AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY
unset AWS_CA_BUNDLE # an inherited bundle makes rclone refuse its plain-HTTP transport
sshd_start prune || exit 1
SRV=$SSHD_BASE/srv
SFTPLOG=$SSHD_BASE/prune/sftp.log
mkdir -p "$SRV" "$W/local" "$W/keys"
KEY=$SSHD_BASE/user/id_ed25519
sshd_known_line prune "$SSHD_PORT" ed25519 >"$W/known_hosts"
{
    sshd_known_line prune "$SSHD_PORT" ed25519
    sshd_known_line prune "$SSHD_PORT" ecdsa
} >"$W/known_hosts.rclone" # rclone may pick either host key type

"$BIN" keygen --out "$W/keys" >/dev/null || exit 1
cat >"$W/conf" <<CONF
[general]
lock_file = $W/lock
[neo4j]
database = neo4j
dump_command = cat $W/unused.dump
[local]
directory = $W/local
name_prefix = haia_backup
[keys]
public_key = $W/keys/archive.pub
signing_key = $W/keys/signing.key
secret_key = $W/keys/archive.key
verify_key = $W/keys/signing.pub
[retention]
keep_days = 7
min_keep = 3
keep_weekly = 0
keep_monthly = 0
[remote "s3"]
type = s3
endpoint = $EP
region = us-east-1
bucket = $BUCKET
prefix = $PREFIX
[remote "off"]
type = sftp
host = 127.0.0.1
port = $SSHD_PORT
user = $SSHD_USER
identity_file = $KEY
known_hosts = $W/known_hosts
path = $SRV
CONF
cat >"$W/rclone.conf" <<CONF
[rgw]
type = s3
provider = Ceph
access_key_id = $RGW_ACCESS_KEY
secret_access_key = $RGW_SECRET_KEY
endpoint = $EP
region = us-east-1

[sftp]
type = sftp
host = 127.0.0.1
port = $SSHD_PORT
user = $SSHD_USER
key_file = $KEY
known_hosts_file = $W/known_hosts.rclone
shell_type = none
disable_hashcheck = true
CONF
export RCLONE_CONFIG=$W/rclone.conf

# ---- the names: "NAME EPOCH" lines ----
NOW0=$(date +%s)
python3 - "$NOW0" "$N" "$W" <<'PY'
import sys, time
now, n, w = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
name = lambda t: "haia_backup_neo4j_" + time.strftime("%Y%m%d_%H%M%S", time.gmtime(t))
with open(w + "/real", "w") as f:
    f.write("%s %d\n" % (name(now - 3600), now - 3600))
with open(w + "/recent", "w") as f:
    for h in range(2, 8):
        f.write("%s %d\n" % (name(now - h * 3600), now - h * 3600))
with open(w + "/old", "w") as f:
    for i in range(n):
        t = now - 10 * 86400 - i * 3600
        f.write("%s %d\n" % (name(t), t))
PY
REAL=$(cut -d' ' -f1 "$W/real")
cut -d' ' -f1 "$W/real" "$W/recent" | sort >"$W/kept.names"
sed 's/$/.dump.enc/' "$W/kept.names" >"$W/kept.objects"
sed 's/$/.dump.manifest/' "$W/kept.names" >>"$W/kept.objects"
sort -o "$W/kept.objects" "$W/kept.objects"

# ---- one real archive on both remotes, 6 recent copies ----
"$GENDUMP" --size 256K --seed 13 "$W/local/$REAL.dump" 2>/dev/null || exit 1
"$BIN" -c "$W/conf" --no-progress push >"$W/push.out" 2>&1 || {
    echo "push failed:" >&2
    cat "$W/push.out" >&2
    exit 1
}
ARCH_BYTES=$(stat -c %s "$SRV/$REAL.dump.enc")
python3 "$HELP" s3-seed "$EP" "$BUCKET" "$PREFIX" "$REAL" "$W/recent" || exit 1
python3 "$HELP" fs-seed "$SRV" "$REAL" "$W/recent" || exit 1
echo "seeding took $(($(date +%s) - T0)) s so far (radosgw and sshd started, 1 archive of $ARCH_BYTES bytes pushed)"

# ---- --prepare: seeded targets and wrappers for an outside timer ----
if [ -n "$PREP" ]; then
    K=$((RUNS + 1))
    cat "$W/real" "$W/recent" "$W/old" >"$W/all"
    mkdir -p "$PREP/logs" "$SSHD_BASE/t" "$W/t"
    for i in $(seq 1 "$K"); do
        for side in a b; do # a: neo4j-offsite, b: rclone
            python3 "$HELP" s3-seed "$EP" "$BUCKET" "$side$i/" "$REAL" "$W/all" "$PREFIX" || exit 1
            mkdir -p "$SSHD_BASE/t/$side$i"
            python3 "$HELP" fs-seed "$SSHD_BASE/t/$side$i" "$REAL" "$W/all" "$SRV" || exit 1
        done
        for store in s3 sftp; do
            sed -e "s|^lock_file = .*|lock_file = $W/t/lock-$store-$i|" \
                -e "s|^prefix = .*|prefix = a$i/|" -e "s|^path = .*|path = $SSHD_BASE/t/a$i|" \
                "$W/conf" >"$W/t/ours-$store-$i.conf"
        done
        awk '/^\[/ {on = ($0 == "[rgw]")} on' "$W/rclone.conf" >"$W/t/rclone-s3-$i.conf"
        awk '/^\[/ {on = ($0 == "[sftp]")} on' "$W/rclone.conf" >"$W/t/rclone-sftp-$i.conf"
    done
    # wrapper KIND COMMAND...: the command with @I@ for the target's number
    wrapper() {
        local kind=$1
        shift
        echo 0 >"$PREP/$kind.used"
        cat >"$PREP/$kind" <<SH
#!/bin/sh
# $kind: the next unused target of $K seeded by bench/prune.sh --prepare
read i <"$PREP/$kind.used" || exit 1
i=\$((i + 1))
[ "\$i" -le $K ] || { echo "$kind: all $K targets are used" >&2; exit 1; }
echo "\$i" >"$PREP/$kind.used"
export AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY
unset AWS_CA_BUNDLE
exec $* >"$PREP/logs/$kind-\$i" 2>&1
SH
        sed -i 's/@I@/$i/g' "$PREP/$kind"
        chmod +x "$PREP/$kind"
    }
    wrapper ours-s3 "$BIN" -c "$W/t/ours-s3-@I@.conf" --no-progress prune --remote s3
    wrapper ours-sftp "$BIN" -c "$W/t/ours-sftp-@I@.conf" --no-progress prune --remote off
    wrapper rclone-s3 rclone --config "$W/t/rclone-s3-@I@.conf" delete --min-age 7d "rgw:$BUCKET/b@I@/"
    wrapper rclone-sftp rclone --config "$W/t/rclone-sftp-@I@.conf" delete --min-age 7d "sftp:$SSHD_BASE/t/b@I@"
    echo "prepared $K targets per tool per store in $(($(date +%s) - T0)) s: $PREP/{ours,rclone}-{s3,sftp};" \
        "waiting for $PREP/stop"
    touch "$PREP/ready"
    waited=0
    while [ ! -e "$PREP/stop" ] && [ "$waited" -lt "${PREPARE_MAX_WAIT:-7200}" ]; do
        sleep 2
        waited=$((waited + 2))
    done
    [ -e "$PREP/stop" ] || echo "no $PREP/stop after ${PREPARE_MAX_WAIT:-7200} s: verifying and stopping" >&2
    bad=0
    {
        for kind in ours-s3 rclone-s3 ours-sftp rclone-sftp; do
            read -r used <"$PREP/$kind.used"
            echo "$kind: $used of $K targets used"
            [ "$used" -gt 0 ] || bad=$((bad + 1))
            for i in $(seq 1 "$used"); do
                case $kind in
                ours-s3) got=$(python3 "$HELP" s3-list "$EP" "$BUCKET" "a$i/" | sort) ;;
                rclone-s3) got=$(python3 "$HELP" s3-list "$EP" "$BUCKET" "b$i/" | sort) ;;
                ours-sftp) got=$(ls -1 "$SSHD_BASE/t/a$i" | sort) ;;
                rclone-sftp) got=$(ls -1 "$SSHD_BASE/t/b$i" | sort) ;;
                esac
                if [ "$got" != "$(cat "$W/kept.objects")" ]; then
                    echo "  ANOMALY: $kind target $i does not hold exactly the 7 recent pairs" \
                        "($(grep -c . <<<"$got") objects, $(grep -cvxFf "$W/kept.objects" <<<"$got") unexpected," \
                        "$(grep -cxFf "$W/kept.objects" <<<"$got") of the 14 kept)"
                    bad=$((bad + 1))
                fi
                [ -s "$PREP/logs/$kind-$i" ] && echo "  $kind $i: $(head -1 "$PREP/logs/$kind-$i")"
            done
        done
        if [ "$bad" = 0 ]; then
            echo "checks: every used target holds exactly the 7 recent pairs"
        else
            echo "$bad anomalies"
        fi
    } | tee "$PREP/verdict"
    grep -q '^checks: every used target' "$PREP/verdict"
    exit $?
fi

# ---- measuring ----
PROBLEMS=0
problem() {
    echo "  ANOMALY: $*" >&2
    PROBLEMS=$((PROBLEMS + 1))
}
seed() { # s3|off
    if [ "$1" = s3 ]; then
        python3 "$HELP" s3-seed "$EP" "$BUCKET" "$PREFIX" "$REAL" "$W/old"
    else
        python3 "$HELP" fs-seed "$SRV" "$REAL" "$W/old"
    fi
}
remaining() { # s3|off: the objects left, sorted
    if [ "$1" = s3 ]; then
        python3 "$HELP" s3-list "$EP" "$BUCKET" "$PREFIX"
    else
        ls -1 "$SRV"
    fi | sort
}
settled_size() { # FILE: its size once it stopped growing (radosgw logs asynchronously)
    local a b
    a=$(stat -c %s "$1")
    while sleep 0.5; b=$(stat -c %s "$1"); [ "$a" != "$b" ]; do a=$b; done
    echo "$b"
}
# measure TARGET TOOL RUN CMD...: times CMD; the server log's slice, the
# tool's stderr and the counts go to $W/res/TARGET-TOOL.*
mkdir -p "$W/res"
measure() {
    local target=$1 tool=$2 run=$3 log off end tag
    shift 3
    tag=$W/res/$target-$tool
    if [ "$target" = s3 ]; then log=$RGWLOG; else log=$SFTPLOG; fi
    off=$(settled_size "$log")
    if ! /usr/bin/time -f "%e %M" -o "$W/t" "$@" >"$tag.out.$run" 2>"$tag.err.$run"; then
        problem "$target $tool run $run failed: $(tail -3 "$tag.err.$run")"
        return 1
    fi
    cat "$W/t" >>"$tag.times"
    end=$(settled_size "$log")
    tail -c +$((off + 1)) "$log" | head -c $((end - off)) >"$tag.log.$run"
    if [ "$target" = s3 ]; then
        python3 "$HELP" count-rgw "$tag.log.$run" >>"$tag.server"
        python3 "$HELP" rgw-seconds "$tag.log.$run" >>"$tag.rgwsec"
        [ "$tool" = n4o ] && python3 "$HELP" count-tool "$tag.err.$run" >>"$tag.own"
    else
        python3 "$HELP" count-sftp "$tag.log.$run" >>"$tag.server"
    fi
    if [ "$(remaining "$target")" != "$(cat "$W/kept.objects")" ]; then
        problem "$target $tool run $run: the remote does not hold exactly the 7 recent pairs" \
            "($(remaining "$target" | wc -l) objects, $(remaining "$target" | grep -cvxFf "$W/kept.objects") unexpected)"
    fi
    return 0
}

for run in $(seq 1 "$RUNS"); do
    for target in s3 off; do
        if [ "$target" = s3 ]; then peer=rgw:$BUCKET/$PREFIX; else peer=sftp:$SRV; fi
        seed "$target" || exit 1
        measure "$target" n4o "$run" "$BIN" -c "$W/conf" -v --no-progress prune --remote "$target"
        seed "$target" || exit 1
        measure "$target" rclone "$run" rclone delete --min-age 7d "$peer"
    done
    echo "run $run done at $(($(date +%s) - T0)) s"
done

# ---- what our tool read and deleted, from the logs of the last run ----
last=$RUNS
# manifests read must be those of kept archives only
grep -oE 's3: GET [^ ?]+\.dump\.manifest( |$)' "$W/res/s3-n4o.err.$last" | sed 's| *$||; s|.*/||; s|\.dump\.manifest$||' |
    sort -u >"$W/s3.read"
grep -oE 'open "[^"]+\.dump\.manifest"' "$W/res/off-n4o.log.$last" | sed 's|.*/||; s|\.dump\.manifest"$||' |
    sort -u >"$W/off.read"
for t in s3 off; do
    extra=$(grep -cvxFf "$W/kept.names" "$W/$t.read")
    [ "$extra" = 0 ] || problem "$t: manifests of $extra deleted archives were read"
done
grep -qE '(^| )DELETE=0( |$)' "$W/res/s3-n4o.own" || problem "S3: single DELETE requests in our own log"
# manifests first, then archives: ceil(N / 1000) DeleteObjects for each
want_posts=$((2 * ((N + 999) / 1000)))
grep -oE 'POST_DELETE=[0-9]+' "$W/res/s3-n4o.server" | sort -u | grep -qx "POST_DELETE=$want_posts" ||
    problem "S3: not $want_posts DeleteObjects requests per run on radosgw"

median() { # FILE COLUMN
    awk -v c="$2" '{print $c}' "$1" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
counts() { # FILE: the counts of the runs, once when they all agree
    local u
    u=$(sed 's/\([A-Za-z_]*\)=0 //g; s/ [A-Za-z_]*=0$//' "$1" | sort -u)
    if [ "$(wc -l <<<"$u")" = 1 ]; then echo "$u"; else echo "$u" | paste -sd'|' | sed 's/|/ \/ /g'; fi
}

echo
echo "N = $N expired archives ($((2 * N)) objects) + 7 recent pairs, $RUNS runs each (median)," \
    "archive $ARCH_BYTES bytes; radosgw $(radosgw --version | awk '{print $3}'), $(rclone version | head -1)," \
    "$(sshd -V 2>&1 | head -1 | cut -d, -f1); $(nproc) cores; total $(($(date +%s) - T0)) s;" \
    "load average at start $LOAD0, at end $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| target | tool | median wall s | peak RSS MiB | requests per run, server's log | requests per run, tool's -v log |"
echo "|---|---|---|---|---|---|"
for target in s3 off; do
    for tool in n4o rclone; do
        f=$W/res/$target-$tool
        [ -s "$f.times" ] || continue
        w=$(median "$f.times" 1)
        r=$(median "$f.times" 2)
        own=-
        [ -s "$f.own" ] && own=$(counts "$f.own")
        name=$tool
        [ "$tool" = n4o ] && name="neo4j-offsite prune"
        [ "$tool" = rclone ] && name="rclone delete --min-age 7d"
        tname="radosgw (S3)"
        [ "$target" = off ] && tname="OpenSSH sftp"
        printf '| %s | %s | %s | %.1f | %s | %s |\n' "$tname" "$name" "$w" "$(echo "$r / 1024" | bc -l)" \
            "$(counts "$f.server")" "$own"
        echo "$w" >"$f.median"
    done
done
echo
for target in s3 off; do
    a=$W/res/$target-n4o.median b=$W/res/$target-rclone.median
    [ -s "$a" ] && [ -s "$b" ] &&
        printf '%s: neo4j-offsite / rclone wall time = %.2f\n' "$target" "$(echo "$(cat "$a") / $(cat "$b")" | bc -l)"
done
echo "wall times per run:"
for f in "$W"/res/*.times; do echo "  $(basename "$f" .times): $(cut -d' ' -f1 "$f" | paste -sd' ')"; done
echo "radosgw's own time per run (sum of the latencies it logs; concurrent requests add up):"
for f in "$W"/res/*.rgwsec; do
    echo "  $(basename "$f" .rgwsec): $(paste -sd'|' "$f" | sed 's/|/ | /g')"
done
echo "rclone deletes by modification time (x-amz-meta-mtime on S3, read with a HEAD per object;"
echo "the file's mtime on SFTP) and knows nothing of manifests, min_keep, keep_weekly or"
echo "incomplete uploads; neo4j-offsite judges the names and reads the manifests of the kept ones."
[ "$PROBLEMS" = 0 ] && echo "checks: after every run exactly the 7 recent pairs remained" ||
    echo "$PROBLEMS anomalies (above, on stderr)"
[ "$PROBLEMS" = 0 ]
