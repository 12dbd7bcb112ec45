#!/usr/bin/env python3
"""Seeding and counting for bench/prune.sh (boto3 and the standard library,
not our code).

    prune_seed.py s3-seed ENDPOINT BUCKET PREFIX SOURCE NAMES [SOURCE_PREFIX]
        server-side copies (CopyObject) of SOURCE_PREFIX+SOURCE.dump.enc and
        .dump.manifest to PREFIX+NAME.dump.enc / .dump.manifest for each
        "NAME EPOCH" line of the file NAMES, with x-amz-meta-mtime = EPOCH
        (the modification time rclone reads); SOURCE_PREFIX defaults to PREFIX
    prune_seed.py s3-list ENDPOINT BUCKET PREFIX
        the keys under PREFIX, one a line, without PREFIX
    prune_seed.py fs-seed DIR SOURCE NAMES [SOURCE_DIR]
        the same as plain file copies from SOURCE_DIR (default DIR) into
        DIR, mtime = EPOCH
    prune_seed.py count-tool LOG      our -v log: "s3: METHOD URL" lines
    prune_seed.py count-rgw LOG       radosgw's beast access lines
    prune_seed.py count-sftp LOG      sftp-server's request log (DEBUG3)
        each prints "kind=count ..." on one line
    prune_seed.py rgw-seconds LOG     radosgw's time (the sum of the
        latencies it logs) by kind of request, "kind=seconds ..."

Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY."""
import collections
import concurrent.futures
import os
import re
import shutil
import sys

SUFFIXES = (".dump.enc", ".dump.manifest")


def client(endpoint):
    import boto3
    import botocore.config
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        config=botocore.config.Config(
                            retries={"max_attempts": 3}, max_pool_connections=16,
                            s3={"addressing_style": "path"}))


def names(path):
    with open(path) as f:
        return [(n, int(e)) for n, e in (line.split() for line in f if line.strip())]


def s3_seed(endpoint, bucket, prefix, source, names_file, source_prefix=None):
    s3 = client(endpoint)
    if source_prefix is None:
        source_prefix = prefix

    def one(job):
        name, epoch, suffix = job
        s3.copy_object(Bucket=bucket, Key=prefix + name + suffix,
                       CopySource={"Bucket": bucket, "Key": source_prefix + source + suffix},
                       Metadata={"mtime": "%d.000000000" % epoch}, MetadataDirective="REPLACE")

    jobs = [(n, e, s) for n, e in names(names_file) for s in SUFFIXES]
    with concurrent.futures.ThreadPoolExecutor(12) as ex:
        for _ in ex.map(one, jobs):
            pass
    return 0


def s3_list(endpoint, bucket, prefix):
    s3 = client(endpoint)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            print(o["Key"][len(prefix):])
    return 0


def fs_seed(directory, source, names_file, source_dir=None):
    if source_dir is None:
        source_dir = directory
    for name, epoch in names(names_file):
        for s in SUFFIXES:
            dst = os.path.join(directory, name + s)
            shutil.copyfile(os.path.join(source_dir, source + s), dst)
            os.utime(dst, (epoch, epoch))
    return 0


def show(counts, order):
    rest = sorted(k for k in counts if k not in order)
    print(" ".join("%s=%d" % (k, counts.get(k, 0)) for k in list(order) + rest))


def s3_kind(method, target):
    """LIST, LISTUPLOADS, GET_MANIFEST, GET_ARCHIVE, GET_OTHER, HEAD, POST_DELETE,
    DELETE, PUT, OTHER for one request (target: path?query)."""
    path, _, query = target.partition("?")
    if method == "GET":
        if re.search(r"(^|&)uploads($|&|=)", query):
            return "LISTUPLOADS"
        if path.strip("/").count("/") == 0 and not re.search(
                r"(^|&)(location|versioning|acl|policy|object-lock|lifecycle)($|&|=)", query):
            return "LIST"  # GET on the bucket: ListObjects (v1 or list-type=2)
        if path.endswith(".manifest"):
            return "GET_MANIFEST"
        if path.endswith(".enc"):
            return "GET_ARCHIVE"
        return "GET_OTHER"
    if method == "POST" and re.search(r"(^|&)delete($|&|=)", query):
        return "POST_DELETE"
    if method in ("HEAD", "DELETE", "PUT"):
        return method
    return method + "_OTHER"


S3_ORDER = ("LIST", "LISTUPLOADS", "GET_MANIFEST", "GET_ARCHIVE", "HEAD", "POST_DELETE",
            "DELETE", "total")


def count_tool(log):
    c = collections.Counter()
    with open(log, errors="replace") as f:
        for line in f:
            m = re.search(r"\bs3: (GET|HEAD|PUT|POST|DELETE) (\S+)", line)
            if m:
                url = re.sub(r"^https?://[^/]+", "", m.group(2))
                c[s3_kind(m.group(1), url)] += 1
                c["total"] += 1
    show(c, S3_ORDER)
    return 0


def count_rgw(log):
    c = collections.Counter()
    with open(log, errors="replace") as f:
        for line in f:
            m = re.search(r' beast: \S+ \S+ - \S+ \[[^]]*\] "(\S+) (\S+) HTTP/[\d.]+" (\d+)', line)
            if m:
                c[s3_kind(m.group(1), m.group(2))] += 1
                c["total"] += 1
                if not m.group(3).startswith("2"):
                    c["status_" + m.group(3)] += 1
    show(c, S3_ORDER)
    return 0


def rgw_seconds(log):
    c = collections.Counter()
    with open(log, errors="replace") as f:
        for line in f:
            m = re.search(r' beast: \S+ \S+ - \S+ \[[^]]*\] "(\S+) (\S+) HTTP/[\d.]+" .*'
                          r'latency=([\d.]+)s', line)
            if m:
                c[s3_kind(m.group(1), m.group(2))] += float(m.group(3))
    print(" ".join("%s=%.2f" % (k, v) for k, v in sorted(c.items(), key=lambda kv: -kv[1])))
    return 0


def count_sftp(log):
    """sftp-server -l DEBUG: one "request N: KIND" line per request (open,
    close, read, write, opendir... by their own wording)."""
    c = collections.Counter()
    with open(log, errors="replace") as f:
        for line in f:
            m = re.search(r"request \d+: (\w+)", line)
            if m and m.group(1) != "sent":  # "request N: sent status": the answer
                c[m.group(1)] += 1
                c["total"] += 1
            elif "session opened" in line:
                c["sessions"] += 1
    show(c, ("sessions", "opendir", "readdir", "open", "read", "close", "remove", "stat",
             "lstat", "fstat", "realpath", "total"))
    return 0


def main(argv):
    # name: (function, required arguments, optional arguments)
    cmds = {"s3-seed": (s3_seed, 5, 1), "s3-list": (s3_list, 3, 0), "fs-seed": (fs_seed, 3, 1),
            "count-tool": (count_tool, 1, 0), "count-rgw": (count_rgw, 1, 0),
            "count-sftp": (count_sftp, 1, 0), "rgw-seconds": (rgw_seconds, 1, 0)}
    if len(argv) < 2 or argv[1] not in cmds or not (
            cmds[argv[1]][1] <= len(argv) - 2 <= cmds[argv[1]][1] + cmds[argv[1]][2]):
        sys.exit(__doc__)
    return cmds[argv[1]][0](*argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
