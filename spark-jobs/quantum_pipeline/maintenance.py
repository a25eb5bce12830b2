"""Job 3: table maintenance. Keeps the tables of a namespace small in files and metadata.

main() = parse args -> session -> per table: measure -> drop the tags past retention -> expire
snapshots -> compact data files -> rewrite manifests -> remove orphan files -> measure -> summary.

Retention: every tagged snapshot younger than `retention_days` stays (a tag is a reference, and
`expire_snapshots` never removes a referenced snapshot), and so do the last `retain_last`
snapshots of the main branch. Job 1 tags every batch and no tag has an age limit of its own, so
this job is what ends a tag: it drops the tags whose snapshot is older than the retention, except
on the last `retain_last` snapshots (kept anyway, so their tag still names them). A table or tag
whose own max-ref-age is shorter than the retention would lose younger tags to Iceberg itself:
the job reports it (details.tag_retention_conflicts) rather than guess which setting is meant.

The job must not run while job 1 or 2 writes the same tables (the state machines share a run
slot). It also refuses a namespace with an interrupted job-1 batch: a compaction commit would
become the plan table's current snapshot and hide the batch from the resume (ledger.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from dataclasses import asdict, dataclass

from pyspark.sql import SparkSession

from . import tables
from .config import (  # the shared argument rules of the jobs
    _IDENTIFIER,
    CommonConfig,
    ConfigError,
    _check,
    _check_common,
    _common_parser,
    _common_values,
)
from .iceberg_io import TableRef, check_iceberg_session
from .ledger import interrupted_batch
from .run_summary import RunSummary
from .session import job_main, utc_now, write_tables

JOB = "table_maintenance"
log = logging.getLogger(__name__)

DAY_MS = 86_400_000
# Iceberg's property for the age limit of refs without one of their own (tags and branches).
MAX_REF_AGE_PROPERTY = "history.expire.max-ref-age-ms"
# A partition's files are compacted once it has two small ones: Iceberg's default waits for 5, and
# a day's partition often holds fewer (one batch a day writes one file per task into it).
MIN_INPUT_FILES = 2
SORT_COLUMN = "processing_batch_id"  # compacted files keep narrow batch bounds: job 2's pruning
MIN_TARGET_FILE_SIZE, MAX_TARGET_FILE_SIZE = 1024 * 1024, 2 * 1024 * 1024 * 1024


class MaintenanceBlockedError(RuntimeError):
    """The namespace is in a state where maintenance would break a later run."""


class MaintenanceIntegrityError(RuntimeError):
    """A table's row count changed across maintenance (it must never)."""


__all__ = ["ConfigError", "MaintenanceBlockedError", "MaintenanceIntegrityError", "main", "run"]


@dataclass(frozen=True)
class MaintenanceJobConfig(CommonConfig):
    retention_days: int  # tagged snapshots younger than this stay
    retain_last: int  # and so do the last N snapshots of the main branch, whatever their age
    target_file_size_bytes: int
    orphan_age_days: int  # only files older than this may be orphans (younger ones may be in flight)
    tables: tuple[str, ...]  # empty: every table of the namespace


