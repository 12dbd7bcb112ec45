#!/usr/bin/env bash
# User story: an operator presses Ctrl-C (or systemd sends SIGTERM) while a
# backup talks to an SFTP server that went silent, or while it waits to
# reconnect to one that keeps dropping, or while the dump is slow.  The run
# ends within 2 seconds whatever it was waiting on, exits non-zero saying
# "interrupted by signal N", publishes nothing, and removes its temporary
# file when the connection still allows it.
. "$(dirname "$0")/common.bash"
. "$N4O_SOURCE/tests/tools/sshd_harness.sh"

sshd_start main || exit 1
MAIN_PORT=$SSHD_PORT
SRV="$SSHD_BASE/srv/haia"
KH="$T/known_hosts"
U="$SSHD_BASE/user"
sshd_known_line main "$MAIN_PORT" ed25519 >"$KH"
keygen
gen_dump "$T/big.dump" 12M 61
gen_dump "$T/small.dump" 300K 62

# off_config PORT [KEY = VALUE lines]
off_config() {
    write_config "[remote \"off\"]
type = sftp
host = 127.0.0.1
port = $1
user = $SSHD_USER
identity_file = $U/id_ed25519
known_hosts = $KH
path = $SRV
${2:-}"
}
trust_proxy() { sshd_known_line main "$PROXY_PORT" ed25519 >>"$KH"; }
published() { find "$SRV" \( -name '*.dump.enc' -o -name '*.dump.manifest' \) 2>/dev/null | wc -l; }
ms() { echo $(($(date +%s%N) / 1000000)); }

