#!/usr/bin/python3
"""Independent decoder for neo4j-offsite archives.

Written from docs/FORMAT.md alone, with the Python standard library and
PyNaCl (Debian's python3-nacl); it shares no code with the project.  It
verifies the manifest signature, the archive size and BLAKE2b, decrypts, and
checks the plaintext size and BLAKE2b.  Reads format versions 1 and 2; for
version 2 it checks the header against the manifest's archive_header_blake2b
before it opens the sealed key, and accepts the optional neo4j_version.

usage: decode.py --secret-key archive.key --verify-key signing.pub
                 [--passphrase-file F] [--ignore-archive-hash]
                 ARCHIVE.enc ARCHIVE.manifest OUT

--ignore-archive-hash is for tests: it skips the archive size and BLAKE2b
check so that a test can show that decryption alone rejects a damaged
archive.

Exit 0 on success (OUT written), 4 on any integrity failure (OUT removed),
2 on bad usage or key files.
"""

import argparse
import base64
import json
import os
import re
import sys

import nacl.bindings as sodium
import nacl.exceptions
import nacl.hashlib
import nacl.pwhash
import nacl.signing

MAGIC = b"\x89N4JOFS\n"
HEADER_LEN = 128
ABYTES = 17
TAG_MESSAGE = 0
TAG_FINAL = 3


class Integrity(Exception):
    pass


class Usage(Exception):
    pass


def blake2b_256():
    return nacl.hashlib.blake2b(digest_size=32)


def key_id(pub):
    h = blake2b_256()
    h.update(pub)
    return h.digest()[:8].hex()


def read_key_file(path, labels):
    """Return (label, payload bytes) of the data line; LABELS are allowed."""
    with open(path, "rb") as f:
        text = f.read().decode("ascii")
    lines = text.split("\n")
    data = None
    for i, line in enumerate(lines):
        if line == "" or line.startswith("#"):
            continue
        if lines[i + 1:] not in ([], [""]):  # only the final LF may follow
            raise Usage(f"{path}: text after the key line")
        data = line
        break
    if data is None or " " not in data:
        raise Usage(f"{path}: no key line")
    label, b64 = data.split(" ", 1)
    if label not in labels:
        raise Usage(f"{path}: label {label}, expected one of {labels}")
    return label, base64.b64decode(b64, validate=True)


def check_private_mode(path):
    if os.stat(path).st_mode & 0o077:
        raise Usage(f"{path} is readable by group or others")


def load_archive_secret(path, passphrase_file):
    check_private_mode(path)
    label, payload = read_key_file(
        path, ["N4O-ARCHIVE-KEY-1", "N4O-ARCHIVE-KEY-ARGON2ID-1"])
    if label == "N4O-ARCHIVE-KEY-1":
        secret = payload
    else:
        if len(payload) != 104:
            raise Usage(f"{path}: wrapped payload is {len(payload)} bytes")
        if not passphrase_file:
            raise Usage(f"{path} is passphrase-protected: give --passphrase-file")
        check_private_mode(passphrase_file)
        with open(passphrase_file, "rb") as f:
            pw = f.read()
        if pw.endswith(b"\n"):
            pw = pw[:-1]
        salt = payload[0:16]
        ops = int.from_bytes(payload[16:24], "big")
        mem = int.from_bytes(payload[24:32], "big")
        nonce = payload[32:56]
        ct = payload[56:104]
        wrapkey = nacl.pwhash.argon2id.kdf(32, pw, salt, opslimit=ops, memlimit=mem)
        try:
            secret = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
                ct, label.encode("ascii"), nonce, wrapkey)
        except nacl.exceptions.CryptoError:
            raise Usage(f"wrong passphrase for {path}")
    if len(secret) != 32:
        raise Usage(f"{path}: secret is {len(secret)} bytes")
    return secret, sodium.crypto_scalarmult_base(secret)


def load_verify_key(path):
    _, pub = read_key_file(path, ["N4O-SIGNING-PUB-1"])
    if len(pub) != 32:
        raise Usage(f"{path}: public key is {len(pub)} bytes")
    return pub


