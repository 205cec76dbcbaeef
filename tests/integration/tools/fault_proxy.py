#!/usr/bin/env python3
"""An HTTP/1.1 forwarder in front of a test registry that injects faults, for kiln's tests.

Usage: fault_proxy.py CONFIG.json

CONFIG: {"upstream": "127.0.0.1:PORT", "rules": RULES.json, "log": JSONL file,
"port_file": file to write the port to, "tls": {"cert", "key", "ca"} (optional: serve
HTTPS with cert/key and reach the upstream over HTTPS trusting ca; with "client_ca",
"client_cert", "client_key" also demand a client certificate and show one upstream)}.

RULES.json (re-read on every request, so tests change it at run time) is a list of
{"id", "action", "path" (regex searched in the path), "method" ("" = any), "count" (uses,
< 0 = forever), ...}; the first matching rule with uses left acts:
  fail           answer "status" (+ "retry_after") without forwarding
  corrupt        forward, flipping bytes of the response body (same length)
  slow           forward, sleeping "delay_ms" after each "chunk_bytes" of response body
  drop-request   read "bytes" of the request body, then close the connection
  drop-response  send headers and "bytes" of the response body, then close
  hang           read the request, answer nothing for "delay_ms", then close (never forwards)
  redirect       answer "status" (default 307) with Location "location" + the request's path
                 and query, without forwarding
Every request is logged as one JSON line: method, path, query, status (0: dropped before
a status was sent), action, range, content_range, content_type, auth_scheme (the scheme
of Authorization only, never its value), request_bytes, response_bytes, time (seconds on
a monotonic clock when the request arrived, to see how far apart retries were).
"""
import http.client
import http.server
import json
import re
import socket
import ssl
import sys
import threading
import time
import urllib.parse

import local_server

CONFIG = json.load(open(sys.argv[1]))
UPSTREAM_HOST, UPSTREAM_PORT = CONFIG["upstream"].rsplit(":", 1)
LOCK = threading.Lock()
USED = {}  # rule id -> times applied
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
              "te", "trailer", "transfer-encoding", "upgrade", "expect", "content-length"}
MAX_BODY = 1 << 31  # the proxy buffers request bodies; tests push at most a few hundred MiB
UPSTREAM_TLS = None
if "tls" in CONFIG:
    UPSTREAM_TLS = ssl.create_default_context(cafile=CONFIG["tls"]["ca"])
    if CONFIG["tls"].get("client_cert"):
        UPSTREAM_TLS.load_cert_chain(CONFIG["tls"]["client_cert"], CONFIG["tls"]["client_key"])


def pick_rule(method, path):
    try:
        with open(CONFIG["rules"]) as f:
            rules = json.load(f)
    except (OSError, ValueError):
        rules = []
    with LOCK:
        for rule in rules:
            if rule.get("method") and rule["method"] != method:
                continue
            if not re.search(rule.get("path", ""), path):
                continue
            count = rule.get("count", 1)
            used = USED.get(rule["id"], 0)
            if 0 <= count <= used:
                continue
            USED[rule["id"]] = used + 1
            return rule
    return None


def log(entry):
    # Opened per line, so a test that truncates or replaces the file loses nothing later.
    with LOCK, open(CONFIG["log"], "a") as f:
        f.write(json.dumps(entry) + "\n")


