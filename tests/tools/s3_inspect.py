#!/usr/bin/env python3
"""An independent look into a bucket for the tests (boto3, not our code).

    s3_inspect.py ENDPOINT BUCKET PREFIX objects   one key per line
    s3_inspect.py ENDPOINT BUCKET PREFIX uploads   "KEY UPLOADID" per line;
                                                   exit 3 when the server
                                                   cannot list uploads
    s3_inspect.py ENDPOINT BUCKET KEY get          the object's bytes on
                                                   stdout; exit 4 when there
                                                   is no such object

Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.  Keys are
printed with repr() escaping, so nothing a server sends reaches the
terminal raw."""
import sys

import boto3
import botocore.config
from botocore.exceptions import ClientError


def main():
    if len(sys.argv) != 5 or sys.argv[4] not in ("objects", "uploads", "get"):
        sys.exit(__doc__)
    endpoint, bucket, prefix, what = sys.argv[1:]
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      config=botocore.config.Config(retries={"max_attempts": 1},
                                                    s3={"addressing_style": "path"}))
    if what == "get":
        try:
            body = s3.get_object(Bucket=bucket, Key=prefix)["Body"].read()
        except ClientError as e:
            if e.response.get("Error", {}).get("Code", "") == "NoSuchKey":
                print(f"no such object: {prefix!r}", file=sys.stderr)
                return 4
            raise
        sys.stdout.buffer.write(body)
        return 0
    if what == "objects":
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for o in page.get("Contents", []):
                print(repr(o["Key"])[1:-1])
        return 0
    try:
        for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket,
                                                                        Prefix=prefix):
            for u in page.get("Uploads", []):
                print(repr(u["Key"])[1:-1], u["UploadId"])
    except ClientError as e:
        code = e.response.get("Error", {}).get("Code", "")
        if code == "NotImplemented":
            print(f"the server cannot list multipart uploads ({code})", file=sys.stderr)
            return 3
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