def no_duplicates(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise Integrity(f"manifest: duplicate member {k!r}")
        d[k] = v
    return d


HEX64 = re.compile(r"[0-9a-f]{64}")
HEX16 = re.compile(r"[0-9a-f]{16}")
NEO4J_VERSION = re.compile(r"[0-9]{1,9}(\.[0-9]{1,9}){1,3}")


def verify_manifest(path, verify_pub):
    with open(path, "rb") as f:
        raw = f.read()
    try:
        obj = json.loads(raw.decode("utf-8"), object_pairs_hook=no_duplicates)
    except (ValueError, UnicodeDecodeError) as e:
        raise Integrity(f"manifest is not JSON: {e}")
    if not isinstance(obj, dict) or obj.get("format_version") not in (1, 2) or \
            type(obj.get("format_version")) is not int:
        raise Integrity("manifest format_version is not 1 or 2")
    ints = ["archive_size", "plaintext_size", "chunk_size"]
    strs = ["tool_version", "database", "dump_started", "dump_ended", "host",
            "archive", "archive_blake2b", "plaintext_blake2b",
            "recipient_key_id", "signer_key_id", "signature"]
    hashes = ["archive_blake2b", "plaintext_blake2b"]
    if obj["format_version"] == 2:
        strs.append("archive_header_blake2b")
        hashes.append("archive_header_blake2b")
        if "neo4j_version" in obj:  # optional
            strs.append("neo4j_version")
    if set(obj) != set(ints + strs + ["dump", "format_version"]):
        raise Integrity(f"manifest members differ from FORMAT.md: {sorted(obj)}")
    for k in ints:
        if type(obj[k]) is not int or obj[k] < 0:
            raise Integrity(f"manifest {k} is not a non-negative integer")
    for k in strs:
        if not isinstance(obj[k], str) or not obj[k]:
            raise Integrity(f"manifest {k} is not a non-empty string")
    for k in hashes:
        if not HEX64.fullmatch(obj[k]):
            raise Integrity(f"manifest {k} is not 64 hex digits")
    for k in ("recipient_key_id", "signer_key_id"):
        if not HEX16.fullmatch(obj[k]):
            raise Integrity(f"manifest {k} is not 16 hex digits")
    if "neo4j_version" in strs and (len(obj["neo4j_version"]) > 31 or
                                    not NEO4J_VERSION.fullmatch(obj["neo4j_version"])):
        raise Integrity("manifest neo4j_version is not a version number")
    if obj["signer_key_id"] != key_id(verify_pub):
        raise Integrity(f"manifest signed by unknown key {obj['signer_key_id']}")
    sig = base64.b64decode(obj["signature"], validate=True)
    unsigned = {k: v for k, v in obj.items() if k != "signature"}
    signed = json.dumps(unsigned, sort_keys=True, separators=(",", ":"),
                        ensure_ascii=False).encode("utf-8")
    try:
        nacl.signing.VerifyKey(verify_pub).verify(signed, sig)
    except nacl.exceptions.BadSignatureError:
        raise Integrity("manifest signature does not verify")
    return obj


def decrypt(archive, secret, public, m, out, check_hash=True):
    if check_hash:
        size = os.path.getsize(archive)
        if size != m["archive_size"]:
            raise Integrity(f"archive is {size} bytes, manifest says {m['archive_size']}")
        h = blake2b_256()
        with open(archive, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        if h.hexdigest() != m["archive_blake2b"]:
            raise Integrity("archive BLAKE2b differs from the manifest")

    ph = blake2b_256()
    psize = 0
    with open(archive, "rb") as f, open(out, "xb") as o:
        header = f.read(HEADER_LEN)
        if len(header) != HEADER_LEN or header[0:8] != MAGIC:
            raise Integrity("not an archive (magic)")
        version = int.from_bytes(header[8:10], "big")
        hlen = int.from_bytes(header[10:12], "big")
        chunk = int.from_bytes(header[12:16], "big")
        if version not in (1, 2) or hlen != HEADER_LEN:
            raise Integrity(f"unsupported version {version} / header length {hlen}")
        if version != m["format_version"]:
            raise Integrity(f"archive version {version} does not match its signed "
                            f"manifest (version {m['format_version']})")
        if version == 2:
            hh = blake2b_256()
            hh.update(header)
            if hh.hexdigest() != m["archive_header_blake2b"]:
                raise Integrity("the archive header does not match its signed manifest")
        if not 1024 <= chunk <= 16 * 1024 * 1024 or chunk != m["chunk_size"]:
            raise Integrity(f"bad chunk size {chunk}")
        rid = header[16:24].hex()
        if rid != key_id(public) or rid != m["recipient_key_id"]:
            raise Integrity(f"archive is for key {rid}, this key is {key_id(public)}")
        try:
            key = sodium.crypto_box_seal_open(header[24:104], public, secret)
        except nacl.exceptions.CryptoError:
            raise Integrity("cannot open the sealed key")
        state = sodium.crypto_secretstream_xchacha20poly1305_state()
        sodium.crypto_secretstream_xchacha20poly1305_init_pull(state, header[104:128], key)
        offset = HEADER_LEN
        index = 0
        final = False
        while True:
            c = f.read(chunk + ABYTES)
            if not c:
                break
            if final:
                raise Integrity(f"data after the final chunk at offset {offset}")
            try:
                p, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(
                    state, c, header if index == 0 else None)
            except nacl.exceptions.CryptoError:
                raise Integrity(f"chunk {index} at offset {offset} fails authentication")
            if tag == TAG_FINAL:
                final = True
            elif tag != TAG_MESSAGE or len(c) != chunk + ABYTES:
                raise Integrity(f"chunk {index} at offset {offset}: short or bad tag {tag}")
            o.write(p)
            ph.update(p)
            psize += len(p)
            offset += len(c)
            index += 1
        if not final:
            raise Integrity(f"truncated at offset {offset}: no final chunk")
    if psize != m["plaintext_size"] or ph.hexdigest() != m["plaintext_blake2b"]:
        raise Integrity("plaintext size or BLAKE2b differs from the manifest")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--secret-key", required=True)
    ap.add_argument("--verify-key", required=True)
    ap.add_argument("--passphrase-file")
    ap.add_argument("--ignore-archive-hash", action="store_true")
    ap.add_argument("archive")
    ap.add_argument("manifest")
    ap.add_argument("out")
    a = ap.parse_args()
    if os.path.lexists(a.out):
        print(f"decode.py: {a.out} exists; not overwriting", file=sys.stderr)
        return 2
    created = False
    try:
        secret, public = load_archive_secret(a.secret_key, a.passphrase_file)
        m = verify_manifest(a.manifest, load_verify_key(a.verify_key))
        created = True
        decrypt(a.archive, secret, public, m, a.out, not a.ignore_archive_hash)
    except Integrity as e:
        print(f"decode.py: integrity: {e}", file=sys.stderr)
        if created and os.path.exists(a.out):
            os.unlink(a.out)
        return 4
    except (Usage, ValueError, OSError) as e:
        print(f"decode.py: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
