"""Table maintenance against the real data plane: after several small incremental job-1 runs, the
packaged job, submitted to the standalone cluster, compacts the tables without changing a row, and
the tags of the batches still open the tables as they were. Then, past the retention, the files it
expires leave the R2 mirror too (the mirror test's sync, run by localstack/embedded/run-r2-sync.ts)."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter

from dataplane_client import assert_succeeded
from quantum_pipeline import maintenance, tables
from quantum_pipeline.session import utc_now

# r2: the mirror test's fixture (the stand-in bucket and this test's folder in it), used by name.
from test_r2_mirror import ML_TABLES, assert_mirror_equals_source, r2, run_sync  # noqa: F401
from tools.synthetic_records import make_record

# Incremental job-1 runs before maintenance, two records each. Two are enough for every table to
# hold files of two commits in one partition, which maintenance must compact (MIN_INPUT_FILES).
RUNS = 2
MOLECULES = ("H2", "HeH+", "LiH")


def upload(plane, indexes: range) -> None:
    for i in indexes:
        body = make_record(i, seed=23, molecule=MOLECULES[i % 3], iterations=3)
        plane.put_raw(f"experiment.vqe/{i:06d}-{1_700_000_000_000_000_000 + i}.json", json.dumps(body).encode())


def content(spark, plane, name: str, version: str | None = None) -> Counter:
    """A table's rows as a multiset (maps and arrays included), optionally as of a tag."""
    as_of = f" VERSION AS OF '{version}'" if version else ""
    rows = spark.sql(f"SELECT * FROM {plane.fqn(name)}{as_of}").collect()
    return Counter(json.dumps(r.asDict(recursive=True), sort_keys=True, default=str) for r in rows)


def test_maintenance_compacts_after_incremental_runs_and_changes_no_row(spark, plane):
    # Prepare: RUNS small batches, each a tagged commit of a few small files per table.
    first = None
    for run in range(RUNS):
        upload(plane, range(run * 2, run * 2 + 2))
        summary = plane.run_here(spark, "feature_processing")
        first = first or summary
    names = sorted(r.tableName for r in spark.sql(f"SHOW TABLES IN quantum_catalog.{plane.namespace}").collect())
    before = {name: content(spark, plane, name) for name in names}
    first_tag = first["tags"][tables.MOLECULES.name]
    first_molecules = content(spark, plane, tables.MOLECULES.name, first_tag)

    # Act: the packaged job, on the cluster.
    # (--retain-last below RUNS: the first batch's snapshot is not among the last ones kept by count.)
    result = assert_succeeded(plane.run("table_maintenance", extra_args=["--retain-last", str(RUNS - 1)]))

    # Assess: fewer data files, the same rows, every young tag kept and still readable.
    per_table = result["details"]["tables"]
    print(
        "maintenance data files before/after:",
        {name: (t["before"]["data_files"], t["after"]["data_files"]) for name, t in per_table.items()},
        "totals:",
        result["files"],
        flush=True,
    )
    assert result["job"] == "table_maintenance" and result["status"] == "succeeded"
    assert sorted(per_table) == names
    assert result["files"]["data_files_after"] < result["files"]["data_files_before"]
    for spec in tables.FEATURE_TABLES:
        figures = per_table[spec.name]
        assert figures["after"]["data_files"] < figures["before"]["data_files"], spec.name
        assert figures["after"]["records"] == figures["before"]["records"], spec.name
        assert figures["actions"]["tags_dropped"] == 0 and figures["after"]["tags"] == RUNS, spec.name
    assert {name: content(spark, plane, name) for name in names} == before
    assert content(spark, plane, tables.MOLECULES.name, first_tag) == first_molecules
    assert sum(first_molecules.values()) == 2

    # A later job-1 run still works on the compacted tables.
    upload(plane, range(RUNS * 2, RUNS * 2 + 1))
    later = plane.run_here(spark, "feature_processing")
    assert later["new_rows"][tables.MOLECULES.name] == 1
    assert sum(content(spark, plane, tables.MOLECULES.name).values()) == RUNS * 2 + 1


def sync_allowing_deletes(plane, folder: str) -> dict:
    """run_sync with the delete guard opened: on tables this small, expiry deletes more than half of
    a table's mirror, which the default guard (50 %) holds back by design."""
    return run_sync(plane, folder, trigger="maintenance-test", maxDeleteFraction=1)


def test_past_the_retention_expired_files_leave_the_r2_mirror_which_still_matches_the_source(spark, plane, r2):  # noqa: F811
    _, folder = r2
    # Prepare: two batches through both jobs (two tagged commits per ML table), mirrored once.
    for run in range(2):
        upload(plane, range(run * 2, run * 2 + 2))
        plane.run_here(spark, "feature_processing")
        plane.run_here(spark, "ml_feature_processing")
    run_sync(plane, folder)
    before = {name: content(spark, plane, name) for name in ML_TABLES}

    # Act: maintenance 91 days on, twice (the first compacts, the second expires what the
    # compaction replaced), then a sync.
    later = utc_now() + dt.timedelta(days=91)
    args = plane.job_args("table_maintenance", "ta-later", ["--retain-last", "1", "--tables", ",".join(ML_TABLES)])
    maintenance.run(spark, maintenance.parse_maintenance_args(args), now=later)
    second = json.loads(maintenance.run(spark, maintenance.parse_maintenance_args(args), now=later).to_json())
    synced = sync_allowing_deletes(plane, folder)

    # Assess: the old files went from the warehouse and then from the mirror, which opens at the
    # source's current snapshot with the same rows; no row changed.
    for name in ML_TABLES:
        figures = second["details"]["tables"][name]
        assert figures["actions"]["expired_data_files"] >= 2, (name, figures)
        assert figures["after"]["snapshots"] == 1 and figures["after"]["tags"] == 0, (name, figures)
        assert synced[name]["deleted"]["objects"] >= figures["actions"]["expired_data_files"], (name, synced[name])
        assert content(spark, plane, name) == before[name], name
    assert_mirror_equals_source(spark, plane, folder, synced)
