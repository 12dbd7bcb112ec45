#!/usr/bin/env bash
# User story: the off-site SFTP directory is shared (several hosts, other
# people's files, leftovers of old versions).  An upload goes to a
# temporary name of its own, "<name>.<16 random hex>.partial", created
# exclusively with mode 0600: nothing already there is truncated, reused or
# written through - not a leftover "<name>.partial" of versions before 0.2,
# not a symlink planted at either name (SFTP v3 open follows symlinks).  The
# server's own log (OpenSSH sftp-server) and OpenSSH's sftp client say what
# landed there.  Names in the directory that are not printable text (ESC,
# newline) are skipped with one warning that shows them escaped, never raw.
. "$(dirname "$0")/common.bash"
SSHD_SFTP_LOG=1
. "$N4O_SOURCE/tests/tools/sshd_harness.sh"

sshd_start main || exit 1
PORT=$SSHD_PORT
SRV="$SSHD_BASE/srv/haia"
KH="$T/known_hosts"
U="$SSHD_BASE/user"
sshd_known_line main "$PORT" ed25519 >"$KH"
write_config "[remote \"off\"]
type = sftp
host = 127.0.0.1
port = $PORT
user = $SSHD_USER
identity_file = $U/id_ed25519
known_hosts = $KH
path = $SRV
connect_timeout = 20s
io_timeout = 10s"
keygen
mkdir -p "$SRV"
chmod 750 "$SRV"

# Files outside the served directory that planted symlinks point at.
printf 'precious archive bytes\n' >"$T/victim.enc"
printf 'precious manifest\n' >"$T/victim.manifest"
victims_intact() {
    [ "$(cat "$T/victim.enc")" = "precious archive bytes" ] &&
        [ "$(cat "$T/victim.manifest")" = "precious manifest" ]
}

# Plant, for each second from now on (the archive's name is the time its
# dump starts), what an older version or another user may have left at
# "<name>.partial": symlinks to the victims, and plain files.
plant() { # SECONDS KIND(symlink|file)
    local t0 i n
    t0=$(date -u +%s)
    for i in $(seq 0 "$1"); do
        n=haia_backup_neo4j_$(date -u -d "@$((t0 + i))" +%Y%m%d_%H%M%S)
        if [ "$2" = symlink ]; then
            ln -s "$T/victim.enc" "$SRV/$n.dump.enc.partial"
            ln -s "$T/victim.manifest" "$SRV/$n.dump.manifest.partial"
        else
            printf 'leftover of %s\n' "$n" >"$SRV/$n.dump.enc.partial"
            printf 'leftover of %s\n' "$n" >"$SRV/$n.dump.manifest.partial"
        fi
    done
}

# Every file the server created for us: exclusive (EXCL, never TRUNCATE),
# mode 0600, a unique temporary name; and renamed from such a name.
server_log_ok() {
    local opens bad
    opens=$(sshd_sftp_log main | grep -E 'open ".*" flags [A-Z,]*CREATE')
    [ -n "$opens" ] || {
        echo "    no file creation in the server's log"
        return 1
    }
    bad=$(grep -v -E '\.[0-9a-f]{16}\.partial" flags WRITE,CREATE,EXCL mode 0100600$' <<<"$opens")
    [ -z "$bad" ] || {
        echo "    not exclusive 0600 creations of unique temporary names:"
        sed 's/^/      /' <<<"$bad"
        return 1
    }
}

