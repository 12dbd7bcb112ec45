#!/usr/bin/env python3
"""A hostile SFTP v3 server for listing tests, run by sshd as the SFTP
subsystem (stdin/stdout; see SSHD_SFTP_SUBSYSTEM in sshd_harness.sh).

usage: sftp_hostile.py STATE_DIR
STATE_DIR/mode, read when a session starts, says how it answers READDIR:
  endless    100 new regular files per answer, never the end
  longname   "a.bin", a 2000-byte name, "b.bin", a 1100-byte name (one
             answer), then "c.bin" (another), then the end
  malformed  "a.bin", then a name whose length runs past the answer
Every other path is a directory (STAT, LSTAT), OPENDIR and CLOSE succeed,
anything else is "operation unsupported".  Each request's type goes to
STATE_DIR/log; STATE_DIR/readdirs holds how many READDIR were answered."""
import os
import struct
import sys

FXP_INIT, FXP_VERSION = 1, 2
FXP_LSTAT, FXP_CLOSE, FXP_OPENDIR, FXP_READDIR, FXP_STAT = 7, 4, 11, 12, 17
FXP_STATUS, FXP_HANDLE, FXP_NAME, FXP_ATTRS = 101, 102, 104, 105
FX_OK, FX_EOF, FX_OP_UNSUPPORTED = 0, 1, 8


def main():
    state = sys.argv[1]
    with open(os.path.join(state, "mode")) as f:
        mode = f.read().strip()
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    log = open(os.path.join(state, "log"), "a")

    def read(n):
        b = b""
        while len(b) < n:
            c = inp.read(n - len(b))
            if not c:
                sys.exit(0)
            b += c
        return b

    def send(t, payload):
        out.write(struct.pack(">IB", len(payload) + 1, t) + payload)
        out.flush()

    def string(s):
        return struct.pack(">I", len(s)) + s

    def status(i, code):
        send(FXP_STATUS, struct.pack(">II", i, code) + string(b"") + string(b""))

    def attrs(perm, size):  # SIZE | PERMISSIONS | ACMODTIME
        return struct.pack(">IQIII", 0x1 | 0x4 | 0x8, size, perm, 1700000000, 1700000000)

    def names(i, entries):
        body = b"".join(string(n) + string(b"") + attrs(0o100600, 3) for n in entries)
        send(FXP_NAME, struct.pack(">II", i, len(entries)) + body)

    readdirs = counter = 0
    while True:
        n = struct.unpack(">I", read(4))[0]
        body = read(n)
        t = body[0]
        if t == FXP_INIT:
            send(FXP_VERSION, struct.pack(">I", 3))
            continue
        i = struct.unpack(">I", body[1:5])[0]
        log.write("type %d\n" % t)
        log.flush()
        if t in (FXP_STAT, FXP_LSTAT):
            send(FXP_ATTRS, struct.pack(">I", i) + attrs(0o40755, 4096))
        elif t == FXP_OPENDIR:
            send(FXP_HANDLE, struct.pack(">I", i) + string(b"D"))
        elif t == FXP_CLOSE:
            status(i, FX_OK)
        elif t == FXP_READDIR:
            readdirs += 1
            with open(os.path.join(state, "readdirs"), "w") as f:
                f.write("%d\n" % readdirs)
            if mode == "endless":
                batch = []
                for _ in range(100):
                    counter += 1
                    batch.append(b"haia_backup_neo4j_%012d.dump.manifest" % counter)
                names(i, batch)
            elif mode == "longname":
                if readdirs == 1:
                    names(i, [b"a.bin", b"x" * 2000, b"b.bin", b"y" * 1100])
                elif readdirs == 2:
                    names(i, [b"c.bin"])
                else:
                    status(i, FX_EOF)
            elif mode == "malformed":
                good = string(b"a.bin") + string(b"") + attrs(0o100600, 3)
                bad = struct.pack(">I", 5000) + b"z" * 10
                send(FXP_NAME, struct.pack(">II", i, 2) + good + bad)
            else:
                status(i, FX_EOF)
        else:
            status(i, FX_OP_UNSUPPORTED)


if __name__ == "__main__":
    main()
