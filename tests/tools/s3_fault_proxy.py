#!/usr/bin/env python3
"""An HTTP proxy in front of an S3 server that injects faults, for tests.

    s3_fault_proxy.py --upstream 127.0.0.1:PORT --log FILE [RULE...]

It listens on 127.0.0.1 (a free port, printed as "listening on PORT" on
stdout) and forwards every request unchanged (Host header included, so
SigV4 signatures stay valid) unless a rule matches.  A RULE is

    SUBSTRING:ACTION[:COUNT]

PATTERN is a regular expression searched in "METHOD PATH?QUERY" (e.g.
"partNumber=2&", "^POST .*uploadId=", "^GET .*[.]enc$"); ACTION is 503 (SlowDown), 500 (InternalError), reset (the
connection is cut with a TCP reset after the request was read), cut (the
answer is forwarded but cut halfway through its body), flip (one bit of
the request body is flipped on its way to the server), stall (the
request is read and never answered: the connection stays open and silent
until the client closes it), 404 (answered 404 NoSuchKey, not forwarded:
a HEAD that does not see what is there), drop (forwarded: the server
acts on it; then the connection is cut before its answer, which is lost)
or hold (forwarded, and the server's answer held back: the connection
stays silent until the client closes it); COUNT is how many
times the rule fires (default 1, "always" for every time).  Rules are
tried in order; the first one that matches and still has shots left fires.
Every request and what was done with it is appended to the log, one line
each: "METHOD PATH?QUERY -> STATUS|reset|cut|stall|404|dropped STATUS|held
STATUS" (a stall or a hold is logged when it starts).
"""
import argparse
import re
import http.client
import socket
import socketserver
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ERRORS = {
    "503": (503, "SlowDown", "Please reduce your request rate."),
    "500": (500, "InternalError", "We encountered an internal error. Please try again."),
    "404": (404, "NoSuchKey", "The specified key does not exist."),
}


class Rule:
    def __init__(self, spec):
        parts = spec.rsplit(":", 2)
        if len(parts) == 3 and (parts[2].isdigit() or parts[2] == "always"):
            self.match, self.action, count = parts
        else:
            self.match, self.action = spec.rsplit(":", 1)
            count = "1"
        self.match = re.compile(self.match)
        if self.action not in ("503", "500", "404", "reset", "cut", "flip", "stall", "drop",
                               "hold"):
            raise SystemExit(f"bad action in rule {spec!r}")
        self.left = None if count == "always" else int(count)


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: our own log says it all
        pass

    def record(self, what):
        with self.server.lock:
            with open(self.server.logfile, "a") as f:
                f.write(f"{self.command} {self.path} -> {what}\n")

    def pick(self):
        target = f"{self.command} {self.path}"
        with self.server.lock:
            for r in self.server.rules:
                if r.match.search(target) and (r.left is None or r.left > 0):
                    if r.left is not None:
                        r.left -= 1
                    return r.action
        return None

    def reset(self, what="reset"):
        # SO_LINGER 0: close() sends a TCP reset
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.record(what)

    def silence(self):
        """Answer nothing until the client closes the connection."""
        self.close_connection = True
        try:
            while self.connection.recv(65536):
                pass
        except OSError:
            pass

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        action = self.pick()
        if action == "reset":
            self.reset()
            return
        if action == "stall":
            self.record("stall")
            self.silence()
            return
        if action in ERRORS:
            status, code, msg = ERRORS[action]
            text = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                    f"<Message>{msg}</Message></Error>").encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(text)
            self.record(str(status))
            return
        if action == "flip" and body:
            body = bytearray(body)
            body[len(body) // 2] ^= 0x10
            body = bytes(body)
        up = http.client.HTTPConnection(self.server.upstream, timeout=60)
        headers = {k: v for k, v in self.headers.items()}
        up.request(self.command, self.path, body=body, headers=headers)
        resp = up.getresponse()
        data = resp.read()
        if action == "drop":
            up.close()
            self.reset(f"dropped {resp.status}")
            return
        if action == "hold":
            up.close()
            self.record(f"held {resp.status}")
            self.silence()
            return
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data) if self.command != "HEAD"
                                               else resp.getheader("Content-Length", "0")))
        self.end_headers()
        up.close()
        if self.command == "HEAD":
            self.record(str(resp.status))
            return
        if action == "cut" and len(data) > 1:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.reset("cut")
            return
        self.wfile.write(data)
        self.record(("flipped " if action == "flip" else "") + str(resp.status))

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--upstream", required=True, help="HOST:PORT of the S3 server")
    ap.add_argument("--log", required=True)
    ap.add_argument("rules", nargs="*")
    a = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    srv.daemon_threads = True
    srv.upstream = a.upstream
    srv.logfile = a.log
    srv.rules = [Rule(r) for r in a.rules]
    srv.lock = threading.Lock()
    open(a.log, "a").close()
    print(f"listening on {srv.server_address[1]}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    socketserver.TCPServer.allow_reuse_address = True
    sys.exit(main())