def parse_maintenance_args(argv: list[str]) -> MaintenanceJobConfig:
    p = _common_parser(JOB, "quantum_table_maintenance")
    p.add_argument("--retention-days", type=int, default=90)
    p.add_argument("--retain-last", type=int, default=5)
    p.add_argument("--target-file-size-bytes", type=int, default=128 * 1024 * 1024)
    p.add_argument("--orphan-age-days", type=int, default=3)
    p.add_argument("--tables", default="", help="comma-separated table names (default: every table)")
    ns = p.parse_args(argv)
    _check_common(ns)
    _check(1 <= ns.retention_days <= 3650, "--retention-days", ns.retention_days, "expected 1 to 3650 days")
    _check(1 <= ns.retain_last <= 1000, "--retain-last", ns.retain_last, "expected a whole number from 1 to 1000")
    _check(
        MIN_TARGET_FILE_SIZE <= ns.target_file_size_bytes <= MAX_TARGET_FILE_SIZE,
        "--target-file-size-bytes",
        ns.target_file_size_bytes,
        f"expected {MIN_TARGET_FILE_SIZE} (1 MiB) to {MAX_TARGET_FILE_SIZE} (2 GiB) bytes",
    )
    # Iceberg's remove_orphan_files refuses less than a day: a younger file may be a write in flight.
    _check(1 <= ns.orphan_age_days <= 365, "--orphan-age-days", ns.orphan_age_days, "expected 1 to 365 days")
    names = tuple(n.strip() for n in ns.tables.split(",") if n.strip())
    bad = [n for n in names if not _IDENTIFIER.fullmatch(n)]
    _check(not bad, "--tables", ns.tables, "expected comma-separated table names")
    return MaintenanceJobConfig(
        **_common_values(ns),
        retention_days=ns.retention_days,
        retain_last=ns.retain_last,
        target_file_size_bytes=ns.target_file_size_bytes,
        orphan_age_days=ns.orphan_age_days,
        tables=names,
    )


@dataclass(frozen=True)
class TableMeasure:
    """One table's size: its current snapshot (from the snapshot summary, no Spark job), its
    snapshots and tags, and every object under its location (data and metadata, live or not)."""

    snapshots: int
    tags: int
    data_files: int
    delete_files: int
    data_bytes: int
    records: int
    stored_files: int
    stored_bytes: int


@dataclass(frozen=True)
class TagInfo:
    name: str
    snapshot_id: int
    timestamp_ms: int
    max_ref_age_ms: int | None


def tags_to_drop(tags: list[TagInfo], kept_snapshot_ids: set[int], cutoff_ms: int) -> list[str]:
    """The tags past retention: their snapshot is older than the cutoff and not among the snapshots
    kept anyway (the last N of the main branch)."""
    return sorted(t.name for t in tags if t.timestamp_ms < cutoff_ms and t.snapshot_id not in kept_snapshot_ids)


def retention_conflicts(
    table: str, table_max_ref_age_ms: int | None, tags: list[TagInfo], retention_ms: int
) -> list[str]:
    """Age limits that would make Iceberg drop a tag younger than the retention."""
    found = []
    if table_max_ref_age_ms is not None and table_max_ref_age_ms < retention_ms:
        found.append(f"{table}: {MAX_REF_AGE_PROPERTY}={table_max_ref_age_ms} is shorter than the retention")
    found += [
        f"{table}: tag {t.name} has max-ref-age-ms={t.max_ref_age_ms}, shorter than the retention"
        for t in tags
        if t.max_ref_age_ms is not None and t.max_ref_age_ms < retention_ms
    ]
    return found


def sql_timestamp(moment: dt.datetime) -> str:
    """A TIMESTAMP literal in UTC (the job's session time zone)."""
    return moment.astimezone(dt.timezone.utc).strftime("TIMESTAMP '%Y-%m-%d %H:%M:%S.%f'")


def _java_table(spark: SparkSession, fqn: str):
    jvm = spark._jvm  # noqa: SLF001 - Iceberg's documented Java entry point for a Spark table name
    table = jvm.org.apache.iceberg.spark.Spark3Util.loadIcebergTable(spark._jsparkSession, fqn)  # noqa: SLF001
    table.refresh()
    return table


def _tags(table) -> list[TagInfo]:
    found = []
    for name, ref in table.refs().items():
        if ref.isTag():
            snapshot = table.snapshot(ref.snapshotId())
            if snapshot is not None:
                found.append(TagInfo(name, ref.snapshotId(), snapshot.timestampMillis(), ref.maxRefAgeMs()))
    return found


def _last_snapshot_ids(table, count: int) -> set[int]:
    ids, snapshot = set(), table.currentSnapshot()
    while snapshot is not None and len(ids) < count:
        ids.add(snapshot.snapshotId())
        parent = snapshot.parentId()
        snapshot = table.snapshot(parent) if parent is not None else None
    return ids


