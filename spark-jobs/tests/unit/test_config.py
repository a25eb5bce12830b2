"""Job arguments: defaults, and a named error for every rejected value."""

import datetime as dt

import pytest

from quantum_pipeline.config import ConfigError, Reprocess, parse_feature_args, parse_ml_args


def test_feature_defaults():
    config = parse_feature_args(["--run-id", "exec-1"])

    assert (config.raw_uri, config.catalog, config.namespace, config.summary_uri, config.max_files) == (
        "s3a://raw-results/experiments",
        "quantum_catalog",
        "quantum_features",
        "s3a://features/pipeline-runs",
        None,
    )
    assert config.processing_name == "quantum_feature_processing"


def test_ml_defaults_match_the_existing_pipeline():
    config = parse_ml_args(["--run-id", "exec-1"])

    assert (config.rolling_window, config.trajectory_head, config.trajectory_tail) == (5, 10, 10)


def test_trailing_slashes_are_normalised():
    config = parse_feature_args(["--run-id", "r", "--raw-uri", "s3://raw/experiments/", "--summary-uri", "s3://f/x/"])

    assert (config.raw_uri, config.summary_uri) == ("s3://raw/experiments", "s3://f/x")


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "the following arguments are required: --run-id"),
        (["--run-id", "has space"], "--run-id='has space': expected 1-128 letters"),
        (["--run-id", "r", "--catalog", "quantum-catalog"], "--catalog='quantum-catalog': expected an identifier"),
        (["--run-id", "r", "--namespace", "1st"], "--namespace='1st': expected an identifier"),
        (
            ["--run-id", "r", "--raw-uri", "raw-results/experiments"],
            "--raw-uri='raw-results/experiments': expected a URI",
        ),
        (["--run-id", "r", "--summary-uri", "features"], "--summary-uri='features': expected a URI"),
        (["--run-id", "r", "--max-files", "0"], "--max-files=0: expected a positive number"),
        (["--run-id", "r", "--max-files", "many"], "argument --max-files: invalid int value: 'many'"),
        (["--run-id", "r", "--processing-name", " "], "--processing-name=' ': must not be empty"),
        (["--run-id", "r", "--unknown"], "unrecognized arguments: --unknown"),
        # A trailing newline passes a `$`-anchored match; the TypeScript contract refuses it, so must the job.
        (["--run-id", "r", "--catalog", "quantum\n"], "--catalog='quantum\\n': expected an identifier"),
        (["--run-id", "r", "--summary-uri", "s3a://f/x\n"], "--summary-uri='s3a://f/x\\n': expected a URI"),
        (["--run-id", "r", "--reprocess-prefix", "a/"], "--reprocess-prefix='a/': only applies with --reprocess"),
        (["--run-id", "r", "--reprocess-since", "2026-01-01"], "--reprocess-since='2026-01-01': only applies"),
        (["--run-id", "r", "--reprocess", "--reprocess-prefix", "/a"], "--reprocess-prefix='/a': expected an"),
        (["--run-id", "r", "--reprocess", "--reprocess-prefix", "a\tb"], "--reprocess-prefix='a\\tb': expected"),
        (["--run-id", "r", "--reprocess", "--reprocess-since", "yesterday"], "--reprocess-since='yesterday': expected"),
        # A date-time without a zone names a different instant on each host.
        (["--run-id", "r", "--reprocess", "--reprocess-since", "2026-11-30T09:00:00"], "expected an ISO-8601 date"),
        (["--run-id", "r", "--reprocess", "--max-files", "5"], "--max-files=5: not allowed with --reprocess"),
    ],
)
def test_feature_args_rejected_with_the_argument_named(argv, message):
    with pytest.raises(ConfigError) as caught:
        parse_feature_args(argv)

    assert message in str(caught.value)


@pytest.mark.parametrize("argument", ["--rolling-window", "--trajectory-head", "--trajectory-tail"])
@pytest.mark.parametrize("value", ["0", "1001"])
def test_ml_window_sizes_must_be_in_range(argument, value):
    with pytest.raises(ConfigError, match=f"{argument}={value}: expected a whole number from 1 to 1000"):
        parse_ml_args(["--run-id", "r", argument, value])


@pytest.mark.parametrize("parse", [parse_feature_args, parse_ml_args])
def test_run_id_with_a_trailing_newline_is_refused(parse):
    with pytest.raises(ConfigError, match=r"^--run-id='abc\\n': expected 1-128 letters"):
        parse(["--run-id", "abc\n"])


def test_full_refresh_is_off_unless_asked():
    assert parse_ml_args(["--run-id", "r1"]).full_refresh is False
    assert parse_ml_args(["--run-id", "r1", "--full-refresh"]).full_refresh is True


def test_reprocess_is_off_unless_asked():
    assert parse_feature_args(["--run-id", "r"]).reprocess is None


@pytest.mark.parametrize(
    "extra, expected",
    [
        ([], Reprocess("", None)),
        (["--reprocess-prefix", "experiments/experiment.vqe/"], Reprocess("experiments/experiment.vqe/", None)),
        (["--reprocess-since", "2026-11-30"], Reprocess("", dt.datetime(2026, 11, 30))),
        (["--reprocess-since", "2026-11-30T09:30:00Z"], Reprocess("", dt.datetime(2026, 11, 30, 9, 30))),
        # Converted to UTC, the zone the ledger's timestamps are written in.
        (["--reprocess-since", "2026-11-30T09:30:00+02:00"], Reprocess("", dt.datetime(2026, 11, 30, 7, 30))),
    ],
)
def test_reprocess_arguments(extra, expected):
    assert parse_feature_args(["--run-id", "r", "--reprocess", *extra]).reprocess == expected
