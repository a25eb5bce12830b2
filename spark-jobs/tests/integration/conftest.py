"""Integration fixtures: the running local data plane, isolated per test (each test sets up what
it needs, so any test passes alone and in any order)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import boto3
import pytest

from dataplane_client import Plane
from tools.dataplane_session import delete_prefix, drop_namespace
from tools.spark_rest import SparkRestClient

REQUIRED_ENV = (
    "QP_S3_ENDPOINT",
    "QP_S3_REGION",
    "QP_SPARK_REST_URL",
    "QP_SPARK_MASTER_URL",
    "QP_SPARK_WORK_DIR",
    "QP_PYTHON",
    "QP_DIST_DIR",
    "QP_CATALOG_URI",
)


def _env() -> dict[str, str]:
    missing = [name for name in REQUIRED_ENV if not os.environ.get(name)]
    if missing:
        pytest.fail(f"integration tests need the data plane settings {missing}: run them through `npm test`")
    return {name: os.environ[name] for name in REQUIRED_ENV}


@pytest.fixture
def plane(spark) -> Plane:
    env = _env()
    s3 = boto3.client("s3", endpoint_url=env["QP_S3_ENDPOINT"], region_name=env["QP_S3_REGION"])
    rest = SparkRestClient(
        env["QP_SPARK_REST_URL"], env["QP_SPARK_MASTER_URL"], env["QP_SPARK_WORK_DIR"], env["QP_PYTHON"]
    )
    plane = Plane(uuid.uuid4().hex[:10], s3, rest, Path(env["QP_DIST_DIR"]))
    yield plane
    drop_namespace(spark, plane.namespace, s3)
    for bucket in ("raw-results", "features"):
        delete_prefix(s3, bucket, f"it-{plane.name}/")
