"""Both jobs against the real data plane: Garage, the JDBC catalog, and (where the driver or a kill
is what is tested) Spark standalone through its REST API.

Every test sets up what it needs in its own namespace. Jobs run in this process through their own
run() unless a test is about the submission, the driver process or a kill. Expected counts are
computed from the records each test uploads.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path

from dataplane_client import assert_succeeded
from quantum_pipeline import quality, tables
from quantum_pipeline.code_version import code_version
from quantum_pipeline.record_spec import RECORD_SCHEMA
from support import records_frame
from tools.synthetic_records import make_record

BASE_TABLES = [spec.name for spec in tables.FEATURE_TABLES]
REPO = Path(__file__).resolve().parents[3]
SMALL = ("H2", "HeH+", "LiH")


def record(i: int) -> dict:
    return make_record(i, seed=11, molecule=SMALL[i % 3], iterations=4 + i % 3)


def expected_rows(records: list[dict]) -> dict[str, int]:
    iterations = [it for r in records for it in r["vqe_result"]["iteration_list"]]
    per_experiment = len(records)
    return {
        "molecules": per_experiment,
        "ansatz_info": per_experiment,
        "performance_metrics": per_experiment,
        "vqe_results": per_experiment,
        "initial_parameters": sum(len(r["vqe_result"]["initial_data"]["initial_parameters"]) for r in records),
        "optimal_parameters": sum(len(r["vqe_result"]["optimal_parameters"]) for r in records),
        "vqe_iterations": len(iterations),
        "iteration_parameters": sum(len(it["parameters"]) for it in iterations),
        "hamiltonian_terms": sum(len(r["vqe_result"]["initial_data"]["hamiltonian"]) for r in records),
    }


def file_counts(listed, in_batch: int, ingested: int, quarantined: int, already_known, deferred=0) -> dict:
    """A job 1 summary's file counts."""
    return {
        "listed": listed,
        "in_batch": in_batch,
        "ingested": ingested,
        "quarantined": quarantined,
        "already_known": already_known,
        "deferred": deferred,
    }


def table_counts(spark, plane) -> dict[str, int]:
    """Rows per base table, in one query."""
    union = " UNION ALL ".join(f"SELECT '{name}' AS t, count(*) AS n FROM {plane.fqn(name)}" for name in BASE_TABLES)
    return {r.t: r.n for r in spark.sql(union).collect()}


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


def mini_vqe_records(folder: Path) -> list[dict]:
    """Records made by mini-VQE (the batch's local simulation), one per molecule of its CPU lane:
    what the VQE batch writes must be what job 1 accepts."""
    molecules = REPO / "mini-vqe" / "molecules" / "cpu.json"
    for index in range(len(json.loads(molecules.read_text()))):
        subprocess.run(
            [
                "bash",
                str(REPO / "mini-vqe" / "run.sh"),
                "--file",
                str(molecules),
                "--molecule-index",
                str(index),
                "--seed",
                "5",
                "--max-iterations",
                "5",
                "--counter",
                str(index),
                "--output-dir",
                str(folder),
                "--log-level",
                "WARNING",
            ],
            check=True,
            timeout=300,
        )
    return [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]


def ingested(spark, plane, records: dict[int, dict]) -> dict:
    """Upload records and run job 1 on them here: the starting point of many tests."""
    upload_json(plane, records)
    return plane.run_here(spark, "feature_processing")


