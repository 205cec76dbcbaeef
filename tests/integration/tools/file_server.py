"""A file server for the ADD tests: serves the files of a directory on 127.0.0.1 with
Last-Modified (the file's mtime) and an ETag (its content's sha256), answers a matching
If-None-Match with 304, and /redirect/NAME with a 302 to /NAME. Each request is appended
to a log as one JSON line (method, path, status, and the If-None-Match it carried), so a
test can tell a download from a revalidation.

usage: file_server.py ROOT PORT_FILE REQUEST_LOG"""
import email.utils
import hashlib
import http.server
import json
import os
import sys

import local_server

ROOT, PORT_FILE, REQUEST_LOG = sys.argv[1], sys.argv[2], sys.argv[3]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def record(self, status):
        entry = {"method": self.command, "path": self.path, "status": status,
                 "if_none_match": self.headers.get("If-None-Match", "")}
        with open(REQUEST_LOG, "a") as log:
            log.write(json.dumps(entry) + "\n")

    def answer(self, status, headers=(), body=b""):
        self.record(status)
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        name = self.path.split("?", 1)[0].lstrip("/")
        if name.startswith("redirect/"):
            self.answer(302, [("Location", "/" + name[len("redirect/"):])])
            return
        path = os.path.join(ROOT, name)
        if "/" in name or not name or not os.path.isfile(path):
            self.answer(404, body=b"not found\n")
            return
        with open(path, "rb") as f:
            body = f.read()
        etag = '"' + hashlib.sha256(body).hexdigest() + '"'
        modified = email.utils.formatdate(os.stat(path).st_mtime, usegmt=True)
        headers = [("ETag", etag), ("Last-Modified", modified)]
        if self.headers.get("If-None-Match") == etag:
            self.answer(304, headers)
            return
        self.answer(200, headers + [("Content-Type", "application/octet-stream")], body)


local_server.serve_forever(Handler, PORT_FILE)
