# Sourced by tests: a real OpenSSH sshd on 127.0.0.1 for SFTP tests.
#
#   sshd_start NAME   start a server in $SSHD_BASE/NAME with fresh ed25519
#                     and ecdsa host keys, on a free port chosen now, plus a
#                     second port on which SFTP is read-only; sets
#                     SSHD_DIR SSHD_PORT SSHD_RO_PORT SSHD_PID SSHD_USER
#   sshd_stop NAME    stop it (every server is stopped at exit anyway)
#   sshd_known_line NAME PORT TYPE   the known_hosts line for that server
#                     (TYPE ed25519 or ecdsa)
#   sshd_sftp NAME PORT   OpenSSH's own sftp client on that server, batch
#                     commands on stdin: an independent view of the files
#
# With SSHD_SFTP_LOG=1 when sshd_start runs, the server's SFTP requests
# (open with their flags and mode, rename, remove...) are logged by
# OpenSSH's sftp-server (read-write port only), at SSHD_SFTP_LOG_LEVEL
# (default INFO; VERBOSE adds fsync and setstat); `sshd_sftp_log NAME`
# prints that log.
#
# With SSHD_SFTP_SUBSYSTEM set when sshd_start runs, that command is the
# SFTP subsystem of the read-write port instead (e.g. a hostile server,
# tests/tools/sftp_hostile.py).
#
#   sshd_drop_sessions NAME   kill every session of server NAME (each
#                     connection's sshd processes): every connection to it
#                     drops at once (returns once they have exited), the
#                     server keeps accepting new ones
#
# User keys (generated once per run, in $SSHD_BASE/user): id_ed25519 and
# id_ecdsa are authorized on every server; id_other is not; id_rsa is an RSA
# key (authorized, but libssh2 1.10 cannot use it); id_pass is authorized
# and protected by the passphrase in id_pass.passphrase.
#
# Never touches the system's sshd: its own config, keys, pid file and
# authorized_keys, started by absolute path.  Runs as the current user (root
# here: PermitRootLogin prohibit-password).

SSHD_BIN=/usr/sbin/sshd
if [ ! -x "$SSHD_BIN" ] || ! command -v ssh-keygen >/dev/null; then
    echo "SKIP: $SSHD_BIN or ssh-keygen missing (apt-get install openssh-server)"
    exit 77
fi

SSHD_BASE=$(mktemp -d /tmp/n4o-sshd.XXXXXX)
SSHD_USER=$(id -un)
SSHD_PIDS=()
SSHD_MOUNTS=()
SSHD_HELPERS=()
SSHD_IMMUTABLE=()
SSHD_SFTP_SERVER=/usr/lib/openssh/sftp-server

sshd_stop_all() {
    local pid m
    for pid in "${SSHD_PIDS[@]}" "${SSHD_HELPERS[@]}"; do
        kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    SSHD_PIDS=()
    SSHD_HELPERS=()
    for m in "${SSHD_MOUNTS[@]}"; do umount "$m" 2>/dev/null; done
    SSHD_MOUNTS=()
    for m in "${SSHD_IMMUTABLE[@]}"; do chattr -i "$m" 2>/dev/null; done
    SSHD_IMMUTABLE=()
    rm -rf "$SSHD_BASE"
}
if declare -F e2e_cleanup >/dev/null; then
    trap 'sshd_stop_all; e2e_cleanup' EXIT
else
    trap sshd_stop_all EXIT
fi

# The user keys, shared by every server of this run.
mkdir -p "$SSHD_BASE/user"
chmod 700 "$SSHD_BASE/user"
ssh-keygen -q -t ed25519 -N '' -C n4o-test -f "$SSHD_BASE/user/id_ed25519"
ssh-keygen -q -t ecdsa -b 256 -N '' -C n4o-test -f "$SSHD_BASE/user/id_ecdsa"
ssh-keygen -q -t ed25519 -N '' -C n4o-other -f "$SSHD_BASE/user/id_other"
ssh-keygen -q -t rsa -b 2048 -N '' -C n4o-rsa -f "$SSHD_BASE/user/id_rsa"
printf 'correct horse battery staple\n' >"$SSHD_BASE/user/id_pass.passphrase"
chmod 600 "$SSHD_BASE/user/id_pass.passphrase"
ssh-keygen -q -t ed25519 -N 'correct horse battery staple' -C n4o-pass \
    -f "$SSHD_BASE/user/id_pass"
