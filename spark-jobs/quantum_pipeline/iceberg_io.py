"""Iceberg I/O: create tables from their specs (and add the columns declared since), append a batch
at most once, tag what was written.

Exactly-once rests on one fact: an Iceberg commit is atomic and its snapshot summary carries the
batch id (`qp.batch-id`). Before appending, a table's snapshots are asked whether the batch is
already there; a resumed run therefore skips what an interrupted run committed and writes the rest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass

from pyspark.errors import UnsupportedOperationException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from .tables import TableSpec

log = logging.getLogger(__name__)

BATCH_PROPERTY = "qp.batch-id"
NO_CHANGES = "no_changes"


@dataclass(frozen=True)
class TableRef:
    catalog: str
    namespace: str

    def fqn(self, table: str) -> str:
        return f"{self.catalog}.{self.namespace}.{table}"


@dataclass(frozen=True)
class AppendResult:
    table: str
    rows: int
    tag: str  # the version tag, or NO_CHANGES
    snapshot_id: int | None
    already_committed: bool  # True when an interrupted run had committed it


class MissingIcebergExtensions(RuntimeError):
    """The session lacks IcebergSparkSessionExtensions (needed for tags)."""


def check_iceberg_session(spark: SparkSession, ref: TableRef) -> None:
    """Fail early, naming the Spark setting, when the catalog or the SQL extensions are missing."""
    catalog_key = f"spark.sql.catalog.{ref.catalog}"
    if not spark.conf.get(catalog_key, None):
        raise RuntimeError(
            f"Spark conf {catalog_key} is not set: the Iceberg catalog '{ref.catalog}' "
            "must be configured by Spark conf (JDBC locally, Glue on AWS)"
        )
    extensions = spark.conf.get("spark.sql.extensions", "") or ""
    if "IcebergSparkSessionExtensions" not in extensions:
        raise MissingIcebergExtensions(
            "spark.sql.extensions must include org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions "
            f"(got '{extensions}')"
        )


def ddl(spec: TableSpec, fqn: str) -> str:
    columns = ", ".join(
        f"`{name}` {dtype.simpleString()}{'' if nullable else ' NOT NULL'}" for name, dtype, nullable in spec.columns
    )
    partitioning = f" PARTITIONED BY ({', '.join(spec.partition_by)})" if spec.partition_by else ""
    return (
        f"CREATE TABLE IF NOT EXISTS {fqn} ({columns}) USING iceberg{partitioning} "
        "TBLPROPERTIES ('format-version'='2', 'write.distribution-mode'='hash')"
    )


class SchemaEvolutionError(RuntimeError):
    """A table's declaration differs from the existing table in a way no run may apply by itself."""


def columns_to_add(spec: TableSpec, actual: T.StructType) -> list[str]:
    """The ALTER TABLE clauses that bring an existing table to its declaration, in declaration
    order: columns declared since the table was made, each placed after its declared neighbour.

    Only additions are applied. Existing rows read an added column as null, so it must be
    declared optional. A type change or a removal would reinterpret or lose data that earlier runs
    wrote, so it is refused, naming the table and the column.
    """
    present = {field.name: field for field in actual.fields}
    declared = {name for name, _, _ in spec.columns}
    removed = [name for name in present if name not in declared]
    if removed:
        raise SchemaEvolutionError(
            f"table {spec.name}: column(s) {', '.join(removed)} exist in the table but not in its declaration; "
            "removing a column is refused (it would drop data earlier runs wrote): declare it again"
        )
    clauses = []
    previous = None
    for name, dtype, nullable in spec.columns:
        field = present.get(name)
        if field is None:
            if not nullable:
                raise SchemaEvolutionError(
                    f"table {spec.name}: new column {name} is declared NOT NULL, but the rows already written "
                    "have no value for it: declare it optional"
                )
            position = f" AFTER `{previous}`" if previous else " FIRST"
            clauses.append(f"ADD COLUMN `{name}` {dtype.simpleString()}{position}")
        elif field.dataType.simpleString() != dtype.simpleString():
            raise SchemaEvolutionError(
                f"table {spec.name}: column {name} is {field.dataType.simpleString()} in the table and "
                f"{dtype.simpleString()} in its declaration; changing a column's type is refused"
            )
        previous = name
    return clauses


