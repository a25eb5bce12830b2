"""Job 1: raw VQE results -> 9 Iceberg feature tables + processing_metadata.

main() = parse args -> session -> extract (new objects only) -> transform -> load -> summary.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from . import tables
from .config import FeatureJobConfig, parse_feature_args
from .features import FEATURE_TRANSFORMS, BatchContext, drop_known_experiments
from .iceberg_io import (
    NO_CHANGES,
    AppendResult,
    TableRef,
    append_once,
    check_iceberg_session,
    ensure_tables,
    version_tag,
)
from .ledger import (
    PlannedBatch,
    commit_batch,
    interrupted_batch,
    ledger_covers,
    listing_digest,
    plan_batch,
    reprocess_selection,
    unprocessed,
)
from .lineage import collect_lineage, processing_metadata
from .quality import check_energies, energy_finding, quarantine_finding, reconciliation_finding
from .raw_io import FileOutcome, list_raw_objects, read_objects
from .replace import replace_once
from .run_summary import QuarantinedFile, RunSummary
from .session import fault_point, job_main, utc_now, write_tables

JOB = "feature_processing"
log = logging.getLogger(__name__)

ALL_TABLES = (
    *tables.FEATURE_TABLES,
    tables.PROCESSING_METADATA,
    tables.INGESTION_PLAN,
    tables.INGESTED_FILES,
    tables.REJECTED_FILES,
)


def load_features(
    spark: SparkSession,
    ref: TableRef,
    records: DataFrame,
    ctx: BatchContext,
    new_batch: bool,
    replaced: list[str] | None = None,
) -> dict[str, AppendResult]:
    """Append the batch's rows to each feature table, or, for a reprocess (`replaced` = the
    experiment ids it re-ingested), replace those experiments' rows in one commit per table."""
    reprocess_tag = version_tag(ctx.batch_id, first_snapshot=False, reprocess=True)

    def writer(spec: tables.TableSpec, transform) -> Callable[[], AppendResult]:
        if replaced is not None:
            return lambda: replace_once(
                spark,
                ref.fqn(spec.name),
                transform(records, ctx),
                ctx.batch_id,
                spec.key,
                replaced,
                new_batch=new_batch,
                tag=reprocess_tag,
            )
        return lambda: append_once(
            spark, ref.fqn(spec.name), transform(records, ctx), ctx.batch_id, new_batch=new_batch
        )

    return write_tables(spark, [(spec.name, writer(spec, transform)) for spec, transform in FEATURE_TRANSFORMS])


def metadata_row(spark: SparkSession, ctx: BatchContext, results: dict[str, AppendResult], source: str) -> DataFrame:
    names = [spec.name for spec, _ in FEATURE_TRANSFORMS]
    tags = {n: results[n].tag if n in results else NO_CHANGES for n in names}
    rows = {n: results[n].rows if n in results else 0 for n in names}
    return processing_metadata(spark, ctx, tags, rows, source, collect_lineage(spark))


def describe_source(config: FeatureJobConfig, batch: PlannedBatch | None, outcomes: dict[str, FileOutcome]) -> str:
    if batch is None:
        return f"{config.raw_uri}: {'nothing to reprocess' if config.reprocess else 'no new objects'}"
    formats = {f: sum(1 for o in batch.objects if o.file_format == f) for f in ("json", "avro", "unsupported")}
    topics = sorted({o.topic for o in batch.objects})
    rejected = sum(1 for o in outcomes.values() if o.status == "rejected")
    return (
        f"{config.raw_uri}: {len(batch.objects)} {'reprocessed' if batch.reprocess else 'new'} objects "
        f"({formats['json']} JSON, {formats['avro']} Avro, "
        f"{formats['unsupported']} other) in topics {', '.join(topics)}; {rejected} quarantined"
    )


def reprocess_details(config: FeatureJobConfig, batch: PlannedBatch | None, replaced: list[str] | None) -> dict:
    """What became of a reprocess: asked for, or resumed from an interrupted run."""
    request = config.reprocess
    details: dict[str, object] = {
        "prefix": request.prefix if request else None,
        "since": request.since.isoformat() + "Z" if request and request.since else None,
    }
    if batch is None:
        return details | {"status": "nothing_selected", "objects": 0, "experiments": 0}
    if not batch.reprocess:
        # Batches run one at a time: the interrupted one is finished first, and nothing is lost by
        # waiting, since the reprocess selects from the ledger, not from this run.
        return details | {
            "status": "deferred",
            "reason": f"batch {batch.context.batch_id} was interrupted and has been resumed first; "
            "start the reprocess again",
        }
    return details | {"status": "done", "objects": len(batch.objects), "experiments": len(replaced or [])}