# interrupt WHAT SIG READY MESSAGE BACKUP_ARGS...: start a backup, wait
# until READY (a number of seconds, or "log:PATTERN[@SECONDS]" to wait for
# in its stderr, then SECONDS more), send SIG, and check how it ends;
# MESSAGE (grep -E, "@" stands for the signal's number) must be in its
# stderr.
interrupt() {
    local what=$1 sig=$2 ready=$3 msg=$4 before pid t0 t1 rc i signo
    shift 4
    before=$(published)
    "$N4O_BIN" -c "$T/conf" --no-progress "$@" >"$T/out" 2>"$T/err" &
    pid=$!
    if [ "${ready#log:}" != "$ready" ]; then
        local pattern=${ready#log:} more=0
        [ "${pattern%@*}" != "$pattern" ] && more=${pattern##*@} pattern=${pattern%@*}
        for i in $(seq 1800); do # at most 90 s: a loaded machine is slow to log in
            grep -q -E "$pattern" "$T/err" && break
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        check "$what: got to the point of interest ('$pattern')" grep -q -E "$pattern" "$T/err"
        sleep "$more"
    else
        sleep "$ready"
    fi
    t0=$(ms)
    kill "-$sig" "$pid"
    wait "$pid"
    rc=$?
    t1=$(ms)
    signo=$(kill -l "$sig")
    check "$what: exits non-zero ($rc)" test "$rc" != 0 -a "$rc" -lt 128
    check "$what: within 2 s of SIG$sig ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 2000
    expect_in "$T/err" "${msg//@/$signo}"
    check "$what: nothing published" test "$(published)" = "$before"
}

# --- the server goes silent right after the SSH handshake (key exchange
# done): the run waits for the answer to its authentication
seed_db neo4j "$T/big.dump"
sshd_stall_proxy "$MAIN_PORT" 1200
trust_proxy
off_config "$PROXY_PORT" "connect_timeout = 10m
io_timeout = 10m"
interrupt "silent after the handshake" INT 1.5 \
    "remote off: authentication of user $SSHD_USER: 127.0.0.1:$PROXY_PORT: interrupted by signal @" \
    backup --remote off

# --- silent in the middle of the upload (streams and the remote's own
# connection all wait on the server)
for sig in INT TERM; do
    sshd_stall_proxy "$MAIN_PORT" $((3 * 1024 * 1024))
    trust_proxy
    off_config "$PROXY_PORT" "connect_timeout = 10m
io_timeout = 10m"
    interrupt "silent during the upload, SIG$sig" "$sig" 3 \
        "remote off: 127.0.0.1:$PROXY_PORT:$SRV/haia_backup_neo4j_[0-9_]+\.dump\.enc\.[0-9a-f]{16}\.partial: interrupted by signal @" \
        backup --remote off --no-local-copy
done

# --- a server that drops every connection while the archive is written
# (small: written whole at commit on the remote's own connection): the run
# waits between reconnections (0.5, 1, 2, 4, 8 s); a signal ends the wait
seed_db neo4j "$T/small.dump"
sshd_cut_proxy "$MAIN_PORT" 100000 every
trust_proxy
off_config "$PROXY_PORT" "retries = 5
connect_timeout = 5s
io_timeout = 5s"
interrupt "waiting 4 s to reconnect" INT "log:reconnecting in 4\.0 s" \
    "remote off: 127.0.0.1:$PROXY_PORT:$SRV/haia_backup_neo4j_[0-9_]+\.dump\.enc\.[0-9a-f]{16}\.partial: interrupted by signal @" \
    backup --remote off

# --- a slow but working link (200 ms each way): the upload's temporary
# file is removed on the way out, within the 2 s.  Interrupted 1.5 s into
# the upload (after start_command): the file is created (two round trips)
# and the streams are still logging in (about twenty).
seed_db neo4j "$T/big.dump"
sshd_delay_proxy "$MAIN_PORT" 200
trust_proxy
off_config "$PROXY_PORT"
touch "$T/mark"
interrupt "slow link, during the upload" INT "log:Started neo4j@1.5" \
    "remote off: 127.0.0.1:$PROXY_PORT(:$SRV/haia_backup_neo4j_[0-9_]+\.dump\.enc\.[0-9a-f]{16}\.partial)?: interrupted by signal @" \
    backup --remote off
check "slow link: the temporary file was removed" test -z "$(find "$SRV" -type f -newer "$T/mark")"

# --- a healthy server while the dump is slow: likewise, within 2 s (the
# signal ends the dump first; the tool reaps the dump's whole process group
# itself, as a subreaper, instead of waiting for PID 1 to).
off_config "$MAIN_PORT"
for sig in INT TERM; do
    touch "$T/mark"
    NEO4J_STANDIN_DUMP_DELAY=30 "$N4O_BIN" -c "$T/conf" --no-progress backup --remote off \
        --no-local-copy >"$T/out" 2>"$T/err" &
    pid=$!
    sleep 2
    check "healthy server, slow dump: the upload's temporary file exists before SIG$sig" \
        test -n "$(find "$SRV" -name '*.partial' -newer "$T/mark")"
    t0=$(date +%s%N)
    kill "-$sig" "$pid"
    wait "$pid"
    rc=$?
    ms=$((($(date +%s%N) - t0) / 1000000))
    check "healthy server, slow dump, SIG$sig: exits non-zero ($rc)" test "$rc" != 0 -a "$rc" -lt 128
    check "healthy server, slow dump, SIG$sig: within 2 s ($ms ms)" test "$ms" -lt 2000
    expect_in "$T/err" "interrupted by SIG$sig"
    check "healthy server, slow dump, SIG$sig: the temporary file was removed, nothing published" \
        test -z "$(find "$SRV" -type f -newer "$T/mark")"
done
check "no dump child left" test -z "$(procs_with_env NEO4J_STANDIN_DUMP_DELAY=30)"

# --- Ctrl-C during the commit (here the fsync of the temporary file) on a
# slow but healthy link: the signal must not write the connection off, the
# temporary file is removed on it within the 1 s allowed.  A small object
# (backend_tool put-small) is created, written, fsync'd and renamed at
# commit, one request a round trip (400 ms here): the signal comes 200 ms
# after the server wrote the bytes, while the fsync is in flight.
sshd_delay_proxy "$MAIN_PORT" 200
trust_proxy
off_config "$PROXY_PORT"
head -c 100000 /dev/urandom >"$T/commit.bin"
"$N4O_BUILD/backend_tool" "$T/conf" off put-small commit.bin <"$T/commit.bin" >"$T/out" 2>"$T/err" &
pid=$!
for i in $(seq 3000); do
    [ -n "$(find "$SRV" -maxdepth 1 -name 'commit.bin.*.partial' -size 100000c)" ] && break
    sleep 0.01
done
check "commit: the bytes are on the server" test -n "$(find "$SRV" -maxdepth 1 -name 'commit.bin.*.partial' -size 100000c)"
sleep 0.2
t0=$(ms)
kill -INT "$pid"
wait "$pid"
rc=$?
t1=$(ms)
check "commit: SIGINT during the fsync: exits non-zero ($rc)" test "$rc" != 0 -a "$rc" -lt 128
expect_in "$T/err" "fsync $SRV/commit\.bin\.[0-9a-f]{16}\.partial: 127.0.0.1:$PROXY_PORT: interrupted by signal 2"
check "commit: out within 2 s ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 2000
check "commit: the temporary file was removed" test -z "$(find "$SRV" -name 'commit.bin*')"

e2e_finish
