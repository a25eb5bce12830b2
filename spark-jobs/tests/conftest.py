"""Shared fixtures: one local Spark session per test run, with a throwaway Iceberg JDBC catalog."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
sys.path[:0] = [str(TESTS.parent), str(TESTS)]  # the job package, tools/, and support.py


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    from pyspark.sql import SparkSession

    jars = os.environ.get("QP_SPARK_JARS", "")
    if not jars:
        pytest.fail("QP_SPARK_JARS is not set: run the tests through `npm test` (scripts/test.sh sets it)")
    work = tmp_path_factory.mktemp("iceberg")
    builder = (
        SparkSession.builder.master("local[2]").appName("quantum-pipeline-unit-tests")
        .config("spark.jars", jars)
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.extensions", "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions")
        .config("spark.sql.catalog.local_catalog", "org.apache.iceberg.spark.SparkCatalog")
        .config("spark.sql.catalog.local_catalog.type", "jdbc")
        .config("spark.sql.catalog.local_catalog.uri", f"jdbc:sqlite:{work}/catalog.db")
        .config("spark.sql.catalog.local_catalog.jdbc.schema-version", "V1")
        .config("spark.sql.catalog.local_catalog.warehouse", f"file://{work}/warehouse")
    )
    session = _with_dataplane_catalog(builder).getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    assert session.conf.get("spark.sql.ansi.enabled") == "true", "the tests assume Spark 4's ANSI default"
    yield session
    session.stop()


def _with_dataplane_catalog(builder):
    """Integration tests read what the cluster wrote through the data plane's own JDBC catalog and
    Garage (one Spark session per process, so it is added here). It must have the cluster's catalog
    name: Iceberg's JDBC catalog keeps the name in its rows. Unit tests use `local_catalog`."""
    if not os.environ.get("QP_CATALOG_URI"):
        return builder
    prefix = "spark.sql.catalog.quantum_catalog"
    return (
        builder.config(prefix, "org.apache.iceberg.spark.SparkCatalog")
        .config(f"{prefix}.type", "jdbc")
        .config(f"{prefix}.uri", os.environ["QP_CATALOG_URI"])
        .config(f"{prefix}.jdbc.schema-version", "V1")
        .config(f"{prefix}.warehouse", "s3a://features/warehouse/")
        .config(f"{prefix}.cache-enabled", "false")  # see each commit the cluster makes
        .config("spark.hadoop.fs.s3a.endpoint", os.environ["QP_S3_ENDPOINT"])
        .config("spark.hadoop.fs.s3a.endpoint.region", os.environ["QP_S3_REGION"])
        .config("spark.hadoop.fs.s3a.path.style.access", "true")
        .config("spark.hadoop.fs.s3a.connection.ssl.enabled", "false")
        .config("spark.hadoop.fs.s3a.aws.credentials.provider",
                "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider")
        .config("spark.hadoop.fs.s3a.access.key", os.environ["AWS_ACCESS_KEY_ID"])
        .config("spark.hadoop.fs.s3a.secret.key", os.environ["AWS_SECRET_ACCESS_KEY"])
    )