def run(spark: SparkSession, config: FeatureJobConfig) -> RunSummary:
    started, started_at = time.monotonic(), utc_now().isoformat()
    ref = TableRef(config.catalog, config.namespace)
    check_iceberg_session(spark, ref)
    ensure_tables(spark, ref, ALL_TABLES)

    batch = interrupted_batch(spark, ref, config.processing_name)
    listed_count, unchanged, listing = None, False, None
    known_count = deferred_count = None  # None when resuming, like listed_count
    if batch is None and config.reprocess:
        listed = list_raw_objects(spark, config.raw_uri)
        selected = reprocess_selection(spark, ref, listed, config.reprocess)
        listed_count, known_count, deferred_count = len(listed), len(listed) - len(selected), 0
        if selected:
            batch = plan_batch(spark, ref, selected, config.processing_name, reprocess=True)
    elif batch is None:
        listed = list_raw_objects(spark, config.raw_uri)
        listed_count, listing = len(listed), listing_digest(listed)
        unchanged = ledger_covers(spark, ref, listing)
        new = [] if unchanged else unprocessed(spark, ref, listed)
        known_count, deferred_count = listed_count - len(new), max(0, len(new) - (config.max_files or len(new)))
        if config.max_files and len(new) > config.max_files:
            new, listing = new[: config.max_files], None  # the rest stays new: the ledger will not cover this listing
        if new:
            batch = plan_batch(spark, ref, new, config.processing_name)

    if batch is None:
        ctx = BatchContext(str(uuid.uuid4()), utc_now().replace(tzinfo=None, microsecond=0), config.processing_name)
        results: dict[str, AppendResult] = {}
        outcomes: dict[str, FileOutcome] = {}
        duplicates = 0
        energy = []
        replaced = None
    else:
        ctx = batch.context
        records, outcomes = read_objects(spark, config.raw_uri, batch.objects)
        # A reprocess replaces the experiments it reads, so none counts as known (duplicates within
        # the batch are still dropped).
        known = (
            spark.createDataFrame([], "experiment_id string")
            if batch.reprocess
            else spark.table(ref.fqn(tables.MOLECULES.name))
            .where(F.col("processing_batch_id") != ctx.batch_id)
            .select("experiment_id")
        )
        # Decided on the two key columns only, then applied to the cached records by a broadcast
        # semi join: no shuffle of whole records. Materialised once, with its lineage cut: each of
        # the nine table writes then scans it, instead of planning the reads, unions and joins
        # behind it again (about ten broadcast jobs per table otherwise).
        keep = drop_known_experiments(records.select("experiment_id", "object_key"), known)
        # One partition per core: each table write then makes a file per core and partition.
        fresh = (
            records.join(F.broadcast(keep), ["experiment_id", "object_key"], "left_semi")
            .coalesce(spark.sparkContext.defaultParallelism)
            .localCheckpoint(eager=True)
        )
        # The physics gate on the batch's new experiments: one small job on the materialised frame.
        energy = check_energies(spark, fresh)
        replaced = sorted(r.experiment_id for r in fresh.select("experiment_id").collect()) if batch.reprocess else None
        results = load_features(spark, ref, fresh, ctx, new_batch=not batch.resumed, replaced=replaced)
        # molecules holds one row per experiment written: the rest of the accepted records were
        # experiments already known, or delivered twice.
        accepted = sum(o.record_count for o in outcomes.values() if o.status == "accepted")
        duplicates = accepted - results[tables.MOLECULES.name].rows

    meta = append_once(
        spark,
        ref.fqn(tables.PROCESSING_METADATA.name),
        metadata_row(spark, ctx, results, describe_source(config, batch, outcomes)),
        ctx.batch_id,
        new_batch=batch is None or not batch.resumed,
        rows=1,
    )
    fault_point(spark, tables.PROCESSING_METADATA.name)
    if batch is not None:
        commit_batch(spark, ref, batch, outcomes, listing=listing)  # None when resuming: nothing was listed

    reprocessing = bool(batch and batch.reprocess)
    rejected = [o for o in outcomes.values() if o.status == "rejected"]
    key_of = {o.uri: o for o in batch.objects} if batch else {}
    summary = RunSummary(
        job=JOB,
        run_id=config.run_id,
        batch_id=ctx.batch_id,
        status="succeeded" if batch else "no_changes",
        started_at=started_at,
        resumed_batch=bool(batch and batch.resumed),
        new_rows={name: r.rows for name, r in results.items()} | {tables.PROCESSING_METADATA.name: meta.rows},
        tags={name: r.tag for name, r in results.items()},
        files={
            "listed": listed_count,  # None when resuming: the batch's objects were listed before
            "in_batch": len(batch.objects) if batch else 0,
            "ingested": sum(1 for o in outcomes.values() if o.status == "accepted"),
            "quarantined": len(rejected),
            "already_known": known_count,  # listed objects the ledger holds (same ETag)
            "deferred": deferred_count,  # new objects left for the next run by --max-files
        },
        # listing_unchanged: the ledger's last commit recorded this very listing, so it was not read.
        details={"duplicate_experiments": duplicates, "listing_unchanged": unchanged}
        | ({"reprocess": reprocess_details(config, batch, replaced)} if config.reprocess or reprocessing else {}),
    )
    summary.add_quarantined(
        [QuarantinedFile(key_of[o.uri].key, key_of[o.uri].etag, o.reason or "") for o in rejected if o.uri in key_of]
    )
    unaccounted = [o.key for o in batch.objects if o.uri not in outcomes] if batch else []
    gates = (
        quarantine_finding(summary.quarantined, summary.quarantined_total),
        reconciliation_finding(summary.files, unaccounted),
        energy_finding(energy),
    )
    summary.findings = [f for f in gates if f]
    summary.finished_at = utc_now().isoformat()
    summary.duration_seconds = round(time.monotonic() - started, 3)
    return summary


def main(argv: list[str] | None = None) -> None:
    job_main(JOB, parse_feature_args, run, argv)
