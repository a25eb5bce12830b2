"""Replacing rows exactly once: one MERGE per table and batch, its snapshot named by the batch id.

A reprocessed experiment's rows must be swapped for the new ones in a single commit, so readers see
the old rows or the new ones and never neither. Iceberg's overwrite-by-filter only deletes whole
data files, and a data file holds many experiments; a MERGE rewrites exactly the rows it has to.

Exactly-once rests on the same fact as append_once: the commit's snapshot summary carries the batch
id (`qp.batch-id`), and a resumed run that finds it skips the table. A SQL statement takes no
write options, so the id reaches the commit through Iceberg's CommitMetadata, a JVM thread-local
set around a Java Callable. The callable is a Python function called back over Py4J; PySpark's
pinned-thread mode runs it on the same JVM thread, so the MERGE it issues sees the thread-local.
That is checked after every commit: a summary without the id fails the run loudly rather than
losing the exactly-once guarantee silently.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import ClassVar

from pyspark.java_gateway import ensure_callback_server_started
from pyspark.sql import DataFrame, SparkSession

from .iceberg_io import BATCH_PROPERTY, NO_CHANGES, AppendResult, current_snapshot, find_batch_snapshot

log = logging.getLogger(__name__)


class CommitPropertiesLost(RuntimeError):
    """An Iceberg commit made through SQL did not carry the snapshot properties it was given."""


class _JavaCallable:
    """A java.util.concurrent.Callable whose call() runs a Python function (Py4J callback)."""

    def __init__(self, action: Callable[[], None]) -> None:
        self.action = action
        self.error: BaseException | None = None

    def call(self) -> None:
        try:
            self.action()
        except BaseException as error:  # kept to re-raise as itself: Py4J would wrap it in a Java error
            self.error = error
            raise

    class Java:
        implements: ClassVar[list[str]] = ["java.util.concurrent.Callable"]


def with_commit_properties(spark: SparkSession, properties: dict[str, str], action: Callable[[], None]) -> None:
    """Run `action` (Spark SQL statements) so that each Iceberg commit it makes carries `properties`
    in its snapshot summary."""
    gateway = spark.sparkContext._gateway  # noqa: SLF001 - PySpark's own Py4J gateway, for the callback
    ensure_callback_server_started(gateway)
    jvm = spark._jvm  # noqa: SLF001
    java_properties = jvm.java.util.HashMap()
    for key, value in properties.items():
        java_properties.put(key, value)
    callable_ = _JavaCallable(action)
    try:
        jvm.org.apache.iceberg.spark.CommitMetadata.withCommitProperties(
            java_properties,
            callable_,
            jvm.java.lang.RuntimeException._java_lang_class,  # noqa: SLF001 - Py4J's Class object
        )
    except Exception:
        if callable_.error is not None:
            raise callable_.error from None
        raise


def _quote(name: str) -> str:
    return f"`{name}`"


def merge_statement(fqn: str, source_view: str, key: Sequence[str], delete_column: str | None, values: int) -> str:
    """MERGE swapping the target's rows for the source's: rows matched on the key are updated, new
    ones inserted, and, when `delete_column` is given, target rows whose value of it is one of the
    `values` parameters (`:v0`, `:v1`, ...) but which the source no longer has are deleted.
    Keys compare with <=> so a null key column still matches its own row."""
    on = " AND ".join(f"t.{_quote(c)} <=> s.{_quote(c)}" for c in key)
    statement = (
        f"MERGE INTO {fqn} t USING {source_view} s ON {on} "
        "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
    )
    if delete_column is not None and values:
        markers = ", ".join(f":v{i}" for i in range(values))
        statement += f" WHEN NOT MATCHED BY SOURCE AND t.{_quote(delete_column)} IN ({markers}) THEN DELETE"
    return statement


def replace_once(
    spark: SparkSession,
    fqn: str,
    df: DataFrame,
    batch_id: str,
    key: Sequence[str],
    replaced: Sequence[str] = (),
    replaced_column: str = "experiment_id",
    new_batch: bool = False,
    tag: str | None = None,
    extra_properties: dict[str, str] | None = None,
) -> AppendResult:
    """Make `df` the table's rows for the `replaced` values of `replaced_column` (plus any key it
    matches), in one commit for `batch_id` unless that commit exists; tag it `tag` when given.

    Target rows of a replaced value that the new rows no longer have are deleted, so an experiment
    that now has fewer iterations keeps no stale ones. With `replaced` empty the MERGE is an upsert
    on the key. The rows reported are the rows of `df`, not the snapshot's added records: a
    copy-on-write MERGE also rewrites the untouched rows of every data file it changes.
    """
    table = fqn.rsplit(".", 1)[-1]
    rows = df.count()
    found = None if new_batch else find_batch_snapshot(spark, fqn, batch_id)
    if found is not None:
        log.info("table %s: replacement of batch %s committed by an interrupted run", table, batch_id)
        snapshot_id, already = found[0], True
    else:
        if rows == 0 and not replaced:
            log.info("table %s: nothing to replace in batch %s", table, batch_id)
            return AppendResult(table, 0, NO_CHANGES, None, False)
        view = f"qp_replace_{batch_id.replace('-', '')}_{table}"
        df.createOrReplaceTempView(view)
        statement = merge_statement(fqn, view, key, replaced_column if replaced else None, len(replaced))
        arguments = {f"v{i}": value for i, value in enumerate(replaced)}
        properties = {**(extra_properties or {}), BATCH_PROPERTY: batch_id}
        try:
            with_commit_properties(spark, properties, lambda: spark.sql(statement, args=arguments).collect())
        finally:
            spark.catalog.dropTempView(view)
        latest = current_snapshot(spark, fqn)
        if latest is None or latest.batch_id != batch_id:
            raise CommitPropertiesLost(
                f"table {table}: the MERGE for batch {batch_id} committed without {BATCH_PROPERTY} in its "
                "snapshot summary (is PySpark's pinned-thread mode off?); a resumed run could not tell "
                "that it committed"
            )
        snapshot_id, already = latest.snapshot_id, False
    if tag:
        spark.sql(f"ALTER TABLE {fqn} CREATE OR REPLACE TAG `{tag}` AS OF VERSION {snapshot_id}")
    log.info(
        "table %s: %d rows replace %d key value(s), snapshot %d, tag %s",
        table,
        rows,
        len(replaced),
        snapshot_id,
        tag or "-",
    )
    return AppendResult(table, rows, tag or "", snapshot_id, already)
