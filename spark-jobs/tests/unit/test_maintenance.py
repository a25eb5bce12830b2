"""Table maintenance: its arguments, the tag-retention rule, and a whole run on a local table."""

import datetime as dt

import pytest

from quantum_pipeline.config import ConfigError
from quantum_pipeline.iceberg_io import TableRef, append_once, ensure_tables
from quantum_pipeline.maintenance import (
    DAY_MS,
    TagInfo,
    parse_maintenance_args,
    retention_conflicts,
    run,
    sql_timestamp,
    tags_to_drop,
)
from quantum_pipeline.tables import L, S, TableSpec

SPEC = TableSpec("events", (("id", L, False), ("processing_batch_id", S, False)), ("id",), ())
REF = TableRef("local_catalog", "unit_maintenance")


def test_defaults_keep_ninety_days_and_aim_at_128_mib_files():
    config = parse_maintenance_args(["--run-id", "m-1"])

    assert (config.retention_days, config.retain_last, config.target_file_size_bytes) == (90, 5, 128 * 1024 * 1024)
    assert (config.orphan_age_days, config.tables, config.processing_name) == (3, (), "quantum_table_maintenance")


def test_tables_are_a_comma_separated_list():
    assert parse_maintenance_args(["--run-id", "m", "--tables", "molecules, vqe_results"]).tables == (
        "molecules",
        "vqe_results",
    )


@pytest.mark.parametrize(
    "argument, value, expected",
    [
        ("--retention-days", "0", "--retention-days=0: expected 1 to 3650 days"),
        ("--retain-last", "0", "--retain-last=0: expected a whole number from 1 to 1000"),
        ("--target-file-size-bytes", "1000", "--target-file-size-bytes=1000: expected 1048576 (1 MiB)"),
        ("--orphan-age-days", "0", "--orphan-age-days=0: expected 1 to 365 days"),
        ("--tables", "molecules;drop", "--tables='molecules;drop': expected comma-separated table names"),
    ],
)
def test_bad_values_are_refused_naming_the_argument_and_value(argument, value, expected):
    with pytest.raises(ConfigError) as error:
        parse_maintenance_args(["--run-id", "m", argument, value])

    assert str(error.value).startswith(expected)


def tag(name: str, snapshot_id: int, age_days: float, max_ref_age_ms: int | None = None) -> TagInfo:
    now_ms = 1_800_000_000_000
    return TagInfo(name, snapshot_id, int(now_ms - age_days * DAY_MS), max_ref_age_ms)


def test_only_tags_older_than_the_cutoff_and_off_the_last_snapshots_are_dropped():
    cutoff_ms = 1_800_000_000_000 - 90 * DAY_MS
    tags = [tag("v_old", 1, 120), tag("v_old_but_recent_ancestor", 2, 100), tag("v_young", 3, 10), tag("v_edge", 4, 90)]

    assert tags_to_drop(tags, kept_snapshot_ids={2, 3}, cutoff_ms=cutoff_ms) == ["v_old"]


def test_a_shorter_age_limit_on_the_table_or_a_tag_is_reported():
    retention = 90 * DAY_MS
    tags = [tag("v_a", 1, 1, max_ref_age_ms=DAY_MS), tag("v_b", 2, 1, max_ref_age_ms=retention)]

    assert retention_conflicts("molecules", 7 * DAY_MS, tags, retention) == [
        f"molecules: history.expire.max-ref-age-ms={7 * DAY_MS} is shorter than the retention",
        f"molecules: tag v_a has max-ref-age-ms={DAY_MS}, shorter than the retention",
    ]
    assert retention_conflicts("molecules", None, [tags[1]], retention) == []


def test_timestamps_are_written_in_utc():
    moment = dt.datetime(2026, 3, 1, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))

    assert sql_timestamp(moment) == "TIMESTAMP '2026-03-01 10:30:00.000000'"


@pytest.fixture
def events(spark):
    spark.sql(f"DROP TABLE IF EXISTS {REF.fqn('events')}")
    ensure_tables(spark, REF, (SPEC,))
    fqn = REF.fqn("events")
    # Four batches, each two files (two partitions of the frame): eight small data files.
    for batch in range(4):
        frame = spark.createDataFrame([(batch * 10 + i, f"b{batch}") for i in range(4)], SPEC.schema).repartition(2)
        append_once(spark, fqn, frame, f"b{batch}")
    return fqn


def maintain(spark, now=None, *args):
    argv = ["--run-id", "m-unit", "--catalog", REF.catalog, "--namespace", REF.namespace, *args]
    return run(spark, parse_maintenance_args(argv), now=now)


def test_a_run_compacts_keeps_every_row_and_young_tags_and_reports_before_and_after(spark, events):
    rows_before = sorted(spark.table(events).collect())

    summary = maintain(spark)

    figures = summary.details["tables"]["events"]
    assert figures["before"]["data_files"] == 8 and figures["after"]["data_files"] == 1
    assert figures["before"]["records"] == figures["after"]["records"] == 16
    assert figures["actions"]["rewritten_data_files"] == 8 and figures["actions"]["tags_dropped"] == 0
    assert summary.files["data_files_before"] == 8 and summary.files["data_files_after"] == 1
    # Two commits more: the compaction's and the manifest rewrite's.
    assert (figures["before"]["snapshots"], figures["after"]["snapshots"]) == (4, 6)
    assert sorted(spark.table(events).collect()) == rows_before
    first = spark.sql(f"SELECT count(*) AS n FROM {events} VERSION AS OF 'v_b0'").first().n
    assert first == 4  # the first batch's tag still opens the table as it was


def test_past_the_retention_old_tags_and_snapshots_go_and_the_last_ones_stay(spark, events):
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=91)

    summary = maintain(spark, later, "--retain-last", "2")

    figures = summary.details["tables"]["events"]
    assert figures["dropped_tags"] == ["v_b0", "v_incr_b1"]  # the last two snapshots keep theirs
    tags = {r.name for r in spark.sql(f"SELECT name FROM {events}.refs WHERE type = 'TAG'").collect()}
    assert tags == {"v_incr_b2", "v_incr_b3"}
    assert figures["before"]["snapshots"] == 4 and figures["after"]["snapshots"] == 4  # 2 kept + 2 commits
    assert figures["actions"]["expired_data_files"] == 0  # every row is still live
    assert spark.table(events).count() == 16
    with pytest.raises(Exception, match="v_b0"):
        spark.sql(f"SELECT * FROM {events} VERSION AS OF 'v_b0'").collect()


def test_an_unknown_table_is_refused_by_name(spark, events):
    with pytest.raises(ConfigError, match=r"--tables=events,nope: no table nope in local_catalog\.unit_maintenance"):
        maintain(spark, None, "--tables", "events,nope")
