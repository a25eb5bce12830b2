"""Lineage: the code version digest, the conf digest, and the processing_metadata row."""

from __future__ import annotations

import datetime as dt
import json
import sys
import zipfile
from pathlib import Path

from quantum_pipeline import tables
from quantum_pipeline.code_version import BUILD_MODULE, code_version, job_sources, source_digest
from quantum_pipeline.features import BatchContext
from quantum_pipeline.lineage import Lineage, collect_lineage, conf_digest, processing_metadata

SPARK_JOBS = Path(__file__).resolve().parents[2]


def test_source_digest_depends_on_names_and_contents_not_on_order():
    files = [("quantum_pipeline/a.py", b"x = 1\n"), ("jobs/job.py", b"main()\n")]

    assert source_digest(files) == source_digest(list(reversed(files)))
    assert source_digest(files) != source_digest([("quantum_pipeline/a.py", b"x = 2\n"), files[1]])
    assert source_digest(files) != source_digest([("quantum_pipeline/b.py", b"x = 1\n"), files[1]])
    assert len(source_digest(files)) == 16


def test_job_sources_leave_out_the_generated_build_module(tmp_path):
    package, jobs = tmp_path / "quantum_pipeline", tmp_path / "jobs"
    package.mkdir()
    jobs.mkdir()
    (package / "a.py").write_text("x = 1\n")
    (jobs / "job.py").write_text("main()\n")
    before = source_digest(job_sources(package, jobs))

    (package / BUILD_MODULE).write_text('CODE_VERSION = "anything"\n')

    assert sorted(name for name, _ in job_sources(package, jobs)) == ["jobs/job.py", "quantum_pipeline/a.py"]
    assert source_digest(job_sources(package, jobs)) == before


def test_the_build_bakes_in_the_version_the_source_tree_reports(tmp_path):
    sys.path.insert(0, str(SPARK_JOBS))
    from build import build  # the packaging of `npm run build:spark`

    archive, version = build(tmp_path / "dist")

    assert version == code_version()
    assert json.loads((tmp_path / "dist" / "build.json").read_text()) == {"codeVersion": version}
    with zipfile.ZipFile(archive) as zf:
        assert zf.read(f"quantum_pipeline/{BUILD_MODULE}").decode() == f'CODE_VERSION = "{version}"\n'


def test_conf_digest_ignores_per_run_keys_but_not_what_shapes_results():
    conf = [("spark.sql.shuffle.partitions", "8"), ("spark.app.id", "app-1"), ("spark.driver.port", "40001")]
    same_job_next_run = [("spark.sql.shuffle.partitions", "8"), ("spark.app.id", "app-2"), ("spark.driver.port", "1")]
    other_partitions = [("spark.sql.shuffle.partitions", "16"), ("spark.app.id", "app-1")]

    assert conf_digest(conf) == conf_digest(same_job_next_run)
    assert conf_digest(conf) != conf_digest(other_partitions)


def test_collect_lineage_names_the_running_engine(spark):
    lineage = collect_lineage(spark)

    assert lineage.code_version == code_version()
    assert lineage.spark_version == spark.version and lineage.spark_version.startswith("4.0.")
    assert lineage.iceberg_version == "1.10.1"  # localstack/dataplane/jars.txt, as on emr-spark-8.0.0
    assert lineage.spark_conf_digest == collect_lineage(spark).spark_conf_digest


def test_processing_metadata_row_carries_counts_and_lineage(spark):
    batch = BatchContext("b-1", dt.datetime(2026, 12, 7, 21, 0, 0), "feature_processing")
    lineage = Lineage("a802f9e656ba6a51", "4.0.2", "1.10.1", "0123456789abcdef")

    row = processing_metadata(spark, batch, {"molecules": "v_b1"}, {"molecules": 3}, "raw: 1 object", lineage)

    assert row.schema == tables.PROCESSING_METADATA.schema
    [got] = row.collect()
    assert (got.processing_batch_id, got.processing_date) == ("b-1", dt.date(2026, 12, 7))
    assert got.table_names == ["molecules"]
    assert (got.table_versions, got.record_counts) == ({"molecules": "v_b1"}, {"molecules": 3})
    assert (got.code_version, got.spark_version, got.iceberg_version, got.spark_conf_digest) == (
        "a802f9e656ba6a51",
        "4.0.2",
        "1.10.1",
        "0123456789abcdef",
    )
