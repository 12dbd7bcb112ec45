#!/usr/bin/env bash
# The backend contract (backend.h), checked the same way on a local remote
# and on an SFTP remote served by a real OpenSSH sshd: atomic never-
# overwriting writes, abort, ranged reads, listing with incomplete entries,
# stat, remove, and several threads sharing one remote.
. "$N4O_SOURCE/tests/e2e/common.bash"
. "$N4O_SOURCE/tests/tools/sshd_harness.sh"

TOOL="$N4O_BUILD/backend_tool"
sshd_start main || exit 1
SRV="$SSHD_BASE/srv"
sshd_known_line main "$SSHD_PORT" ed25519 >"$T/known_hosts"
keygen
write_config "[remote \"off\"]
type = sftp
host = 127.0.0.1
port = $SSHD_PORT
user = $SSHD_USER
identity_file = $SSHD_BASE/user/id_ed25519
known_hosts = $T/known_hosts
path = $SRV
io_timeout = 20s"

# The tool on remote $R; its stderr also goes to $T/stderr.$R, which must
# show no retry at the end: on a healthy server nothing is ever retried (a
# wait that missed an answer would show up as an io_timeout and a retry).
bt() {
    local rc=0
    "$TOOL" "$T/conf" "$R" "$@" 2>"$T/bt.err" || rc=$?
    cat "$T/bt.err" >&2
    cat "$T/bt.err" >>"$T/stderr.$R"
    return $rc
}

head -c $((3 * 1024 * 1024 + 17)) /dev/urandom >"$T/a.src"
for R in nas off; do
    if [ "$R" = nas ]; then DIR="$T/nas"; else DIR="$SRV"; fi
    check "$R: put" bt put a.bin <"$T/a.src"
    check "$R: stat gives size and state" \
        test "$(bt stat a.bin | cut -d' ' -f1,2,4)" = "a.bin $((3 * 1024 * 1024 + 17)) complete"
    bt get a.bin >"$T/a.got"
    check "$R: get identical" cmp -s "$T/a.got" "$T/a.src"
    bt get a.bin 1000003 >"$T/a.tail"
    check "$R: get from an offset" cmp -s "$T/a.tail" <(tail -c +1000004 "$T/a.src")
    check "$R: get at the end is empty" test "$(bt get a.bin $((3 * 1024 * 1024 + 17)) | wc -c)" = 0
    echo other | bt put a.bin 2>"$T/err"
    check "$R: put over an existing name fails" test $? = 1
    expect_in "$T/err" "a.bin already exists"
    bt get a.bin >"$T/a.got"
    check "$R: the existing object is untouched" cmp -s "$T/a.got" "$T/a.src"
    check "$R: put-abort" bt put-abort b.bin <"$T/a.src"
    bt stat b.bin
    check "$R: aborted object absent" test $? = 3
    check "$R: aborted upload leaves no .partial" no_partials "$DIR"
    check "$R: empty object" bt put empty.bin </dev/null
    check "$R: empty object has size 0" test "$(bt stat empty.bin | cut -d' ' -f2)" = 0
    head -c 1000 /dev/zero >"$DIR/c.bin.partial"
    head -c 1000 /dev/zero >"$DIR/d.bin.0123456789abcdef.partial"
    mkdir -p "$DIR/a.dir"
    bt list >"$T/list"
    check "$R: list" test "$(cut -d' ' -f1,4 "$T/list" | tr '\n' ' ')" = \
        "a.bin complete c.bin.partial incomplete d.bin.0123456789abcdef.partial incomplete empty.bin complete "
    rm "$DIR/d.bin.0123456789abcdef.partial"
    check "$R: list with a prefix" test "$(bt list a. | cut -d' ' -f1 | tr '\n' ' ')" = "a.bin "
    check "$R: list mtimes are recent" \
        test $(($(date +%s) - $(grep '^a.bin ' "$T/list" | cut -d' ' -f3))) -lt 600
    check "$R: remove an incomplete upload" bt rm-incomplete c.bin.partial
    check "$R: leftover gone" test ! -e "$DIR/c.bin.partial"
    check "$R: rm" bt rm a.bin
    bt stat a.bin
    check "$R: removed object absent" test $? = 3
    check "$R: rm of a missing object is fine" bt rm a.bin
    bt put ../x.bin </dev/null 2>"$T/err"
    check "$R: a name with a path is refused (exit 2)" test $? = 2
    bt threads t 4 $((3 * 1024 * 1024 + 5)) >"$T/out" 2>"$T/err"
    check "$R: four writer threads on one remote" test $? = 0
    expect_in "$T/out" "4 objects written concurrently"
    check "$R: nothing retried on a healthy server" test "$(grep -c -i -E 'retry|reconnect' "$T/stderr.$R")" = 0
    rmdir "$DIR/a.dir"
done

