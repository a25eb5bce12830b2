"""The R2 mirror opens as an Iceberg table of its own, on the real local data plane.

Both jobs run in this process on a few records (the ML tables are real, in the JDBC catalog and
Garage); the R2 sync - the synthesized state machine and its Lambda code, run by
localstack/embedded/run-r2-sync.ts - mirrors them into the stand-in bucket. Then pyiceberg opens
each mirrored table from the stand-in bucket alone (its own key, which reaches nothing else) with
no catalog, through the published version hint, and every row is compared with the source table
(pyiceberg on the catalog's current metadata, so both sides decode the same way).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import boto3
import pytest
from pyiceberg.table import StaticTable

from tools.dataplane_session import delete_prefix
from tools.synthetic_records import make_record

REPO = Path(__file__).resolve().parents[3]
ML_TABLES = ("ml_iteration_features", "ml_run_summary")
R2_ENV = ("QP_R2_ENDPOINT", "QP_R2_BUCKET", "QP_R2_ACCESS_KEY_ID", "QP_R2_SECRET_ACCESS_KEY")


@pytest.fixture
def r2(plane):
    """The stand-in bucket under the R2 key, and this test's folder in it (removed afterwards)."""
    missing = [name for name in R2_ENV if not os.environ.get(name)]
    if missing:
        pytest.fail(f"the mirror test needs the data plane settings {missing}: run it through `npm test`")
    client = boto3.client(
        "s3",
        endpoint_url=os.environ["QP_R2_ENDPOINT"],
        region_name=os.environ["QP_S3_REGION"],
        aws_access_key_id=os.environ["QP_R2_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["QP_R2_SECRET_ACCESS_KEY"],
    )
    folder = f"it-{plane.name}/features/"
    yield client, folder
    delete_prefix(client, os.environ["QP_R2_BUCKET"], folder)


def upload(plane, indexes: range) -> None:
    for i in indexes:
        body = make_record(i, seed=23, molecule=("H2", "HeH+")[i % 2], iterations=3 + i % 2)
        plane.put_raw(f"experiment.vqe/{i:06d}-{1_700_000_000_000_000_000 + i}.json", json.dumps(body).encode())


def run_sync(plane, folder: str, trigger: str = "mirror-test", **overrides) -> dict:
    """One execution of the local R2 sync from this test's namespace into its folder of the stand-in;
    `overrides` replace settings of the sync (e.g. maxDeleteFraction)."""
    endpoint = {"region": os.environ["QP_S3_REGION"], "forcePathStyle": True}
    settings = {
        "source": {
            **endpoint,
            "bucket": "features",
            "prefix": f"warehouse/{plane.namespace}/",
            "endpoint": os.environ["QP_S3_ENDPOINT"],
        },
        "destination": {
            **endpoint,
            "bucket": os.environ["QP_R2_BUCKET"],
            "prefix": folder,
            "endpoint": os.environ["QP_R2_ENDPOINT"],
        },
        **overrides,
    }
    done = subprocess.run(
        ["npx", "tsx", "localstack/embedded/run-r2-sync.ts", json.dumps({"trigger": trigger}), "--name", plane.name],
        cwd=REPO,
        env={**os.environ, "QP_R2_SYNC_SETTINGS": json.dumps(settings)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"the sync failed:\n{done.stderr[-4000:]}\n{done.stdout[-2000:]}"
    return {table["table"]: table for table in json.loads(done.stdout)["tables"]}


def mirror_io() -> dict[str, str]:
    """pyiceberg's S3 settings for the stand-in bucket: its endpoint and the R2 key, nothing else."""
    return {
        "s3.endpoint": os.environ["QP_R2_ENDPOINT"],
        "s3.region": os.environ["QP_S3_REGION"],
        "s3.access-key-id": os.environ["QP_R2_ACCESS_KEY_ID"],
        "s3.secret-access-key": os.environ["QP_R2_SECRET_ACCESS_KEY"],
    }


def source_io() -> dict[str, str]:
    return {
        "s3.endpoint": os.environ["QP_S3_ENDPOINT"],
        "s3.region": os.environ["QP_S3_REGION"],
        "s3.access-key-id": os.environ["AWS_ACCESS_KEY_ID"],
        "s3.secret-access-key": os.environ["AWS_SECRET_ACCESS_KEY"],
    }


def current_metadata(spark, plane, table: str) -> str:
    """The catalog's current metadata file of a source table (Iceberg's Java API, no Spark job)."""
    jvm = spark._jvm  # noqa: SLF001 - Iceberg's documented Java entry point
    loaded = jvm.org.apache.iceberg.spark.Spark3Util.loadIcebergTable(spark._jsparkSession, plane.fqn(table))  # noqa: SLF001
    loaded.refresh()
    return loaded.operations().current().metadataFileLocation()


def spark_reads_the_mirror(spark) -> None:
    """Lets the session read s3://<stand-in>/... through S3A with the R2 key (a per-bucket setting,
    so the warehouse keeps its own key): what a Spark reader of the mirror configures."""
    conf = spark.sparkContext._jsc.hadoopConfiguration()  # noqa: SLF001 - Hadoop conf of the running session
    bucket = f"fs.s3a.bucket.{os.environ['QP_R2_BUCKET']}"
    conf.set("fs.s3.impl", "org.apache.hadoop.fs.s3a.S3AFileSystem")
    conf.set(f"{bucket}.endpoint", os.environ["QP_R2_ENDPOINT"])
    conf.set(f"{bucket}.access.key", os.environ["QP_R2_ACCESS_KEY_ID"])
    conf.set(f"{bucket}.secret.key", os.environ["QP_R2_SECRET_ACCESS_KEY"])


def rows(table: StaticTable) -> list[str]:
    """Every row, as sorted canonical JSON: equal lists mean equal tables, duplicates included."""
    return sorted(json.dumps(row, sort_keys=True, default=str) for row in table.scan().to_arrow().to_pylist())


def mirrored_metadata(client, folder: str) -> dict[str, str]:
    """Key -> ETag of every metadata file in the mirror's folder."""
    listed = client.get_paginator("list_objects_v2").paginate(Bucket=os.environ["QP_R2_BUCKET"], Prefix=folder)
    objects = (item for page in listed for item in page.get("Contents", []))
    return {item["Key"]: item["ETag"] for item in objects if "/metadata/" in item["Key"]}


def assert_mirror_equals_source(spark, plane, folder: str, synced: dict) -> dict[str, str]:
    """Each mirrored table, opened by its version hint, holds the source's rows; returns the metadata files opened."""
    bucket = os.environ["QP_R2_BUCKET"]
    opened = {}
    for table in ML_TABLES:
        source_location = current_metadata(spark, plane, table)
        mirror = StaticTable.from_metadata(f"s3://{bucket}/{folder}{table}", properties=mirror_io())
        name = source_location.rsplit("/", 1)[-1]
        # The hint names the catalog's current version, in the mirror, and so does the sync's output.
        assert mirror.metadata_location == f"s3://{bucket}/{folder}{table}/metadata/{name}"
        assert synced[table]["metadata"] == mirror.metadata_location
        assert mirror.metadata.location == f"s3://{bucket}/{folder}{table}"
        source = StaticTable.from_metadata(source_location, properties=source_io())
        assert mirror.metadata.current_snapshot_id == source.metadata.current_snapshot_id
        want = rows(source)
        assert want, f"{table}: the source table is empty, the comparison would prove nothing"
        assert rows(mirror) == want, table
        # Every path the mirror's readers follow stays in the stand-in bucket.
        for task in mirror.scan().plan_files():
            assert task.file.file_path.startswith(f"s3://{bucket}/{folder}{table}/data/"), task.file.file_path
        opened[table] = mirror.metadata_location
    return opened


def test_the_r2_mirror_opens_as_iceberg_without_a_catalog_and_holds_every_source_row(spark, plane, r2):
    client, folder = r2
    bucket = os.environ["QP_R2_BUCKET"]

    # Prepare: real ML tables, from a first batch of records through both jobs.
    upload(plane, range(4))
    plane.run_here(spark, "feature_processing")
    plane.run_here(spark, "ml_feature_processing")

    # Act: a first sync, then a second batch through both jobs and another sync.
    first = run_sync(plane, folder)
    first_opened = assert_mirror_equals_source(spark, plane, folder, first)
    # Spark opens the mirror too, by its metadata file (Iceberg's path tables), with the same rows.
    spark_reads_the_mirror(spark)
    for table in ML_TABLES:
        mirrored, source = spark.read.format("iceberg").load(first_opened[table]), plane.table(spark, table)
        assert mirrored.count() == source.count() > 0, table
        assert mirrored.exceptAll(source).isEmpty() and source.exceptAll(mirrored).isEmpty(), table
    before = mirrored_metadata(client, folder)
    first_rows = {t: rows(StaticTable.from_metadata(first_opened[t], properties=mirror_io())) for t in ML_TABLES}
    upload(plane, range(4, 7))
    plane.run_here(spark, "feature_processing")
    plane.run_here(spark, "ml_feature_processing")
    second = run_sync(plane, folder)

    # Assess: the mirror opens at the new version with every row...
    second_opened = assert_mirror_equals_source(spark, plane, folder, second)
    after = mirrored_metadata(client, folder)
    for table in ML_TABLES:
        assert second_opened[table] != first_opened[table], table
        assert len(rows(StaticTable.from_metadata(second_opened[table], properties=mirror_io()))) > len(
            first_rows[table]
        )
        # ... the older version still opens, as it was (time travel in the mirror) ...
        older = StaticTable.from_metadata(first_opened[table], properties=mirror_io())
        assert rows(older) == first_rows[table], table
        latest_json = client.get_object(Bucket=bucket, Key=f"{folder}{table}/metadata/latest.json")["Body"].read()
        latest = json.loads(latest_json)
        assert latest["metadata-location"] == second_opened[table]
    # ... and only the new metadata was rewritten: every file of the first sync is untouched (the
    # pointers aside), and the second sync copied new files only.
    pointers = {f"{folder}{t}/metadata/{name}" for t in ML_TABLES for name in ("version-hint.text", "latest.json")}
    kept = {key: etag for key, etag in before.items() if key not in pointers}
    assert {key: after.get(key) for key in kept} == kept
    assert set(after) - set(before), "the second sync wrote no new metadata"
    for table in ML_TABLES:
        new_files = sum(1 for key in after if key.startswith(f"{folder}{table}/") and key not in before)
        new_data = second[table]["copied"]["objects"] - new_files
        assert new_data >= 1, f"{table}: the second sync copied no data file"
        assert second[table]["unchanged"]["objects"] >= first[table]["copied"]["objects"], table