def measure(spark: SparkSession, table) -> TableMeasure:
    """Figures of an Iceberg table (its Java object, freshly loaded): snapshot summary and storage."""
    current = table.currentSnapshot()
    summary = current.summary() if current is not None else {}

    def total(key: str) -> int:
        return int(summary.get(key) or 0)

    jvm = spark._jvm  # noqa: SLF001
    path = jvm.org.apache.hadoop.fs.Path(table.location())
    fs = path.getFileSystem(spark._jsc.hadoopConfiguration())  # noqa: SLF001
    stored = fs.getContentSummary(path) if fs.exists(path) else None
    return TableMeasure(
        snapshots=len(list(table.snapshots())),
        tags=len(_tags(table)),
        data_files=total("total-data-files"),
        delete_files=total("total-delete-files"),
        data_bytes=total("total-files-size"),
        records=total("total-records"),
        stored_files=stored.getFileCount() if stored is not None else 0,
        stored_bytes=stored.getLength() if stored is not None else 0,
    )


def _call(spark: SparkSession, config: MaintenanceJobConfig, procedure: str, arguments: str) -> list:
    return spark.sql(f"CALL {config.catalog}.system.{procedure}({arguments})").collect()


def maintain_table(spark: SparkSession, config: MaintenanceJobConfig, name: str, now: dt.datetime) -> dict:
    """The four procedures on one table, measured before and after; the figures for the summary."""
    ref = TableRef(config.catalog, config.namespace)
    fqn, ident = ref.fqn(name), f"'{config.namespace}.{name}'"
    # One catalog load serves the measure, the tags and the schema; the procedures load their own.
    table = _java_table(spark, fqn)
    before = measure(spark, table)
    retention_ms = config.retention_days * DAY_MS
    cutoff = now - dt.timedelta(days=config.retention_days)

    tags = _tags(table)
    conflicts = retention_conflicts(
        name,
        int(table.properties()[MAX_REF_AGE_PROPERTY]) if MAX_REF_AGE_PROPERTY in table.properties() else None,
        tags,
        retention_ms,
    )
    dropped = tags_to_drop(tags, _last_snapshot_ids(table, config.retain_last), int(cutoff.timestamp() * 1000))
    for tag in dropped:
        spark.sql(f"ALTER TABLE {fqn} DROP TAG IF EXISTS `{tag}`")

    expired = _call(
        spark,
        config,
        "expire_snapshots",
        f"table => {ident}, older_than => {sql_timestamp(cutoff)}, retain_last => {config.retain_last}",
    )[0]
    size, inputs = config.target_file_size_bytes, MIN_INPUT_FILES
    options = f"map('target-file-size-bytes', '{size}', 'min-input-files', '{inputs}')"
    sortable = table.schema().findField(SORT_COLUMN) is not None
    strategy = f", strategy => 'sort', sort_order => '{SORT_COLUMN}'" if sortable else ""
    compacted = _call(spark, config, "rewrite_data_files", f"table => {ident}, options => {options}{strategy}")[0]
    manifests = _call(spark, config, "rewrite_manifests", f"table => {ident}")[0]
    # Never later than the wall clock minus the orphan age, whatever `now` says: a file younger than
    # that may belong to a write in flight.
    orphan_cutoff = min(now, utc_now()) - dt.timedelta(days=config.orphan_age_days)
    orphans = _call(
        spark, config, "remove_orphan_files", f"table => {ident}, older_than => {sql_timestamp(orphan_cutoff)}"
    )

    after = measure(spark, _java_table(spark, fqn))
    if after.records != before.records:
        raise MaintenanceIntegrityError(
            f"table {name}: {before.records} rows before maintenance, {after.records} after; "
            "maintenance must not change any row (inspect the table's last snapshots)"
        )
    actions = {
        "tags_dropped": len(dropped),
        "expired_data_files": int(expired["deleted_data_files_count"]),
        "expired_manifests": int(expired["deleted_manifest_files_count"]),
        "expired_manifest_lists": int(expired["deleted_manifest_lists_count"]),
        "rewritten_data_files": int(compacted["rewritten_data_files_count"]),
        "added_data_files": int(compacted["added_data_files_count"]),
        "rewritten_bytes": int(compacted["rewritten_bytes_count"]),
        "rewritten_manifests": int(manifests["rewritten_manifests_count"]),
        "added_manifests": int(manifests["added_manifests_count"]),
        "orphan_files_removed": len(orphans),
    }
    log.info("table %s: %s -> %s; %s", name, before, after, actions)
    return {
        "before": asdict(before),
        "after": asdict(after),
        "actions": actions,
        "dropped_tags": dropped[:20],  # the names, capped for the payload; actions has the count
        "conflicts": conflicts,
    }