def test_first_run_fills_all_eleven_tables_from_json_and_avro_in_every_topic(spark, plane, tmp_path):
    # Prepare: JSON in two topics, mini-VQE's own output, and one Avro object (whose doubles
    # must arrive exactly).
    json_records = {i: record(i) for i in range(5)}
    avro_records = [record(i) for i in range(5, 7)]
    simulated = mini_vqe_records(tmp_path)
    upload_json(plane, json_records)
    upload_json(plane, {7: record(7)}, topic="experiment.vqe.gpu")
    upload_json(plane, {100 + i: body for i, body in enumerate(simulated)})
    upload_avro(spark, plane, avro_records, "experiment.vqe/batch-0001.avro")
    all_records = list(json_records.values()) + avro_records + [record(7)] + simulated

    # Act: job 1 as a driver on the cluster, submitted through the REST API (its executor decodes
    # the Avro file); job 2 here (it runs on the cluster in the crash test and the end-to-end tests).
    summary = assert_succeeded(plane.run("feature_processing"))
    ml = plane.run_here(spark, "ml_feature_processing")

    # Assess
    files = 7 + len(simulated)
    assert len(simulated) == 2
    assert summary["files"] == file_counts(files, files, files, 0, 0)
    # Clean data, no finding: mini-VQE's runs are at the geometries of the reference table, and
    # above their FCI energies (they are variational).
    assert summary["findings"] == [] and ml["findings"] == []
    judged = quality.energy_violations(records_frame(spark, simulated), quality.reference_frame(spark), tolerance=-10.0)
    assert judged.count() == len(simulated)  # each matched a reference: the physics gate did judge them
    assert summary["new_rows"] == expected_rows(all_records) | {"processing_metadata": 1}
    assert table_counts(spark, plane) == expected_rows(all_records)
    compact = summary["batch_id"].replace("-", "")
    assert summary["tags"] == dict.fromkeys(BASE_TABLES, f"v_{compact}")
    assert plane.table(spark, "molecules.refs").where(f"name = 'v_{compact}'").count() == 1
    metadata = (
        plane.table(spark, "processing_metadata").where(f"processing_batch_id = '{summary['batch_id']}'").collect()
    )
    assert len(metadata) == 1 and metadata[0].record_counts == expected_rows(all_records)
    # Lineage: the packaged code the cluster ran, the engine's versions, a digest of its conf.
    built = json.loads((plane.dist / "build.json").read_text())["codeVersion"]
    assert metadata[0].code_version == built == code_version()
    assert metadata[0].spark_version.startswith("4.0.") and metadata[0].iceberg_version == "1.10.1"
    assert len(metadata[0].spark_conf_digest) == 16
    avro_coords = {
        tuple(r.coordinates[1])
        for r in plane.table(spark, "molecules").collect()
        if r.experiment_id in _ids_of(spark, avro_records)
    }
    assert avro_coords == {tuple(r["molecule"]["molecule_data"]["coords"][1]) for r in avro_records}
    assert ml["new_rows"] == {
        "ml_run_summary": len(all_records),
        "ml_iteration_features": expected_rows(all_records)["vqe_iterations"],
        "processing_metadata": 1,
    }
    ml_ids = {r.experiment_id for r in plane.table(spark, "ml_run_summary").select("experiment_id").collect()}
    assert ml_ids == _ids_of(spark, all_records) and _ids_of(spark, simulated) <= ml_ids


def _ids_of(spark, records: list[dict]) -> set[str]:
    from quantum_pipeline.validation import experiment_id, validate_record

    return {experiment_id(validate_record(r)) for r in records}


def test_rerun_with_no_new_files_adds_nothing(spark, plane):
    ingested(spark, plane, {0: record(0), 1: record(1)})
    plane.run_here(spark, "ml_feature_processing")
    before = table_counts(spark, plane)

    summary = plane.run_here(spark, "feature_processing")
    ml = plane.run_here(spark, "ml_feature_processing")

    assert summary["status"] == "no_changes" and summary["files"] == file_counts(2, 0, 0, 0, 2)
    assert table_counts(spark, plane) == before
    latest = plane.table(spark, "processing_metadata").where(f"processing_batch_id = '{summary['batch_id']}'").first()
    assert set(latest.table_versions.values()) == {"no_changes"}
    assert ml["status"] == "no_changes" and ml["new_rows"]["ml_run_summary"] == 0
    assert ml["details"]["pending_experiments"] == 0
    # Both answered from snapshot properties: the ledger and the ML tables were not read.
    assert summary["details"]["listing_unchanged"] is True and ml["details"]["source_unchanged"] is True


def test_only_new_and_changed_files_are_read(spark, plane):
    ingested(spark, plane, {0: record(0), 1: record(1)})
    before = table_counts(spark, plane)
    upload_json(plane, {8: record(8), 9: record(9)})
    upload_json(plane, {1: record(21)})  # same key as record 1, new content: a new ETag

    summary = plane.run_here(spark, "feature_processing")

    assert summary["files"] == file_counts(4, 3, 3, 0, 1)
    assert summary["details"]["listing_unchanged"] is False
    added = {name: table_counts(spark, plane)[name] - before[name] for name in BASE_TABLES}
    assert added == expected_rows([record(8), record(9), record(21)])
    assert set(summary["tags"].values()) == {f"v_incr_{summary['batch_id'].replace('-', '')}"}


