"""Job 2: the 9 base tables -> ml_iteration_features + ml_run_summary, incremental by experiment_id.

Each ML table gets only experiments it does not hold yet, so a run interrupted between the two
appends is completed by the next run without duplicates. Source reads are pruned to the
processing_date partitions where pending experiments live, so a daily run reads O(new) data.
`--full-refresh` recomputes every experiment and replaces each ML table's content in one commit
(after a change of W/H/T, say).
"""
from __future__ import annotations

import datetime as dt
import logging
import time
import uuid

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from . import tables
from .config import MlJobConfig, parse_ml_args
from .features import BatchContext
from .iceberg_io import NO_CHANGES, TableRef, append_once, check_iceberg_session, ensure_tables
from .ml_features import (MlParams, check_no_fan_out, complete_rows, experiment_context, iteration_features,
                          join_iterations, run_summaries, to_iteration_table)
from .run_summary import RunSummary
from .session import fault_point, job_main, utc_now

JOB = "ml_feature_processing"
log = logging.getLogger(__name__)


def _ids(spark: SparkSession, fqn: str) -> DataFrame:
    return spark.table(fqn).select("experiment_id").distinct()


def pending_experiments(spark: SparkSession, ref: TableRef, full_refresh: bool) -> tuple[DataFrame, DataFrame]:
    """(ids missing from ml_iteration_features, ids missing from ml_run_summary); every id for a
    full refresh."""
    source = _ids(spark, ref.fqn(tables.VQE_RESULTS.name))
    if full_refresh:
        return source, source
    missing_iterations = source.join(_ids(spark, ref.fqn(tables.ML_ITERATION_FEATURES.name)), "experiment_id", "left_anti")
    missing_summary = source.join(_ids(spark, ref.fqn(tables.ML_RUN_SUMMARY.name)), "experiment_id", "left_anti")
    return missing_iterations, missing_summary


def read_pending(spark: SparkSession, ref: TableRef, spec: tables.TableSpec, pending: DataFrame,
                 dates: list[dt.date]) -> DataFrame:
    # The date filter prunes whole partitions; the semi join then keeps the pending experiments.
    frame = spark.table(ref.fqn(spec.name)).where(F.col("processing_date").isin(dates))
    return frame.join(F.broadcast(pending), "experiment_id", "left_semi")


def run(spark: SparkSession, config: MlJobConfig) -> RunSummary:
    started, started_at = time.monotonic(), utc_now().isoformat()
    ref = TableRef(config.catalog, config.namespace)
    check_iceberg_session(spark, ref)
    ensure_tables(spark, ref, tables.FEATURE_TABLES + tables.ML_TABLES + (tables.PROCESSING_METADATA,))
    params = MlParams(config.rolling_window, config.trajectory_head, config.trajectory_tail)
    batch = BatchContext(str(uuid.uuid4()), utc_now().replace(tzinfo=None, microsecond=0),
                         config.processing_name)

    missing_iterations, missing_summary = pending_experiments(spark, ref, config.full_refresh)
    pending = missing_iterations.union(missing_summary).distinct().persist(StorageLevel.MEMORY_AND_DISK)
    pending_count = pending.count()  # before the appends below change what is pending
    # The partitions holding pending experiments (vqe_results is one narrow row per experiment).
    dates = [r.processing_date for r in spark.table(ref.fqn(tables.VQE_RESULTS.name))
             .join(F.broadcast(pending), "experiment_id", "left_semi").select("processing_date").distinct().collect()]
    details: dict[str, object] = {"pending_experiments": 0, "dropped_incomplete_rows": 0}
    results = {}
    if dates:
        source = {spec.name: read_pending(spark, ref, spec, pending, dates) for spec in (
            tables.VQE_RESULTS, tables.ANSATZ_INFO, tables.MOLECULES, tables.PERFORMANCE_METRICS, tables.VQE_ITERATIONS)}
        context = experiment_context(source["vqe_results"], source["ansatz_info"], source["molecules"],
                                     source["performance_metrics"]).persist(StorageLevel.MEMORY_AND_DISK)
        joined = join_iterations(source["vqe_iterations"], context).persist(StorageLevel.MEMORY_AND_DISK)
        counts = joined.agg(F.count(F.lit(1)).alias("rows"),
                            F.sum(F.when(~complete_rows(joined), 1).otherwise(0)).alias("incomplete")).first()
        check_no_fan_out(source["vqe_iterations"].count(), counts.rows)
        dropped = counts.incomplete or 0
        if dropped:
            log.warning("dropping %d iteration rows with null %s", dropped, "/".join(
                ("molecule_name", "optimizer", "basis_set", "num_qubits")))
        features = iteration_features(joined.where(complete_rows(joined)), params).persist(StorageLevel.MEMORY_AND_DISK)
        iteration_rows = to_iteration_table(features, batch).join(F.broadcast(missing_iterations), "experiment_id", "left_semi")
        results["ml_iteration_features"] = append_once(
            spark, ref.fqn(tables.ML_ITERATION_FEATURES.name), iteration_rows, batch.batch_id,
            replace=config.full_refresh)
        fault_point(spark, tables.ML_ITERATION_FEATURES.name)
        summaries = run_summaries(features, context.where(complete_rows(context)), params, batch).join(
            F.broadcast(missing_summary), "experiment_id", "left_semi")
        results["ml_run_summary"] = append_once(spark, ref.fqn(tables.ML_RUN_SUMMARY.name), summaries, batch.batch_id,
                                                replace=config.full_refresh)
        fault_point(spark, tables.ML_RUN_SUMMARY.name)
        details = {"pending_experiments": pending_count, "dropped_incomplete_rows": dropped,
                   "full_refresh": config.full_refresh,
                   "partitions_read": [d.isoformat() for d in sorted(dates)]}

    names = [spec.name for spec in tables.ML_TABLES]
    tags = {n: results[n].tag if n in results else NO_CHANGES for n in names}
    rows = {n: results[n].rows if n in results else 0 for n in names}
    meta = spark.createDataFrame([(batch.batch_id, batch.processing_name, batch.processing_timestamp,
                                   batch.processing_date, names, tags, rows,
                                   f"{config.catalog}.{config.namespace}: {details['pending_experiments']} pending experiments")],
                                 tables.PROCESSING_METADATA.schema)
    meta_result = append_once(spark, ref.fqn(tables.PROCESSING_METADATA.name), meta, batch.batch_id)
    summary = RunSummary(
        job=JOB, run_id=config.run_id, batch_id=batch.batch_id,
        status="succeeded" if any(rows.values()) else "no_changes", started_at=started_at,
        new_rows=rows | {tables.PROCESSING_METADATA.name: meta_result.rows}, tags=tags, details=details,
        finished_at=utc_now().isoformat(),
        duration_seconds=round(time.monotonic() - started, 3))
    return summary


def main(argv: list[str] | None = None) -> None:
    job_main(JOB, parse_ml_args, run, argv)
