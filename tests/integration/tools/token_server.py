#!/usr/bin/env python3
"""A token service for distribution's `auth.token`, for kiln's registry tests only.

Usage: token_server.py CONFIG.json PORT_FILE

CONFIG: {"users": {name: password}, "admins": [name], "service", "issuer", "expires_in",
"key": PEM private key, "cert": PEM certificate (the registry's rootcertbundle),
"log": JSONL file, "tls": {"cert", "key"} (optional)}.

Binds 127.0.0.1:0, writes the port to PORT_FILE, and answers GET /token (Basic
credentials optional) and POST /token (grant_type=password or refresh_token) with
{"token", "access_token", "expires_in", "issued_at"} (+ "refresh_token" when asked for
offline_token or on the password grant). The JWT is RS256 with an x5c header, as
distribution 2.8 verifies it against rootcertbundle.

Grants: anonymous may pull anything; a user may pull anything and push/delete repositories
named USER or under USER/; admins may do everything. Each request is logged, one JSON line:
method, path, account, scopes requested, scopes granted, status. Never passwords or tokens.
"""
import base64
import binascii
import datetime
import hmac
import http.server
import json
import secrets
import sys
import threading
import time
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

import local_server

CONFIG = json.load(open(sys.argv[1]))
PORT_FILE = sys.argv[2]
KEY = serialization.load_pem_private_key(open(CONFIG["key"], "rb").read(), password=None)
CERT_DER = x509.load_pem_x509_certificate(open(CONFIG["cert"], "rb").read()).public_bytes(
    serialization.Encoding.DER)
LOG_LOCK = threading.Lock()
# Refresh tokens this process issued: token -> account.
REFRESH = {}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_jwt(account, access):
    now = int(time.time())
    header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(CERT_DER).decode()]}
    claims = {"iss": CONFIG["issuer"], "sub": account, "aud": CONFIG["service"],
              "exp": now + int(CONFIG.get("expires_in", 300)), "nbf": now - 1, "iat": now,
              "jti": secrets.token_hex(16), "access": access}
    signing_input = (b64url(json.dumps(header).encode()) + "." +
                     b64url(json.dumps(claims).encode())).encode()
    signature = KEY.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return signing_input.decode() + "." + b64url(signature)


def allowed_actions(account, rtype, name):
    if account in CONFIG.get("admins", []):
        return {"pull", "push", "delete", "*"}
    if rtype != "repository":
        return set()
    granted = {"pull"}
    if account and (name == account or name.startswith(account + "/")):
        granted |= {"push", "delete"}
    return granted


def grant(account, scopes):
    """The token's access claim for the requested scopes, and the granted scopes as text."""
    access, granted_text = [], []
    for scope in scopes:
        # "repository:name:actions", where name may hold a port ("host:5000/x" is not
        # valid in a scope, but a colon in the name must still not split it wrongly).
        parts = scope.split(":")
        if len(parts) < 3:
            continue
        rtype, name, actions = parts[0], ":".join(parts[1:-1]), parts[-1].split(",")
        ok = allowed_actions(account, rtype, name)
        given = [a for a in actions if a in ok]
        if given:
            access.append({"type": rtype, "name": name, "actions": given})
            granted_text.append("%s:%s:%s" % (rtype, name, ",".join(given)))
    return access, granted_text


def log(entry):
    with LOG_LOCK, open(CONFIG["log"], "a") as f:
        f.write(json.dumps(entry) + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # the JSONL log is the record; stderr stays quiet
        pass

    def reply(self, status, body, entry):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="kiln-test-token"')
        self.end_headers()
        self.wfile.write(data)
        entry["status"] = status
        log(entry)

    def basic_account(self):
        """None: no credentials; False: wrong ones; else the user name."""
        header = self.headers.get("Authorization", "")
        if not header.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:].strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return self.check(user, password)

    @staticmethod
    def check(user, password):
        expected = CONFIG["users"].get(user)
        if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
            return False
        return user

    def answer(self, entry, account, scopes, service, offline):
        entry.update(account=account or "", scopes=scopes)
        if service and service != CONFIG["service"]:
            return self.reply(400, {"errors": [{"code": "DENIED", "message": "unknown service"}]}, entry)
        access, granted = grant(account, scopes)
        entry["granted"] = granted
        token = sign_jwt(account or "", access)
        body = {"token": token, "access_token": token, "expires_in": int(CONFIG.get("expires_in", 300)),
                "issued_at": datetime.datetime.now(datetime.timezone.utc).isoformat()}
        if account and offline:
            refresh = secrets.token_urlsafe(24)
            REFRESH[refresh] = account
            body["refresh_token"] = refresh
        self.reply(200, body, entry)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        entry = {"method": "GET", "path": url.path}
        if url.path != "/token":
            return self.reply(404, {"errors": [{"code": "NOT_FOUND"}]}, entry)
        account = self.basic_account()
        if account is False:
            entry["account"] = "(bad credentials)"
            return self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]}, entry)
        scopes = [s for v in q.get("scope", []) for s in v.split(" ") if s]
        self.answer(entry, account, scopes, q.get("service", [""])[0],
                    q.get("offline_token", [""])[0] == "true")

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        entry = {"method": "POST", "path": url.path}
        length = int(self.headers.get("Content-Length", "0") or 0)
        if length > 65536:
            return self.reply(413, {"errors": [{"code": "SIZE_INVALID"}]}, entry)
        form = urllib.parse.parse_qs(self.rfile.read(length).decode(errors="replace"))
        if url.path != "/token":
            return self.reply(404, {"errors": [{"code": "NOT_FOUND"}]}, entry)
        get = lambda k: form.get(k, [""])[0]
        grant_type = get("grant_type")
        entry["grant_type"] = grant_type
        if grant_type == "password":
            account = self.check(get("username"), get("password"))
        elif grant_type == "refresh_token":
            account = REFRESH.get(get("refresh_token"), False)
        else:
            return self.reply(400, {"error": "unsupported_grant_type"}, entry)
        if account is False:
            entry["account"] = "(bad credentials)"
            return self.reply(401, {"error": "invalid_grant"}, entry)
        scopes = [s for s in get("scope").split(" ") if s]
        self.answer(entry, account, scopes, get("service"), grant_type == "password")


def main():
    local_server.serve_forever(Handler, PORT_FILE, CONFIG.get("tls"))


if __name__ == "__main__":
    main()
