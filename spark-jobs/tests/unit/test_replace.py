"""replace_once: one MERGE per table and batch, carrying the batch id, replacing exactly the rows of
the experiments it names."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from pyspark.errors import AnalysisException

from quantum_pipeline.iceberg_io import NO_CHANGES, TableRef, append_once, ensure_tables, snapshot_history
from quantum_pipeline.replace import merge_statement, replace_once
from quantum_pipeline.tables import I, S, TableSpec

SPEC = TableSpec(
    "steps", (("experiment_id", S, False), ("step", I, False), ("value", S, True)), ("experiment_id", "step"), ()
)
REF = TableRef("local_catalog", "unit_replace")


def make_table(spark, name="steps"):
    spec = TableSpec(name, SPEC.columns, SPEC.key, ())
    spark.sql(f"DROP TABLE IF EXISTS {REF.fqn(name)}")
    ensure_tables(spark, REF, (spec,))
    return REF.fqn(name)


@pytest.fixture
def table(spark):
    fqn = make_table(spark)
    # Three experiments in one data file, so a replacement has to rewrite rows, not drop files.
    append_once(spark, fqn, frame(spark, ("e1", 3, "old"), ("e2", 2, "old"), ("e3", 1, "old")).coalesce(1), "b1")
    return fqn


def frame(spark, *experiments):
    """Rows (experiment, step, value) for steps 0..n-1 of each (experiment, n, value)."""
    rows = [(e, step, value) for e, n, value in experiments for step in range(n)]
    return spark.createDataFrame(rows, SPEC.schema)


def content(spark, fqn):
    return sorted(tuple(r) for r in spark.table(fqn).collect())


def test_replaced_experiments_get_exactly_the_new_rows_in_one_commit(spark, table):
    # e1 now has 2 steps instead of 3; e4 is new; e2 is replaced by nothing; e3 is untouched.
    before = len(list(snapshot_history(spark, table)))

    result = replace_once(
        spark, table, frame(spark, ("e1", 2, "new"), ("e4", 1, "new")), "b2", SPEC.key, ["e1", "e2"], tag="v_r_b2"
    )

    assert content(spark, table) == [("e1", 0, "new"), ("e1", 1, "new"), ("e3", 0, "old"), ("e4", 0, "new")]
    history = list(snapshot_history(spark, table))
    assert len(history) == before + 1 and history[0].batch_id == "b2"
    assert (result.rows, result.tag, result.already_committed) == (3, "v_r_b2", False)
    tags = {r.name: r.snapshot_id for r in spark.sql(f"SELECT * FROM {table}.refs").collect()}
    assert tags["v_r_b2"] == history[0].snapshot_id


def test_a_resumed_run_finds_the_commit_and_writes_nothing(spark, table):
    replace_once(spark, table, frame(spark, ("e1", 1, "new")), "b2", SPEC.key, ["e1"])
    snapshots = len(list(snapshot_history(spark, table)))

    again = replace_once(spark, table, frame(spark, ("e1", 1, "new")), "b2", SPEC.key, ["e1"])

    assert again.already_committed and again.rows == 1
    assert len(list(snapshot_history(spark, table))) == snapshots
    assert content(spark, table) == [("e1", 0, "new"), ("e2", 0, "old"), ("e2", 1, "old"), ("e3", 0, "old")]


def test_without_replaced_values_it_is_an_upsert_on_the_key(spark, table):
    replace_once(spark, table, frame(spark, ("e2", 1, "new")), "b2", SPEC.key)

    assert ("e2", 0, "new") in content(spark, table) and ("e2", 1, "old") in content(spark, table)


def test_an_empty_upsert_commits_nothing(spark, table):
    result = replace_once(spark, table, frame(spark), "b2", SPEC.key)

    assert (result.rows, result.tag, result.snapshot_id) == (0, NO_CHANGES, None)


def test_replacements_from_parallel_threads_each_carry_their_batch_id(spark):
    # The feature job writes several tables at once; the batch id travels in a JVM thread-local.
    tables = [make_table(spark, f"steps_{i}") for i in range(3)]

    def replace(i):
        return replace_once(spark, tables[i], frame(spark, ("e1", 1, f"v{i}")), f"batch-{i}", SPEC.key, ["e1"])

    with ThreadPoolExecutor(3) as pool:
        list(pool.map(replace, range(3)))

    assert [next(snapshot_history(spark, t)).batch_id for t in tables] == ["batch-0", "batch-1", "batch-2"]


def test_an_error_inside_the_merge_surfaces_as_itself(spark, table):
    # A frame whose columns do not match the table: Spark's own analysis error, not a Py4J wrapper.
    wrong = spark.createDataFrame([("e1", "x")], "experiment_id string, other string")

    with pytest.raises(AnalysisException):
        replace_once(spark, table, wrong, "b9", SPEC.key, ["e1"])


def test_merge_statement_matches_null_safe_and_deletes_only_named_values():
    statement = merge_statement("c.n.t", "src", ("experiment_id", "step"), "experiment_id", 2)

    assert statement == (
        "MERGE INTO c.n.t t USING src s ON t.`experiment_id` <=> s.`experiment_id` AND t.`step` <=> s.`step` "
        "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT * "
        "WHEN NOT MATCHED BY SOURCE AND t.`experiment_id` IN (:v0, :v1) THEN DELETE"
    )