# --- a small database (archive and manifest written whole at commit) and a
# larger one (archive through the parallel streams), each with symlinks
# planted at the old temporary names
gen_dump "$T/small.dump" 200K 41
gen_dump "$T/large.dump" 6M 42
for db in small large; do
    seed_db neo4j "$T/$db.dump"
    plant 20 symlink
    before=$(find "$SRV" -type l | sort)
    run 0 backup --remote off
    name=$(basename "$(ls -t "$T/local"/*.dump | head -1)" .dump)
    check "$db: the planted symlinks' targets are untouched" victims_intact
    check "$db: the planted symlinks are still there, still symlinks" \
        test "$(find "$SRV" -type l | sort)" = "$before"
    check "$db: the archive is a regular file, not a symlink" \
        test -f "$SRV/$name.dump.enc" -a ! -L "$SRV/$name.dump.enc"
    check "$db: the manifest is a regular file, not a symlink" \
        test -f "$SRV/$name.dump.manifest" -a ! -L "$SRV/$name.dump.manifest"
    check "$db: archive and manifest mode 0600" \
        test "$(stat -c %a "$SRV/$name.dump.enc" "$SRV/$name.dump.manifest" | sort -u)" = 600
    check "$db: no temporary file left" test -z "$(find "$SRV" -name '*.partial' ! -type l)"
    run 0 verify --remote off --deep "$name"
    run 0 fetch --remote off "$name" --output "$T/$db.fetched"
    check "$db: fetched dump identical" cmp -s "$T/$db.fetched" "$T/$db.dump"
    find "$SRV" -type l -delete
    sleep 1
done
check "server log: every file created exclusively, 0600, under a unique temporary name" server_log_ok
renames=$(sshd_sftp_log main | grep -E 'rename old ')
check "server log: 4 renames (archive and manifest, twice)" test "$(wc -l <<<"$renames")" = 4
check "server log: every rename is from such a name" \
    test -z "$(grep -v -E 'old ".*\.[0-9a-f]{16}\.partial" new ' <<<"$renames")"

# --- plain files left at the old temporary names (versions before 0.2, or
# another host's upload in progress) are neither reused nor clobbered
plant 20 file
sum_before=$(find "$SRV" -name '*.partial' -type f -exec md5sum {} + | sort)
sleep 1
run 0 backup --remote off
name=$(basename "$(ls -t "$T/local"/*.dump | head -1)" .dump)
check "old-style leftovers: byte for byte as they were" \
    test "$(find "$SRV" -name '*.partial' -type f -exec md5sum {} + | sort)" = "$sum_before"
run 0 verify --remote off --deep "$name"
# OpenSSH's client sees the same: the archive and manifest, and only the
# leftovers as .partial files
printf 'ls -l %s\n' "$SRV" | sshd_sftp main "$PORT" >"$T/sftp.ls" 2>"$T/sftp.err"
check "OpenSSH sftp lists the directory" test -s "$T/sftp.ls"
check "OpenSSH sftp: the archive is there, a regular file of its size" \
    grep -qE "^-rw------- .* $(stat -c %s "$SRV/$name.dump.enc") .*/$name\.dump\.enc$" "$T/sftp.ls"
check "OpenSSH sftp: no temporary file of ours" \
    test -z "$(grep -E '\.[0-9a-f]{16}\.partial$' "$T/sftp.ls")"
run 0 list --remote off
check "list: the leftovers are not archives" test "$(grep -c haia_backup "$T/out")" = "$(ls "$SRV"/*.dump.manifest | wc -l)"
find "$SRV" -name '*.partial' -delete