# Per table, the digest of the declaration its schema was last checked against, as a namespace
# property: a run whose declarations are unchanged loads no table to compare (about 1 s for 12
# tables on a cold driver) but reads one row of catalog properties.
SCHEMA_PROPERTY_PREFIX = "qp.schema."


def declaration_digest(spec: TableSpec) -> str:
    """A short digest of what schema evolution compares: column names, types and nullability."""
    text = json.dumps([[name, dtype.simpleString(), nullable] for name, dtype, nullable in spec.columns])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def parse_namespace_properties(described: list[tuple[str, str]]) -> dict[str, str]:
    """The `Properties` row of DESCRIBE NAMESPACE EXTENDED, `((k1,v1), (k2,v2))`, as a dict."""
    text = next((value for name, value in described if name == "Properties"), "") or ""
    return dict(re.findall(r"\(([^,()]+),([^()]*)\)", text))


def ensure_tables(spark: SparkSession, ref: TableRef, specs: tuple[TableSpec, ...]) -> None:
    """Create the tables that are missing, decided from one listing of the namespace, and add to
    the existing ones the columns declared since (schema evolution: additions only). A table is
    compared with its declaration only when the declaration changed since its last check."""
    namespace = f"{ref.catalog}.{ref.namespace}"
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {namespace}")
    existing = {row.tableName for row in spark.sql(f"SHOW TABLES IN {namespace}").collect()}
    described = [(r[0], r[1]) for r in spark.sql(f"DESCRIBE NAMESPACE EXTENDED {namespace}").collect()]
    checked = parse_namespace_properties(described)
    newly_checked = {}
    for spec in specs:
        fqn = ref.fqn(spec.name)
        key, digest = SCHEMA_PROPERTY_PREFIX + spec.name, declaration_digest(spec)
        if spec.name not in existing:
            spark.sql(ddl(spec, fqn))
        elif checked.get(key) != digest:
            # The schema comes from the table's metadata (no Spark job).
            for clause in columns_to_add(spec, spark.table(fqn).schema):
                log.warning("table %s: %s (rows written before read it as null)", spec.name, clause)
                spark.sql(f"ALTER TABLE {fqn} {clause}")
        else:
            continue
        newly_checked[key] = digest
    if newly_checked:
        assignments = ", ".join(f"'{k}'='{v}'" for k, v in sorted(newly_checked.items()))
        try:
            spark.sql(f"ALTER NAMESPACE {namespace} SET PROPERTIES ({assignments})")
        except UnsupportedOperationException as error:  # e.g. Hadoop catalogs: every run checks again
            log.info("namespace %s keeps no properties (%s): schemas are checked on every run", namespace, error)


@dataclass(frozen=True)
class SnapshotInfo:
    snapshot_id: int
    parent_id: int | None
    timestamp_ms: int
    properties: dict[str, str | None]  # the summary keys asked for (absent ones as None)

    @property
    def batch_id(self) -> str | None:
        return self.properties.get(BATCH_PROPERTY)


def snapshot_history(spark: SparkSession, fqn: str, keys: tuple[str, ...] = ()) -> Iterator[SnapshotInfo]:
    """The table's snapshots from the current one back through its parents, newest first.

    Read with Iceberg's Java API through the session's own catalog: a few JVM calls per snapshot
    and no Spark job. A metadata-table query costs a Spark job, and the first jobs of a fresh
    driver cost seconds each, which a run with nothing to do would otherwise spend on bookkeeping.
    """
    jvm = spark._jvm  # noqa: SLF001 - Iceberg's documented Java entry point for a Spark table name
    table = jvm.org.apache.iceberg.spark.Spark3Util.loadIcebergTable(spark._jsparkSession, fqn)  # noqa: SLF001
    table.refresh()  # the catalog may cache tables: see commits made since
    snapshot = table.currentSnapshot()
    while snapshot is not None:
        summary = snapshot.summary()
        parent = snapshot.parentId()
        yield SnapshotInfo(
            snapshot.snapshotId(),
            parent,
            snapshot.timestampMillis(),
            {key: summary.get(key) for key in (BATCH_PROPERTY, "added-records", *keys)},
        )
        snapshot = table.snapshot(parent) if parent is not None else None