def check_no_interrupted_batch(spark: SparkSession, ref: TableRef, present: set[str]) -> None:
    if tables.INGESTION_PLAN.name not in present or tables.INGESTED_FILES.name not in present:
        return
    batch = interrupted_batch(spark, ref, "quantum_feature_processing")
    if batch is not None:
        raise MaintenanceBlockedError(
            f"namespace {ref.namespace}: job 1 batch {batch.context.batch_id} was planned but never committed; "
            "run the feature pipeline once to resume it, then maintenance (a compaction would hide it from the resume)"
        )


def totals(per_table: dict[str, dict]) -> dict[str, int]:
    """The summary's `files`: data files and stored objects across the tables, before and after."""
    out: dict[str, int] = {}
    for phase in ("before", "after"):
        for key in ("data_files", "stored_files", "snapshots"):
            out[f"{key}_{phase}"] = sum(t[phase][key] for t in per_table.values())
    out["orphan_files_removed"] = sum(t["actions"]["orphan_files_removed"] for t in per_table.values())
    return out


def run(spark: SparkSession, config: MaintenanceJobConfig, now: dt.datetime | None = None) -> RunSummary:
    """Maintain every table of the namespace. `now` (tests) moves the retention cutoff only."""
    started, started_at = time.monotonic(), utc_now().isoformat()
    now = now or utc_now()
    ref = TableRef(config.catalog, config.namespace)
    check_iceberg_session(spark, ref)
    namespace = f"{config.catalog}.{config.namespace}"
    known = {row[0] for row in spark.sql(f"SHOW NAMESPACES IN {config.catalog}").collect()}
    present = (
        {row.tableName for row in spark.sql(f"SHOW TABLES IN {namespace}").collect()}
        if config.namespace in known
        else set()
    )
    check_no_interrupted_batch(spark, ref, present)
    chosen = sorted(present & set(config.tables)) if config.tables else sorted(present)
    missing = sorted(set(config.tables or ()) - present)
    if missing:
        raise ConfigError(f"--tables={','.join(config.tables)}: no table {', '.join(missing)} in {namespace}")

    per_table = write_tables(spark, [(name, lambda n=name: maintain_table(spark, config, n, now)) for name in chosen])
    per_table = dict(sorted(per_table.items()))
    bytes_totals = {
        f"{key}_{phase}": sum(t[phase][key] for t in per_table.values())
        for phase in ("before", "after")
        for key in ("data_bytes", "stored_bytes")
    }
    summary = RunSummary(
        job=JOB,
        run_id=config.run_id,
        batch_id=str(uuid.uuid4()),
        status="succeeded" if per_table else "no_changes",
        started_at=started_at,
        files=totals(per_table),
        details={
            "tables": per_table,
            "bytes": bytes_totals,
            "retention_days": config.retention_days,
            "retain_last": config.retain_last,
            "target_file_size_bytes": config.target_file_size_bytes,
            "expired_before": (now - dt.timedelta(days=config.retention_days)).isoformat(),
            "tag_retention_conflicts": [c for t in per_table.values() for c in t["conflicts"]],
        },
    )
    summary.finished_at = utc_now().isoformat()
    summary.duration_seconds = round(time.monotonic() - started, 3)
    return summary


def main(argv: list[str] | None = None) -> None:
    job_main(JOB, parse_maintenance_args, run, argv)