# --- a symlink (and a file) planted at the exact temporary name: the name
# comes from libsodium's randombytes_buf, made predictable here by a
# preloaded stand-in (the only way to know it before the upload creates it)
cat >"$T/fixed_random.c" <<'EOF'
#include <stddef.h>
#include <string.h>
void randombytes_buf(void *buf, size_t size)
{
    memset(buf, 0xab, size);
}
EOF
if ${CC:-cc} -shared -fPIC -o "$T/fixed_random.so" "$T/fixed_random.c" 2>"$T/cc.err"; then
    tag=abababababababab
    head -c $((2 * 1024 * 1024)) /dev/urandom >"$T/x.bin"
    ln -s "$T/victim.enc" "$SRV/x.bin.$tag.partial"
    LD_PRELOAD="$T/fixed_random.so" "$N4O_BUILD/backend_tool" "$T/conf" off put x.bin \
        <"$T/x.bin" 2>"$T/err"
    check "a symlink at the temporary name: the upload fails ($?)" test $? = 1
    expect_in "$T/err" "127.0.0.1:$PORT:$SRV/x.bin.$tag.partial: cannot create: the name already exists on the server \(a symbolic link\); it was left as it is"
    check "... its target untouched" victims_intact
    check "... the symlink left as it was" test "$(readlink "$SRV/x.bin.$tag.partial")" = "$T/victim.enc"
    check "... nothing published" test ! -e "$SRV/x.bin"
    check "... the server refused an exclusive creation" \
        grep -qF "open \"$SRV/x.bin.$tag.partial\" flags WRITE,CREATE,EXCL mode 0100600" <(sshd_sftp_log main)
    rm "$SRV/x.bin.$tag.partial"
    printf 'someone else\n' >"$SRV/x.bin.$tag.partial"
    LD_PRELOAD="$T/fixed_random.so" "$N4O_BUILD/backend_tool" "$T/conf" off put x.bin \
        <"$T/x.bin" 2>"$T/err"
    check "a file at the temporary name: the upload fails ($?)" test $? = 1
    expect_in "$T/err" "x.bin.$tag.partial: cannot create: the name already exists on the server"
    check "... that file untouched" test "$(cat "$SRV/x.bin.$tag.partial")" = "someone else"
    rm "$SRV/x.bin.$tag.partial"
    check "with the name free, the same upload works" \
        env LD_PRELOAD="$T/fixed_random.so" "$N4O_BUILD/backend_tool" "$T/conf" off put x.bin <"$T/x.bin"
    check "... identical bytes" cmp -s "$SRV/x.bin" "$T/x.bin"
    rm -f "$SRV/x.bin"
else
    bad "cannot build the randombytes stand-in: $(cat "$T/cc.err")"
fi

# --- temporary names, ours and old ones, are listed as incomplete uploads
printf 'x' >"$SRV/y.bin.0123456789abcdef.partial"
printf 'x' >"$SRV/y.bin.partial"
printf 'x' >"$SRV/y.bin"
"$N4O_BUILD/backend_tool" "$T/conf" off list y. >"$T/list"
check "backend list: temporary names incomplete, the object complete" \
    test "$(cut -d' ' -f1,4 "$T/list" | tr '\n' ' ')" = \
    "y.bin complete y.bin.0123456789abcdef.partial incomplete y.bin.partial incomplete "
rm -f "$SRV"/y.bin*
# and list --all shows an abandoned upload of ours as incomplete
printf 'x' >"$SRV/haia_backup_neo4j_20240101_000000.dump.enc.0123456789abcdef.partial"
run 0 list --remote off --all
expect_in "$T/out" "haia_backup_neo4j_20240101_000000 .*incomplete"
run 0 list --remote off
check "list (without --all): not shown" test "$(grep -c 20240101 "$T/out")" = 0
rm "$SRV/haia_backup_neo4j_20240101_000000.dump.enc.0123456789abcdef.partial"

# --- names that are not printable text
esc_name=$'haia_backup_neo4j_20250101_000000.dump.manifest\e]0;owned\a'
nl_name=$'haia_backup_neo4j_20250101_000001.dump.enc\nhaia_backup_neo4j_20250101_000001.dump.manifest'
printf 'x' >"$SRV/$esc_name"
printf 'x' >"$SRV/$nl_name"
no_raw() { # FILE: neither ESC nor BEL nor the name's second line
    ! grep -q $'[\e\a]' "$1" && ! grep -q '^haia_backup_neo4j_20250101_000001.dump.manifest' "$1"
}
run 0 list --remote off --all
check "list: the unprintable names are not listed" test "$(grep -c 20250101 "$T/out")" = 0
check "list: one warning for the name with ESC, escaped" \
    test "$(grep -c -F 'skipping a listed name that is not printable text: "haia_backup_neo4j_20250101_000000.dump.manifest\x1b]0;owned\x07"' "$T/err")" = 1
