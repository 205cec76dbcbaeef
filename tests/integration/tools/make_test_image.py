#!/usr/bin/env python3
"""Writes a one-layer OCI image layout without kiln, for the registry tests to push.

Usage: make_test_image.py DIR TAG [MARKER]

The layer (gzip) holds bin/busybox (Debian's busybox-static), bin/sh -> busybox and, when
MARKER is given, etc/kiln-test-marker with that text, so tests can make images that differ.
Everything is deterministic (mtime 0, root-owned), so the same MARKER gives the same digests.
"""
import gzip
import hashlib
import io
import json
import os
import platform
import sys
import tarfile


def add(tar, name, data=None, mode=0o755, kind=tarfile.REGTYPE, target=""):
    info = tarfile.TarInfo(name)
    info.mode, info.type, info.linkname, info.mtime = mode, kind, target, 0
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.size = len(data) if data is not None else 0
    tar.addfile(info, io.BytesIO(data) if data is not None else None)


def write_blob(layout, data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", digest), "wb") as f:
        f.write(data)
    return "sha256:" + digest


def main():
    layout, tag = sys.argv[1], sys.argv[2]
    marker = sys.argv[3] if len(sys.argv) > 3 else None
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in ("bin", "etc", "tmp"):
            add(tar, d, mode=0o1777 if d == "tmp" else 0o755, kind=tarfile.DIRTYPE)
        with open("/bin/busybox", "rb") as f:
            add(tar, "bin/busybox", f.read())
        add(tar, "bin/sh", kind=tarfile.SYMTYPE, mode=0o777, target="busybox")
        if marker is not None:
            add(tar, "etc/kiln-test-marker", marker.encode() + b"\n", mode=0o644)
    diff_id = "sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()
    layer = gzip.compress(raw.getvalue(), compresslevel=6, mtime=0)
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    config = json.dumps({"architecture": arch, "os": "linux",
                         "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                         "history": [{"created_by": "make_test_image.py"}]}, sort_keys=True).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": write_blob(layout, config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": write_blob(layout, layer), "size": len(layer)}]}, sort_keys=True).encode()
    index = {"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": write_blob(layout, manifest),
        "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": tag}}]}
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)


if __name__ == "__main__":
    main()
