#!/usr/bin/env python3
"""A TCP proxy for resume tests: forwards 127.0.0.1:<free port> to
127.0.0.1:TARGET and cuts a connection (closes both sides) once AFTER bytes
have crossed it, counting both directions.  MODE "once": only the first
connection that reaches AFTER is cut, later ones pass untouched; MODE
"every": every connection is cut at AFTER bytes.

usage: cut_proxy.py PORT_FILE TARGET_PORT AFTER once|every [IDLE_SECONDS]
The chosen port is written to PORT_FILE once the proxy listens; the number
of cuts so far is kept in PORT_FILE.cuts.  The proxy exits by itself after
IDLE_SECONDS (default 120) without traffic, or when its parent exits."""
import os
import selectors
import socket
import sys
import time


def main():
    port_file, target, after, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    idle = float(sys.argv[5]) if len(sys.argv) > 5 else 120.0
    parent = os.getppid()
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(64)
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % lsock.getsockname()[1])
    os.rename(tmp, port_file)
    sel = selectors.DefaultSelector()
    sel.register(lsock, selectors.EVENT_READ, None)
    peers = {}
    count = {}  # connection id -> bytes so far
    conn_of = {}
    cuts = 0
    last = time.monotonic()

    def close_pair(s):
        for x in (s, peers.get(s)):
            if x is None:
                continue
            try:
                sel.unregister(x)
            except (KeyError, ValueError):
                pass
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            x.close()
            peers.pop(x, None)
            conn_of.pop(x, None)

    while True:
        events = sel.select(timeout=1.0)
        now = time.monotonic()
        if events:
            last = now
        elif now - last > idle or os.getppid() != parent:
            return
        for key, _ in events:
            s = key.fileobj
            if s is lsock:
                c, _ = lsock.accept()
                try:
                    u = socket.create_connection(("127.0.0.1", target))
                except OSError:
                    c.close()
                    continue
                cid = object()
                count[cid] = 0
                peers[c], peers[u] = u, c
                conn_of[c] = conn_of[u] = cid
                sel.register(c, selectors.EVENT_READ, None)
                sel.register(u, selectors.EVENT_READ, None)
                continue
            if s not in peers:
                continue
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if not data:
                close_pair(s)
                continue
            cid = conn_of[s]
            armed = mode == "every" or cuts == 0
            if armed and count[cid] + len(data) >= after:
                room = after - count[cid]
                try:
                    peers[s].sendall(data[:room])
                except OSError:
                    pass
                cuts += 1
                with open(port_file + ".cuts", "w") as f:
                    f.write("%d\n" % cuts)
                close_pair(s)
                continue
            count[cid] += len(data)
            try:
                peers[s].sendall(data)
            except OSError:
                close_pair(s)


if __name__ == "__main__":
    main()
