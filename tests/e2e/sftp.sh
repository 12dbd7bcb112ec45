#!/usr/bin/env bash
# User story: an off-site SFTP server (a real OpenSSH sshd on 127.0.0.1)
# next to a local remote.  Backups land on both; list, fetch and verify
# --deep work from the SFTP copy; host keys are checked strictly before
# anything is sent; every failure names its cause and publishes nothing.
. "$(dirname "$0")/common.bash"
. "$N4O_SOURCE/tests/tools/sshd_harness.sh"

sshd_start main || exit 1
MAIN_PORT=$SSHD_PORT MAIN_RO=$SSHD_RO_PORT MAIN_LOG=$SSHD_DIR/sshd.log
SRV="$SSHD_BASE/srv/backups/haia" # created by the first backup (mkdir -p)
KH="$T/known_hosts"
U="$SSHD_BASE/user"

# sftp_config [KEY=VALUE...]: the base config plus [remote "off"]; a
# KEY=VALUE replaces the default of that key (KEY= drops it).
sftp_config() {
    local -A kv=([host]=127.0.0.1 [port]=$MAIN_PORT [user]=$SSHD_USER
        [identity_file]=$U/id_ed25519 [known_hosts]=$KH [path]=$SRV
        [connect_timeout]=5s [io_timeout]=10s)
    local a keys=(host port user identity_file identity_passphrase_file known_hosts
        host_key_fingerprint path connect_timeout io_timeout retries parallel_streams)
    for a in "$@"; do kv[${a%%=*}]=${a#*=}; done
    local sec='[remote "off"]'$'\n''type = sftp'
    for a in "${keys[@]}"; do
        [ -n "${kv[$a]:-}" ] && sec+=$'\n'"$a = ${kv[$a]}"
    done
    write_config "$sec"
}

accepted() { grep -c "Accepted publickey" "$MAIN_LOG"; }
srv_files() { find "$SSHD_BASE/srv" -type f 2>/dev/null | sort; }

keygen
gen_dump "$T/source.dump" 5M 21
seed_db neo4j "$T/source.dump"

# --- unknown host: refused before authenticating, fingerprint and line shown
: >"$KH"
sftp_config
run 1 backup --remote off
expect_in "$T/err" "not in known_hosts"
fp=$(sshd_fingerprint main ed25519)
expect_in "$T/err" "ssh-ed25519 key ${fp//+/\\+}"
line=$(sshd_known_line main "$MAIN_PORT" ed25519)
# the end of the message (one log line: log lines escape newlines)
printed=$(sed -n "s|.*add this line to $KH: ||p" "$T/err" | head -1)
check "the exact known_hosts line is printed" test "$printed" = "$line"
check "unknown host: no authentication attempted" test "$(accepted)" = 0
check "unknown host: nothing on the server" test -z "$(srv_files)"

# Adding the printed line is all it takes.
echo "$printed" >"$KH"

# --- the normal case: local remote and SFTP remote in one run
run 0 backup
expect_in "$T/out" "remotes: nas ok, off ok"
name=$(basename "$(ls "$T/local"/*.dump)" .dump)
check "archive and manifest on the server" \
    test -s "$SRV/$name.dump.enc" -a -s "$SRV/$name.dump.manifest"
check "same archive bytes on both remotes" cmp -s "$SRV/$name.dump.enc" "$T/nas/$name.dump.enc"
check "same manifest on both remotes" cmp -s "$SRV/$name.dump.manifest" "$T/nas/$name.dump.manifest"
check "no .partial left on the server" no_partials "$SSHD_BASE/srv"
check "remote path created private (0750)" test "$(stat -c %a "$SSHD_BASE/srv")" = 750
run 0 list --remote off
expect_in "$T/out" "$name .*complete"
run 0 fetch --remote off "$name" --output "$T/fetched.dump"
check "fetched over SFTP: identical to the dump" cmp -s "$T/fetched.dump" "$T/source.dump"
run 0 verify --remote off --deep "$name"
run 0 verify --remote off --latest

# A second, larger archive exercises many 1 MiB blocks in flight.
gen_dump "$T/big.dump" 24M 22
seed_db neo4j "$T/big.dump"
sleep 1
run 0 backup --remote off --no-local-copy
run 0 fetch --remote off --latest --output "$T/big-fetched.dump"
check "24 MiB round trip identical" cmp -s "$T/big-fetched.dump" "$T/big.dump"

# A large upload is flushed on the server as it goes (fsync@openssh.com of
# its temporary file "<name>.<16 hex>.partial" every 64 MiB, on the
# remote's own connection, answered while the streams write), so that the
# fsync before the rename has little left to write.
gen_dump "$T/large.dump" 320M 23
seed_db neo4j "$T/large.dump"
sleep 1
run 0 -v backup --remote off --no-local-copy
name=$(basename "$(ls -t "$SRV"/*.dump.enc | head -1)" .dump.enc)
flushes=$(grep -c -E "$name\.dump\.enc\.[0-9a-f]{16}\.partial flushed on the server up to byte" "$T/err")
check "large upload ($(stat -c %s "$SRV/$name.dump.enc") bytes): flushed on the server as it went ($flushes times, >= 2)" \
    test "$flushes" -ge 2
run 0 verify --remote off --deep "$name"
rm -f "$T/large.dump"
seed_db neo4j "$T/source.dump"

# --- a host offering ed25519 and ecdsa with only ecdsa recorded (the host
# key preference must follow known_hosts), after a line libssh2 cannot parse
# and as a hashed entry
{
    echo "@cert-authority *.example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDummyDummyDummy"
    echo "this line is not a known_hosts line"
    sshd_known_line main "$MAIN_PORT" ecdsa
} >"$KH"
run 0 list --remote off
expect_in "$T/out" "$name"
sshd_known_line main "$MAIN_PORT" ecdsa >"$KH"
ssh-keygen -q -H -f "$KH" >/dev/null 2>&1
rm -f "$KH.old"
check "known_hosts entry is hashed" grep -q '^|1|' "$KH"
run 0 list --remote off
expect_in "$T/out" "$name"
sshd_known_line main "$MAIN_PORT" ed25519 >"$KH"

# A key marked @revoked is refused even when also recorded as valid.
{
    sshd_known_line main "$MAIN_PORT" ed25519
    echo "@revoked * $(cut -d' ' -f2- <<<"$(sshd_known_line main "$MAIN_PORT" ed25519)")"
} >"$KH"
run 1 list --remote off
expect_in "$T/err" "marked @revoked"
sshd_known_line main "$MAIN_PORT" ed25519 >"$KH"

# --- host key pin
sftp_config host_key_fingerprint="$(sshd_fingerprint main ed25519)"
run 0 list --remote off
sftp_config host_key_fingerprint="$(sshd_fingerprint main ecdsa)"
run 1 list --remote off
expect_in "$T/err" "not the pinned host_key_fingerprint"

# --- changed host key: another server answers on a recorded host:port
sshd_start other || exit 1
OTHER_PORT=$SSHD_PORT
OTHER_LOG=$SSHD_DIR/sshd.log
{
    sshd_known_line main "$MAIN_PORT" ed25519
    sshd_known_line main "$OTHER_PORT" ed25519 # main's key recorded for other's port
} >"$KH"
sftp_config port="$OTHER_PORT" path="$SSHD_BASE/srv2"
run 1 backup --remote off
expect_in "$T/err" "HOST KEY FOR 127.0.0.1:$OTHER_PORT HAS CHANGED"
expect_in "$T/err" "$(sshd_fingerprint other ed25519 | sed 's/+/\\+/g')"
check "changed key: no authentication attempted" test "$(grep -c 'Accepted publickey' "$OTHER_LOG")" = 0
check "changed key: nothing on the server" test ! -e "$SSHD_BASE/srv2"
# Only an ecdsa key recorded, but a different one: still a changed key.
{
    sshd_known_line main "$MAIN_PORT" ed25519
    sshd_known_line main "$OTHER_PORT" ecdsa
} >"$KH"
run 1 list --remote off
expect_in "$T/err" "HAS CHANGED"

# --- server down: connection refused
sshd_stop other
run 1 list --remote off
expect_in "$T/err" "127.0.0.1:$OTHER_PORT.*Connection refused"
run 1 backup --remote off
expect_in "$T/err" "Connection refused"

# --- name resolution
sftp_config host=no-such-host.invalid
run 1 list --remote off
expect_in "$T/err" "cannot resolve host no-such-host.invalid"

# --- user keys
sshd_known_line main "$MAIN_PORT" ed25519 >"$KH"
sftp_config identity_file="$U/id_other"
run 1 list --remote off
expect_in "$T/err" "refused authentication of user $SSHD_USER with key $U/id_other"
sftp_config identity_file="$U/id_rsa"
run 2 list --remote off
expect_in "$T/err" "id_rsa is an ssh-rsa key: libssh2 1.10"
expect_in "$T/err" "ed25519 or ecdsa"
sftp_config identity_file="$U/id_ecdsa"
run 0 list --remote off
expect_in "$T/out" "$name"
sftp_config identity_file="$U/id_pass" identity_passphrase_file="$U/id_pass.passphrase"
run 0 list --remote off
expect_in "$T/out" "$name"
printf 'Tr0ub4dor&3\n' >"$T/wrong.pass"
chmod 600 "$T/wrong.pass"
sftp_config identity_file="$U/id_pass" identity_passphrase_file="$T/wrong.pass"
run 1 list --remote off
expect_in "$T/err" "cannot use identity_file $U/id_pass"
check "no passphrase in the messages" bash -c "! grep -q -e horse -e Tr0ub4dor '$T/err'"
sftp_config identity_file="$T/no-such-key"
run 2 list --remote off
expect_in "$T/err" "identity_file $T/no-such-key: No such file"
cp "$U/id_ed25519" "$T/id_loose"
chmod 644 "$T/id_loose"
sftp_config identity_file="$T/id_loose"
run 2 backup
expect_in "$T/err" "$T/id_loose is readable by group or others"
chmod 640 "$T/wrong.pass"
sftp_config identity_file="$U/id_pass" identity_passphrase_file="$T/wrong.pass"
run 2 list --remote off
expect_in "$T/err" "identity_passphrase_file $T/wrong.pass is readable by group or others"

# --- remote path not writable (the server's SFTP is read-only on this
# port): the probe finds out before Neo4j is stopped
before=$(srv_files)
sshd_known_line main "$MAIN_RO" ed25519 >>"$KH"
sftp_config port="$MAIN_RO"
sleep 1
: >"$NEO4J_STANDIN_HOME/events.log"
run 1 backup --remote off
expect_in "$T/err" "remote off: 127.0.0.1:$MAIN_RO:$SRV: cannot create files in the remote path: permission denied"
check "read-only server: Neo4j was not stopped" bash -c "! grep -q stop '$NEO4J_STANDIN_HOME/events.log'"
check "read-only server: nothing new published" test "$(srv_files)" = "$before"
run 3 backup
expect_in "$T/err" "remote off: 127.0.0.1:$MAIN_RO:$SRV: cannot create files in the remote path: permission denied"
check "the local remote still got its copy" test "$(count_files "$T/nas" '*.dump.enc')" = 2
sftp_config port="$MAIN_RO" path="$SSHD_BASE/srv/missing/deeper"
run 1 backup --remote off
expect_in "$T/err" "remote off: 127.0.0.1:$MAIN_RO:$SSHD_BASE/srv/missing: cannot create directory \(path missing\).*permission denied"

# --- a missing path (a typo): commands that only read fail naming it, and
# create nothing (only commands that write create the path)
for cmd in "list --remote off" "verify --remote off --latest" "fetch --remote off --latest --output $T/typo.dump"; do
    sftp_config path="$SSHD_BASE/srv/backups/hiaa"
    run 1 $cmd
    expect_in "$T/err" "remote off: 127.0.0.1:$MAIN_PORT:$SSHD_BASE/srv/backups/hiaa: the remote path is missing"
    check "${cmd%% *} of a missing path: nothing created" test ! -e "$SSHD_BASE/srv/backups/hiaa"
done
check "... no output file" test ! -e "$T/typo.dump"

# --- no space left on the server
if sshd_tmpfs "$SSHD_BASE/small" 2m; then
    sftp_config path="$SSHD_BASE/small/haia"
    run 1 backup --remote off
    expect_in "$T/err" "no space left on the server"
    check "full disk: no archive, no .partial left" test -z "$(find "$SSHD_BASE/small" -type f)"
    # a disk already full: the probe writes (a byte, fsync'd), so the run
    # refuses before Neo4j is stopped
    # (filled again after a moment: the server may still hold the removed
    # temporary file of the run above open, whose space comes back when it
    # closes it)
    dd if=/dev/zero of="$SSHD_BASE/small/filler" bs=64k 2>/dev/null
    sleep 1
    dd if=/dev/zero of="$SSHD_BASE/small/filler" bs=4k oflag=append conv=notrunc 2>/dev/null
    : >"$NEO4J_STANDIN_HOME/events.log"
    run 1 backup --remote off
    expect_in "$T/err" "remote off: 127.0.0.1:$MAIN_PORT:$SSHD_BASE/small/haia: cannot write files in the remote path: no space left on the server"
    check "full disk: Neo4j was not stopped" bash -c "! grep -q stop '$NEO4J_STANDIN_HOME/events.log'"
    check "full disk: nothing left but the filler" test "$(find "$SSHD_BASE/small" -type f)" = "$SSHD_BASE/small/filler"
else
    echo "SKIP (no-space case only): cannot mount a tmpfs here"
fi

# --- a server that goes silent: every wait is bounded
sshd_stall_proxy "$MAIN_PORT" 0
sshd_known_line main "$PROXY_PORT" ed25519 >>"$KH"
sftp_config port="$PROXY_PORT" connect_timeout=2s
start=$(date +%s)
run 1 list --remote off
expect_in "$T/err" "127.0.0.1:$PROXY_PORT: no connection within connect_timeout \(2 s\)"
check "silent server: gave up after connect_timeout" test $(($(date +%s) - start)) -le 10
sshd_stall_proxy "$MAIN_PORT" $((2 * 1024 * 1024))
sshd_known_line main "$PROXY_PORT" ed25519 >>"$KH"
sftp_config port="$PROXY_PORT" io_timeout=2s retries=1
seed_db neo4j "$T/big.dump"
before=$(find "$SRV" -name '*.dump.enc' | wc -l)
sleep 1
start=$(date +%s)
run 1 backup --remote off
expect_in "$T/err" "no progress for io_timeout \(2 s\)"
check "stalled upload: gave up after io_timeout and one retry" test $(($(date +%s) - start)) -le 20
expect_in "$T/err" "gave up after 1 retry"
check "stalled upload: no archive published" test "$(find "$SRV" -name '*.dump.enc' | wc -l)" = "$before"
# SIGINT while the upload waits on a silent server: out within a second or so.
sshd_stall_proxy "$MAIN_PORT" $((2 * 1024 * 1024))
sshd_known_line main "$PROXY_PORT" ed25519 >>"$KH"
sftp_config port="$PROXY_PORT" io_timeout=10m
sleep 1
"$N4O_BIN" -c "$T/conf" --no-progress backup --remote off >"$T/out" 2>"$T/err" &
bpid=$!
sleep 3
start=$(date +%s)
kill -INT "$bpid"
wait "$bpid"
brc=$?
check "SIGINT during a stalled upload: exits non-zero ($brc)" test "$brc" != 0
check "SIGINT during a stalled upload: within 5 s" test $(($(date +%s) - start)) -le 5
check "SIGINT: no archive published" test "$(find "$SRV" -name '*.dump.enc' | wc -l)" = "$before"
seed_db neo4j "$T/source.dump"
# What the dead connections left is at most a temporary file of their own,
# "<archive>.<16 hex>.partial" (the server was silent: nothing could remove
# it): never an archive, and the backend lists it as an incomplete upload.
sftp_config
left_temps=$(find "$SRV" -name '*.partial' -printf '%f\n' | sort)
check "the stalled uploads left temporary files" test -n "$left_temps"
check "... each under a unique temporary name" \
    test -z "$(grep -v -E '^haia_backup_neo4j_[0-9]{8}_[0-9]{6}\.dump\.enc\.[0-9a-f]{16}\.partial$' <<<"$left_temps")"
"$N4O_BUILD/backend_tool" "$T/conf" off list >"$T/bt.list"
check "... each listed as incomplete by the backend" \
    test "$(grep -E '\.partial [0-9]+ [0-9]+ incomplete$' "$T/bt.list" | cut -d' ' -f1 | sort)" = "$left_temps"
run 0 list --remote off --all
for t in $left_temps; do
    expect_in "$T/out" "${t%%.dump.enc.*} .*incomplete"
done
run 0 verify --remote off --latest
sleep 1
run 0 backup --remote off

# --- the configured path is a file
sftp_config path="$SRV/$name.dump.manifest"
run 1 list --remote off
expect_in "$T/err" "$SRV/$name.dump.manifest: path is not a directory"

# --- a .partial left by a killed run is not an archive, even with the
# newest name (what fetch --latest, verify --latest and restore resolve)
sftp_config
newest=$(basename "$(ls -t "$SRV"/*.dump.enc | head -1)" .dump.enc)
left=haia_backup_neo4j_20991231_235959
cp "$SRV/$newest.dump.enc" "$SRV/$left.dump.enc.partial"
cp "$SRV/$newest.dump.manifest" "$SRV/$left.dump.manifest.partial"
run 0 list --remote off
check "list ignores the leftover .partial" test "$(grep -c 20991231 "$T/out")" = 0
run 0 list --remote off --all
expect_in "$T/out" "$left .*incomplete"
run 0 verify --remote off --latest
expect_in "$T/out" "OK +$newest"
run 0 fetch --remote off --latest --output "$T/latest.dump"
expect_in "$T/err" "fetched $newest:"

# --- an archive object gone from the server, its manifest still there:
# an integrity finding (exit 4)
mv "$SRV/$newest.dump.enc" "$T/held.enc"
run 4 fetch --remote off "$newest" --output "$T/gone.dump"
expect_in "$T/err" "remote off: $newest.dump.enc is missing although its signed manifest is there"
check "a missing archive: no output file" test ! -e "$T/gone.dump"
run 4 verify --remote off "$newest"
expect_in "$T/out" "FAILED +$newest: .*$newest.dump.enc is missing although its signed manifest is there"
# the backend itself names host:port, the path and the cause
"$N4O_BUILD/backend_tool" "$T/conf" off get "$newest.dump.enc" >/dev/null 2>"$T/err"
check "backend: reading a missing object fails ($?)" test $? = 1
expect_in "$T/err" "127.0.0.1:$MAIN_PORT:$SRV/$newest.dump.enc: cannot open: no such file or directory"
mv "$T/held.enc" "$SRV/$newest.dump.enc"

e2e_finish