check "list: one warning for the name with a newline, escaped" \
    test "$(grep -c -F 'dump.enc\x0ahaia_backup_neo4j_20250101_000001.dump.manifest"' "$T/err")" = 1
check "list: the warnings name the server and the path" \
    test "$(grep -c "127.0.0.1:$PORT:$SRV: skipping" "$T/err")" = 2
check "list: nothing raw on stdout" no_raw "$T/out"
check "list: nothing raw on stderr" no_raw "$T/err"
run 0 list --remote off --all --json
check "list --json: still one valid document, without those names" \
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(any("20250101" in a["name"] for a in d["archives"]))' "$T/out"
"$N4O_BUILD/backend_tool" "$T/conf" off list >"$T/list" 2>"$T/err"
check "backend list: the unprintable names are skipped" test "$(grep -c 20250101 "$T/list")" = 0
check "backend list: nothing raw" no_raw "$T/list"
run 0 verify --remote off --all
check "verify --all: nothing raw" no_raw "$T/out"
rm -f "$SRV/$esc_name" "$SRV/$nl_name"

# --- many such names: ten warnings, then one that counts the rest
for i in $(seq 101 125); do printf 'x' >"$SRV/haia_backup_neo4j_20250101_000$i.dump.enc"$'\e[2J'; done
"$N4O_BUILD/backend_tool" "$T/conf" off list >"$T/list" 2>"$T/err"
check "25 unprintable names: the listing works ($?)" test $? = 0
check "25 unprintable names: ten warnings, each escaped" \
    test "$(grep -c -F 'skipping a listed name that is not printable text: "haia_backup_neo4j_20250101_000' "$T/err")" = 10
expect_in "$T/err" "127.0.0.1:$PORT:$SRV: 15 more names skipped \(not printable text or too long\)"
check "25 unprintable names: nothing raw" no_raw "$T/err"
rm -f "$SRV"/haia_backup_neo4j_20250101_000*