def current_snapshot(spark: SparkSession, fqn: str, keys: tuple[str, ...] = ()) -> SnapshotInfo | None:
    return next(snapshot_history(spark, fqn, keys), None)


def find_batch_snapshot(spark: SparkSession, fqn: str, batch_id: str) -> tuple[int, int | None, int] | None:
    """(snapshot_id, parent_id, added rows) of the snapshot that wrote `batch_id`, if any."""
    rows = spark.sql(
        f"SELECT snapshot_id, parent_id, CAST(summary['added-records'] AS BIGINT) AS added "
        f"FROM {fqn}.snapshots WHERE summary['{BATCH_PROPERTY}'] = :batch",
        args={"batch": batch_id},
    ).collect()
    if not rows:
        return None
    row = rows[0]
    return row.snapshot_id, row.parent_id, row.added or 0


def version_tag(batch_id: str, first_snapshot: bool, full_refresh: bool = False, reprocess: bool = False) -> str:
    compact = batch_id.replace("-", "")
    if reprocess:
        return f"v_reproc_{compact}"
    if full_refresh and not first_snapshot:
        return f"v_full_{compact}"
    return f"v_{compact}" if first_snapshot else f"v_incr_{compact}"


def append_once(
    spark: SparkSession,
    fqn: str,
    df: DataFrame,
    batch_id: str,
    extra_properties: dict[str, str] | None = None,
    tag: bool = True,
    replace: bool = False,
    new_batch: bool = False,
    rows: int | None = None,
) -> AppendResult:
    """Append `df` as the table's snapshot for `batch_id` unless that snapshot exists; tag it.

    An empty frame writes nothing (so a table's first snapshot is always its first rows, tagged
    v_<batch>) and reports NO_CHANGES. The row count comes from the snapshot summary rather than a
    second full Spark action. `replace` swaps the whole table content for `df` in the same single
    commit (a full refresh: readers see the old rows or the new ones, never a mix). `new_batch`
    says the batch id was made by this run, so no earlier run can have written it and the lookup
    before the write is skipped. `rows` is the frame's row count when the caller knows it (rows
    built on the driver), which spares the Spark job that would ask whether the frame is empty.
    """
    table = fqn.rsplit(".", 1)[-1]
    found = None if new_batch else find_batch_snapshot(spark, fqn, batch_id)
    already = found is not None
    if not already and (rows > 0 if rows is not None else not df.isEmpty()):
        # No shuffle before the write: a batch is one processing_date and a few basis sets, so
        # each task writes its few partitions directly (fan-out) instead of first redistributing
        # every row by partition (the table default, `hash`). The caller sizes the tasks.
        writer = (
            df.writeTo(fqn)
            .option(f"snapshot-property.{BATCH_PROPERTY}", batch_id)
            .option("distribution-mode", "none")
            .option("fanout-enabled", "true")
        )
        for key, value in (extra_properties or {}).items():
            writer = writer.option(f"snapshot-property.{key}", value)
        if replace:
            writer.overwrite(F.lit(True))
        else:
            writer.append()
        # The commit just made is normally the current snapshot: read it without a Spark job.
        latest = current_snapshot(spark, fqn)
        if latest is not None and latest.batch_id == batch_id:
            found = (latest.snapshot_id, latest.parent_id, int(latest.properties["added-records"] or 0))
        else:
            found = find_batch_snapshot(spark, fqn, batch_id)
    if found is None or found[2] == 0:
        log.info("table %s: no new rows in batch %s", table, batch_id)
        return AppendResult(table, 0, NO_CHANGES, None, already)
    snapshot_id, parent_id, rows = found
    name = version_tag(batch_id, first_snapshot=parent_id is None, full_refresh=replace)
    if tag:
        # Idempotent: a run interrupted between the append and the tag creates it now.
        spark.sql(f"ALTER TABLE {fqn} CREATE OR REPLACE TAG `{name}` AS OF VERSION {snapshot_id}")
    log.info(
        "table %s: %d rows, snapshot %d, tag %s%s",
        table,
        rows,
        snapshot_id,
        name if tag else "-",
        " (committed by an interrupted run)" if already else "",
    )
    return AppendResult(table, rows, name if tag else "", snapshot_id, already)
