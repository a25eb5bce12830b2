"""Job 2: the 9 base tables -> ml_iteration_features + ml_run_summary, incremental by experiment_id.

Each ML table gets only experiments it does not hold yet, or holds from older base rows than
vqe_results has now (a reprocess rewrote them): those are replaced in one commit per table. A run
interrupted between the two writes is therefore completed by the next run without duplicates.
Source reads are pruned to the processing_date partitions and the job-1 batches (data files) where
pending experiments live, so a run reads O(new) data even on a day with many batches.
`--full-refresh` recomputes every experiment and replaces each ML table's content in one commit
(after a change of W/H/T, say).

Each ML commit records the vqe_results snapshot it started from. When both ML tables' current
snapshots name vqe_results' current snapshot, nothing can be pending and the search is skipped.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from . import tables
from .config import MlJobConfig, parse_ml_args
from .features import BatchContext
from .iceberg_io import (
    NO_CHANGES,
    TableRef,
    append_once,
    check_iceberg_session,
    current_snapshot,
    ensure_tables,
    version_tag,
)
from .lineage import collect_lineage, processing_metadata
from .ml_features import (
    MlParams,
    experiment_context,
    iteration_features,
    join_iterations,
    run_summaries,
    to_iteration_table,
    usable_rows,
    with_context_multiplicity,
)
from .quality import dropped_rows, dropped_rows_finding
from .replace import replace_once
from .report_data import write as write_report_data
from .run_summary import RunSummary
from .session import job_main, utc_now, write_tables

JOB = "ml_feature_processing"
log = logging.getLogger(__name__)

SOURCE_PROPERTY = "qp.source-snapshot-id"  # on each ML commit: the vqe_results snapshot it read


@dataclass(frozen=True)
class Pending:
    """What job 2 has to do: experiments missing from each ML table or stale in it, and where
    they live in the base tables."""

    for_iterations: frozenset[str]
    for_summary: frozenset[str]
    dates: frozenset[dt.date]  # processing_date partitions that hold them
    batches: frozenset[str]  # the job-1 batches that wrote them (each data file holds one batch)
    # Of those, the ones the ML table holds rows of, written before their base rows were (a
    # reprocess): their rows are replaced rather than appended.
    stale_iterations: frozenset[str] = frozenset()
    stale_summary: frozenset[str] = frozenset()

    @property
    def experiments(self) -> frozenset[str]:
        return self.for_iterations | self.for_summary


def _written_at(spark: SparkSession, fqn: str, column: str) -> DataFrame:
    """Per experiment, when the ML table last wrote its rows."""
    return spark.table(fqn).groupBy("experiment_id").agg(F.max("processing_timestamp").alias(column))


def pending_experiments(spark: SparkSession, ref: TableRef, full_refresh: bool) -> Pending:
    """Experiments of vqe_results that an ML table lacks (every one for a full refresh), found in
    one pass and brought to the driver: a few thousand short ids at most per run."""
    source = spark.table(ref.fqn(tables.VQE_RESULTS.name)).select(
        "experiment_id", "processing_date", "processing_batch_id", "processing_timestamp"
    )
    if full_refresh:
        rows = source.withColumn("need_iterations", F.lit(True)).withColumn("need_summary", F.lit(True))
        rows = rows.withColumn("stale_iterations", F.lit(False)).withColumn("stale_summary", F.lit(False))
    else:
        # A base row newer than the experiment's ML rows was rewritten by a reprocess after job 2
        # last saw it (job 2 always runs after the job-1 batch it reads, so never otherwise).
        base_at = F.col("processing_timestamp")
        rows = (
            source.join(
                _written_at(spark, ref.fqn(tables.ML_ITERATION_FEATURES.name), "iterations_at"), "experiment_id", "left"
            )
            .join(_written_at(spark, ref.fqn(tables.ML_RUN_SUMMARY.name), "summary_at"), "experiment_id", "left")
            .select(
                "experiment_id",
                "processing_date",
                "processing_batch_id",
                (F.col("iterations_at").isNull() | (base_at > F.col("iterations_at"))).alias("need_iterations"),
                (F.col("summary_at").isNull() | (base_at > F.col("summary_at"))).alias("need_summary"),
                (base_at > F.col("iterations_at")).alias("stale_iterations"),
                (base_at > F.col("summary_at")).alias("stale_summary"),
            )
            .where("need_iterations OR need_summary")
        )
    collected = rows.collect()
    return Pending(
        frozenset(r.experiment_id for r in collected if r.need_iterations),
        frozenset(r.experiment_id for r in collected if r.need_summary),
        frozenset(r.processing_date for r in collected),
        frozenset(r.processing_batch_id for r in collected),
        frozenset(r.experiment_id for r in collected if r.stale_iterations),
        frozenset(r.experiment_id for r in collected if r.stale_summary),
    )


NOTHING_PENDING = Pending(frozenset(), frozenset(), frozenset(), frozenset())


def source_snapshot(spark: SparkSession, ref: TableRef) -> str | None:
    """vqe_results' current snapshot id (None while it has none)."""
    latest = current_snapshot(spark, ref.fqn(tables.VQE_RESULTS.name))
    return None if latest is None else str(latest.snapshot_id)


