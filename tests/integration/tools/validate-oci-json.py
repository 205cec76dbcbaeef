#!/usr/bin/python3
"""Validates OCI JSON documents against the image-spec schemas (draft-04).

Usage: validate-oci-json.py SCHEMA_DIR KIND FILE...   (KIND: index, manifest, config, layout)
Uses Debian's python3-jsonschema; exits 2 when it is missing so the caller can skip.
"""
import json
import pathlib
import sys

try:
    import jsonschema
except ImportError:
    print("python3-jsonschema is not installed", file=sys.stderr)
    sys.exit(2)

SCHEMAS = {
    "index": "image-index-schema.json",
    "manifest": "image-manifest-schema.json",
    "config": "config-schema.json",
    "layout": "image-layout-schema.json",
}


def main():
    schema_dir = pathlib.Path(sys.argv[1])
    store = {}
    # The schemas name each other by their "id" URL and by file name.
    for path in schema_dir.glob("*.json"):
        doc = json.loads(path.read_text())
        store[path.name] = doc
        if "id" in doc:
            store[doc["id"]] = doc
    # A relative "$ref" resolves against the referring schema's id URL: register every file
    # under each base URL too, so nothing is fetched from the network.
    bases = set()

    def collect(node):
        if isinstance(node, dict):
            if isinstance(node.get("id"), str):
                bases.add(node["id"].rsplit("/", 1)[0] + "/")
            for v in node.values():
                collect(v)
        elif isinstance(node, list):
            for v in node:
                collect(v)

    for doc in list(store.values()):
        collect(doc)
    for path in schema_dir.glob("*.json"):
        for base in bases:
            store[base + path.name] = store[path.name]
    schema = store[SCHEMAS[sys.argv[2]]]
    resolver = jsonschema.RefResolver(base_uri=schema.get("id", ""), referrer=schema, store=store)
    validator = jsonschema.Draft4Validator(schema, resolver=resolver)
    failed = False
    for name in sys.argv[3:]:
        errors = sorted(validator.iter_errors(json.loads(pathlib.Path(name).read_text())), key=str)
        for e in errors:
            print(f"{name}: {'/'.join(map(str, e.path))}: {e.message}")
            failed = True
    sys.exit(1 if failed else 0)


main()