def test_max_files_bounds_a_run_and_the_next_run_takes_the_rest(spark, plane):
    upload_json(plane, {i: record(i) for i in range(3)})

    first = plane.run_here(spark, "feature_processing", ["--max-files", "2"])
    second = plane.run_here(spark, "feature_processing", ["--max-files", "2"])
    third = plane.run_here(spark, "feature_processing", ["--max-files", "2"])

    assert (first["files"]["in_batch"], second["files"]["in_batch"], third["files"]["in_batch"]) == (2, 1, 0)
    assert [run["files"]["deferred"] for run in (first, second, third)] == [1, 0, 0]
    assert all(run["findings"] == [] for run in (first, second, third))  # the counts add up each time
    # The listing is the same all three times: only a batch that took all of it may vouch for it.
    assert [run["details"]["listing_unchanged"] for run in (first, second, third)] == [False, False, True]
    assert table_counts(spark, plane) == expected_rows([record(i) for i in range(3)])


def test_duplicate_simulations_are_written_once_and_counted(spark, plane):
    ingested(spark, plane, {0: record(0)})
    plane.put_raw("experiment.vqe/redelivered-0.json", json.dumps(record(0)).encode())
    plane.put_raw("experiment.vqe/twice-a.json", json.dumps(record(5)).encode())
    plane.put_raw("experiment.vqe/twice-b.json", json.dumps(record(5)).encode())

    summary = plane.run_here(spark, "feature_processing")

    assert summary["files"]["ingested"] == 3
    assert summary["details"]["duplicate_experiments"] == 2  # one already known, one delivered twice
    assert summary["new_rows"]["molecules"] == 1
    assert table_counts(spark, plane) == expected_rows([record(0), record(5)])


def test_poisoned_files_are_quarantined_and_the_rest_ingested(spark, plane):
    wrong_type = record(10)
    wrong_type["vqe_result"]["iteration_list"][1]["result"] = "-1.1"
    duplicate_key = json.dumps(record(13)).replace('"basis_set": "sto3g"', '"basis_set": "sto3g", "basis_set": "6-31g"')
    poison = {
        "poison/truncated.json": json.dumps(record(11)).encode()[:200],
        "poison/wrong-types.json": json.dumps(wrong_type).encode(),
        "poison/empty-object.json": b"{}",
        "poison/zero-bytes.json": b"",
        "poison/notes.txt": b"not a result",
        "poison/duplicate-key.json": duplicate_key.encode(),
    }
    for key, body in poison.items():
        plane.put_raw(f"experiment.vqe/{key}", body)
    # Well-formed, but physically impossible: H2 at the cpu lane's geometry, 3 Ha below its FCI energy.
    impossible = make_record(40, seed=11, molecule="H2", iterations=4)
    impossible["molecule"]["molecule_data"]["coords"] = [[0.0, 0.0, 0.0], [0.0, 0.0, 0.7414]]
    impossible["vqe_result"]["minimum"] = -4.85
    upload_json(plane, {12: record(12), 40: impossible})

    summary = plane.run_here(spark, "feature_processing")

    reasons = {q["key"].rsplit("/", 1)[-1]: q["reason"] for q in summary["quarantined"]}
    assert summary["files"] == file_counts(8, 8, 2, 6, 0)
    findings = {f["gate"]: f for f in summary["findings"]}
    assert sorted(findings) == ["energy_below_exact", "quarantined_files"]
    assert findings["quarantined_files"]["offending_total"] == 6
    assert set(findings["quarantined_files"]["offending"]) == {q["key"] for q in summary["quarantined"]}
    assert findings["energy_below_exact"]["offending"] == sorted(_ids_of(spark, [impossible]))
    energy = findings["energy_below_exact"]["message"]
    assert "minimum -4.8500000000 Ha, FCI electronic energy -1.8510241683 Ha" in energy
    assert reasons["truncated.json"].startswith("invalid JSON at line 1")
    assert reasons["wrong-types.json"] == 'vqe_result.iteration_list[1].result: expected a number, got string "-1.1"'
    assert reasons["empty-object.json"] == "vqe_result: required field is missing"
    assert reasons["zero-bytes.json"] == "empty file (0 bytes)"
    assert reasons["notes.txt"].startswith("unsupported file type 'notes.txt'")
    assert reasons["duplicate-key.json"] == (
        'duplicate key "basis_set" in one JSON object (ambiguous: string "sto3g", then string "6-31g")'
    )
    rejected = {r.object_key.rsplit("/", 1)[-1]: r.reason for r in plane.table(spark, "rejected_files").collect()}
    assert rejected == reasons
    assert table_counts(spark, plane) == expected_rows([record(12), impossible])  # a finding, not a quarantine


