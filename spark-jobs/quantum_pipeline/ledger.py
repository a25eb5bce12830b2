"""The ingestion ledger: which raw objects (key + ETag) are done, and the batch in progress.

A batch moves through three commits, each atomic on its own:
  1. plan      - rows in `ingestion_plan` (batch id, timestamp, the exact objects)
  2. features  - each feature table appended once per batch (see iceberg_io.append_once)
  3. commit    - rows in `rejected_files`, then `ingested_files` (the ledger proper)
A batch planned but not committed was interrupted; the next run resumes it with the same id,
timestamp and objects, so the rows it writes are identical and nothing is written twice.

A reprocess batch re-ingests objects the ledger already holds: its feature rows replace the rows
of the same experiments and its ledger rows replace those objects' rows (replace.replace_once), so
the ledger keeps one row per object, naming the batch that wrote its current rows.

The ledger commit also records a digest of the listing the batch was planned from, when the batch
took every new object of it. While the ledger's current snapshot carries the digest of today's
listing, every listed object is known to be done, and the ledger need not be read at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from dataclasses import dataclass

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from . import tables
from .config import Reprocess
from .features import BatchContext
from .iceberg_io import TableRef, append_once, current_snapshot, snapshot_history
from .raw_io import FileOutcome, RawObject
from .replace import replace_once

log = logging.getLogger(__name__)

LISTING_PROPERTY = "qp.listing-sha256"
# A batch's ledger commit comes after its plan, but the two timestamps may come from two drivers'
# clocks (a resumed batch): the walk back through the ledger looks this far before the plan.
CLOCK_SKEW_MS = 3_600_000


@dataclass(frozen=True)
class PlannedBatch:
    context: BatchContext
    objects: tuple[RawObject, ...]
    resumed: bool
    reprocess: bool = False  # re-ingests known objects: rows are replaced, not appended


def interrupted_batch(spark: SparkSession, ref: TableRef, processing_name: str) -> PlannedBatch | None:
    """The last planned batch if the ledger never committed it (batches run one at a time)."""
    plan = ref.fqn(tables.INGESTION_PLAN.name)
    latest = current_snapshot(spark, plan)
    if latest is None or latest.batch_id is None:
        return None
    since = latest.timestamp_ms - CLOCK_SKEW_MS
    for snapshot in snapshot_history(spark, ref.fqn(tables.INGESTED_FILES.name)):
        if snapshot.batch_id == latest.batch_id:
            return None
        if snapshot.timestamp_ms < since:  # older than the plan: the batch was never committed
            break
    rows = spark.table(plan).where(F.col("batch_id") == latest.batch_id).orderBy("object_key").collect()
    objects = tuple(RawObject(r.object_uri, r.object_key, r.etag, r.size_bytes, r.topic, r.file_format) for r in rows)
    planned_at = rows[0].planned_at.replace(tzinfo=None)
    reprocess = bool(rows[0].reprocess)  # null for batches planned before the column existed
    log.warning(
        "resuming interrupted %sbatch %s (%d objects, planned %s)",
        "reprocess " if reprocess else "",
        latest.batch_id,
        len(objects),
        planned_at,
    )
    return PlannedBatch(BatchContext(latest.batch_id, planned_at, processing_name), objects, True, reprocess)


def listing_digest(listed: list[RawObject]) -> str:
    """SHA-256 of the listing's (key, ETag) pairs in key order: equal listings, equal digests."""
    digest = hashlib.sha256()
    for key, etag in sorted((o.key, o.etag) for o in listed):
        digest.update(f"{key}\t{etag}\n".encode())
    return digest.hexdigest()


def ledger_covers(spark: SparkSession, ref: TableRef, digest: str) -> bool:
    """True when the ledger's current snapshot is a batch commit that recorded this very listing:
    every object in it was then in the ledger, and no commit has changed the ledger since."""
    latest = current_snapshot(spark, ref.fqn(tables.INGESTED_FILES.name), (LISTING_PROPERTY,))
    return latest is not None and latest.properties[LISTING_PROPERTY] == digest


def unprocessed(spark: SparkSession, ref: TableRef, listed: list[RawObject]) -> list[RawObject]:
    """Listed objects whose (key, ETag) the ledger has not seen; a changed object counts as new."""
    if not listed:
        return []
    listing = spark.createDataFrame([(o.key, o.etag) for o in listed], "object_key string, etag string")
    done = spark.table(ref.fqn(tables.INGESTED_FILES.name)).select("object_key", "etag")
    new_keys = {(r.object_key, r.etag) for r in listing.join(done, ["object_key", "etag"], "left_anti").collect()}
    return sorted((o for o in listed if (o.key, o.etag) in new_keys), key=lambda o: o.key)


