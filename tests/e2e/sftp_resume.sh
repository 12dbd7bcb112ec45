#!/usr/bin/env bash
# User story: the link to the off-site SFTP server drops in the middle of a
# transfer.  The upload or download reconnects and resumes where the server
# stands, and the bytes come out identical; a link that keeps dropping ends
# in a clear failure (exit 1, or 3 when another remote got its copy) with
# nothing published.  Through a link with latency, parallel streams give a
# byte-identical archive, faster than one stream.
. "$(dirname "$0")/common.bash"
. "$N4O_SOURCE/tests/tools/sshd_harness.sh"

sshd_start main || exit 1
MAIN_PORT=$SSHD_PORT
SRV="$SSHD_BASE/srv/haia"
KH="$T/known_hosts"
U="$SSHD_BASE/user"
sshd_known_line main "$MAIN_PORT" ed25519 >"$KH"

# off_config PORT [KEY = VALUE lines]: the base config plus [remote "off"]
off_config() {
    write_config "[remote \"off\"]
type = sftp
host = 127.0.0.1
port = $1
user = $SSHD_USER
identity_file = $U/id_ed25519
known_hosts = $KH
path = $SRV
connect_timeout = 5s
io_timeout = 10s
${2:-}"
}

# A proxy port is another host:port for known_hosts.
trust_proxy() { sshd_known_line main "$PROXY_PORT" ed25519 >>"$KH"; }
archives() { find "$SRV" -name '*.dump.enc' 2>/dev/null | wc -l; }
manifests() { find "$SRV" -name '*.dump.manifest' 2>/dev/null | wc -l; }
cuts() { cat "$PROXY_CUTS" 2>/dev/null || echo 0; }

keygen
gen_dump "$T/a.dump" 12M 31
seed_db neo4j "$T/a.dump"
size=$(stat -c %s "$T/a.dump")
echo "dump: $size bytes"

# --- one stream, cut once in the middle of the upload: resumed
sshd_cut_proxy "$MAIN_PORT" $((3 * 1024 * 1024)) once
trust_proxy
off_config "$PROXY_PORT" "retries = 3
parallel_streams = 1"
run 0 backup --remote off --no-local-copy
check "upload, 1 stream: the connection was cut once ($(cuts))" test "$(cuts)" = 1
expect_in "$T/err" "stream 1 of .*reconnecting in 0.5 s \(retry 1 of 3\)"
check "upload, 1 stream: no .partial left" no_partials "$SSHD_BASE/srv"
off_config "$MAIN_PORT"
run 0 fetch --remote off --latest --output "$T/a.fetched"
check "upload, 1 stream, resumed: fetched dump identical" cmp -s "$T/a.fetched" "$T/a.dump"
rm -f "$T/a.fetched"

# --- four streams, one of them cut: only that stream resumes
sleep 1
sshd_cut_proxy "$MAIN_PORT" $((1024 * 1024 + 65536)) once
trust_proxy
off_config "$PROXY_PORT" "retries = 3
parallel_streams = 4"
run 0 backup --remote off --no-local-copy
check "upload, 4 streams: one connection cut ($(cuts))" test "$(cuts)" = 1
expect_in "$T/err" "reconnecting in 0.5 s"
off_config "$MAIN_PORT"
run 0 verify --remote off --deep --latest
run 0 fetch --remote off --latest --output "$T/a.fetched"
check "upload, 4 streams, resumed: fetched dump identical" cmp -s "$T/a.fetched" "$T/a.dump"
rm -f "$T/a.fetched"