def _crash_then_resume(spark, plane, stop_after: str, new: dict[int, dict]) -> tuple[dict, int, dict]:
    """Job 1 as a driver that exits hard right after committing `stop_after`; then the resume.
    Returns the base table counts and the ledger rows left by the crash, and the resumed summary."""
    upload_json(plane, new)
    crashed = plane.run("feature_processing", conf={"spark.qp.test.exitAfterTable": stop_after}, tasks_in_driver=True)
    assert crashed.driver.state == "FAILED" and crashed.summary is None
    assert (
        f"fault injection: exiting hard after committing {stop_after}" in crashed.driver.stdout + crashed.driver.stderr
    )
    half_written, ledger = table_counts(spark, plane), plane.table(spark, "ingested_files").count()
    return half_written, ledger, plane.run_here(spark, "feature_processing")


def test_a_run_that_dies_before_its_ledger_commit_resumes_without_writing_twice(spark, plane):
    new = {i: record(i) for i in range(30, 33)}

    half_written, ledger, resumed = _crash_then_resume(spark, plane, "processing_metadata", new)

    assert half_written == expected_rows(list(new.values())) and ledger == 0  # all written but the ledger
    assert resumed["resumed_batch"] is True and plane.table(spark, "ingested_files").count() == 3
    assert table_counts(spark, plane) == expected_rows(list(new.values()))
    assert plane.table(spark, "processing_metadata").count() == 1  # not a second row for the batch


def _uncommitted_batch_wrote(spark, plane, table: str) -> bool:
    """True once the one batch that is planned but not in the ledger has its snapshot in `table`."""
    planned = {r.batch_id for r in spark.sql(f"SELECT DISTINCT batch_id FROM {plane.fqn('ingestion_plan')}").collect()}
    committed = {r.batch_id for r in plane.table(spark, "ingested_files").select("batch_id").distinct().collect()}
    if len(planned - committed) != 1:
        return False  # the driver has not planned its batch yet
    (batch,) = planned - committed
    return (
        spark.sql(f"SELECT 1 FROM {plane.fqn(table)}.snapshots WHERE summary['qp.batch-id'] = '{batch}'").count() == 1
    )


def test_a_driver_killed_through_the_rest_api_between_two_commits_resumes_exactly(spark, plane):
    # Prepare: an earlier batch, committed; then a driver that waits right after its molecules
    # commit, a point proven to lie between two table commits (molecules written, the rest not).
    ingested(spark, plane, {0: record(0)})
    new = {i: record(i) for i in range(40, 44)}
    upload_json(plane, new)
    submission = plane.submit(
        "feature_processing", "killed-run", conf={"spark.qp.test.pauseAfterTable": "molecules"}, tasks_in_driver=True
    )
    deadline = time.monotonic() + 300
    while not _uncommitted_batch_wrote(spark, plane, "molecules"):
        assert time.monotonic() < deadline, "the driver never committed molecules"
        assert plane.rest.state(submission) in ("SUBMITTED", "RUNNING"), plane.rest.result(
            submission, plane.rest.state(submission)
        ).stderr[-3000:]
        time.sleep(2)

    # Act: kill it there, then run again.
    plane.rest.kill(submission)
    killed = plane.rest.wait(submission)
    partial, ledger = table_counts(spark, plane), plane.table(spark, "ingested_files").count()
    resumed = plane.run_here(spark, "feature_processing")

    # Assess
    assert killed.state == "KILLED"
    earlier = expected_rows([record(0)])
    # A partial batch: molecules committed (read back on resume), the rest and the ledger not.
    assert partial["molecules"] == 1 + 4 and partial["ansatz_info"] == 1 and ledger == 1
    assert resumed["resumed_batch"] is True and resumed["files"]["in_batch"] == 4
    assert resumed["new_rows"] == expected_rows(list(new.values())) | {"processing_metadata": 1}
    assert table_counts(spark, plane) == expected_rows([record(0), *new.values()])
    assert table_counts(spark, plane)["vqe_iterations"] - earlier["vqe_iterations"] == sum(
        len(r["vqe_result"]["iteration_list"]) for r in new.values()
    )
    duplicates = plane.table(spark, "ingested_files").groupBy("object_key", "etag").count().where("count > 1")
    assert duplicates.count() == 0 and plane.table(spark, "ingested_files").count() == 5