def source_unchanged(spark: SparkSession, ref: TableRef, source: str | None) -> bool:
    """True when vqe_results is empty, or both ML tables were last written from its current snapshot."""
    if source is None:
        return True
    return all(
        (latest := current_snapshot(spark, ref.fqn(spec.name), (SOURCE_PROPERTY,))) is not None
        and latest.properties[SOURCE_PROPERTY] == source
        for spec in tables.ML_TABLES
    )


def read_pending(
    spark: SparkSession, ref: TableRef, spec: tables.TableSpec, pending: Pending, everything: bool = False
) -> DataFrame:
    """The pending experiments' rows of one base table (all rows when `everything`). The date
    filter prunes partitions and the batch filter prunes data files by their column bounds (a file
    is written by one batch), so a run reads the files of the batches it has to process, not every
    file of their days."""
    table = spark.table(ref.fqn(spec.name))
    if everything:
        return table
    return (
        table.where(F.col("processing_date").isin(sorted(pending.dates)))
        .where(F.col("processing_batch_id").isin(sorted(pending.batches)))
        .where(F.col("experiment_id").isin(sorted(pending.experiments)))
    )


def _only(frame: DataFrame, experiments: frozenset[str], everything: bool) -> DataFrame:
    return frame if everything else frame.where(F.col("experiment_id").isin(sorted(experiments)))