cat "$SSHD_BASE/user/id_ed25519.pub" "$SSHD_BASE/user/id_ecdsa.pub" \
    "$SSHD_BASE/user/id_rsa.pub" "$SSHD_BASE/user/id_pass.pub" >"$SSHD_BASE/user/authorized_keys"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port_open() { # PORT
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

sshd_start() { # NAME
    local name=$1 dir="$SSHD_BASE/$1" try
    mkdir -p "$dir"
    ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$dir/host_ed25519"
    ssh-keygen -q -t ecdsa -b 256 -N '' -C "$name" -f "$dir/host_ecdsa"
    # privilege separation needs this when sshd starts as root
    [ "$(id -u)" = 0 ] && mkdir -p /run/sshd
    local subsystem="internal-sftp -l VERBOSE"
    if [ "${SSHD_SFTP_LOG:-}" = 1 ]; then
        [ -x "$SSHD_SFTP_SERVER" ] || {
            echo "SKIP: $SSHD_SFTP_SERVER missing (SSHD_SFTP_LOG)"
            exit 77
        }
        # run by the user's shell, which does the redirection
        subsystem="$SSHD_SFTP_SERVER -e -l ${SSHD_SFTP_LOG_LEVEL:-INFO} 2>>$dir/sftp.log"
    fi
    [ -n "${SSHD_SFTP_SUBSYSTEM:-}" ] && subsystem=$SSHD_SFTP_SUBSYSTEM
    for try in 1 2 3 4 5; do
        SSHD_PORT=$(free_port)
        SSHD_RO_PORT=$(free_port)
        [ "$SSHD_PORT" = "$SSHD_RO_PORT" ] && continue
        cat >"$dir/sshd_config" <<EOF
ListenAddress 127.0.0.1:$SSHD_PORT
ListenAddress 127.0.0.1:$SSHD_RO_PORT
HostKey $dir/host_ed25519
HostKey $dir/host_ecdsa
PidFile $dir/sshd.pid
AuthorizedKeysFile $SSHD_BASE/user/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
AllowUsers $SSHD_USER
Subsystem sftp $subsystem
LogLevel VERBOSE
MaxStartups 50
Match LocalPort $SSHD_RO_PORT
    ForceCommand internal-sftp -R
EOF
        "$SSHD_BIN" -f "$dir/sshd_config" -D -e 2>>"$dir/sshd.log" &
        SSHD_PID=$!
        local i
        for i in $(seq 100); do
            if port_open "$SSHD_PORT" && port_open "$SSHD_RO_PORT"; then
                SSHD_PIDS+=("$SSHD_PID")
                SSHD_DIR=$dir
                echo "$SSHD_PID" >"$dir/harness.pid"
                echo "$SSHD_PORT $SSHD_RO_PORT" >"$dir/ports"
                return 0
            fi
            kill -0 "$SSHD_PID" 2>/dev/null || break
            sleep 0.05
        done
        kill "$SSHD_PID" 2>/dev/null
        wait "$SSHD_PID" 2>/dev/null
    done
    echo "sshd_start $name: sshd did not start:" >&2
    cat "$dir/sshd.log" >&2
    return 1
}

sshd_stop() { # NAME
    local pid
    pid=$(cat "$SSHD_BASE/$1/harness.pid")
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    local kept=() p
    for p in "${SSHD_PIDS[@]}"; do [ "$p" = "$pid" ] || kept+=("$p"); done
    SSHD_PIDS=("${kept[@]}")
}

# Every process of server NAME but the listener: its children (one per
# connection) and their descendants, killed by process id.
sshd_drop_sessions() { # NAME
    local top pids=() p kids
    top=$(cat "$SSHD_BASE/$1/harness.pid")
    kids=$(pgrep -P "$top")
    while [ -n "$kids" ]; do
        pids+=($kids)
        local next=""
        for p in $kids; do next+=" $(pgrep -P "$p")"; done
        kids=$(echo $next)
    done
    [ ${#pids[@]} -gt 0 ] || return 0
    kill -KILL "${pids[@]}" 2>/dev/null
    # kill(2) only queues the signal: on a busy machine a session may still
    # answer requests for a while.  Wait until each has exited (gone, or a
    # zombie: its connections are closed then), at most 10 s.
    local i state alive
    for i in $(seq 1000); do
        alive=0
        for p in "${pids[@]}"; do
            state=$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null) || continue
            [ -z "$state" ] || [ "$state" = Z ] || alive=1
        done
        [ "$alive" = 0 ] && return 0
        sleep 0.01
    done
    echo "sshd_drop_sessions: sessions of $1 still running after 10 s" >&2
    return 1
}

sshd_known_line() { # NAME PORT TYPE
    local type blob
    read -r type blob _ <"$SSHD_BASE/$1/host_$3.pub"
    echo "[127.0.0.1]:$2 $type $blob"
}

# OpenSSH's sftp client on server NAME's PORT, batch commands on stdin.
sshd_sftp() { # NAME PORT
    local kh="$SSHD_BASE/$1/known_hosts.$2"
    sshd_known_line "$1" "$2" ed25519 >"$kh"
    sftp -q -b - -P "$2" -i "$SSHD_BASE/user/id_ed25519" -o BatchMode=yes \
        -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$kh" "$SSHD_USER@127.0.0.1"
}

# The SFTP request log of server NAME (SSHD_SFTP_LOG=1), one request a line.
sshd_sftp_log() { # NAME
    tr -d '\r' <"$SSHD_BASE/$1/sftp.log" # sftp-server -e ends its lines with CR LF
}

# SHA256:... of a server's host key, as ssh-keygen prints it.
sshd_fingerprint() { # NAME TYPE
    ssh-keygen -l -E sha256 -f "$SSHD_BASE/$1/host_$2.pub" | awk '{print $2}'
}

# A small file system (tmpfs of SIZE) at DIR, for "no space" tests; fails
# (status 1) where mounting is not allowed.  Unmounted at exit.
sshd_tmpfs() { # DIR SIZE
    mkdir -p "$1"
    mount -t tmpfs -o "size=$2,mode=0755" n4o-test "$1" 2>/dev/null || return 1
    SSHD_MOUNTS+=("$1")
}

# DIR read-only for everyone, root included (the harness logs in as the
# current user, root here, whom a chmod does not stop):
#   sshd_immutable DIR   chattr +i: creating or removing entries fails with
#                        EPERM ("permission denied" over SFTP)
#   sshd_ro_bind DIR     a read-only bind mount of DIR onto itself: EROFS
# Both fail (status 1) where the file system or the container does not
# allow it, and are undone at exit.
sshd_immutable() { # DIR
    chattr +i "$1" 2>/dev/null || return 1
    SSHD_IMMUTABLE+=("$1")
}
sshd_ro_bind() { # DIR
    mount --bind "$1" "$1" 2>/dev/null || return 1
    SSHD_MOUNTS+=("$1")
    mount -o remount,ro,bind "$1" 2>/dev/null || return 1
}

# A proxy to PORT that goes silent after AFTER bytes from the client (see
# stall_proxy.py); sets PROXY_PORT.
sshd_stall_proxy() { # PORT AFTER
    local pf="$SSHD_BASE/proxy.$RANDOM" i
    python3 "$(dirname "${BASH_SOURCE[0]}")/stall_proxy.py" "$pf" "$1" "$2" &
    SSHD_HELPERS+=($!)
    for i in $(seq 100); do
        [ -s "$pf" ] && break
        sleep 0.05
    done
    PROXY_PORT=$(cat "$pf")
}

# Wait for a helper's port file and print the port.
_sshd_helper_port() { # FILE
    local i
    for i in $(seq 200); do
        [ -s "$1" ] && break
        sleep 0.05
    done
    cat "$1"
}

# A proxy to PORT that cuts a connection after AFTER bytes (both
# directions), MODE once or every (see cut_proxy.py); sets PROXY_PORT and
# PROXY_CUTS (a file holding the number of cuts so far).
sshd_cut_proxy() { # PORT AFTER MODE
    local pf="$SSHD_BASE/cut.$RANDOM"
    python3 "$(dirname "${BASH_SOURCE[0]}")/cut_proxy.py" "$pf" "$1" "$2" "$3" &
    SSHD_HELPERS+=($!)
    PROXY_PORT=$(_sshd_helper_port "$pf")
    PROXY_CUTS="$pf.cuts"
}

# A proxy to PORT adding DELAY_MS in each direction (see delay_proxy.c,
# built into $N4O_BUILD); sets PROXY_PORT.
sshd_delay_proxy() { # PORT DELAY_MS
    local pf="$SSHD_BASE/delay.$RANDOM"
    "${N4O_BUILD:?N4O_BUILD: the build directory}/delay_proxy" "$pf" "$1" "$2" &
    SSHD_HELPERS+=($!)
    PROXY_PORT=$(_sshd_helper_port "$pf")
}
