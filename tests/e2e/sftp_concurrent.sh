#!/usr/bin/env bash
# User story: two hosts back up to one SFTP server, same path, same
# name_prefix, and their nightly timers fire in the same second, so both
# runs pick the same archive name.  Each upload writes a temporary file of
# its own; the server's rename never replaces a name, so one run publishes
# its archive and the other fails cleanly (a clear message, nothing of its
# own left) - or both publish distinct archives.  Never may an archive be
# published whose bytes do not match its manifest.  What landed on the
# server is checked with b2sum and OpenSSH's sftp client, not only with
# `verify --all`.
. "$(dirname "$0")/common.bash"
. "$N4O_SOURCE/tests/tools/sshd_harness.sh"

sshd_start main || exit 1
PORT=$SSHD_PORT
SRV="$SSHD_BASE/srv/haia"
KH="$T/known_hosts"
U="$SSHD_BASE/user"
sshd_known_line main "$PORT" ed25519 >"$KH"
keygen
# large enough that the two uploads overlap for a while
gen_dump "$T/db.dump" 16M 51
seed_db neo4j "$T/db.dump"

# A stop_command that holds a run until the test releases both at once:
# it says it is ready, then sleeps until the time written in $T/go.
cat >"$T/barrier" <<'EOF'
#!/bin/sh
touch "$1.ready"
while [ ! -s "$2" ]; do sleep 0.01; done
exec python3 -c 'import sys, time; time.sleep(max(0.0, float(open(sys.argv[1]).read()) - time.time()))' "$2"
EOF
chmod +x "$T/barrier"

# host_config HOST: that host's own lock file, local directory and stand-in
# Neo4j; the one SFTP remote, same path and name_prefix for both.
host_config() {
    local h=$1
    mkdir -p "$T/$h/local" "$T/$h/neo4j/databases/neo4j" "$T/$h/run"
    cp "$T/db.dump" "$T/$h/neo4j/databases/neo4j/store.dump"
    cat >"$T/$h/conf" <<CONF
[general]
lock_file = $T/$h/run/neo4j-offsite.lock

[neo4j]
database      = neo4j
dump_command  = env NEO4J_STANDIN_HOME=$T/$h/neo4j $STANDIN database dump --to-stdout {database}
stop_command  = $T/barrier $T/$h/run/barrier $T/go
command_timeout = 2m

[local]
directory   = $T/$h/local
name_prefix = haia_backup

[keys]
public_key  = $T/keys/archive.pub
signing_key = $T/keys/signing.key
secret_key  = $T/keys/archive.key
verify_key  = $T/keys/signing.pub

[remote "off"]
type = sftp
host = 127.0.0.1
port = $PORT
user = $SSHD_USER
identity_file = $U/id_ed25519
known_hosts = $KH
path = $SRV
connect_timeout = 5s
io_timeout = 20s
CONF
}
host_config a
host_config b
# an auditor's view of the remote
write_config "[remote \"off\"]
type = sftp
host = 127.0.0.1
port = $PORT
user = $SSHD_USER
identity_file = $U/id_ed25519
known_hosts = $KH
path = $SRV"