def run(spark: SparkSession, config: MlJobConfig) -> RunSummary:
    started, started_at = time.monotonic(), utc_now().isoformat()
    ref = TableRef(config.catalog, config.namespace)
    check_iceberg_session(spark, ref)
    ensure_tables(spark, ref, tables.FEATURE_TABLES + tables.ML_TABLES + (tables.PROCESSING_METADATA,))
    params = MlParams(config.rolling_window, config.trajectory_head, config.trajectory_tail)
    batch = BatchContext(str(uuid.uuid4()), utc_now().replace(tzinfo=None, microsecond=0), config.processing_name)

    source_id = source_snapshot(spark, ref)
    unchanged = not config.full_refresh and source_unchanged(spark, ref, source_id)
    pending = NOTHING_PENDING if unchanged else pending_experiments(spark, ref, config.full_refresh)
    details: dict[str, object] = {"pending_experiments": 0, "dropped_incomplete_rows": 0, "source_unchanged": unchanged}
    results = {}
    findings = []
    if pending.experiments:
        everything = config.full_refresh
        source = {
            spec.name: read_pending(spark, ref, spec, pending, everything)
            for spec in (
                tables.VQE_RESULTS,
                tables.ANSATZ_INFO,
                tables.MOLECULES,
                tables.PERFORMANCE_METRICS,
                tables.VQE_ITERATIONS,
            )
        }
        # Each intermediate is materialised once with its lineage cut, so the writes and checks
        # below scan it instead of planning the reads and joins behind it again.
        context = with_context_multiplicity(
            experiment_context(
                source["vqe_results"], source["ansatz_info"], source["molecules"], source["performance_metrics"]
            )
        ).localCheckpoint(eager=True)
        iterations = source["vqe_iterations"].localCheckpoint(eager=True)
        joined = join_iterations(iterations, context).localCheckpoint(eager=True)
        # One aggregate counts both kinds of dropped rows (a data-quality finding when any).
        drops = dropped_rows(joined).first()
        findings = [f for f in (dropped_rows_finding(drops),) if f]
        dropped = drops.incomplete_rows
        if drops.fan_out_experiments:
            log.error("dropping %d experiments whose context is not unique", drops.fan_out_experiments)
        if dropped:
            log.warning(
                "dropping %d iteration rows with null %s",
                dropped,
                "/".join(("molecule_name", "optimizer", "basis_set", "num_qubits")),
            )
        features = iteration_features(joined.where(usable_rows(joined)), params).localCheckpoint(eager=True)
        iteration_rows = _only(to_iteration_table(features, batch), pending.for_iterations, everything)
        summaries = _only(
            run_summaries(features, context.where(usable_rows(context)), params, batch),
            pending.for_summary,
            everything,
        )
        source_property = {SOURCE_PROPERTY: source_id} if source_id else None

        def write(spec: tables.TableSpec, rows: DataFrame, stale: frozenset[str]):
            if stale:  # rows of reprocessed experiments are swapped, the rest inserted, in one commit
                return lambda: replace_once(
                    spark,
                    ref.fqn(spec.name),
                    rows,
                    batch.batch_id,
                    spec.key,
                    sorted(stale),
                    new_batch=True,
                    tag=version_tag(batch.batch_id, first_snapshot=False, reprocess=True),
                    extra_properties=source_property,
                )
            return lambda: append_once(
                spark,
                ref.fqn(spec.name),
                rows,
                batch.batch_id,
                replace=config.full_refresh,
                new_batch=True,
                extra_properties=source_property,
            )

        results = write_tables(
            spark,
            [
                (spec.name, write(spec, rows, stale))
                for spec, rows, stale in (
                    (tables.ML_ITERATION_FEATURES, iteration_rows, pending.stale_iterations),
                    (tables.ML_RUN_SUMMARY, summaries, pending.stale_summary),
                )
            ],
        )
        details = {
            "pending_experiments": len(pending.experiments),
            "dropped_incomplete_rows": dropped,
            "dropped_fan_out_rows": drops.fan_out_rows,
            "full_refresh": config.full_refresh,
            "partitions_read": [d.isoformat() for d in sorted(pending.dates)],
            "batches_read": len(pending.batches),
            "replaced_experiments": len(pending.stale_iterations | pending.stale_summary),
            "source_unchanged": unchanged,
        }

    names = [spec.name for spec in tables.ML_TABLES]
    tags = {n: results[n].tag if n in results else NO_CHANGES for n in names}
    rows = {n: results[n].rows if n in results else 0 for n in names}
    described = f"{config.catalog}.{config.namespace}: {details['pending_experiments']} pending experiments"
    meta = processing_metadata(spark, batch, tags, rows, described, collect_lineage(spark))
    meta_result = append_once(
        spark, ref.fqn(tables.PROCESSING_METADATA.name), meta, batch.batch_id, new_batch=True, rows=1
    )
    # The run report's data (lambdas/report renders it); it never fails the job. Written after the
    # metadata row, so its history holds this run. The pending experiments' molecules rows give
    # each run's geometry, matched to the exact (FCI) reference energies inside the report's
    # per-experiment collect. A run with nothing to do writes none: reading processing_metadata
    # for the history doubled the in-job time of such a run (7.6 s -> 14.8 s, bench run H), and
    # its page has nothing new to show beyond job 1's summary.
    if pending.experiments:
        write_report_data(
            spark,
            config.summary_uri,
            JOB,
            config.run_id,
            batch.batch_id,
            utc_now().isoformat(),
            features,
            source["molecules"],
            ref.fqn(tables.PROCESSING_METADATA.name),
        )
    return RunSummary(
        job=JOB,
        run_id=config.run_id,
        batch_id=batch.batch_id,
        status="succeeded" if any(rows.values()) else "no_changes",
        started_at=started_at,
        new_rows=rows | {tables.PROCESSING_METADATA.name: meta_result.rows},
        tags=tags,
        details=details,
        findings=findings,
        finished_at=utc_now().isoformat(),
        duration_seconds=round(time.monotonic() - started, 3),
    )


def main(argv: list[str] | None = None) -> None:
    job_main(JOB, parse_ml_args, run, argv)
