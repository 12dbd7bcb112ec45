#!/usr/bin/env bash
# User story: the backup host is gone.  A fresh host holding only a config,
# archive.key, signing.pub and the remote's credentials rebuilds Neo4j from
# the off-site copies: from a real OpenSSH sshd (SFTP) and from Ceph
# radosgw (S3), both on 127.0.0.1.  Independent clients (OpenSSH's sftp,
# boto3) see what the backup host published; `restore --latest
# --all-databases --yes` loads system, then neo4j, byte for byte, and keeps
# the verified dumps in the local directory; a tampered newest archive is
# refused (exit 4, the newest older archive that verifies named) with Neo4j
# untouched and nothing left behind; a first remote that cannot be reached
# is passed over, and said.  Neo4j is the stand-in tests/tools/neo4j-admin.
# Without radosgw the S3 part is skipped (said) and the SFTP part still
# runs; restore.sh covers the rest of restore on local remotes.
. "$(dirname "$0")/common.bash"

HAVE_SFTP=1 HAVE_S3=1
if [ -x /usr/sbin/sshd ] && command -v ssh-keygen >/dev/null && command -v sftp >/dev/null; then
    . "$N4O_SOURCE/tests/tools/sshd_harness.sh"
else
    echo "SKIP (in part): SFTP: OpenSSH's sshd, sftp or ssh-keygen is missing (apt-get install openssh-server)"
    HAVE_SFTP=0
fi
. "$N4O_SOURCE/tests/tools/rgw_harness.sh"
if ! why=$(rgw_available); then
    echo "SKIP (in part): S3: $why"
    HAVE_S3=0
elif ! python3 -c 'import boto3' 2>/dev/null; then
    echo "SKIP (in part): S3: python3-boto3 is not installed"
    HAVE_S3=0
fi
[ "$HAVE_SFTP" = 0 ] && [ "$HAVE_S3" = 0 ] && exit 77
trap 'rgw_stop; declare -F sshd_stop_all >/dev/null && sshd_stop_all; e2e_cleanup' EXIT
SECONDS=0

keygen
"$STANDIN" server start >/dev/null
# The archived state A (real dumps when ../shared is there); A2, a newer
# neo4j that is then tampered with on the remote.
archived_dumps
gen_dump "$T/A2.neo4j" 200K 13

