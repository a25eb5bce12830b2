"""Reprocessing (`--reprocess`) against the real data plane: the rows of re-ingested objects are
replaced exactly once, even across a crash, and job 2 then recomputes their ML rows."""

from __future__ import annotations

import datetime as dt

from test_feature_pipeline import expected_rows, ingested, record, table_counts, upload_json

VQE, OTHER = "experiment.vqe", "experiment.other"


def _batch_of(spark, plane, table: str) -> dict[str, str]:
    """experiment id -> the batch that wrote its rows, for a table with one batch per experiment."""
    rows = plane.table(spark, table).select("experiment_id", "processing_batch_id").distinct().collect()
    batches: dict[str, str] = {}
    for r in rows:
        assert batches.setdefault(r.experiment_id, r.processing_batch_id) == r.processing_batch_id, r.experiment_id
    return batches


def _no_duplicate_keys(spark, plane, ml: bool = True) -> None:
    for name, key in (
        ("molecules", "experiment_id"),
        ("vqe_iterations", "iteration_id"),
        ("ingested_files", "object_key, etag"),
        *((("ml_iteration_features", "experiment_id, iteration_step"),) if ml else ()),
    ):
        twice = spark.sql(f"SELECT {key} FROM {plane.fqn(name)} GROUP BY {key} HAVING count(*) > 1").count()
        assert twice == 0, f"{name} holds a key twice"


def test_a_reprocess_replaces_its_prefix_once_and_job_2_recomputes_those_experiments(spark, plane):
    # Prepare: four experiments in one topic, two in another, both jobs run.
    vqe, other = {i: record(i) for i in range(4)}, {i: record(i) for i in range(4, 6)}
    upload_json(plane, other, topic=OTHER)
    first = ingested(spark, plane, vqe)
    plane.run_here(spark, "ml_feature_processing")
    counts, ml_count = table_counts(spark, plane), plane.table(spark, "ml_iteration_features").count()
    ml_before = _batch_of(spark, plane, "ml_run_summary")

    # Act: reprocess the first topic only.
    prefix = f"{plane.raw_prefix}/{VQE}/"
    summary = plane.run_here(spark, "feature_processing", ["--reprocess", "--reprocess-prefix", prefix])

    # Assess: the same rows, now written by the reprocess batch for that topic alone.
    assert summary["details"]["reprocess"] | {"prefix": None} == {
        "prefix": None,
        "since": None,
        "status": "done",
        "objects": 4,
        "experiments": 4,
    }
    assert summary["new_rows"] == expected_rows(list(vqe.values())) | {"processing_metadata": 1}
    assert set(summary["tags"].values()) == {f"v_reproc_{summary['batch_id'].replace('-', '')}"}
    assert table_counts(spark, plane) == counts
    for table in ("molecules", "vqe_results", "vqe_iterations", "hamiltonian_terms"):
        written = _batch_of(spark, plane, table)
        assert sorted(written.values()).count(summary["batch_id"]) == 4, table
        assert sorted(written.values()).count(first["batch_id"]) == 2, table  # the other topic's
    ledger = {r.object_key: r.batch_id for r in plane.table(spark, "ingested_files").collect()}
    assert len(ledger) == 6
    assert sorted(key.split("/")[-2] for key, batch in ledger.items() if batch == summary["batch_id"]) == [VQE] * 4
    _no_duplicate_keys(spark, plane)

    # Act: job 2 finds the four experiments' ML rows older than their base rows.
    ml = plane.run_here(spark, "ml_feature_processing")

    # Assess: they are recomputed and replaced, the other two left alone.
    assert ml["details"]["replaced_experiments"] == 4 and ml["details"]["pending_experiments"] == 4
    assert plane.table(spark, "ml_iteration_features").count() == ml_count
    ml_after = _batch_of(spark, plane, "ml_run_summary")
    assert sum(1 for e in ml_after if ml_after[e] != ml_before[e]) == 4
    _no_duplicate_keys(spark, plane)
    # And nothing is left to do.
    assert plane.run_here(spark, "ml_feature_processing")["details"]["pending_experiments"] == 0

    # A `since` after every ledger entry selects nothing, and writes nothing.
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).date().isoformat()
    idle = plane.run_here(spark, "feature_processing", ["--reprocess", "--reprocess-since", tomorrow])
    assert idle["status"] == "no_changes" and idle["details"]["reprocess"]["status"] == "nothing_selected"


def test_a_reprocess_killed_midway_is_finished_exactly_once_by_the_next_run(spark, plane):
    # Prepare: three experiments ingested, then a reprocess driver that exits hard right after its
    # vqe_results commit (the other tables and the ledger not yet replaced).
    vqe = {i: record(i) for i in range(20, 23)}
    first = ingested(spark, plane, vqe)
    counts = table_counts(spark, plane)
    crashed = plane.run(
        "feature_processing",
        conf={"spark.qp.test.exitAfterTable": "vqe_results"},
        extra_args=["--reprocess"],
        tasks_in_driver=True,
    )
    assert crashed.driver.state == "FAILED" and crashed.summary is None
    assert table_counts(spark, plane) == counts  # replaced, never added: readers saw old or new rows
    half = _batch_of(spark, plane, "vqe_results")

    # Act: a plain run (no --reprocess) finds the interrupted reprocess batch and finishes it.
    resumed = plane.run_here(spark, "feature_processing")

    # Assess
    assert resumed["resumed_batch"] is True and resumed["details"]["reprocess"]["status"] == "done"
    assert resumed["new_rows"]["vqe_results"] == 3  # the commit the crashed run made, read back
    assert table_counts(spark, plane) == counts == expected_rows(list(vqe.values()))
    reprocess_batch = resumed["batch_id"]
    assert set(half.values()) == {reprocess_batch} != {first["batch_id"]}
    for table in ("molecules", "vqe_iterations", "ansatz_info"):
        assert set(_batch_of(spark, plane, table).values()) == {reprocess_batch}, table
    assert {r.batch_id for r in plane.table(spark, "ingested_files").collect()} == {reprocess_batch}
    _no_duplicate_keys(spark, plane, ml=False)
    # The crashed snapshot was committed once: one vqe_results snapshot carries the batch.
    once = spark.sql(
        f"SELECT count(*) AS n FROM {plane.fqn('vqe_results')}.snapshots WHERE summary['qp.batch-id'] = :b",
        args={"b": reprocess_batch},
    ).first()
    assert once.n == 1