# Every archive on the server matches its manifest: size and BLAKE2b-256
# computed here from the bytes on disk.
archives_match_manifests() {
    local m enc want have ok=0
    for m in "$SRV"/*.dump.manifest; do
        enc=${m%.manifest}.enc
        want=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["archive_size"], d["archive_blake2b"])' "$m")
        have="$(stat -c %s "$enc" 2>/dev/null) $(b2sum -l 256 "$enc" 2>/dev/null | cut -d' ' -f1)"
        if [ "$want" != "$have" ]; then
            echo "    $(basename "$enc"): manifest says '$want', the server holds '$have'"
            ok=1
        fi
    done
    return $ok
}

# race MODE: both hosts back up at the same instant; MODE two-pass (local
# copy first, then upload) or live (--no-local-copy: uploaded while dumped)
race() {
    local mode=$1 args=(backup) h pa pb i
    [ "$mode" = live ] && args+=(--no-local-copy)
    rm -f "$T/go" "$T"/?/run/barrier.ready
    for h in a b; do
        "$N4O_BIN" -c "$T/$h/conf" --no-progress "${args[@]}" >"$T/$h/out" 2>"$T/$h/err" &
        eval "p$h=\$!"
    done
    for i in $(seq 2400); do # 2 minutes: a loaded machine starts them late
        [ -e "$T/a/run/barrier.ready" ] && [ -e "$T/b/run/barrier.ready" ] && break
        sleep 0.05
    done
    # released together, early in a second: both dumps start in it
    python3 -c 'import time; print(int(time.time()) + 1.05)' >"$T/go.tmp"
    mv "$T/go.tmp" "$T/go"
    wait "$pa"
    RC_A=$?
    wait "$pb"
    RC_B=$?
    NAME_A=$(sed -n 's/.*dumping database neo4j -> //p' "$T/a/err")
    NAME_B=$(sed -n 's/.*dumping database neo4j -> //p' "$T/b/err")
}

for mode in two-pass live; do
    # Up to three tries for the two runs to pick the same name (they do
    # unless the machine stalls one of them for most of a second); the
    # archives are counted from the start of the try that counts.
    for try in 1 2 3; do
        before=$(find "$SRV" -name '*.dump.enc' 2>/dev/null | wc -l)
        race "$mode"
        [ -n "$NAME_A" ] && [ "$NAME_A" = "$NAME_B" ] && break
        echo "($mode: the runs picked $NAME_A and $NAME_B; again)"
    done
    check "$mode: both runs picked the same archive name ($NAME_A)" \
        test -n "$NAME_A" -a "$NAME_A" = "$NAME_B"
    ok=0
    for h in a b; do
        rc=$(eval echo "\$RC_${h^^}")
        case $rc in
        0) ok=$((ok + 1)) ;;
        1)
            # at the rename, or at the start when the other run had already
            # published (a run delayed by a busy machine)
            check "$mode: host $h failed cleanly: says the name was taken" \
                grep -q -F "127.0.0.1:$PORT:$SRV/$NAME_A.dump.enc already exists" "$T/$h/err"
            ;;
        *)
            bad "$mode: host $h exited $rc"
            sed 's/^/    /' "$T/$h/err" | tail -5
            ;;
        esac
    done
    check "$mode: at least one run succeeded ($RC_A, $RC_B)" test "$ok" -ge 1
    after=$(find "$SRV" -name '*.dump.enc' | wc -l)
    check "$mode: one archive per successful run ($((after - before)) new, $ok succeeded)" \
        test $((after - before)) = "$ok"
    check "$mode: every archive on the server matches its manifest (b2sum)" archives_match_manifests
    check "$mode: no temporary file left on the server" no_partials "$SRV"
    run 0 verify --remote off --all
    # what OpenSSH's own client sees
    printf 'ls -1 %s\n' "$SRV" | sshd_sftp main "$PORT" >"$T/sftp.ls" 2>"$T/sftp.err"
    check "$mode: OpenSSH sftp sees one archive and one manifest named $NAME_A" \
        test "$(grep -c -E "/$NAME_A\.dump\.(enc|manifest)$" "$T/sftp.ls")" = 2
    check "$mode: OpenSSH sftp sees no temporary file" test "$(grep -c '\.partial$' "$T/sftp.ls")" = 0
    sleep 1
done

# --- two uploads on one remote share its SFTP channel, where libssh2 1.10
# keeps a single fsync state: an early flush of one upload still in flight
# must not be taken as the answer to the other's fsync before its rename.
# flush-race: upload A writes 64 MiB (its early flush goes out and is left
# unanswered), then upload B is written and committed, then A.  The
# server's own log (sftp-server -l VERBOSE) must show B's temporary file
# fsync'd before its rename, and A's too.
SSHD_SFTP_LOG=1 SSHD_SFTP_LOG_LEVEL=VERBOSE sshd_start flushlog || exit 1
FL_SRV="$SSHD_BASE/srv/flush"
sshd_known_line flushlog "$SSHD_PORT" ed25519 >>"$KH"
mkdir -p "$FL_SRV"
cat >"$T/flush.conf" <<CONF
[remote "fl"]
type = sftp
host = 127.0.0.1
port = $SSHD_PORT
user = $SSHD_USER
identity_file = $U/id_ed25519
known_hosts = $KH
path = $FL_SRV
CONF
"$N4O_BUILD/backend_tool" "$T/flush.conf" fl flush-race fr $((64 * 1024 * 1024)) >"$T/fl.out" 2>"$T/fl.err"
check "flush-race: both uploads committed ($?)" test $? = 0
sed 's/^/    /' "$T/fl.err"
check "flush-race: both published, of their sizes" \
    test "$(stat -c %s "$FL_SRV/fr.a" "$FL_SRV/fr.b" 2>/dev/null | tr '\n' ' ')" = "67108864 100 "
# "<op> <temporary file of NAME>" lines of the server's log, in order
fl_log() { # NAME
    sshd_sftp_log flushlog | sed -n -E "s#.*(fsync|rename old) \"$FL_SRV/$1\.[0-9a-f]{16}\.partial\".*#\1#p"
}
check "flush-race: B's temporary file fsync'd, then renamed ($(fl_log fr.b | tr '\n' ' '))" \
    test "$(fl_log fr.b | tr '\n' ' ')" = "fsync rename old "
check "flush-race: A's fsync'd (early flush and commit), then renamed ($(fl_log fr.a | tr '\n' ' '))" \
    test "$(fl_log fr.a | tail -2 | tr '\n' ' ')" = "fsync rename old "

e2e_finish
