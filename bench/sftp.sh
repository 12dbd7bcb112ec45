#!/usr/bin/env bash
# SFTP remote against OpenSSH's sftp client (and rclone crypt when rclone is
# installed), on a loopback sshd started by tests/tools/sshd_harness.sh, and
# again through tests/tools/delay_proxy.c (25 ms each way = 50 ms RTT).
#   [STREAMS=N] bench/sftp.sh [BUILD_DIR] [SIZE] [RUNS] [DELAY_RUNS]   (build 1G 3 1)
# Each line: median wall seconds, peak RSS, CPU seconds of the process (user
# + sys, /usr/bin/time) and of the whole machine (sshd and proxy included) over
# RUNS alternating runs.  neo4j-offsite backup runs online (stop_command
# unset) with --no-local-copy, so the dump streams to the server.
set -uo pipefail
B=$(cd "${1:-build}" && pwd)
SIZE=${2:-1G}
RUNS=${3:-3}
DRUNS=${4:-1}
STREAMS=${STREAMS:-} # parallel_streams for neo4j-offsite (default: the tool's)
SRC=$(cd "$(dirname "$0")/.." && pwd)
export N4O_BUILD=$B N4O_SOURCE=$SRC N4O_BIN=$B/neo4j-offsite
. "$SRC/tests/e2e/common.bash" # $T, cleanup, seed_db, keygen
. "$SRC/tests/tools/sshd_harness.sh"
sshd_start bench || exit 1
PORT=$SSHD_PORT
KH=$T/known_hosts
sshd_known_line bench "$PORT" ed25519 >"$KH"
sshd_delay_proxy "$PORT" 25
DPORT=$PROXY_PORT
sshd_known_line bench "$DPORT" ed25519 >>"$KH"
KEY=$SSHD_BASE/user/id_ed25519
keygen
"$B/gendump" --size "$SIZE" --seed 7 "$T/d.dump" 2>/dev/null
seed_db neo4j "$T/d.dump"
echo "dump: $(stat -c %s "$T/d.dump") bytes; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"

n4o_conf() { # PORT DIR
    cat >"$T/conf.$1" <<CONF
[general]
lock_file = $T/lock
[neo4j]
database = neo4j
dump_command = $SRC/tests/tools/neo4j-admin database dump --to-stdout {database}
[local]
directory = $T/local
name_prefix = bench
[keys]
public_key = $T/keys/archive.pub
signing_key = $T/keys/signing.key
secret_key = $T/keys/archive.key
verify_key = $T/keys/signing.pub
[remote "off"]
type = sftp
host = 127.0.0.1
port = $1
user = $SSHD_USER
identity_file = $KEY
known_hosts = $KH
path = $2
${STREAMS:+parallel_streams = $STREAMS}
CONF
}
n4o_conf "$PORT" "$SSHD_BASE/n4o"
n4o_conf "$DPORT" "$SSHD_BASE/n4o-delay"
mkdir -p "$T/local" "$SSHD_BASE/ossh"

sftp_batch() { # PORT COMMAND: prints the command to measure
    printf '%s\n' "$2" >"$T/batch.$1"
    echo sftp -q -b "$T/batch.$1" -i "$KEY" -o UserKnownHostsFile="$KH" \
        -o StrictHostKeyChecking=yes -P "$1" "$SSHD_USER@127.0.0.1"
}

HAVE_RCLONE=0
if command -v rclone >/dev/null; then
    HAVE_RCLONE=1
    RCONF=$T/rclone.conf
    pass=$(rclone obscure "bench-password")
    # rclone may pick either host key type
    for p in "$PORT" "$DPORT"; do
        sshd_known_line bench "$p" ed25519
        sshd_known_line bench "$p" ecdsa
    done >"$T/known_hosts.rclone"
    for p in "$PORT" "$DPORT"; do
        cat >>"$RCONF" <<EOF
[s$p]
type = sftp
host = 127.0.0.1
port = $p
user = $SSHD_USER
key_file = $KEY
known_hosts_file = $T/known_hosts.rclone
[c$p]
type = crypt
remote = s$p:$SSHD_BASE/rclone
password = $pass
EOF
    done
fi

. "$SRC/bench/machine_cpu.bash"

# measure LABEL CMD...: "wall rss_kib user sys machine_cpu" into $T/times.LABEL
measure() {
    local label=$1 c0
    shift
    c0=$(machine_cpu)
    if /usr/bin/time -f "%e %M %U %S" -o "$T/one" "$@" >/dev/null 2>"$T/err.$label"; then
        echo "$(cat "$T/one") $(echo "$(machine_cpu) - $c0" | bc)" >>"$T/times.$label"
    else
        echo "  ($label failed: $(tail -1 "$T/err.$label"))" >&2
    fi
}

median() { # LABEL -> "wall_s rss_MiB cpu_s machine_s"
    local f="$T/times.$1"
    [ -s "$f" ] || { echo "- - - -"; return; }
    local w r c m
    w=$(cut -d' ' -f1 "$f" | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
    r=$(cut -d' ' -f2 "$f" | sort -g | awk '{a[NR]=$1} END{printf "%.1f", a[int((NR+1)/2)]/1024}')
    c=$(awk '{print $3 + $4}' "$f" | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
    m=$(cut -d' ' -f5 "$f" | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
    echo "$w $r $c $m"
}

round() { # PORT RUNS TAG
    local p=$1 i
    for i in $(seq "$2"); do
        measure "$3-n4o-backup" "$B/neo4j-offsite" -c "$T/conf.$p" --no-progress backup \
            --remote off --no-local-copy
        measure "$3-n4o-fetch" "$B/neo4j-offsite" -c "$T/conf.$p" --no-progress fetch \
            --remote off --latest --output "$T/fetched"
        cmp -s "$T/fetched" "$T/d.dump" || echo "  fetched dump differs!" >&2
        rm -f "$T/fetched"
        measure "$3-ossh-put" $(sftp_batch "$p" "put $T/d.dump $SSHD_BASE/ossh/d.dump")
        measure "$3-ossh-get" $(sftp_batch "$p" "get $SSHD_BASE/ossh/d.dump $T/got")
        rm -f "$T/got" "$SSHD_BASE/ossh/d.dump"
        if [ "$HAVE_RCLONE" = 1 ]; then
            measure "$3-rclone-rcat" sh -c "rclone --config '$RCONF' rcat c$p:d.dump < '$T/d.dump'"
            measure "$3-rclone-cat" sh -c "rclone --config '$RCONF' cat c$p:d.dump > '$T/got'"
            rm -f "$T/got"
            rclone --config "$RCONF" deletefile "c$p:d.dump" 2>/dev/null
        fi
        # keep the server small: drop this run's archives
        rm -rf "$SSHD_BASE/n4o" "$SSHD_BASE/n4o-delay"
        sleep 1 # archive names have a one-second resolution
    done
}

round "$PORT" "$RUNS" loop
round "$DPORT" "$DRUNS" rtt50

printf '\n%-8s %-14s %8s %9s %7s %9s\n' link what wall_s rss_MiB cpu_s machine_s
for tag in loop rtt50; do
    for what in n4o-backup ossh-put rclone-rcat n4o-fetch ossh-get rclone-cat; do
        [ -s "$T/times.$tag-$what" ] || continue
        read -r w r c m <<<"$(median "$tag-$what")"
        printf '%-8s %-14s %8s %9s %7s %9s\n' "$tag" "$what" "$w" "$r" "$c" "$m"
    done
done
echo "runs: loopback $RUNS, 50 ms RTT $DRUNS (median of the runs)"