def reprocess_selection(
    spark: SparkSession, ref: TableRef, listed: list[RawObject], request: Reprocess
) -> list[RawObject]:
    """The listed objects under the request's prefix that the ledger recorded (same key and ETag)
    at or after its `since`, plus those under the prefix it never recorded (or recorded with
    another ETag): a reprocess leaves nothing under its prefix unprocessed."""
    candidates = [o for o in listed if o.key.startswith(request.prefix)]
    if not candidates:
        return []
    # Compared in Spark: the literal is read like the naive timestamps the jobs wrote.
    recent_flag = F.lit(True) if request.since is None else F.col("ingested_at") >= F.lit(request.since)
    ledger = spark.table(ref.fqn(tables.INGESTED_FILES.name)).select("object_key", "etag", recent_flag.alias("recent"))
    if request.prefix:
        ledger = ledger.where(F.col("object_key").startswith(request.prefix))
    recorded = ledger.collect()
    known = {(r.object_key, r.etag) for r in recorded}
    recent = {(r.object_key, r.etag) for r in recorded if r.recent}
    chosen = [o for o in candidates if (o.key, o.etag) in recent or (o.key, o.etag) not in known]
    log.info(
        "reprocess %r since %s: %d of %d objects under the prefix (%d never ingested)",
        request.prefix,
        request.since or "any time",
        len(chosen),
        len(candidates),
        sum(1 for o in chosen if (o.key, o.etag) not in known),
    )
    return sorted(chosen, key=lambda o: o.key)


def plan_batch(
    spark: SparkSession,
    ref: TableRef,
    objects: list[RawObject],
    processing_name: str,
    now: dt.datetime | None = None,
    reprocess: bool = False,
) -> PlannedBatch:
    # Microseconds dropped: the timestamp is stored and read back, and must compare equal.
    planned_at = (now or dt.datetime.now(dt.timezone.utc)).replace(tzinfo=None, microsecond=0)
    context = BatchContext(str(uuid.uuid4()), planned_at, processing_name)
    rows = [
        (context.batch_id, planned_at, o.uri, o.key, o.etag, o.size, o.topic, o.file_format, reprocess) for o in objects
    ]
    # Rows built here, written as one file by one task (the default would cut them per core).
    frame = spark.createDataFrame(rows, tables.INGESTION_PLAN.schema).coalesce(1)
    append_once(
        spark, ref.fqn(tables.INGESTION_PLAN.name), frame, context.batch_id, tag=False, new_batch=True, rows=len(rows)
    )
    log.info("planned %sbatch %s: %d objects", "reprocess " if reprocess else "", context.batch_id, len(objects))
    return PlannedBatch(context, tuple(objects), resumed=False, reprocess=reprocess)


def commit_batch(
    spark: SparkSession,
    ref: TableRef,
    batch: PlannedBatch,
    outcomes: dict[str, FileOutcome],
    listing: str | None = None,
) -> None:
    """Record every planned object as ingested or rejected; the last write of a batch. `listing`
    is the digest of the listing the batch took every new object of (None when it did not)."""
    ctx = batch.context
    ledger_rows, rejected_rows = [], []
    for o in batch.objects:
        outcome = outcomes[o.uri]
        status = "ingested" if outcome.status == "accepted" else "rejected"
        ledger_rows.append(
            (
                o.key,
                o.etag,
                o.size,
                o.topic,
                o.file_format,
                ctx.batch_id,
                status,
                outcome.reason,
                outcome.record_count,
                ctx.processing_timestamp,
            )
        )
        if status == "rejected":
            rejected_rows.append((o.key, o.etag, o.topic, outcome.reason, ctx.batch_id, ctx.processing_timestamp))
    append_once(
        spark,
        ref.fqn(tables.REJECTED_FILES.name),
        spark.createDataFrame(rejected_rows, tables.REJECTED_FILES.schema).coalesce(1),
        ctx.batch_id,
        tag=False,
        new_batch=not batch.resumed,
        rows=len(rejected_rows),
    )
    ledger = spark.createDataFrame(ledger_rows, tables.INGESTED_FILES.schema).coalesce(1)
    if batch.reprocess:  # the objects' rows now name this batch: one row per object stays
        fqn = ref.fqn(tables.INGESTED_FILES.name)
        replace_once(spark, fqn, ledger, ctx.batch_id, tables.INGESTED_FILES.key, new_batch=not batch.resumed)
    else:
        append_once(
            spark,
            ref.fqn(tables.INGESTED_FILES.name),
            ledger,
            ctx.batch_id,
            tag=False,
            new_batch=not batch.resumed,
            rows=len(ledger_rows),
            extra_properties={LISTING_PROPERTY: listing} if listing else None,
        )
    log.info(
        "committed batch %s: %d ingested, %d rejected",
        ctx.batch_id,
        len(ledger_rows) - len(rejected_rows),
        len(rejected_rows),
    )
