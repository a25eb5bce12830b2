"""Upload synthetic VQE result records to the local raw bucket, so a local run has input.

demo_data.py [--count 64] [--start 0] [--topic experiment.vqe] [--prefix experiments]
"""

from __future__ import annotations

import argparse
import json
import os

import boto3

from synthetic_records import make_record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=64)
    parser.add_argument("--start", type=int, default=0, help="first record index (use new indexes to add files)")
    parser.add_argument("--topic", default="experiment.vqe")
    parser.add_argument("--prefix", default="experiments", help="key prefix of the raw results in the bucket")
    args = parser.parse_args()
    if not os.environ.get("QP_S3_ENDPOINT"):
        parser.error("QP_S3_ENDPOINT is not set: start the data plane first (npm run dataplane:start)")
    s3 = boto3.client("s3", endpoint_url=os.environ["QP_S3_ENDPOINT"], region_name=os.environ["QP_S3_REGION"])
    for i in range(args.start, args.start + args.count):
        key = f"{args.prefix.strip('/')}/{args.topic}/{i:06d}-{1_700_000_000_000_000_000 + i}.json"
        s3.put_object(Bucket="raw-results", Key=key, Body=json.dumps(make_record(i)).encode())
    print(f"uploaded {args.count} records to s3://raw-results/{args.prefix.strip('/')}/{args.topic}/")


if __name__ == "__main__":
    main()
