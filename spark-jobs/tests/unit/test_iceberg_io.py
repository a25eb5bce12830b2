"""append_once: at most one snapshot per batch and table, tagged v_ first and v_incr_ after."""

import pytest

from quantum_pipeline.iceberg_io import (
    NO_CHANGES,
    MissingIcebergExtensions,
    TableRef,
    append_once,
    check_iceberg_session,
    current_snapshot,
    ddl,
    ensure_tables,
    snapshot_history,
    version_tag,
)
from quantum_pipeline.tables import L, S, TableSpec

SPEC = TableSpec("events", (("id", L, False), ("label", S, True)), ("id",), ())
REF = TableRef("local_catalog", "unit_iceberg")


@pytest.fixture
def table(spark):
    spark.sql(f"DROP TABLE IF EXISTS {REF.fqn('events')}")
    ensure_tables(spark, REF, (SPEC,))
    return REF.fqn("events")


def rows(spark, *ids):
    return spark.createDataFrame([(i, f"row-{i}") for i in ids], SPEC.schema)


def test_ddl_carries_types_nullability_and_partitioning():
    spec = TableSpec("t", (("a", L, False), ("d", S, True)), ("a",), ("d",))

    assert ddl(spec, "c.n.t") == (
        "CREATE TABLE IF NOT EXISTS c.n.t (`a` bigint NOT NULL, `d` string) USING iceberg "
        "PARTITIONED BY (d) TBLPROPERTIES ('format-version'='2', "
        "'write.distribution-mode'='hash')"
    )


def test_first_append_is_tagged_v_and_later_ones_v_incr(spark, table):
    first = append_once(spark, table, rows(spark, 1, 2), "batch-1")
    second = append_once(spark, table, rows(spark, 3), "batch-2")

    assert (first.rows, first.tag) == (2, "v_batch1")
    assert (second.rows, second.tag) == (1, "v_incr_batch2")
    tags = {r.name: r.snapshot_id for r in spark.sql(f"SELECT name, snapshot_id FROM {table}.refs").collect()}
    assert tags["v_batch1"] == first.snapshot_id and tags["v_incr_batch2"] == second.snapshot_id


def test_a_replacing_write_swaps_the_content_in_one_tagged_snapshot(spark, table):
    append_once(spark, table, rows(spark, 1, 2), "batch-1")

    refreshed = append_once(spark, table, rows(spark, 2, 3, 4), "batch-2", replace=True)
    again = append_once(spark, table, rows(spark, 9), "batch-2", replace=True)

    assert (refreshed.rows, refreshed.tag) == (3, "v_full_batch2")
    assert again.already_committed and again.snapshot_id == refreshed.snapshot_id
    assert sorted(r.id for r in spark.table(table).collect()) == [2, 3, 4]


def test_a_batch_already_committed_is_not_written_again(spark, table):
    append_once(spark, table, rows(spark, 1, 2), "batch-1")

    again = append_once(spark, table, rows(spark, 1, 2), "batch-1")

    assert again.already_committed and again.rows == 2 and again.tag == "v_batch1"
    assert spark.table(table).count() == 2


def test_an_empty_frame_writes_no_snapshot(spark, table):
    result = append_once(spark, table, rows(spark), "batch-0")
    then = append_once(spark, table, rows(spark, 7), "batch-1")

    assert (result.rows, result.tag, result.snapshot_id) == (0, NO_CHANGES, None)
    assert then.tag == "v_batch1"  # the first rows are still tagged as the table's creation


def test_extra_snapshot_properties_are_recorded(spark, table):
    append_once(spark, table, rows(spark, 1), "batch-1", extra_properties={"qp.source": "unit"})

    summary = spark.sql(f"SELECT summary FROM {table}.snapshots").first().summary

    assert summary["qp.batch-id"] == "batch-1" and summary["qp.source"] == "unit"


def test_snapshot_history_walks_from_the_current_snapshot_back_through_its_parents(spark, table):
    first = append_once(spark, table, rows(spark, 1, 2), "batch-1", extra_properties={"qp.note": "one"})
    second = append_once(spark, table, rows(spark, 3), "batch-2", rows=1)

    history = list(snapshot_history(spark, table, ("qp.note",)))

    assert [s.snapshot_id for s in history] == [second.snapshot_id, first.snapshot_id]
    assert [s.parent_id for s in history] == [first.snapshot_id, None]
    assert [s.batch_id for s in history] == ["batch-2", "batch-1"]
    assert [s.properties["added-records"] for s in history] == ["1", "2"]
    assert [s.properties["qp.note"] for s in history] == [None, "one"]
    assert history[0].timestamp_ms >= history[1].timestamp_ms
    assert current_snapshot(spark, table, ("qp.note",)) == history[0]


def test_a_table_without_snapshots_has_no_current_one(spark, table):
    assert current_snapshot(spark, table) is None and list(snapshot_history(spark, table)) == []


def test_a_known_row_count_of_zero_writes_nothing(spark, table):
    result = append_once(spark, table, rows(spark), "batch-1", rows=0)

    assert result.tag == NO_CHANGES and current_snapshot(spark, table) is None


def test_version_tag_drops_dashes():
    assert version_tag("3f2a-b1", first_snapshot=False) == "v_incr_3f2ab1"


class ConfOnlySession:
    """check_iceberg_session reads only spark.conf; static confs cannot be changed on a live session."""

    def __init__(self, conf: dict[str, str]):
        self.conf = self
        self._values = conf

    def get(self, key, default=None):
        return self._values.get(key, default)


ICEBERG = "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions"


def test_session_without_the_catalog_is_refused():
    with pytest.raises(RuntimeError, match=r"spark\.sql\.catalog\.nowhere is not set"):
        check_iceberg_session(ConfOnlySession({"spark.sql.extensions": ICEBERG}), TableRef("nowhere", "ns"))


def test_session_without_iceberg_extensions_is_refused():
    session = ConfOnlySession({"spark.sql.catalog.local_catalog": "org.apache.iceberg.spark.SparkCatalog"})

    with pytest.raises(MissingIcebergExtensions, match="IcebergSparkSessionExtensions"):
        check_iceberg_session(session, REF)


def test_the_test_session_itself_passes_the_check(spark):
    assert check_iceberg_session(spark, REF) is None  # no error: catalog and extensions are set

    with pytest.raises(RuntimeError, match=r"spark\.sql\.catalog\.absent_catalog is not set"):
        check_iceberg_session(spark, TableRef("absent_catalog", "ns"))
