"""Raw input: list result objects with their ETags, read the new ones, validate them per file.

Listing goes through Hadoop's FileSystem API so it uses exactly the S3 settings (endpoint,
credentials, path style) the reads use. JSON files are read and checked in the JVM first
(json_fast_path); the few it flags, and Avro files, are parsed and validated in Spark's Python
workers. Each file ends up either accepted (its records) or rejected (a reason naming field and
value).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pyspark import StorageLevel
from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.window import Window

from .json_fast_path import parse_json_files, with_experiment_ids
from .record_spec import RECORD_SCHEMA
from .validation import RecordError, canonical_json, experiment_id, parse_json_documents, validate_documents

log = logging.getLogger(__name__)

FORMATS = {".json": "json", ".jsonl": "json", ".avro": "avro"}


@dataclass(frozen=True)
class FileOutcome:
    uri: str
    status: str  # "accepted" | "rejected"
    reason: str | None
    record_count: int


@dataclass(frozen=True)
class RawObject:
    uri: str
    key: str  # object key inside its bucket
    etag: str  # the S3 ETag, or a size/mtime token on file systems without ETags
    size: int
    topic: str
    file_format: str  # "json" | "avro" | "unsupported"


def _split_uri(uri: str) -> tuple[str, str]:
    """('s3a://bucket', 'key/inside') for an object URI; ('file:', 'tmp/a.json') for Hadoop's
    authority-less local form `file:/tmp/a.json`."""
    if "://" not in uri:
        scheme, _, path = uri.partition(":")
        return f"{scheme}:", path.lstrip("/")
    scheme, rest = uri.split("://", 1)
    bucket, _, key = rest.partition("/")
    return f"{scheme}://{bucket}", key


def describe_object(uri: str, etag: str, size: int, raw_root: str) -> RawObject:
    _, key = _split_uri(uri)
    relative = uri[len(raw_root.rstrip("/")) + 1 :]
    topic = relative.split("/", 1)[0] if "/" in relative else ""
    suffix = "." + uri.rsplit(".", 1)[-1].lower() if "." in uri.rsplit("/", 1)[-1] else ""
    return RawObject(uri, key, etag.strip('"'), size, topic, FORMATS.get(suffix, "unsupported"))


def list_raw_objects(spark: SparkSession, raw_root: str) -> list[RawObject]:
    """Every object below `raw_root` (all topics at once, so no topic can be skipped)."""
    jvm = spark._jvm  # noqa: SLF001 - the documented way to reach Hadoop's FileSystem from Python
    root = jvm.org.apache.hadoop.fs.Path(raw_root)
    fs = root.getFileSystem(spark._jsc.hadoopConfiguration())  # noqa: SLF001
    if not fs.exists(root):
        log.warning("raw input %s does not exist yet: nothing to ingest", raw_root)
        return []
    qualified_root = fs.makeQualified(root).toString()
    objects = []
    files = fs.listFiles(root, True)
    while files.hasNext():
        status = files.next()
        uri = status.getPath().toString()
        etag = None
        try:
            etag = status.getEtag()  # S3A (EtagSource); absent on plain file systems
        except Exception:  # noqa: BLE001 - py4j raises a generic error for a missing method
            etag = None
        size = status.getLen()
        token = etag or f"size:{size}:mtime:{status.getModificationTime()}"
        objects.append(describe_object(uri, token, size, qualified_root))
    return objects


OUTCOME_SCHEMA = T.StructType(
    [
        T.StructField("object_uri", T.StringType(), False),
        T.StructField("status", T.StringType(), False),  # "accepted" | "rejected"
        T.StructField("reason", T.StringType(), True),
        T.StructField("experiment_ids", T.ArrayType(T.StringType(), False), False),
        T.StructField("records", T.ArrayType(T.StringType(), False), False),  # normalised record JSON
    ]
)


def file_outcome(uri: str, documents_or_error: list | RecordError) -> tuple:
    """One outcome row for one file: every record valid, or the file rejected with the reason."""
    try:
        if isinstance(documents_or_error, RecordError):
            raise documents_or_error
        records = validate_documents(documents_or_error)
        if not records:
            raise RecordError("", "file holds no JSON document", show_value=False)
    except RecordError as exc:
        return (uri, "rejected", str(exc), [], [])
    return (uri, "accepted", None, [experiment_id(r) for r in records], [canonical_json(r) for r in records])


def _json_outcomes(rows: Iterable[Row]) -> Iterator[tuple]:
    for row in rows:
        try:
            documents: list | RecordError = parse_json_documents(bytes(row.content or b""))
        except RecordError as exc:
            documents = exc
        yield file_outcome(row.path, documents)


def read_json_outcomes(spark: SparkSession, uris: list[str]) -> DataFrame:
    if not uris:
        return spark.createDataFrame([], OUTCOME_SCHEMA)
    # binaryFile reads each object whole, so a pretty-printed document and JSON Lines both parse,
    # and a 0-byte or truncated file becomes a row (and a reason) instead of a failed read.
    files = spark.read.format("binaryFile").option("ignoreMissingFiles", "true").load(uris)
    return spark.createDataFrame(files.select("path", "content").rdd.mapPartitions(_json_outcomes), OUTCOME_SCHEMA)


def _avro_file_outcomes(spark: SparkSession, uris: list[str]) -> DataFrame:
    frame = spark.read.format("avro").load(uris).withColumn("_path", F.col("_metadata.file_path"))
    grouped = frame.rdd.map(lambda row: (row["_path"], row.asDict(recursive=True))).groupByKey()

    def outcome(item):
        path, documents = item
        return file_outcome(path, [{k: v for k, v in d.items() if k != "_path"} for d in documents])

    return spark.createDataFrame(grouped.map(outcome), OUTCOME_SCHEMA)


def read_avro_outcomes(spark: SparkSession, uris: list[str]) -> DataFrame:
    """Avro goes through the same validator as JSON (records become plain dicts first).

    The files are read together; if that read fails (a corrupt file), each file is read alone so
    only the corrupt ones are rejected.
    """
    if not uris:
        return spark.createDataFrame([], OUTCOME_SCHEMA)
    try:
        outcomes = _avro_file_outcomes(spark, uris).persist()
        outcomes.count()  # forces the read here, where a corrupt file can still be isolated
        return outcomes
    except Exception as bulk_error:  # noqa: BLE001 - any read failure falls back to per-file reads
        log.warning(
            "reading %d Avro files together failed (%s); reading them one by one",
            len(uris),
            str(bulk_error).splitlines()[0][:200],
        )
    outcomes = []
    for uri in uris:
        try:
            outcomes.extend(_avro_file_outcomes(spark, [uri]).collect())
        except Exception as exc:  # noqa: BLE001
            first_line = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
            outcomes.append((uri, "rejected", f"unreadable Avro file: {first_line}", [], []))
    return spark.createDataFrame(outcomes, OUTCOME_SCHEMA)


def is_readable(o: RawObject) -> bool:
    return o.size > 0 and o.file_format != "unsupported"


def unreadable_outcomes(spark: SparkSession, objects: list[RawObject]) -> DataFrame:
    """Rejections decided from the listing alone. Empty files must be caught here: Spark's file
    scan makes no split for a 0-byte file, so reading it would yield no row at all."""

    def reason(o: RawObject) -> str:
        if o.size == 0:
            return "empty file (0 bytes)"
        return f"unsupported file type '{o.uri.rsplit('/', 1)[-1]}' (expected .json, .jsonl or .avro)"

    return spark.createDataFrame([(o.uri, "rejected", reason(o), [], []) for o in objects], OUTCOME_SCHEMA)


def records_from_outcomes(outcomes: DataFrame, uri_to_key: DataFrame) -> DataFrame:
    """Accepted records as rows of RECORD_SCHEMA plus `experiment_id` and `object_key`.

    An experiment delivered twice in one file keeps its first record, so (experiment_id,
    object_key) identifies a record.
    """
    accepted = outcomes.filter(F.col("status") == "accepted").join(uri_to_key, "object_uri")
    exploded = accepted.select(
        "object_key", F.posexplode(F.arrays_zip("experiment_ids", "records")).alias("position", "r")
    )
    first = exploded.withColumn(
        "_first", F.min("position").over(Window.partitionBy(F.col("object_key"), F.col("r.experiment_ids")))
    ).where(F.col("position") == F.col("_first"))
    parsed = first.select(
        "object_key",
        F.col("r.experiment_ids").alias("experiment_id"),
        F.from_json(F.col("r.records"), RECORD_SCHEMA, {"mode": "FAILFAST"}).alias("record"),
    )
    return parsed.select("experiment_id", "object_key", "record.*")


# Characters java.net.URI leaves as they are in a path: a URI made of these alone is its own
# URL-encoded form, and needs no round trip to the JVM.
_URI_PATH_SAFE = re.compile(r"^[A-Za-z0-9._~:/@!$&'()*+,;=-]+$")


def spark_file_path(spark: SparkSession, uri: str) -> str:
    """How Spark's `_metadata.file_path` names the object at `uri` (URL-encoded)."""
    if _URI_PATH_SAFE.match(uri):
        return uri
    return spark._jvm.org.apache.hadoop.fs.Path(uri).toUri().toString()  # noqa: SLF001


