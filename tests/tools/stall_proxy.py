#!/usr/bin/env python3
"""A TCP proxy for timeout tests: forwards 127.0.0.1:<free port> to
127.0.0.1:TARGET until STALL_AFTER bytes have gone from client to server,
then stops forwarding in both directions while keeping every connection
open (a link that went silent, not one that broke).

usage: stall_proxy.py PORT_FILE TARGET_PORT STALL_AFTER
The chosen port is written to PORT_FILE once the proxy listens."""
import os
import selectors
import socket
import sys


def main():
    port_file, target, stall_after = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % lsock.getsockname()[1])
    os.rename(tmp, port_file)
    sel = selectors.DefaultSelector()
    sel.register(lsock, selectors.EVENT_READ, None)
    peers = {}
    sent = 0
    keep = []  # stalled sockets stay open
    while True:
        for key, _ in sel.select():
            s = key.fileobj
            if s is lsock:
                c, _ = lsock.accept()
                u = socket.create_connection(("127.0.0.1", target))
                peers[c], peers[u] = u, c
                sel.register(c, selectors.EVENT_READ, "up")
                sel.register(u, selectors.EVENT_READ, "down")
                continue
            if sent >= stall_after:
                sel.unregister(s)
                keep.append(s)
                continue
            data = s.recv(65536)
            if not data:
                for x in (s, peers[s]):
                    try:
                        sel.unregister(x)
                    except (KeyError, ValueError):
                        pass
                    x.close()
                continue
            if key.data == "up":
                room = stall_after - sent
                data = data[:room]
                sent += len(data)
            peers[s].sendall(data)


if __name__ == "__main__":
    main()
