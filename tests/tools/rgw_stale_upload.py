#!/usr/bin/env python3
"""Multipart uploads on radosgw for the retention tests (boto3, not our code).

    rgw_stale_upload.py ENDPOINT BUCKET KEY create   starts a multipart upload
                                                     of KEY, uploads one part
                                                     (5 MiB) and prints its
                                                     UploadId
    rgw_stale_upload.py ENDPOINT BUCKET PREFIX ages  "KEY UPLOADID AGE" per
                                                     upload under PREFIX, AGE
                                                     = now - Initiated in
                                                     whole seconds, as
                                                     ListMultipartUploads says

Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.  A stale
upload is made by running "create" under libfaketime with the same offset
as radosgw (rgw_stale_multipart in rgw_harness.sh does that): radosgw stamps
Initiated with its own clock, and SigV4 needs the client's clock to agree
with it to 15 minutes."""
import datetime
import sys

import boto3
import botocore.config


def main():
    if len(sys.argv) != 5 or sys.argv[4] not in ("create", "ages"):
        sys.exit(__doc__)
    endpoint, bucket, key, what = sys.argv[1:]
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      config=botocore.config.Config(retries={"max_attempts": 1},
                                                    s3={"addressing_style": "path"}))
    if what == "create":
        upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=1,
                       Body=b"\x5a" * (5 << 20))
        print(upload_id)
        return 0
    now = datetime.datetime.now(datetime.timezone.utc)
    for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=key):
        for u in page.get("Uploads", []):
            age = int((now - u["Initiated"]).total_seconds())
            print(repr(u["Key"])[1:-1], u["UploadId"], age)
    return 0


if __name__ == "__main__":
    sys.exit(main())