def read_objects(
    spark: SparkSession, root: str, objects: tuple[RawObject, ...] | list[RawObject]
) -> tuple[DataFrame, dict[str, FileOutcome]]:
    """Read and validate objects below `root`: (accepted records, outcome per object URI).

    JSON goes through the JVM fast path; flagged JSON files (and any the fast path's listing did
    not see), Avro files and what the listing alone rejects go through the Python path. Both
    frames stay cached for the table writes that follow.
    """
    json_objects = [o for o in objects if is_readable(o) and o.file_format == "json"]
    by_path = {spark_file_path(spark, o.uri): o for o in json_objects}
    per_file: dict[str, FileOutcome] = {}
    flagged: list[str] = []
    fast_accepted: list[tuple[str, str]] = []
    fast = None
    if json_objects:
        fast = parse_json_files(spark, root, sorted(by_path)).persist(StorageLevel.MEMORY_AND_DISK)
        decided = {row.file_path: row.accepted for row in fast.select("file_path", "accepted").collect()}
        for path, o in by_path.items():  # the one decision per file
            if decided.get(path):
                per_file[o.uri] = FileOutcome(o.uri, "accepted", None, 1)
                fast_accepted.append((path, o.key))
            else:  # flagged, or not seen (gone, or hidden from Spark's listing by a leading _ or .)
                flagged.append(o.uri)
    log.info(
        "JSON fast path: %d of %d files accepted, %d for the Python validator",
        len(fast_accepted),
        len(json_objects),
        len(flagged),
    )

    avro = [o.uri for o in objects if is_readable(o) and o.file_format == "avro"]
    unreadable = [o for o in objects if not is_readable(o)]
    fast_records = None
    if fast is not None and fast_accepted:
        keys = spark.createDataFrame(fast_accepted, "file_path string, object_key string")
        accepted = fast.where("accepted").join(F.broadcast(keys), "file_path")
        fast_records = with_experiment_ids(accepted).select("experiment_id", "object_key", "record.*")
    if fast_records is not None and not (flagged or avro or unreadable):
        return fast_records, per_file  # the usual batch: nothing for the Python path to do

    slow = (
        read_json_outcomes(spark, flagged)
        .unionByName(read_avro_outcomes(spark, avro))
        .unionByName(unreadable_outcomes(spark, unreadable))
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    for r in slow.select("object_uri", "status", "reason", F.size("records").alias("n")).collect():
        per_file[r.object_uri] = FileOutcome(r.object_uri, r.status, r.reason, r.n)
    for o in objects:  # deleted between listing and reading: reported, never silently lost
        per_file.setdefault(o.uri, FileOutcome(o.uri, "rejected", "object vanished before it was read", 0))

    uri_to_key = spark.createDataFrame([(o.uri, o.key) for o in objects], "object_uri string, object_key string")
    records = records_from_outcomes(slow, uri_to_key)
    if fast_records is not None:
        records = fast_records.unionByName(records)
    return records, per_file
