"""Shared fixtures: one local Spark session per test run, with a throwaway Iceberg catalog."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
sys.path[:0] = [str(TESTS.parent), str(TESTS)]  # the job package, tools/, and support.py
# Python workers are separate processes started by the JVM: they see the package only through the
# PYTHONPATH the JVM inherits, so it is exported before the first session launches the JVM.
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(TESTS.parent)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])
)

from tools.dataplane_session import with_dataplane_catalog  # noqa: E402 - needs the path above


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    from pyspark.sql import SparkSession

    classpath = os.environ.get("QP_SPARK_CLASSPATH", "")
    if not classpath:
        pytest.fail("QP_SPARK_CLASSPATH is not set: run the tests through `npm test` (scripts/test.sh sets it)")
    work = tmp_path_factory.mktemp("iceberg")
    builder = (
        SparkSession.builder.master("local[2]")
        .appName("quantum-pipeline-unit-tests")
        .config("spark.driver.extraClassPath", classpath)
        .config("spark.executor.extraClassPath", classpath)
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.extensions", "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions")
        .config("spark.sql.catalog.local_catalog", "org.apache.iceberg.spark.SparkCatalog")
        # One process, one writer: a file-system catalog is safe here (never on an object store).
        .config("spark.sql.catalog.local_catalog.type", "hadoop")
        .config("spark.sql.catalog.local_catalog.warehouse", f"file://{work}/warehouse")
    )
    # Integration tests read what the cluster wrote through its own catalog and Garage (one session
    # per process, so it is added here); unit tests use `local_catalog`.
    if os.environ.get("QP_CATALOG_URI"):
        builder = with_dataplane_catalog(builder)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    assert session.conf.get("spark.sql.ansi.enabled") == "true", "the tests assume Spark 4's ANSI default"
    yield session
    session.stop()
