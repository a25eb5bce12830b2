"""The machine-readable result of a job run: written to a known S3 key and printed last on stdout.

A Lambda (or a person) reads `<summary_uri>/<job>/<run_id>.json`; the same JSON is the last line
of the driver's stdout. The list of quarantined files is capped so the summary always fits a
Step Functions payload (256 KiB); `quarantined_total` gives the full count. So are the
data-quality findings (quality.py): at most one per gate, each naming at most
FINDING_OFFENDING_LIMIT files or experiments, each text cut to FINDING_TEXT_LIMIT characters.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field

from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

QUARANTINE_LIST_LIMIT = 100
FINDING_OFFENDING_LIMIT = 20
FINDING_TEXT_LIMIT = 1000


def clip(text: str, limit: int = FINDING_TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


@dataclass(frozen=True)
class QuarantinedFile:
    key: str
    etag: str
    reason: str


@dataclass(frozen=True)
class Finding:
    """One data-quality gate that fired: the Lambda reading the summary publishes it as an event."""

    gate: str  # quality.GATES
    severity: str  # "warning" | "error"
    message: str
    offending: list[str]  # file keys or experiment ids, the first FINDING_OFFENDING_LIMIT
    offending_total: int

    @classmethod
    def of(cls, gate: str, severity: str, message: str, offending: list[str], total: int) -> Finding:
        return cls(gate, severity, clip(message), [clip(o) for o in offending[:FINDING_OFFENDING_LIMIT]], total)


@dataclass
class RunSummary:
    job: str
    run_id: str
    batch_id: str
    status: str  # "succeeded" | "no_changes"
    started_at: str
    finished_at: str = ""
    duration_seconds: float = 0.0
    resumed_batch: bool = False
    new_rows: dict[str, int] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    files: dict[str, int | None] = field(default_factory=dict)
    quarantined: list[QuarantinedFile] = field(default_factory=list)
    quarantined_total: int = 0
    details: dict[str, object] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def add_quarantined(self, items: list[QuarantinedFile]) -> None:
        self.quarantined_total = len(items)
        self.quarantined = items[:QUARANTINE_LIST_LIMIT]

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))


def summary_location(summary_uri: str, job: str, run_id: str) -> str:
    return f"{summary_uri.rstrip('/')}/{job}/{run_id}.json"


def write_text(spark: SparkSession, uri: str, text: str) -> None:
    """Write a small object through Hadoop's FileSystem (same S3 settings as the tables)."""
    jvm = spark._jvm  # noqa: SLF001
    path = jvm.org.apache.hadoop.fs.Path(uri)
    fs = path.getFileSystem(spark._jsc.hadoopConfiguration())  # noqa: SLF001
    stream = fs.create(path, True)
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()


def publish(spark: SparkSession, summary: RunSummary, summary_uri: str) -> str:
    uri = summary_location(summary_uri, summary.job, summary.run_id)
    text = summary.to_json()
    write_text(spark, uri, text)
    log.info("run summary written to %s", uri)
    print(text, flush=True)  # last stdout line, by contract
    return uri
