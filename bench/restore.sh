#!/usr/bin/env bash
# Restore RTO (issue 14): how long a fresh host takes to get Neo4j back
# from SFTP (a real OpenSSH sshd, tests/tools/sshd_harness.sh) and from S3
# (Ceph radosgw, tests/tools/rgw_harness.sh), both on 127.0.0.1, against
# the floor of doing it by hand: fetch the dump, then load it.
#   bench/restore.sh [BUILD_DIR] [SIZE] [RUNS]      (build 1G 5)
# SIZE is gendump's --size (plaintext; the dump is smaller, printed).  One
# archive of that dump is backed up to both remotes, then, alternately,
# RUNS times after one warm-up, for each remote:
#   A  neo4j-offsite restore --latest --yes --database neo4j
#      on a fresh target: the stand-in Neo4j (tests/tools/neo4j-admin) has
#      no database and the local directory is empty, so the archive is
#      downloaded, verified and staged, and there is no safety dump to take
#      (stop, version, load and start commands are set, as on a real host);
#   B  neo4j-offsite fetch --latest --output FILE, then
#      neo4j-admin database load --from-stdin --overwrite-destination=true
#      neo4j < FILE (the stand-in), as one command.
# Each is a wrapper (plain sh, in the work directory's wrappers/) that
# first empties its target (the stand-in's home, the local directory,
# FILE) and notes what the previous run left (store size, the stand-in's
# events), then execs the tool; its output goes to a file.  Timed with
# /usr/bin/time: wall, user + sys of every process waited for, peak RSS
# of the largest.  Then once per remote, reported apart: A onto a target
# that already holds a SIZE database (another one) and runs, so the safety
# dump is taken.  Then one more A and B per remote, untimed by /usr/bin/time:
# A's -v log lines stamped as they come (start-up and version_command;
# download + verify + stage; stop + safety dump; load; start), B's fetch and
# load apart.  After the runs the last target of each kind must hold the
# dump byte for byte (and the safety dump the previous store).
#
#   bench/restore.sh BUILD_DIR SIZE RUNS --prepare DIR
# leaves the timing to an outside harness: it starts the same servers,
# backs up, writes the wrappers DIR/restore-sftp, DIR/fetchload-sftp,
# DIR/restore-s3, DIR/fetchload-s3 (any number of runs each) and
# DIR/safety-sftp, DIR/safety-s3 (one run each), creates DIR/ready and
# keeps the servers up until DIR/stop exists (at most PREPARE_MAX_WAIT
# seconds, default 7200); then it checks every target as above: the
# verdict goes to stdout and DIR/verdict, the status is 0 only if all pass.
# KEEP=1 keeps the work directory.
set -uo pipefail
PREP=
if [ $# -ge 5 ] && [ "$4" = --prepare ]; then
    PREP=$5
    mkdir -p "$PREP" || exit 1
    PREP=$(cd "$PREP" && pwd)
    rm -f "$PREP/ready" "$PREP/stop" "$PREP/verdict"
elif [ $# -gt 3 ]; then
    echo "usage: $0 [BUILD_DIR] [SIZE] [RUNS] [--prepare DIR]" >&2
    exit 2
fi
B=$(cd "${1:-build}" && pwd)
SIZE=${2:-1G}
RUNS=${3:-5}
SRC=$(cd "$(dirname "$0")/.." && pwd)
BIN=$B/neo4j-offsite
STANDIN=$SRC/tests/tools/neo4j-admin
[ -x "$B/gendump" ] || {
    echo "no $B/gendump: build the project first" >&2
    exit 1
}
. "$SRC/tests/tools/rgw_harness.sh"
rgw_available >/dev/null || {
    rgw_available
    exit 1
}
. "$SRC/tests/tools/sshd_harness.sh" # exits 77 without sshd
W=$(mktemp -d /tmp/n4o-restorebench.XXXXXX)
trap 'rgw_stop; sshd_stop_all; [ -n "${KEEP:-}" ] && echo "kept $W" || rm -rf "$W"' EXIT
T0=$(date +%s)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
WR=${PREP:-$W/wrappers}
mkdir -p "$WR/logs" "$W/keys" "$W/t"

BUCKET=bench
RGW_BLOCK_SIZE=$((16 * 1024 * 1024 * 1024)) rgw_start "$W/rgw" "$BUCKET" || exit 1
sshd_start restore || exit 1
SRV=$W/srv
KEY=$SSHD_BASE/user/id_ed25519
sshd_known_line restore "$SSHD_PORT" ed25519 >"$W/known_hosts"
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
    "$RGW_ACCESS_KEY" "$RGW_SECRET_KEY" >"$W/keys/aws-credentials"
chmod 600 "$W/keys/aws-credentials"
"$BIN" keygen --out "$W/keys" >/dev/null || exit 1
"$B/gendump" --size "$SIZE" --seed 7 "$W/src.dump" 2>/dev/null || exit 1
DUMP_BYTES=$(stat -c %s "$W/src.dump")

remotes() {
    cat <<CONF
[remote "off"]
type = sftp
host = 127.0.0.1
port = $SSHD_PORT
user = $SSHD_USER
identity_file = $KEY
known_hosts = $W/known_hosts
path = $SRV

[remote "s3"]
type = s3
endpoint = http://127.0.0.1:$RGW_PORT
region = us-east-1
bucket = $BUCKET
prefix = n4o/
credentials = $W/keys/aws-credentials
CONF
}
# conf FILE LOCAL_DIR LOCK KEYS REMOTE_SECTION
conf() {
    cat >"$1" <<CONF
[general]
lock_file = $3
[neo4j]
database      = neo4j
dump_command  = $STANDIN database dump --to-stdout {database}
load_command  = $STANDIN database load --from-stdin --overwrite-destination=true {database}
stop_command  = $STANDIN server stop
start_command = $STANDIN server start
version_command = $STANDIN --version
command_timeout = 1h
[local]
directory   = $2
name_prefix = bench
[keys]
$4

$5
CONF
}
conf "$W/backup.conf" "$W/local" "$W/backup.lock" \
    "public_key = $W/keys/archive.pub
signing_key = $W/keys/signing.key" "$(remotes)"
sed -i "s|^dump_command .*|dump_command  = cat $W/src.dump|; /^stop_command/d; /^start_command/d" "$W/backup.conf"
NEO4J_STANDIN_HOME=$W/backup-neo4j "$BIN" -c "$W/backup.conf" --no-progress backup --no-local-copy \
    >"$W/backup.out" 2>&1 || {
    echo "backup failed:" >&2
    cat "$W/backup.out" >&2
    exit 1
}
ARCH_BYTES=$(stat -c %s "$(ls "$SRV"/*.dump.enc)")
echo "backed up $DUMP_BYTES dump bytes ($SIZE plaintext) as a $ARCH_BYTES-byte archive to sftp and s3" \
    "in $(($(date +%s) - T0)) s since start"

# The restore host's config for KIND, one remote only (sftp: off, s3: s3).
section() { remotes | awk -v want="[remote \"$1\"]" '/^\[/ {on = ($0 == want)} on'; }
RKEYS="secret_key = $W/keys/archive.key
verify_key = $W/keys/signing.pub"
declare -A RNAME=([sftp]=off [s3]=s3)
for kind in sftp s3; do
    for role in restore fetchload safety; do
        mkdir -p "$W/t/$role-$kind"
        conf "$W/t/$role-$kind.conf" "$W/t/$role-$kind/local" "$W/t/$role-$kind.lock" "$RKEYS" \
            "$(section "${RNAME[$kind]}")"
    done
done

# wrapper NAME: DIR/NAME, a plain sh script; its body ($2) runs on the
# fresh target $t after the bookkeeping.
wrapper() {
    local name=$1 t=$W/t/$1
    cat >"$WR/$name" <<SH
#!/bin/sh
# $name: see bench/restore.sh (target $t)
t=$t
read n 2>/dev/null <"\$t.runs" || n=0
if [ "\$n" -gt 0 ]; then
    echo "run \$n: store \$(stat -c %s "\$t/neo4j/databases/neo4j/store.dump" 2>/dev/null || echo none) bytes;" \\
        "events: \$(tr '\\n' ' ' <"\$t/neo4j/events.log" 2>/dev/null)" >>"\$t.checks"
fi
n=\$((n + 1))
echo "\$n" >"\$t.runs"
rm -rf "\$t/neo4j" "\$t/local" "\$t/fetched.dump"
mkdir -p "\$t/neo4j" "\$t/local"
export NEO4J_STANDIN_HOME="\$t/neo4j"
$2
SH
    chmod +x "$WR/$name"
}
for kind in sftp s3; do
    wrapper "restore-$kind" "exec $BIN -c $W/t/restore-$kind.conf --no-progress restore --latest --yes --database neo4j \\
    >\"$WR/logs/restore-$kind.\$n\" 2>&1"
    wrapper "fetchload-$kind" "$BIN -c $W/t/fetchload-$kind.conf --no-progress fetch --latest --output \"\$t/fetched.dump\" \\
    >\"$WR/logs/fetchload-$kind.\$n\" 2>&1 || exit 1
exec $STANDIN database load --from-stdin --overwrite-destination=true neo4j <\"\$t/fetched.dump\" \\
    >>\"$WR/logs/fetchload-$kind.\$n\" 2>&1"
    # once: onto a running Neo4j that holds another database of that size
    t=$W/t/safety-$kind
    cat >"$WR/safety-$kind" <<SH
#!/bin/sh
# safety-$kind: see bench/restore.sh (target $t, one run)
[ -e "$t.runs" ] && { echo "safety-$kind: its one target is used" >&2; exit 1; }
echo 1 >"$t.runs"
export NEO4J_STANDIN_HOME="$t/neo4j"
exec $BIN -c $t.conf --no-progress restore --latest --yes --database neo4j >"$WR/logs/safety-$kind" 2>&1
SH
    chmod +x "$WR/safety-$kind"
    mkdir -p "$t/neo4j/databases/neo4j" "$t/local"
done
"$B/gendump" --size "$SIZE" --seed 8 "$W/old.dump" 2>/dev/null || exit 1
for kind in sftp s3; do
    cp "$W/old.dump" "$W/t/safety-$kind/neo4j/databases/neo4j/store.dump"
    NEO4J_STANDIN_HOME=$W/t/safety-$kind/neo4j "$STANDIN" server start >/dev/null
done
sync

# ---- the checks: every target's last run left the dump, byte for byte ----
verdict() {
    local bad=0 kind role t n odd
    for kind in sftp s3; do
        for role in restore fetchload; do
            t=$W/t/$role-$kind
            read -r n <"$t.runs" 2>/dev/null || n=0
            echo "$role-$kind: $n runs"
            odd=$(grep -v "store $DUMP_BYTES bytes;.* load neo4j" "$t.checks" 2>/dev/null)
            if [ -n "$odd" ]; then
                sed 's/^/  ANOMALY: /' <<<"$odd"
                bad=$((bad + 1))
            fi
            if [ "$n" -gt 0 ] && ! cmp -s "$t/neo4j/databases/neo4j/store.dump" "$W/src.dump"; then
                echo "  ANOMALY: after run $n the store is not the dump"
                bad=$((bad + 1))
            fi
            if [ "$n" -gt 0 ] && [ "$role" = restore ]; then
                tail -1 "$WR/logs/$role-$kind.$n" | sed 's/^/  last run: /'
            fi
        done
        t=$W/t/safety-$kind
        if [ -e "$t.runs" ]; then
            if cmp -s "$t/neo4j/databases/neo4j/store.dump" "$W/src.dump" &&
                cmp -s "$(ls "$t"/local/bench_neo4j_pre_restore_*.dump)" "$W/old.dump"; then
                echo "safety-$kind: restored; the safety dump holds the previous store"
            else
                echo "  ANOMALY: safety-$kind: store or safety dump wrong"
                bad=$((bad + 1))
            fi
        fi
    done
    if [ "$bad" = 0 ]; then echo "checks: every target holds the dump"; else echo "$bad anomalies"; fi
}

if [ -n "$PREP" ]; then
    echo "prepared in $(($(date +%s) - T0)) s: $PREP/{restore,fetchload,safety}-{sftp,s3}; waiting for $PREP/stop"
    touch "$PREP/ready"
    waited=0
    while [ ! -e "$PREP/stop" ] && [ "$waited" -lt "${PREPARE_MAX_WAIT:-7200}" ]; do
        sleep 2
        waited=$((waited + 2))
    done
    verdict | tee "$PREP/verdict"
    grep -q '^checks: every target' "$PREP/verdict"
    exit $?
fi

# ---- measuring ----
measure() { # NAME: appends "wall rss_kib user sys" to $W/res.NAME
    if ! /usr/bin/time -f "%e %M %U %S" -o "$W/one" "$WR/$1" >/dev/null 2>"$W/err.$1"; then
        echo "  ANOMALY: $1 failed: $(tail -3 "$W/err.$1")" >&2
        return 1
    fi
    cat "$W/one" >>"$W/res.$1"
}
for i in $(seq 0 "$RUNS"); do # run 0: the warm-up, not counted
    for kind in sftp s3; do
        measure "restore-$kind"
        measure "fetchload-$kind"
    done
    [ "$i" = 0 ] && rm -f "$W"/res.*
    echo "run $i done at $(($(date +%s) - T0)) s"
done
for kind in sftp s3; do measure "safety-$kind"; done

# ---- where the time goes: one more run of each, its -v log lines stamped ----
stamp() { while IFS= read -r l; do echo "$EPOCHREALTIME $l"; done; }
for kind in sftp s3; do
    t=$W/t/restore-$kind
    rm -rf "$t/neo4j" "$t/local"
    mkdir -p "$t/neo4j" "$t/local"
    t0=$EPOCHREALTIME
    NEO4J_STANDIN_HOME=$t/neo4j "$BIN" -c "$t.conf" -v --no-progress restore --latest --yes --database neo4j \
        2>&1 >/dev/null | stamp >"$W/phases.restore-$kind"
    t1=$EPOCHREALTIME
    awk -v t0="$t0" -v t1="$t1" -v k="$kind" '
        / downloading /        { d = $1 }
        / verified \(/         { v = $1 }
        /running stop_command/ { s = $1 }
        / loading /            { l = $1 }
        / loaded from /        { e = $1 }
        END { printf "%s restore: %.2f s: start-up and version %.2f, download + verify + stage %.2f, " \
                     "stop + safety dump %.2f, load %.2f, start and the rest %.2f\n", k, t1 - t0, d - t0,
                     v - d, l - s, e - l, t1 - e }' "$W/phases.restore-$kind"
    t=$W/t/fetchload-$kind
    rm -rf "$t/neo4j" "$t/fetched.dump"
    mkdir -p "$t/neo4j"
    t0=$EPOCHREALTIME
    "$BIN" -c "$t.conf" --no-progress fetch --latest --output "$t/fetched.dump" >/dev/null 2>&1
    t1=$EPOCHREALTIME
    NEO4J_STANDIN_HOME=$t/neo4j "$STANDIN" database load --from-stdin --overwrite-destination=true neo4j \
        <"$t/fetched.dump" >/dev/null 2>&1
    t2=$EPOCHREALTIME
    awk -v k="$kind" -v t0="$t0" -v t1="$t1" -v t2="$t2" \
        'BEGIN { printf "%s fetch, then load: %.2f s: fetch %.2f, load %.2f\n", k, t2 - t0, t1 - t0, t2 - t1 }'

done

med() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo
echo "$DUMP_BYTES-byte dump ($SIZE plaintext, $ARCH_BYTES-byte archive), $RUNS runs each after a warm-up" \
    "(median); radosgw $(radosgw --version | awk '{print $3}'), $(sshd -V 2>&1 | head -1 | cut -d, -f1);" \
    "$(nproc) cores, $(free -g | awk '/^Mem/ {print $2}') GiB; $(date -u +%Y-%m-%d);" \
    "load average at start $LOAD0, at end $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| remote | command | wall s | CPU s | peak RSS MiB |"
echo "|---|---|---|---|---|"
for kind in sftp s3; do
    for what in restore fetchload safety; do
        f=$W/res.$what-$kind
        [ -s "$f" ] || continue
        printf '| %s | %s | %s | %s | %.1f |\n' "$kind" "$what" "$(cut -d' ' -f1 "$f" | med)" \
            "$(awk '{print $3 + $4}' "$f" | med)" "$(cut -d' ' -f2 "$f" | med | awk '{print $1 / 1024}')"
    done
done
echo
for kind in sftp s3; do
    a=$W/res.restore-$kind b=$W/res.fetchload-$kind
    [ -s "$a" ] && [ -s "$b" ] || continue
    printf '%s: A/B wall, ratio of the medians %.3f; pair by pair %s\n' "$kind" \
        "$(echo "$(cut -d' ' -f1 "$a" | med) / $(cut -d' ' -f1 "$b" | med)" | bc -l)" \
        "$(paste -d' ' <(cut -d' ' -f1 "$a") <(cut -d' ' -f1 "$b") | awk '{printf "%.3f ", $1 / $2}')"
done
echo "wall times per run:"
for f in "$W"/res.*; do echo "  ${f##*/res.}: $(cut -d' ' -f1 "$f" | paste -sd' ')"; done
echo
verdict
echo "total $(($(date +%s) - T0)) s"