# --- probe (SFTP): a unique temporary file created exclusively in the
# remote path and removed; a failure names host:port, the path and the cause
R=off
WHERE="127.0.0.1:$SSHD_PORT"
probe_fails() { # DESCRIPTION MESSAGE [ACTION]: the probe after ACTION fails saying MESSAGE
    local rc line
    if [ -n "${3:-}" ]; then
        # the remote is opened (which creates a missing path) before ACTION
        coproc PROBE { "$TOOL" "$T/conf" off probe-wait 2>"$T/err"; }
        local pid=$PROBE_PID
        read -r line <&"${PROBE[0]}"
        eval "$3"
        echo go >&"${PROBE[1]}"
        wait "$pid"
        rc=$?
    else
        "$TOOL" "$T/conf" off probe 2>"$T/err"
        rc=$?
    fi
    check "probe: $1: fails ($rc)" test "$rc" = 1
    expect_in "$T/err" "$2"
    check "probe: $1: nothing left behind" test -z "$(find "$SSHD_BASE" -name '.write-probe*' 2>/dev/null)"
}
check "probe: a writable path" bt probe
check "probe: leaves nothing behind" test -z "$(find "$SRV" -name '.write-probe*')"
# The harness logs in as root (sshd_harness.sh), whom chmod 555 does not
# stop: read-only is an immutable directory (chattr +i: EPERM, which SFTP
# reports as "permission denied") and a read-only bind mount (EROFS).
if sshd_immutable "$SRV"; then
    probe_fails "immutable directory" \
        "remote off: $WHERE:$SRV: cannot create files in the remote path: permission denied"
    chattr -i "$SRV"
else
    echo "SKIP (probe of an immutable directory): chattr +i not supported here"
fi
if sshd_ro_bind "$SRV"; then
    probe_fails "read-only file system" \
        "remote off: $WHERE:$SRV: cannot create files in the remote path: read-only file system"
    umount "$SRV"
else
    echo "SKIP (probe of a read-only mount): cannot mount here"
fi
probe_fails "path removed after the remote was opened" \
    "remote off: $WHERE:$SRV: the remote path is missing" 'mv "$SRV" "$SRV.away"'
mv "$SRV.away" "$SRV"
probe_fails "path replaced by a file" \
    "remote off: $WHERE:$SRV: the remote path is not a directory" \
    'mv "$SRV" "$SRV.away"; echo x >"$SRV"'
rm "$SRV"
mv "$SRV.away" "$SRV"
check "probe: writable again" bt probe
# A full disk: creating an empty file still works there, writing does not
# (the probe writes a byte and fsyncs it)
if sshd_tmpfs "$SSHD_BASE/full" 1m; then
    dd if=/dev/zero of="$SSHD_BASE/full/filler" bs=64k 2>/dev/null
    check "probe: the tmpfs is full" test "$(df --output=avail -B1 "$SSHD_BASE/full" | tail -1 | tr -d " ")" = 0
    write_config "[remote \"off\"]
type = sftp
host = 127.0.0.1
port = $SSHD_PORT
user = $SSHD_USER
identity_file = $SSHD_BASE/user/id_ed25519
known_hosts = $T/known_hosts
path = $SSHD_BASE/full"
    probe_fails "full disk" \
        "remote off: $WHERE:$SSHD_BASE/full: cannot write files in the remote path: no space left on the server"
    rm "$SSHD_BASE/full/filler"
    check "probe: the same path with room again" bt probe
else
    echo "SKIP (probe of a full disk): cannot mount a tmpfs here"
fi
# A missing path: commands that only read neither create it nor pass...
write_config "[remote \"off\"]
type = sftp
host = 127.0.0.1
port = $SSHD_PORT
user = $SSHD_USER
identity_file = $SSHD_BASE/user/id_ed25519
known_hosts = $T/known_hosts
path = $SSHD_BASE/new/deeper"
for cmd in list "stat a.bin" "get a.bin"; do
    "$TOOL" "$T/conf" off $cmd >/dev/null 2>"$T/err"
    check "$cmd on a missing path: fails ($?)" test $? = 1
    expect_in "$T/err" "remote off: $WHERE:$SSHD_BASE/new/deeper: the remote path is missing"
    check "$cmd on a missing path: nothing created" test ! -e "$SSHD_BASE/new"
done
# ...commands that write create it when the remote is opened (mkdir -p, 0750)...
check "probe: a missing path is created, then probed" bt probe
check "probe: ... created 0750" test "$(stat -c %a "$SSHD_BASE/new/deeper")" = 750
# ...unless it cannot be: then opening the remote fails, naming it
mkdir -p "$SSHD_BASE/locked"
if sshd_immutable "$SSHD_BASE/locked"; then
    write_config "[remote \"off\"]
type = sftp
host = 127.0.0.1
port = $SSHD_PORT
user = $SSHD_USER
identity_file = $SSHD_BASE/user/id_ed25519
known_hosts = $T/known_hosts
path = $SSHD_BASE/locked/deeper"
    "$TOOL" "$T/conf" off probe 2>"$T/err"
    check "probe: path missing and not creatable: fails ($?)" test $? = 1
    expect_in "$T/err" "remote off: .*$WHERE:$SSHD_BASE/locked/deeper: cannot create directory \(path missing\): permission denied"
    chattr -i "$SSHD_BASE/locked"
fi
# The server's read-only port (internal-sftp -R)
sshd_known_line main "$SSHD_RO_PORT" ed25519 >>"$T/known_hosts"
write_config "[remote \"off\"]
type = sftp
host = 127.0.0.1
port = $SSHD_RO_PORT
user = $SSHD_USER
identity_file = $SSHD_BASE/user/id_ed25519
known_hosts = $T/known_hosts
path = $SRV"
probe_fails "read-only SFTP server" \
    "remote off: 127.0.0.1:$SSHD_RO_PORT:$SRV: cannot create files in the remote path: permission denied"

e2e_finish