# --- cut every time: retries run out, nothing published on the SFTP
# server; the local remote still gets its copy (exit 3)
sleep 1
before_a=$(archives) before_m=$(manifests)
sshd_cut_proxy "$MAIN_PORT" $((2 * 1024 * 1024)) every
trust_proxy
off_config "$PROXY_PORT" "retries = 2
parallel_streams = 1"
run 3 backup --no-local-copy
expect_in "$T/err" "gave up after 2 retries"
check "cut every time: 3 connections cut ($(cuts))" test "$(cuts)" = 3
check "cut every time: no archive published" test "$(archives)" = "$before_a"
check "cut every time: no manifest published" test "$(manifests)" = "$before_m"
check "cut every time: the .partial was removed" no_partials "$SSHD_BASE/srv"
check "cut every time: the local remote got its copy" test "$(count_files "$T/nas" '*.dump.enc')" = 1
sleep 1
run 1 backup --remote off --no-local-copy
expect_in "$T/err" "gave up after 2 retries"
check "cut every time, sftp only: still nothing published" test "$(archives)" = "$before_a"

# --- download cut once: resumed, identical bytes (one and four streams)
for n in 1 4; do
    # each of 4 streams carries a quarter of the bytes
    sshd_cut_proxy "$MAIN_PORT" $((n == 1 ? 3 * 1024 * 1024 : 1024 * 1024 + 65536)) once
    trust_proxy
    off_config "$PROXY_PORT" "retries = 3
parallel_streams = $n"
    run 0 fetch --remote off --latest --output "$T/a.fetched"
    check "download, $n stream(s): the connection was cut once ($(cuts))" test "$(cuts)" = 1
    expect_in "$T/err" "reconnecting in 0.5 s"
    check "download, $n stream(s), resumed: identical" cmp -s "$T/a.fetched" "$T/a.dump"
    rm -f "$T/a.fetched"
done

# --- a long link: 50 ms each way (100 ms round trip) through delay_proxy (tests/tools/delay_proxy.c)
sshd_delay_proxy "$MAIN_PORT" 50
trust_proxy
DELAY_PORT=$PROXY_PORT
off_config "$DELAY_PORT" "parallel_streams = 4"
sleep 1
run 0 backup --no-local-copy
latest=$(ls -t "$T/nas"/*.dump.enc | head -1)
check "100 ms RTT, 4 streams: archive byte-identical to the local remote's" \
    cmp -s "$latest" "$SRV/$(basename "$latest")"
run 0 fetch --remote off --latest --output "$T/a.fetched"
check "100 ms RTT, 4 streams: fetched dump identical" cmp -s "$T/a.fetched" "$T/a.dump"
rm -f "$T/a.fetched"

# 4 streams against 1: the same 96 MiB up and down through the backend.
# Each run also pays fixed round trips (connections, open, fsync, rename:
# about 3 s at this RTT, more on a busy machine), so the object must be
# large enough for the transfer itself to dominate.
head -c $((96 * 1024 * 1024)) /dev/urandom >"$T/r.bin"
now() { date +%s.%N; }
declare -A took
for n in 1 4; do
    off_config "$DELAY_PORT" "parallel_streams = $n"
    t0=$(now)
    check "100 ms RTT, $n stream(s): put" "$N4O_BUILD/backend_tool" "$T/conf" off put "r$n.bin" <"$T/r.bin"
    t1=$(now)
    "$N4O_BUILD/backend_tool" "$T/conf" off get "r$n.bin" >"$T/r.got"
    t2=$(now)
    check "100 ms RTT, $n stream(s): got identical bytes" cmp -s "$T/r.got" "$T/r.bin"
    took[$n]=$(awk "BEGIN{printf \"%.2f\", $t2 - $t0}")
    echo "100 ms RTT, 96 MiB, parallel_streams=$n:" \
        "put $(awk "BEGIN{printf \"%.2f\", $t1 - $t0}") s, get $(awk "BEGIN{printf \"%.2f\", $t2 - $t1}") s"
done
check "4 streams take < 0.8 x the time of 1 stream (${took[4]} s vs ${took[1]} s)" \
    awk "BEGIN{exit !(${took[4]} < 0.8 * ${took[1]})}"

e2e_finish
