"""Job arguments, parsed once into frozen dataclasses. Errors name the argument and the value."""

from __future__ import annotations

import argparse
import datetime as dt
import re
from dataclasses import dataclass

# Checked with fullmatch, never match + `$`: `$` also matches before a final newline, so "abc\n"
# would pass here while the TypeScript contract's regex refuses it.
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_URI = re.compile(r"[a-z][a-z0-9+.-]*://[^\s]+")


class ConfigError(ValueError):
    """An argument with a value the job cannot use."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would exit(2); a typed error is easier to test
        raise ConfigError(message)


@dataclass(frozen=True)
class CommonConfig:
    run_id: str
    catalog: str
    namespace: str
    summary_uri: str  # folder: the summary goes to <summary_uri>/<job>/<run_id>.json
    processing_name: str


@dataclass(frozen=True)
class Reprocess:
    """Re-ingest the listed objects under `prefix` (a key prefix in the raw bucket, "" for all) that
    the ledger recorded at or after `since` (UTC; None for any time), and those never ingested."""

    prefix: str
    since: dt.datetime | None  # naive UTC, like the ledger's ingested_at


@dataclass(frozen=True)
class FeatureJobConfig(CommonConfig):
    raw_uri: str
    max_files: int | None  # bound one run (a large backfill then takes several runs)
    reprocess: Reprocess | None = None


@dataclass(frozen=True)
class MlJobConfig(CommonConfig):
    rolling_window: int
    trajectory_head: int
    trajectory_tail: int
    full_refresh: bool  # recompute both ML tables from every experiment, replacing their content


def _common_parser(prog: str, default_name: str) -> _Parser:
    p = _Parser(prog=prog)
    p.add_argument("--run-id", required=True, help="caller's id of this run (e.g. the Step Functions execution)")
    p.add_argument("--catalog", default="quantum_catalog")
    p.add_argument("--namespace", default="quantum_features")
    p.add_argument("--summary-uri", default="s3a://features/pipeline-runs")
    p.add_argument("--processing-name", default=default_name)
    return p


def _check(condition: bool, argument: str, value: object, expectation: str) -> None:
    if not condition:
        raise ConfigError(f"{argument}={value!r}: {expectation}")


def _check_common(ns: argparse.Namespace) -> None:
    _check(
        bool(_RUN_ID.fullmatch(ns.run_id)),
        "--run-id",
        ns.run_id,
        "expected 1-128 letters, digits or . _ : - (starting with a letter or digit)",
    )
    _check(bool(_IDENTIFIER.fullmatch(ns.catalog)), "--catalog", ns.catalog, "expected an identifier")
    _check(bool(_IDENTIFIER.fullmatch(ns.namespace)), "--namespace", ns.namespace, "expected an identifier")
    _check(
        bool(_URI.fullmatch(ns.summary_uri)),
        "--summary-uri",
        ns.summary_uri,
        "expected a URI such as s3a://bucket/prefix",
    )
    _check(bool(ns.processing_name.strip()), "--processing-name", ns.processing_name, "must not be empty")


def _common_values(ns: argparse.Namespace) -> dict:
    return dict(
        run_id=ns.run_id,
        catalog=ns.catalog,
        namespace=ns.namespace,
        summary_uri=ns.summary_uri.rstrip("/"),
        processing_name=ns.processing_name,
    )


_SINCE_EXPECTATION = "expected an ISO-8601 date (2026-11-30) or date-time with a zone (2026-11-30T09:00:00Z)"


def parse_since(value: str) -> dt.datetime:
    """A date (midnight UTC) or a zoned date-time, as naive UTC; ConfigError naming the value."""
    # Python before 3.11 reads no "Z" suffix, and the job may run on such an interpreter.
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        if len(text) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(text), dt.time())
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--reprocess-since={value!r}: {_SINCE_EXPECTATION}") from None
    if parsed.tzinfo is None:  # a local time would mean different instants on different hosts
        raise ConfigError(f"--reprocess-since={value!r}: {_SINCE_EXPECTATION}")
    return parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)


def _reprocess(ns: argparse.Namespace) -> Reprocess | None:
    if not ns.reprocess:
        for argument, value in (("--reprocess-prefix", ns.reprocess_prefix), ("--reprocess-since", ns.reprocess_since)):
            _check(value is None, argument, value, "only applies with --reprocess")
        return None
    prefix = ns.reprocess_prefix or ""
    _check(
        len(prefix) <= 1024 and not prefix.startswith("/") and prefix.isprintable(),
        "--reprocess-prefix",
        prefix,
        "expected an object-key prefix in the raw bucket (at most 1024 printable characters, no leading /)",
    )
    since = parse_since(ns.reprocess_since) if ns.reprocess_since is not None else None
    return Reprocess(prefix, since)


def parse_feature_args(argv: list[str]) -> FeatureJobConfig:
    p = _common_parser("feature_processing", "quantum_feature_processing")
    p.add_argument("--raw-uri", default="s3a://raw-results/experiments")
    p.add_argument("--max-files", type=int, default=None)
    p.add_argument("--reprocess", action="store_true", help="re-ingest objects the ledger already holds")
    p.add_argument("--reprocess-prefix", default=None)
    p.add_argument("--reprocess-since", default=None)
    ns = p.parse_args(argv)
    _check_common(ns)
    _check(
        bool(_URI.fullmatch(ns.raw_uri)),
        "--raw-uri",
        ns.raw_uri,
        "expected a URI such as s3a://raw-results/experiments",
    )
    _check(ns.max_files is None or ns.max_files > 0, "--max-files", ns.max_files, "expected a positive number")
    reprocess = _reprocess(ns)
    # A reprocess is one batch, so that each table's rows are replaced in one commit.
    _check(reprocess is None or ns.max_files is None, "--max-files", ns.max_files, "not allowed with --reprocess")
    return FeatureJobConfig(
        **_common_values(ns), raw_uri=ns.raw_uri.rstrip("/"), max_files=ns.max_files, reprocess=reprocess
    )


def parse_ml_args(argv: list[str]) -> MlJobConfig:
    p = _common_parser("ml_feature_processing", "quantum_ml_feature_processing")
    p.add_argument("--rolling-window", type=int, default=5)
    p.add_argument("--trajectory-head", type=int, default=10)
    p.add_argument("--trajectory-tail", type=int, default=10)
    p.add_argument("--full-refresh", action="store_true")
    ns = p.parse_args(argv)
    _check_common(ns)
    for argument, value in (
        ("--rolling-window", ns.rolling_window),
        ("--trajectory-head", ns.trajectory_head),
        ("--trajectory-tail", ns.trajectory_tail),
    ):
        _check(1 <= value <= 1000, argument, value, "expected a whole number from 1 to 1000")
    return MlJobConfig(
        **_common_values(ns),
        rolling_window=ns.rolling_window,
        trajectory_head=ns.trajectory_head,
        trajectory_tail=ns.trajectory_tail,
        full_refresh=ns.full_refresh,
    )
