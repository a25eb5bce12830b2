"""Both jobs submitted through the standalone master's REST API against Garage, step by step.

The tests of this module run in order on one namespace: each step starts from what the previous
one left, as daily runs do. Expected counts are computed from the records the test uploads.
"""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import pytest

from dataplane_client import assert_succeeded
from support import records_frame
from quantum_pipeline import tables
from quantum_pipeline.record_spec import RECORD_SCHEMA
from tools.synthetic_records import make_record

BASE_TABLES = [spec.name for spec in tables.FEATURE_TABLES]
SMALL = ("H2", "HeH+", "LiH")


def record(i: int) -> dict:
    return make_record(i, seed=11, molecule=SMALL[i % 3], iterations=4 + i % 3)


def expected_rows(records: list[dict]) -> dict[str, int]:
    iterations = [it for r in records for it in r["vqe_result"]["iteration_list"]]
    per_experiment = len(records)
    return {
        "molecules": per_experiment, "ansatz_info": per_experiment, "performance_metrics": per_experiment,
        "vqe_results": per_experiment,
        "initial_parameters": sum(len(r["vqe_result"]["initial_data"]["initial_parameters"]) for r in records),
        "optimal_parameters": sum(len(r["vqe_result"]["optimal_parameters"]) for r in records),
        "vqe_iterations": len(iterations),
        "iteration_parameters": sum(len(it["parameters"]) for it in iterations),
        "hamiltonian_terms": sum(len(r["vqe_result"]["initial_data"]["hamiltonian"]) for r in records),
    }


def table_counts(spark, plane) -> dict[str, int]:
    return {name: plane.table(spark, name).count() for name in BASE_TABLES}


def upload_json(plane, records: dict[int, dict], topic: str = "experiment.vqe") -> None:
    for i, body in records.items():
        plane.put_raw(f"{topic}/{i:06d}-{1_700_000_000_000_000_000 + i}.json", json.dumps(body).encode())


def upload_avro(spark, plane, records: list[dict], key: str) -> None:
    """One flat .avro object holding several records, written by Spark's Avro writer."""
    frame = records_frame(spark, records).select(*[f.name for f in RECORD_SCHEMA.fields]).coalesce(1)
    with tempfile.TemporaryDirectory() as folder:
        frame.write.format("avro").save(f"{folder}/out")
        part = next(Path(folder, "out").glob("part-*.avro"))
        plane.put_raw(key, part.read_bytes())


# What the module has uploaded so far (records, and object ids), recorded right after each upload so
# one failing step does not throw off the expectations of the next.
STATE: dict[str, list] = {"records": [], "objects": []}


def test_first_run_creates_all_tables_from_json_and_avro_in_every_topic(spark, plane):
    json_records = {i: record(i) for i in range(5)}
    avro_records = [record(i) for i in range(5, 7)]
    upload_json(plane, json_records)
    upload_json(plane, {7: record(7)}, topic="experiment.vqe.gpu")
    upload_avro(spark, plane, avro_records, "experiment.vqe/batch-0001.avro")
    all_records = list(json_records.values()) + avro_records + [record(7)]
    STATE["records"], STATE["objects"] = all_records, list(range(7))

    summary = assert_succeeded(plane.run("feature_processing"))

    assert summary["files"] == {"listed": 7, "in_batch": 7, "ingested": 7, "quarantined": 0}
    assert table_counts(spark, plane) == expected_rows(all_records)
    compact = summary["batch_id"].replace("-", "")
    assert summary["tags"] == {name: f"v_{compact}" for name in BASE_TABLES}
    tag = plane.table(spark, "molecules.refs").where(f"name = 'v_{compact}'").count()
    assert tag == 1
    metadata = plane.table(spark, "processing_metadata").collect()
    assert len(metadata) == 1 and metadata[0].record_counts["vqe_iterations"] == expected_rows(all_records)["vqe_iterations"]

    ml = assert_succeeded(plane.run("ml_feature_processing"))

    assert ml["new_rows"]["ml_run_summary"] == len(all_records)
    assert ml["new_rows"]["ml_iteration_features"] == expected_rows(all_records)["vqe_iterations"]


def test_rerun_with_no_new_files_adds_nothing(spark, plane):
    before = table_counts(spark, plane)

    summary = assert_succeeded(plane.run("feature_processing"))
    ml = assert_succeeded(plane.run("ml_feature_processing"))

    assert summary["status"] == "no_changes" and summary["files"]["in_batch"] == 0
    assert table_counts(spark, plane) == before
    latest = plane.table(spark, "processing_metadata").where(
        f"processing_batch_id = '{summary['batch_id']}'").first()
    assert set(latest.table_versions.values()) == {"no_changes"}
    assert ml["status"] == "no_changes" and ml["new_rows"]["ml_run_summary"] == 0


def test_only_new_files_are_read(spark, plane):
    new = {8: record(8), 9: record(9)}
    before = table_counts(spark, plane)
    upload_json(plane, new)
    listed_before = len(STATE["objects"])
    STATE["records"] += list(new.values())
    STATE["objects"] += list(new)

    summary = assert_succeeded(plane.run("feature_processing"))

    assert summary["files"]["in_batch"] == 2 and summary["files"]["listed"] == listed_before + 2
    added = {name: table_counts(spark, plane)[name] - before[name] for name in BASE_TABLES}
    assert added == expected_rows(list(new.values()))
    assert set(summary["tags"].values()) == {f"v_incr_{summary['batch_id'].replace('-', '')}"}


