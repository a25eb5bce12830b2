"""Integration fixtures: the running local data plane, isolated per test module."""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import boto3
import pytest

from dataplane_client import Plane
from tools.spark_rest import SparkRestClient

REQUIRED_ENV = ("QP_S3_ENDPOINT", "QP_S3_REGION", "QP_SPARK_REST_URL", "QP_SPARK_MASTER_URL", "QP_SPARK_WORK_DIR",
                "QP_PYTHON", "QP_DIST_DIR", "QP_CATALOG_URI")


def _env() -> dict[str, str]:
    missing = [name for name in REQUIRED_ENV if not os.environ.get(name)]
    if missing:
        pytest.fail(f"integration tests need the data plane settings {missing}: run them through `npm test`")
    return {name: os.environ[name] for name in REQUIRED_ENV}


@pytest.fixture(scope="module")
def plane(spark) -> Plane:
    env = _env()
    s3 = boto3.client("s3", endpoint_url=env["QP_S3_ENDPOINT"], region_name=env["QP_S3_REGION"])
    rest = SparkRestClient(env["QP_SPARK_REST_URL"], env["QP_SPARK_MASTER_URL"], env["QP_SPARK_WORK_DIR"],
                           env["QP_PYTHON"])
    plane = Plane(uuid.uuid4().hex[:10], s3, rest, Path(env["QP_DIST_DIR"]))
    yield plane
    namespaces = {row[0] for row in spark.sql("SHOW NAMESPACES IN quantum_catalog").collect()}
    if plane.namespace in namespaces:
        for row in spark.sql(f"SHOW TABLES IN quantum_catalog.{plane.namespace}").collect():
            spark.sql(f"DROP TABLE IF EXISTS quantum_catalog.{plane.namespace}.{row.tableName} PURGE")
        spark.sql(f"DROP NAMESPACE IF EXISTS quantum_catalog.{plane.namespace}")
    for bucket, prefix in (("raw-results", f"it-{plane.name}/"), ("features", f"it-{plane.name}/")):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                s3.delete_object(Bucket=bucket, Key=item["Key"])
