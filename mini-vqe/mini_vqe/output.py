"""Where a record goes: a local folder and/or an S3 prefix, as `<counter>-<unix_nanos>.json`."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_S3_TARGET = "s3://raw-results/experiments/experiment.vqe/"


@dataclass(frozen=True)
class S3Target:
    bucket: str
    prefix: str  # empty, or ending in "/"

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"


def object_name(counter: int, unix_nanos: int) -> str:
    # Zero-padded like the demo records, so a listing sorts by counter.
    return f"{counter:06d}-{unix_nanos}.json"


def parse_s3_target(uri: str) -> S3Target:
    """`s3://bucket/prefix/` -> S3Target; raises ValueError naming what is wrong."""
    if not uri.startswith("s3://"):
        raise ValueError("expected s3://bucket/prefix/")
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    if not bucket:
        raise ValueError("the bucket name is missing")
    prefix = prefix.strip("/")
    return S3Target(bucket=bucket, prefix=f"{prefix}/" if prefix else "")


def write_to_dir(directory: Path, name: str, body: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    # Written aside and renamed, so a reader polling the folder never sees half a record.
    partial = directory / f".{name}.partial"
    partial.write_text(body, encoding="utf-8")
    partial.replace(path)
    log.info("record written to %s", path)
    return path


def s3_client(env: Mapping[str, str] = os.environ) -> Any:
    """A client for the local data plane (or AWS when QP_S3_ENDPOINT is unset). Credentials come
    from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY through boto3's usual chain."""
    import boto3  # imported here: runs that write only to a folder do not pay for it
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=env.get("QP_S3_ENDPOINT") or None,
        region_name=env.get("QP_S3_REGION") or None,
        # Garage (and most S3 stand-ins) serve buckets by path, not by virtual host.
        config=Config(s3={"addressing_style": "path"}),
    )


def upload_to_s3(client: Any, target: S3Target, name: str, body: str) -> str:
    key = target.key(name)
    client.put_object(Bucket=target.bucket, Key=key, Body=body.encode("utf-8"), ContentType="application/json")
    uri = f"s3://{target.bucket}/{key}"
    log.info("record uploaded to %s", uri)
    return uri