def test_poisoned_files_are_quarantined_and_the_rest_ingested(spark, plane):
    wrong_type = record(10)
    wrong_type["vqe_result"]["iteration_list"][1]["result"] = "-1.1"
    poison = {
        "poison/truncated.json": json.dumps(record(11)).encode()[:200],
        "poison/wrong-types.json": json.dumps(wrong_type).encode(),
        "poison/empty-object.json": b"{}",
        "poison/zero-bytes.json": b"",
        "poison/notes.txt": b"not a result",
    }
    for key, body in poison.items():
        plane.put_raw(f"experiment.vqe/{key}", body)
    upload_json(plane, {12: record(12)})
    listed_before = len(STATE["objects"])
    STATE["records"].append(record(12))
    STATE["objects"] += list(poison) + [12]

    summary = assert_succeeded(plane.run("feature_processing"))

    reasons = {q["key"].rsplit("/", 1)[-1]: q["reason"] for q in summary["quarantined"]}
    assert summary["files"] == {"listed": listed_before + 6, "in_batch": 6, "ingested": 1, "quarantined": 5}
    assert reasons["truncated.json"].startswith("invalid JSON at line 1")
    assert reasons["wrong-types.json"] == 'vqe_result.iteration_list[1].result: expected a number, got string "-1.1"'
    assert reasons["empty-object.json"] == "vqe_result: required field is missing"
    assert reasons["zero-bytes.json"] == "empty file (0 bytes)"
    assert reasons["notes.txt"].startswith("unsupported file type 'notes.txt'")
    assert plane.table(spark, "rejected_files").count() == 5
    assert table_counts(spark, plane) == expected_rows(STATE["records"])


@pytest.mark.parametrize("stop_after", ["vqe_results", "processing_metadata"])
def test_a_run_killed_between_table_writes_resumes_exactly(spark, plane, stop_after):
    start = 20 if stop_after == "vqe_results" else 30
    new = {i: record(i) for i in range(start, start + 3)}
    upload_json(plane, new)
    STATE["records"] += list(new.values())
    STATE["objects"] += list(new)

    crashed = plane.run("feature_processing", conf={"spark.qp.test.exitAfterTable": stop_after})
    assert crashed.driver.state == "FAILED" and crashed.summary is None
    half_written = table_counts(spark, plane)
    resumed = assert_succeeded(plane.run("feature_processing"))

    assert resumed["resumed_batch"] is True
    assert table_counts(spark, plane) == expected_rows(STATE["records"])
    expected = expected_rows(STATE["records"])
    assert half_written["molecules"] == expected["molecules"]  # written before the crash point
    if stop_after == "vqe_results":  # ...and a table after it was not: the run really died mid-batch
        assert half_written["vqe_iterations"] < expected["vqe_iterations"]
    ledger = plane.table(spark, "ingested_files").groupBy("object_key", "etag").count().where("count > 1").count()
    assert ledger == 0


def test_a_run_killed_through_the_rest_api_at_any_moment_resumes_exactly(spark, plane):
    new = {i: record(i) for i in range(40, 44)}
    upload_json(plane, new)
    STATE["records"] += list(new.values())
    STATE["objects"] += list(new)
    submission = plane.submit("feature_processing", "killed-run")
    time.sleep(25)  # somewhere in the middle of the run; wherever it lands, the outcome must be exact
    plane.rest.kill(submission)
    plane.rest.wait(submission)

    assert_succeeded(plane.run("feature_processing"))

    assert table_counts(spark, plane) == expected_rows(STATE["records"])


def test_ml_job_killed_between_its_tables_resumes_exactly(spark, plane):
    crashed = plane.run("ml_feature_processing", conf={"spark.qp.test.exitAfterTable": "ml_iteration_features"})
    assert crashed.driver.state == "FAILED"

    assert_succeeded(plane.run("ml_feature_processing"))

    counts = table_counts(spark, plane)
    assert plane.table(spark, "ml_run_summary").count() == counts["vqe_results"]
    assert plane.table(spark, "ml_iteration_features").count() == counts["vqe_iterations"]
    duplicates = plane.table(spark, "ml_iteration_features").groupBy("experiment_id", "iteration_step").count()
    assert duplicates.where("count > 1").count() == 0


def test_ml_full_refresh_recomputes_with_new_parameters_in_one_commit_per_table(spark, plane):
    before = plane.table(spark, "ml_run_summary").count()

    summary = assert_succeeded(plane.run("ml_feature_processing", extra_args=["--full-refresh", "--trajectory-head", "2"]))

    assert summary["details"]["full_refresh"] is True
    assert summary["tags"]["ml_run_summary"].startswith("v_full_")
    assert plane.table(spark, "ml_run_summary").count() == before  # replaced, not appended
    assert plane.table(spark, "ml_iteration_features").count() == table_counts(spark, plane)["vqe_iterations"]
    # Every row was recomputed with H = 2: first_10_mean_energy is now the mean of the first 2 steps.
    first_two = {r.experiment_id: r.mean for r in spark.sql(
        "SELECT experiment_id, avg(iteration_energy) AS mean FROM (SELECT experiment_id, iteration_energy, "
        "row_number() OVER (PARTITION BY experiment_id ORDER BY iteration_step) AS n FROM {t}) WHERE n <= 2 "
        "GROUP BY experiment_id".format(t=plane.fqn("vqe_iterations"))).collect()}
    recomputed = {r.experiment_id: r.first_10_mean_energy
                  for r in plane.table(spark, "ml_run_summary").select("experiment_id", "first_10_mean_energy").collect()}
    assert recomputed.keys() == first_two.keys()
    assert all(recomputed[e] == pytest.approx(first_two[e]) for e in first_two)