def test_ml_job_that_dies_between_its_tables_resumes_exactly(spark, plane):
    ingested(spark, plane, {i: record(i) for i in range(3)})
    iterations = expected_rows([record(i) for i in range(3)])["vqe_iterations"]

    crashed = plane.run(
        "ml_feature_processing", conf={"spark.qp.test.exitAfterTable": "ml_iteration_features"}, tasks_in_driver=True
    )
    half_written = (plane.table(spark, "ml_iteration_features").count(), plane.table(spark, "ml_run_summary").count())
    resumed = plane.run_here(spark, "ml_feature_processing")

    assert crashed.driver.state == "FAILED"
    assert half_written == (iterations, 0)
    assert resumed["new_rows"]["ml_iteration_features"] == 0 and resumed["new_rows"]["ml_run_summary"] == 3
    assert plane.table(spark, "ml_iteration_features").count() == iterations
    duplicates = plane.table(spark, "ml_iteration_features").groupBy("experiment_id", "iteration_step").count()
    assert duplicates.where("count > 1").count() == 0


def test_ml_job_reads_only_the_batches_it_has_to_process(spark, plane):
    ingested(spark, plane, {i: record(i) for i in range(3)})
    plane.run_here(spark, "ml_feature_processing")
    ingested(spark, plane, {3: record(3), 4: record(4)})  # a second batch, the same day

    ml = plane.run_here(spark, "ml_feature_processing")

    assert ml["details"]["pending_experiments"] == 2 and ml["details"]["batches_read"] == 1
    assert ml["new_rows"]["ml_run_summary"] == 2
    assert plane.table(spark, "ml_run_summary").count() == 5


def test_ml_full_refresh_recomputes_with_new_parameters_in_one_commit_per_table(spark, plane):
    ingested(spark, plane, {i: record(i) for i in range(4)})
    plane.run_here(spark, "ml_feature_processing")

    summary = plane.run_here(spark, "ml_feature_processing", ["--full-refresh", "--trajectory-head", "2"])

    assert summary["details"]["full_refresh"] is True and summary["details"]["pending_experiments"] == 4
    assert summary["tags"]["ml_run_summary"].startswith("v_full_")
    assert plane.table(spark, "ml_run_summary").count() == 4  # replaced, not appended
    assert plane.table(spark, "ml_iteration_features").count() == table_counts(spark, plane)["vqe_iterations"]
    # Every row was recomputed with H = 2: first_10_mean_energy is now the mean of the first 2 steps.
    first_two = {
        r.experiment_id: r.mean
        for r in spark.sql(
            "SELECT experiment_id, avg(iteration_energy) AS mean FROM (SELECT experiment_id, iteration_energy, "
            "row_number() OVER (PARTITION BY experiment_id ORDER BY iteration_step) AS n FROM {t}) WHERE n <= 2 "
            "GROUP BY experiment_id".format(t=plane.fqn("vqe_iterations"))
        ).collect()
    }
    recomputed = {
        r.experiment_id: r.first_10_mean_energy
        for r in plane.table(spark, "ml_run_summary").select("experiment_id", "first_10_mean_energy").collect()
    }
    assert recomputed.keys() == first_two.keys()
    assert all(abs(recomputed[e] - first_two[e]) < 1e-12 for e in first_two)