class Dropped(Exception):
    pass


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120  # an idle client connection is closed, never held forever

    def log_message(self, fmt, *args):
        pass

    def read_body(self, limit):
        """The request body (Content-Length or chunked), at most `limit` bytes of it."""
        te = self.headers.get("Transfer-Encoding", "").lower()
        if "chunked" in te:
            data = bytearray()
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise Dropped()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data), False
                want = min(size, limit - len(data))
                data += self.rfile.read(want)
                if want < size:
                    return bytes(data), True
                self.rfile.readline(1024)
        length = int(self.headers.get("Content-Length", "0") or 0)
        if length > MAX_BODY:
            raise Dropped()
        data = self.rfile.read(min(length, limit))
        return data, len(data) < length

    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        auth = self.headers.get("Authorization", "")
        entry = {"method": self.command, "path": url.path, "query": url.query, "status": 0, "action": "forward",
                 "range": self.headers.get("Range", ""), "content_range": self.headers.get("Content-Range", ""),
                 "content_type": self.headers.get("Content-Type", ""),
                 "auth_scheme": auth.split(" ", 1)[0] if auth else "", "request_bytes": 0, "response_bytes": 0,
                 "time": time.monotonic()}
        rule = pick_rule(self.command, url.path)
        action = rule["action"] if rule else "forward"
        entry["action"] = action
        dropped = False
        try:
            limit = int(rule["bytes"]) if action == "drop-request" else MAX_BODY
            body, cut = self.read_body(limit)
            entry["request_bytes"] = len(body)
            if action == "drop-request":
                raise Dropped()
            if action == "hang":
                time.sleep(int(rule.get("delay_ms", 1000)) / 1000.0)
                raise Dropped()
            if action == "fail":
                self.send_fault(rule, entry)
            elif action == "redirect":
                self.send_redirect(rule, entry, url)
            else:
                self.forward(body, rule, entry)
        except (Dropped, ConnectionError, socket.timeout, ssl.SSLError):
            dropped = True
        finally:
            # Logged before the connection closes: a client that sees the close finds its
            # request in the log.
            log(entry)
        if dropped:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def send_fault(self, rule, entry):
        status = int(rule.get("status", 503))
        data = json.dumps({"errors": [{"code": "UNAVAILABLE", "message": "injected by fault_proxy"}]}).encode()
        self.send_response(status)
        if rule.get("retry_after"):
            self.send_header("Retry-After", str(rule["retry_after"]))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        entry["status"] = status
        if self.command != "HEAD":
            self.wfile.write(data)
            entry["response_bytes"] = len(data)

    def send_redirect(self, rule, entry, url):
        status = int(rule.get("status", 307))
        target = rule["location"] + url.path + ("?" + url.query if url.query else "")
        self.send_response(status)
        self.send_header("Location", target)
        self.send_header("Content-Length", "0")
        self.end_headers()
        entry["status"] = status

    def forward(self, body, rule, entry):
        if UPSTREAM_TLS:
            conn = http.client.HTTPSConnection(UPSTREAM_HOST, int(UPSTREAM_PORT), timeout=120,
                                               context=UPSTREAM_TLS)
        else:
            conn = http.client.HTTPConnection(UPSTREAM_HOST, int(UPSTREAM_PORT), timeout=120)
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    conn.putheader(name, value)
            if body or self.command in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            self.relay(resp, rule, entry)
        except (OSError, http.client.HTTPException):
            # The registry died or hung up (e.g. killed by the test): the client sees the same.
            raise Dropped()
        finally:
            conn.close()

    def relay(self, resp, rule, entry):
        action = rule["action"] if rule else "forward"
        length = resp.getheader("Content-Length")
        has_body = self.command != "HEAD" and resp.status not in (204, 304) and resp.status >= 200
        if has_body and length is None:
            data = resp.read()  # chunked or until close: re-sent with a length
            length = str(len(data))
            chunks = iter([data])
        else:
            chunks = iter(lambda: resp.read(int(rule.get("chunk_bytes", 65536)) if rule else 65536), b"")
        self.send_response_only(resp.status, resp.reason)
        for name, value in resp.getheaders():
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        if length is not None:
            self.send_header("Content-Length", length)
        self.end_headers()
        entry["status"] = resp.status
        if not has_body:
            return
        sent = 0
        for chunk in chunks:
            if action == "corrupt":
                chunk = bytes(b ^ 0xFF for b in chunk)
            if action == "drop-response" and sent + len(chunk) >= int(rule["bytes"]):
                self.wfile.write(chunk[:max(0, int(rule["bytes"]) - sent)])
                entry["response_bytes"] = int(rule["bytes"])
                self.wfile.flush()
                raise Dropped()
            self.wfile.write(chunk)
            sent += len(chunk)
            entry["response_bytes"] = sent
            if action == "slow":
                self.wfile.flush()
                time.sleep(int(rule.get("delay_ms", 100)) / 1000.0)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


def main():
    local_server.serve_forever(Handler, CONFIG["port_file"], CONFIG.get("tls"))


if __name__ == "__main__":
    main()