free_tcp_port() { # a port nothing listens on (bound, then released)
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
DEAD_PORT=$(free_tcp_port)

# host_conf FILE ROOT KEYS REMOTES: a host's config; ROOT holds its lock and
# its local directory; KEYS the [keys] lines; REMOTES the remote sections.
host_conf() {
    mkdir -p "$2/local"
    cat >"$1" <<CONF
[general]
lock_file = $2/run/lock

[neo4j]
database      = neo4j, system
dump_command  = $STANDIN database dump --to-stdout {database}
load_command  = $STANDIN database load --from-stdin --overwrite-destination=true {database}
stop_command  = $STANDIN server stop
start_command = $STANDIN server start
version_command = $STANDIN --version
command_timeout = 2m

[local]
directory   = $2/local
name_prefix = haia_backup

[keys]
$3

$4
CONF
}
BACKUP_KEYS="public_key  = $T/keys/archive.pub
signing_key = $T/keys/signing.key"

# fresh_host DIR: new directories holding archive.key and signing.pub only,
# an empty Neo4j (the stand-in's home) and an empty local directory.
fresh_host() {
    mkdir -p "$1/keys" "$1/local" "$1/neo4j"
    cp "$T/keys/archive.key" "$T/keys/signing.pub" "$1/keys/"
}
dr_keys() { # DIR
    printf 'secret_key  = %s\nverify_key  = %s\n' "$1/keys/archive.key" "$1/keys/signing.pub"
}

# on_host EXPECTED HOME CONF ARGS...: the binary with that config and that
# Neo4j (NEO4J_STANDIN_HOME), no AWS_* from the environment; output in
# $T/out and $T/err.
on_host() {
    local want=$1 home=$2 conf=$3 got
    shift 3
    env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
        NEO4J_STANDIN_HOME="$home" "$N4O_BIN" -c "$conf" --no-progress "$@" >"$T/out" 2>"$T/err"
    got=$?
    if [ "$got" = "$want" ]; then
        ok "$(basename "$conf"): neo4j-offsite $* -> exit $got"
    else
        bad "$(basename "$conf"): neo4j-offsite $* -> exit $got, expected $want"
        sed 's/^/    stderr: /' "$T/err" | tail -20
        sed 's/^/    stdout: /' "$T/out" | tail -10
    fi
}

# dead_remote DIR: an SFTP remote on a port nothing listens on
dead_remote() {
    cat <<SEC
[remote "dead"]
type = sftp
host = 127.0.0.1
port = $DEAD_PORT
user = $(id -un)
identity_file = $1/keys/id_ed25519
known_hosts = $1/keys/known_hosts
path = /srv/nowhere
connect_timeout = 1s
retries = 0
SEC
}

newest_of() { # DB: the newest archive name of DB in the remote's listing on stdin
    grep -E "^haia_backup_$1_[0-9]{8}_[0-9]{6}\.dump\.enc$" | sort | tail -1 | sed 's/\.dump\.enc$//'
}

# dr_scenario KIND REMOTE: the whole story on one remote type.  Uses the
# functions KIND_remote DIR (the section, credentials under DIR/keys),
# KIND_creds DIR (puts the credentials there), KIND_list (the names on the
# remote, by an independent client), KIND_tamper NAME / KIND_repair NAME.
dr_scenario() {
    local K=$1 R=$2 BK="$T/$1-backup" DR="$T/$1-dr" listing m t0 A_NEO4J A_SYSTEM A2
    echo "---- $K ----"
    # -- the backup host publishes real dumps of neo4j and system --
    seed_db neo4j "$T/A.neo4j"
    seed_db system "$T/A.system"
    mkdir -p "$BK/keys"
    "${K}_creds" "$BK"
    host_conf "$BK/conf" "$BK" "$BACKUP_KEYS" "$("${K}_remote" "$BK")"
    on_host 0 "$NEO4J_STANDIN_HOME" "$BK/conf" backup
    expect_in "$T/out" "remotes: $R ok"
    listing=$("${K}_list")
    A_NEO4J=$(newest_of neo4j <<<"$listing")
    A_SYSTEM=$(newest_of system <<<"$listing")
    check "$K: the independent client lists an archive of neo4j and of system" \
        test -n "$A_NEO4J" -a -n "$A_SYSTEM"
    check_eq "$K: ... each with its manifest, nothing else" "$(sort <<<"$listing" | tr '\n' ' ')" \
        "$A_NEO4J.dump.enc $A_NEO4J.dump.manifest $A_SYSTEM.dump.enc $A_SYSTEM.dump.manifest "

    # -- a fresh host rebuilds both databases in one command --
    fresh_host "$DR"
    "${K}_creds" "$DR"
    host_conf "$DR/conf" "$DR" "$(dr_keys "$DR")" "$("${K}_remote" "$DR")"
    on_host 0 "$DR/neo4j" "$DR/conf" restore --latest --all-databases --yes
    check "$K DR: neo4j identical to the backed-up dump" same "$DR/neo4j/databases/neo4j/store.dump" "$T/A.neo4j"
    check "$K DR: system identical to the backed-up dump" same "$DR/neo4j/databases/system/store.dump" "$T/A.system"
    check_eq "$K DR: system loaded before neo4j (events.log)" \
        "$(grep -o '^load [a-z0-9]*$' "$DR/neo4j/events.log" | tr '\n' ' ')" "load system load neo4j "
    check_eq "$K DR: one stop, the loads, one start (no safety dump: nothing to save)" \
        "$(grep -E '^(stop|start)$|^(dump|load) ' "$DR/neo4j/events.log" | tr '\n' ' ')" \
        "stop load system load neo4j start "
    check "$K DR: the verified neo4j dump stays in the local directory" same "$DR/local/$A_NEO4J.dump" "$T/A.neo4j"
    check "$K DR: the verified system dump stays in the local directory" same "$DR/local/$A_SYSTEM.dump" "$T/A.system"
    check_eq "$K DR: nothing else in the local directory (no safety dump of nothing, no .partial)" \
        "$(ls -A "$DR/local" | tr '\n' ' ')" "$(printf '%s\n' "$A_NEO4J.dump" "$A_SYSTEM.dump" | sort | tr '\n' ' ')"
    expect_in "$T/out" "restored database neo4j from $A_NEO4J \(remote $R"
    expect_in "$T/out" "restored database system from $A_SYSTEM \(remote $R"
    expect_in "$T/err" "database system does not exist yet"
    check "$K DR: Neo4j running" test -e "$DR/neo4j/running"

    # -- the first remote cannot be reached: the next one, said --
    host_conf "$DR/conf.dead-first" "$DR" "$(dr_keys "$DR")" "$(dead_remote "$DR")

$("${K}_remote" "$DR")"
    rm -f "$DR/local/$A_NEO4J.dump" # downloaded again, from the second remote
    t0=$SECONDS
    on_host 0 "$DR/neo4j" "$DR/conf.dead-first" restore --latest --yes
    echo "    (restore past the unreachable remote took $((SECONDS - t0)) s)"
    expect_in "$T/err" "remote dead: .*trying the next remote, $R"
    expect_in "$T/err" "downloading $A_NEO4J from remote $R"
    expect_in "$T/out" "restored database neo4j from $A_NEO4J \(remote $R"
    check "$K: past the dead remote: neo4j holds the archive" same "$DR/neo4j/databases/neo4j/store.dump" "$T/A.neo4j"
    on_host 1 "$DR/neo4j" "$DR/conf.dead-first" restore --latest --yes --remote dead
    check "$K: --remote dead given: no other remote tried" test "$(grep -c 'trying the next remote' "$T/err")" = 0

    # -- a newer neo4j archive, tampered with on the remote --
    seed_db neo4j "$T/A2.neo4j"
    sleep 1 # a name of its own without borrowing the next second
    on_host 0 "$NEO4J_STANDIN_HOME" "$BK/conf" backup --database neo4j --no-local-copy
    A2=$("${K}_list" | newest_of neo4j)
    check "$K: a second, newer neo4j archive" test -n "$A2" -a "$A2" != "$A_NEO4J"
    "${K}_tamper" "$A2"
    cp "$DR/neo4j/databases/neo4j/store.dump" "$T/before.neo4j"
    cp "$DR/neo4j/databases/system/store.dump" "$T/before.system"
    ls -A "$DR/local" >"$T/before.local"
    m=$(wc -l <"$DR/neo4j/events.log")
    on_host 4 "$DR/neo4j" "$DR/conf" restore --latest --yes
    expect_in "$T/err" "the newest older archive that verifies is $A_NEO4J"
    check_eq "$K tampered: Neo4j not stopped, nothing dumped or loaded" \
        "$(tail -n +$((m + 1)) "$DR/neo4j/events.log" | tr '\n' ' ')" ""
    check "$K tampered: neo4j store untouched" same "$DR/neo4j/databases/neo4j/store.dump" "$T/before.neo4j"
    check "$K tampered: system store untouched" same "$DR/neo4j/databases/system/store.dump" "$T/before.system"
    check_eq "$K tampered: the local directory holds what it held, nothing more" \
        "$(ls -A "$DR/local" | tr '\n' ' ')" "$(tr '\n' ' ' <"$T/before.local")"
    check "$K tampered: Neo4j still running" test -e "$DR/neo4j/running"
    # the tampering was the only fault: with the archive's own bytes back, it restores
    "${K}_repair" "$A2"
    on_host 0 "$DR/neo4j" "$DR/conf" restore --latest --yes
    check "$K repaired: neo4j holds the newer archive" same "$DR/neo4j/databases/neo4j/store.dump" "$T/A2.neo4j"
    echo "    ($K part done at $SECONDS s)"
}

flip_near_end() { # FILE: one byte 40 bytes before the end, inverted
    local size b
    size=$(stat -c %s "$1")
    b=$(od -An -tu1 -j $((size - 40)) -N1 "$1" | tr -d ' ')
    printf "\\x$(printf %02x $((b ^ 0xff)))" | dd of="$1" bs=1 seek=$((size - 40)) conv=notrunc 2>/dev/null
}

# ---- SFTP: a real OpenSSH sshd; OpenSSH's sftp client looks ----
sftp_creds() { # DIR: the SSH identity and the server's known_hosts line
    cp "$SSHD_BASE/user/id_ed25519" "$1/keys/id_ed25519"
    chmod 600 "$1/keys/id_ed25519"
    sshd_known_line dr "$SSHD_PORT" ed25519 >"$1/keys/known_hosts"
}
sftp_remote() { # DIR
    cat <<SEC
[remote "off"]
type = sftp
host = 127.0.0.1
port = $SSHD_PORT
user = $SSHD_USER
identity_file = $1/keys/id_ed25519
known_hosts = $1/keys/known_hosts
path = $SRV
connect_timeout = 5s
SEC
}
sftp_list() {
    printf 'ls -1 %s\n' "$SRV" | sshd_sftp dr "$SSHD_PORT" | grep -v '^sftp>' | sed 's|.*/||'
}
sftp_tamper() { # NAME: on the server's own file
    cp "$SRV/$1.dump.enc" "$T/good.enc"
    flip_near_end "$SRV/$1.dump.enc"
    cmp -s "$SRV/$1.dump.enc" "$T/good.enc" && bad "sftp: the tampering changed nothing"
}
sftp_repair() { cp "$T/good.enc" "$SRV/$1.dump.enc"; }

if [ "$HAVE_SFTP" = 1 ]; then
    sshd_start dr || exit 1
    SRV="$SSHD_BASE/srv/backups/haia"
    dr_scenario sftp off
fi

# ---- S3: Ceph radosgw; boto3 looks and tampers ----
BUCKET=n4o-dr
S3P=prod/nightly/
s3_creds() { # DIR: a credentials file (~/.aws/credentials format)
    printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
        "$RGW_ACCESS_KEY" "$RGW_SECRET_KEY" >"$1/keys/aws-credentials"
    chmod 600 "$1/keys/aws-credentials"
    # the unreachable first remote needs an identity file to be configured
    [ -e "$1/keys/id_ed25519" ] || {
        : >"$1/keys/id_ed25519"
        chmod 600 "$1/keys/id_ed25519"
        : >"$1/keys/known_hosts"
    }
}
s3_remote() { # DIR
    cat <<SEC
[remote "s3"]
type = s3
endpoint = http://127.0.0.1:$RGW_PORT
region = us-east-1
bucket = $BUCKET
prefix = $S3P
credentials = $1/keys/aws-credentials
retries = 2
SEC
}
boto() { # ARGS...: tests/tools/s3_inspect.py with the radosgw user's keys
    AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY \
        python3 "$N4O_SOURCE/tests/tools/s3_inspect.py" "http://127.0.0.1:$RGW_PORT" "$BUCKET" "$@"
}
s3_list() { boto "$S3P" objects | sed "s|^$S3P||"; }
s3_put() { # KEY FILE: PutObject with boto3
    AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY python3 - \
        "http://127.0.0.1:$RGW_PORT" "$BUCKET" "$1" "$2" <<'PY'
import sys, boto3, botocore.config
ep, bucket, key, path = sys.argv[1:]
s3 = boto3.client("s3", endpoint_url=ep, region_name="us-east-1",
                  config=botocore.config.Config(s3={"addressing_style": "path"}))
s3.put_object(Bucket=bucket, Key=key, Body=open(path, "rb").read())
PY
}
s3_tamper() { # NAME: GetObject, one byte flipped, PutObject
    boto "$S3P$1.dump.enc" get >"$T/good.enc" || bad "s3: boto3 could not get $1.dump.enc"
    cp "$T/good.enc" "$T/bad.enc"
    flip_near_end "$T/bad.enc"
    s3_put "$S3P$1.dump.enc" "$T/bad.enc" || bad "s3: boto3 could not put $1.dump.enc"
    boto "$S3P$1.dump.enc" get >"$T/check.enc"
    check "s3: boto3 reads back the tampered bytes" same "$T/check.enc" "$T/bad.enc"
}
s3_repair() { s3_put "$S3P$1.dump.enc" "$T/good.enc"; }

if [ "$HAVE_S3" = 1 ]; then
    if rgw_start "$T/rgw" "$BUCKET"; then
        echo "(radosgw up at $SECONDS s)"
        dr_scenario s3 s3
    else
        tail -20 "$T"/rgw/log/*.log 2>/dev/null
        bad "radosgw did not start"
    fi
fi

echo "(done in $SECONDS s)"
e2e_finish