# --- the temporary file swapped for a symlink after its exclusive creation,
# by someone who may write the remote directory (SFTP v3 open follows
# symlinks): every later open of it by name - the streams', a resumed
# stream's, the commit's after the connection dropped - must prove that it
# reaches the file created before a byte goes through it; otherwise the
# upload stops, says so, and publishes nothing.  The victims are outside
# the served directory and as large as the upload (a smaller one would be
# caught by the size checks anyway).
head -c $((8 * 1024 * 1024)) /dev/urandom >"$T/victim.big"
cp "$T/victim.big" "$T/victim.big.orig"
head -c $((4 * 786432)) /dev/urandom >"$T/victim.exact" # the size of the upload in case C
cp "$T/victim.exact" "$T/victim.exact.orig"
victims_untouched() {
    cmp -s "$T/victim.big" "$T/victim.big.orig" && cmp -s "$T/victim.exact" "$T/victim.exact.orig"
}
# Wait for NAME's temporary file to be there (a regular file); print its
# path.
temp_of() { # NAME
    local i f
    for i in $(seq 3000); do
        f=$(find "$SRV" -maxdepth 1 -type f -name "$1.*.partial" | head -1)
        [ -n "$f" ] && break
        sleep 0.01
    done
    echo "$f"
}
# Wait until NAME's temporary file is as large as SRC (the last block
# written: blocks land out of order, the sleep after it lets the others
# land); print its path.  Only its size is looked at: reading the file
# would update its access time, which the streams check (see sftp.h).
temp_holding() { # NAME SRC
    local i f
    for i in $(seq 3000); do
        f=$(find "$SRV" -maxdepth 1 -type f -name "$1.*.partial" | head -1)
        [ -n "$f" ] && [ "$(stat -c %s "$f")" = "$(stat -c %s "$2")" ] && break
        f=
        sleep 0.01
    done
    echo "$f"
}
# Wait until TMP was opened 5 times (the server's log): created by the
# remote's own connection, then opened by each of the 4 streams
# (parallel_streams' default).  The swap must come after every stream has
# opened it, else a stream opening late fails its check before any
# reconnect.
streams_open() { # TMP
    local i
    for i in $(seq 300); do
        [ "$(sshd_sftp_log main | grep -cF "open \"$1\"")" -ge 5 ] && return 0
        sleep 0.1
    done
    return 1
}
# What the attacker does: the file moved away, a symlink in its place.
swap() { # PATH TARGET
    mv "$1" "$SRV/.stolen.$(basename "$1")" && ln -s "$2" "$1"
}
# The upload of NAME from the FIFO $T/feed in the background ($UP_PID);
# fd 3 writes to it.
upload_from_fifo() { # REMOTE NAME
    rm -f "$T/feed"
    mkfifo "$T/feed"
    "$N4O_BUILD/backend_tool" "$T/conf" "$1" put "$2" <"$T/feed" >"$T/up.out" 2>"$T/up.err" &
    UP_PID=$!
    exec 3>"$T/feed"
}
swap_ends_well() { # WHAT NAME RC
    check "$1: the upload fails ($3)" test "$3" = 1
    expect_in "$T/up.err" "$SRV/$2\.[0-9a-f]{16}\.partial: the temporary file was replaced on the server"
    check "$1: the victim is untouched" victims_untouched
    check "$1: nothing published" test ! -e "$SRV/$2" -a ! -L "$SRV/$2"
    rm -f "$SRV"/.stolen.* "$SRV/$2".*.partial
}
sshd_delay_proxy "$PORT" 100
sshd_known_line main "$PROXY_PORT" ed25519 >>"$KH"
cat >>"$T/conf" <<CONF
[remote "slow"]
type = sftp
host = 127.0.0.1
port = $PROXY_PORT
user = $SSHD_USER
identity_file = $U/id_ed25519
known_hosts = $KH
path = $SRV
parallel_streams = 2
CONF
# A: swapped at once, while the streams are still connecting (200 ms a
# round trip: seconds)
upload_from_fifo slow swapA.bin
tmp=$(temp_of swapA.bin)
check "A: the temporary file was created" test -n "$tmp"
swap "$tmp" "$T/victim.big"
head -c $((3 * 1024 * 1024)) /dev/urandom >&3
exec 3>&-
wait "$UP_PID"
swap_ends_well "A: swapped at once" swapA.bin $?
# A2: swapped once the file was stamped (its access time set in the past,
# a round trip after its creation), while the streams still connect
upload_from_fifo slow swapA2.bin
tmp=$(temp_of swapA2.bin)
for i in $(seq 1000); do
    [ -n "$tmp" ] && [ "$(stat -c %X "$tmp" 2>/dev/null || echo 0)" -lt 1300000000 ] && break
    sleep 0.005
