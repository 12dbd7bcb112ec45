#!/usr/bin/env python3
"""A TCP proxy adding latency (this kernel has no netem): forwards
127.0.0.1:<free port> to 127.0.0.1:TARGET and delivers every byte DELAY_MS
milliseconds after it arrived, in each direction (so the round trip gains
2 x DELAY_MS), without limiting throughput: each direction is a queue of
timestamped chunks, read as they come and written when due.

usage: delay_proxy.py PORT_FILE TARGET_PORT DELAY_MS [IDLE_SECONDS]
The chosen port is written to PORT_FILE once the proxy listens.  It exits
by itself after IDLE_SECONDS (default 300) without a connection, or when
its parent exits."""
import collections
import os
import socket
import sys
import threading
import time

QUEUE_MAX = 64 * 1024 * 1024  # bytes waiting per direction before reading pauses


class Pipe:
    """One direction: a reader thread queues, a writer thread delivers."""

    def __init__(self, src, dst, delay, done):
        self.src, self.dst, self.delay, self.done = src, dst, delay, done
        self.q = collections.deque()
        self.size = 0
        self.cv = threading.Condition()
        self.eof = False
        threading.Thread(target=self.read, daemon=True).start()
        threading.Thread(target=self.write, daemon=True).start()

    def read(self):
        while True:
            try:
                data = self.src.recv(1 << 18)
            except OSError:
                data = b""
            with self.cv:
                if not data:
                    self.eof = True
                    self.cv.notify()
                    return
                while self.size > QUEUE_MAX:
                    self.cv.wait()
                self.q.append((time.monotonic() + self.delay, data))
                self.size += len(data)
                self.cv.notify()

    def write(self):
        while True:
            with self.cv:
                while not self.q and not self.eof:
                    self.cv.wait()
                if not self.q:
                    break
                due, data = self.q.popleft()
                self.size -= len(data)
                self.cv.notify()
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                self.dst.sendall(data)
            except OSError:
                break
        try:
            self.dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self.done()


def main():
    port_file, target, delay_ms = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    idle = float(sys.argv[4]) if len(sys.argv) > 4 else 300.0
    parent = os.getppid()
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(64)
    lsock.settimeout(1.0)
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % lsock.getsockname()[1])
    os.rename(tmp, port_file)
    active = [0]
    lock = threading.Lock()
    last = time.monotonic()
    while True:
        try:
            c, _ = lsock.accept()
        except socket.timeout:
            with lock:
                busy = active[0] > 0
            if busy:
                last = time.monotonic()
            elif time.monotonic() - last > idle or os.getppid() != parent:
                return
            continue
        try:
            u = socket.create_connection(("127.0.0.1", target))
        except OSError:
            c.close()
            continue
        for s in (c, u):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        left = [2]

        def done(c=c, u=u, left=left):
            with lock:
                left[0] -= 1
                if left[0] == 0:
                    active[0] -= 1
                    c.close()
                    u.close()

        with lock:
            active[0] += 1
        Pipe(c, u, delay_ms / 1000.0, done)
        Pipe(u, c, delay_ms / 1000.0, done)


if __name__ == "__main__":
    main()