done
check "A2: the temporary file was created and stamped" test -n "$tmp" -a "$(stat -c %X "$tmp")" -lt 1300000000
swap "$tmp" "$T/victim.big"
head -c $((3 * 1024 * 1024)) /dev/urandom >&3
exec 3>&-
wait "$UP_PID"
swap_ends_well "A2: swapped after the stamp, before the streams opened it" swapA2.bin $?
# B: swapped after the streams wrote 3 MiB, then every connection drops:
# the streams reconnect and open the name again
upload_from_fifo off swapB.bin
head -c $((4 * 786432)) /dev/urandom >"$T/first.bin"
cat "$T/first.bin" >&3
tmp=$(temp_holding swapB.bin "$T/first.bin")
check "B: the streams wrote the first blocks" test -n "$tmp"
check "B: every stream opened the file" streams_open "$tmp"
sleep 0.5 # their acknowledgements
swap "$tmp" "$T/victim.big"
sshd_drop_sessions main
head -c $((2 * 1024 * 1024)) /dev/urandom >&3
exec 3>&-
wait "$UP_PID"
swap_ends_well "B: swapped, then the streams reconnected" swapB.bin $?
expect_in "$T/up.err" "reconnecting"
# C: every block written and acknowledged, swapped for a symlink to a file
# of the same size, then every connection drops before the commit: the
# commit opens the name again on a new connection
upload_from_fifo off swapC.bin
head -c $((4 * 786432)) /dev/urandom >"$T/first.bin"
cat "$T/first.bin" >&3
tmp=$(temp_holding swapC.bin "$T/first.bin")
check "C: every block written" test -n "$tmp"
check "C: every stream opened the file" streams_open "$tmp"
sleep 0.5 # their acknowledgements
swap "$tmp" "$T/victim.exact"
sshd_drop_sessions main
exec 3>&-
wait "$UP_PID"
swap_ends_well "C: swapped, then the commit reconnected" swapC.bin $?
expect_in "$T/up.err" "reconnecting in 0.5 s \(retry 1 of"
# without a swap the same uploads work (the checks pass on our own file)
head -c $((3 * 1024 * 1024 + 5)) /dev/urandom >"$T/noswap.bin"
check "no swap: an upload through the streams works" \
    "$N4O_BUILD/backend_tool" "$T/conf" slow put noswap.bin <"$T/noswap.bin"
check "... identical bytes" cmp -s "$SRV/noswap.bin" "$T/noswap.bin"
rm -f "$SRV/noswap.bin"

# --- a hostile server: listings are bounded, long names are skipped
mkdir -p "$T/hostile"
SSHD_SFTP_SUBSYSTEM="python3 $N4O_SOURCE/tests/tools/sftp_hostile.py $T/hostile"
SSHD_SFTP_LOG=0
sshd_start hostile || exit 1
unset SSHD_SFTP_SUBSYSTEM
sshd_known_line hostile "$SSHD_PORT" ed25519 >>"$KH"
cat >>"$T/conf" <<CONF
[remote "hostile"]
type = sftp
host = 127.0.0.1
port = $SSHD_PORT
user = $SSHD_USER
identity_file = $U/id_ed25519
known_hosts = $KH
path = /srv/backups
io_timeout = 10s
CONF
echo endless >"$T/hostile/mode"
start=$(date +%s)
timeout 120 "$N4O_BUILD/backend_tool" "$T/conf" hostile list >"$T/list" 2>"$T/err"
rc=$?
check "a directory that never ends: the listing fails ($rc)" test "$rc" = 1
expect_in "$T/err" "127.0.0.1:$SSHD_PORT:/srv/backups: cannot list: more than 100000 names in the remote directory \(the limit for one listing\)"
check "... after reading at most 100000 names ($(cat "$T/hostile/readdirs") answers of 100, $(($(date +%s) - start)) s)" \
    test "$(cat "$T/hostile/readdirs")" -le 1001
run 1 list --remote hostile
expect_in "$T/err" "more than 100000 names in the remote directory"
echo longname >"$T/hostile/mode"
"$N4O_BUILD/backend_tool" "$T/conf" hostile list >"$T/list" 2>"$T/err"
check "names of 1100 and 2000 bytes: the listing works ($?)" test $? = 0
check "... every other name listed" test "$(cut -d' ' -f1 "$T/list" | tr '\n' ' ')" = "a.bin b.bin c.bin "
check "... one warning each" test "$(grep -c 'skipping a listed name longer than 1024 bytes' "$T/err")" = 2
check "... no stale libssh2 message" test "$(grep -c -i 'would block' "$T/err")" = 0
echo malformed >"$T/hostile/mode"
"$N4O_BUILD/backend_tool" "$T/conf" hostile list >"$T/list" 2>"$T/err"
check "a malformed directory entry: the listing fails ($?)" test $? = 1
expect_in "$T/err" "127.0.0.1:$SSHD_PORT:/srv/backups: cannot list: the server sent a malformed directory entry"
check "... no stale libssh2 message" test "$(grep -c -i 'would block' "$T/err")" = 0

e2e_finish
