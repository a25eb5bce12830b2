"""The JVM fast path and the Python validator agree on every file: same decision, same reason,
same values. Each case also says which path must decide it, so a fast path that flagged
everything (or nothing) would fail here too."""

import json

import pytest

from quantum_pipeline.json_fast_path import parse_json_files
from quantum_pipeline.raw_io import list_raw_objects, read_json_outcomes, read_objects, spark_file_path
from support import base_record


def _with(path: str, value, record: dict | None = None) -> dict:
    """base_record() with one field set (a list of keys addresses array items too)."""
    record = record or base_record()
    target = record
    *parents, leaf = path.split(".")
    for name in parents:
        target = target[int(name)] if name.isdigit() else target[name]
    target[int(leaf) if leaf.isdigit() else leaf] = value
    return record


def _without(path: str) -> dict:
    record = base_record()
    target = record
    *parents, leaf = path.split(".")
    for name in parents:
        target = target[int(name)] if name.isdigit() else target[name]
    del target[leaf]
    return record


def _doc(record: dict) -> bytes:
    return json.dumps(record).encode()


GOOD = _doc(base_record())
# name -> (file content, the path that must decide it)
CASES: dict[str, tuple[bytes, str]] = {
    "good.json": (GOOD, "fast"),
    "pretty.json": (json.dumps(base_record(basis_set="6-31g"), indent=2).encode(), "fast"),
    "unknown-fields.json": (_doc(_with("producer_version", {"major": 2})), "fast"),
    "defaults-absent.json": (_doc(_without("vqe_result.initial_data.init_strategy")), "fast"),
    "default-null.json": (_doc(_with("vqe_result.initial_data.ansatz_name", None)), "fast"),
    "optional-absent.json": (_doc(_without("vqe_result.maxcv")), "fast"),
    "masses-null.json": (_doc(_with("molecule.molecule_data.masses", None)), "fast"),
    "ints-for-doubles.json": (_doc(_with("molecule.molecule_data.coords", [[0, 0, 0], [0, 0, 1]])), "fast"),
    "unicode.json": (_doc(_with("vqe_result.initial_data.backend", "simulator-\u00e9\u4e2d")), "fast"),
    "escaped.json": (_doc(_with("vqe_result.initial_data.ansatz", 'OPENQASM 3.0;\nqubit[2] "q";\t')), "fast"),
    "trailing-newline.json": (GOOD + b"\n", "fast"),
    # Accepted, but only the validator can say so.
    "whole-number-float.json": (_doc(_with("molecule_id", 2.0)), "slow"),
    "numeric-looking-string.json": (_doc(_with("basis_set", "631")), "slow"),
    "bom.json": (b"\xef\xbb\xbf" + GOOD, "slow"),
    "two-lines.jsonl": (GOOD + b"\n" + _doc(base_record(basis_set="6-31g")), "slow"),
    "nan-like-string.json": (_doc(_with("vqe_result.initial_data.backend", "NaNo-simulator")), "fast"),
    "numeric-string-in-array.json": (_doc(_with("molecule.molecule_data.symbols", ["H", "7"])), "slow"),
    "tiny-number.json": (GOOD.replace(b'"minimum": -1.5', b'"minimum": -1.5e-400'), "fast"),
    "one-experiment-twice.jsonl": (GOOD + b"\n" + GOOD, "slow"),
    # Rejected: type errors.
    "string-for-number.json": (_doc(_with("vqe_result.minimum", "low")), "slow"),
    "numeric-string-for-number.json": (_doc(_with("vqe_result.iteration_list.1.result", "-1.1")), "slow"),
    "fraction-for-int.json": (_doc(_with("molecule_id", 1.5)), "slow"),
    "boolean-for-int.json": (_doc(_with("molecule_id", True)), "slow"),
    "int-overflow.json": (_doc(_with("vqe_result.initial_data.num_qubits", 2**31)), "slow"),
    "long-overflow.json": (_doc(_with("vqe_result.initial_data.seed", 2**63)), "slow"),
    "number-for-string.json": (_doc(_with("basis_set", 3)), "slow"),
    "object-for-string.json": (_doc(_with("basis_set", {"name": "sto3g"})), "slow"),
    "boolean-for-string.json": (_doc(_with("vqe_result.initial_data.optimizer", False)), "slow"),
    "number-in-string-array.json": (_doc(_with("molecule.molecule_data.symbols", ["H", 1])), "slow"),
    "string-for-boolean.json": (_doc(_with("vqe_result.success", "yes")), "slow"),
    "string-for-array.json": (_doc(_with("molecule.molecule_data.symbols", "HH")), "slow"),
    "number-for-object.json": (_doc(_with("vqe_result.initial_data", 5)), "slow"),
    "nan-token.json": (GOOD.replace(b'"minimum": -1.5', b'"minimum": NaN'), "slow"),
    "nan-string.json": (_doc(_with("vqe_result.minimum", "NaN")), "slow"),
    "infinity-string.json": (_doc(_with("vqe_result.iteration_list.0.std", "-Infinity")), "slow"),
    "overflowing-number.json": (GOOD.replace(b'"minimum": -1.5', b'"minimum": -1e400'), "slow"),
    "huge-integer-for-double.json": (GOOD.replace(b'"minimum": -1.5', b'"minimum": -1' + b"0" * 400), "slow"),
    "null-in-nested-array.json": (_doc(_with("vqe_result.iteration_list.1.parameters", [0.25, None])), "slow"),
    "null-in-coordinates.json": (
        _doc(_with("molecule.molecule_data.coords", [[0.0, 0.0, 0.0], [0.0, None, 0.7]])),
        "slow",
    ),
    "null-coordinate-row.json": (_doc(_with("molecule.molecule_data.coords", [[0.0, 0.0, 0.0], None])), "slow"),
    "null-symbol.json": (_doc(_with("molecule.molecule_data.symbols", ["H", None])), "slow"),
    "null-coefficient.json": (
        _doc(_with("vqe_result.initial_data.hamiltonian.0.coefficients.imaginary", None)),
        "slow",
    ),
    "object-for-label.json": (_doc(_with("vqe_result.initial_data.hamiltonian.1.label", ["X"])), "slow"),
    "nan-in-array.json": (
        GOOD.replace(b'"optimal_parameters": [0.25, 0.5]', b'"optimal_parameters": [0.25, NaN]'),
        "slow",
    ),
    # Rejected: missing and null values.
    "empty-object.json": (b"{}", "slow"),
    "required-null.json": (_doc(_with("basis_set", None)), "slow"),
    "required-missing-nested.json": (_doc(_without("vqe_result.initial_data.hamiltonian.1.label")), "slow"),
    "null-in-array.json": (_doc(_with("vqe_result.optimal_parameters", [0.25, None])), "slow"),
    "null-item-in-object-array.json": (_doc(_with("vqe_result.iteration_list.1", None)), "slow"),
    # Rejected: structure.
    "missing-coordinate-row.json": (_doc(_with("molecule.molecule_data.coords", [[0.0, 0.0, 0.0]])), "slow"),
    "short-coordinate-row.json": (_doc(_with("molecule.molecule_data.coords", [[0.0, 0.0], [0.0, 0.0, 1.0]])), "slow"),
    "masses-count.json": (_doc(_with("molecule.molecule_data.masses", [1.0])), "slow"),
    "no-atoms.json": (_doc(_with("molecule.molecule_data.symbols", [])), "slow"),
    "repeated-iteration.json": (_doc(_with("vqe_result.iteration_list.2.iteration", 2)), "slow"),
    # Rejected: not one valid JSON document.
    "duplicate-key.json": (
        GOOD.replace(b'"basis_set": "sto3g"', b'"basis_set": "sto3g", "basis_set": "6-31g"'),
        "slow",
    ),
    "duplicate-nested-key.json": (GOOD.replace(b'"iteration": 2,', b'"iteration": 2, "iteration": 5,'), "slow"),
    "duplicate-key-in-unknown-field.json": (
        _doc(_with("extra", {})).replace(b'"extra": {}', b'"extra": {"a": 1, "a": 2}'),
        "slow",
    ),
    "truncated.json": (GOOD[:200], "slow"),
    "trailing-text.json": (GOOD + b" garbage", "slow"),
    "two-documents-one-line.json": (GOOD + b" " + GOOD, "slow"),
    "second-line-broken.jsonl": (GOOD + b'\n{"a": ', "slow"),
    "array-document.json": (b"[" + GOOD + b"]", "slow"),
    "white-space.json": (b"  \n ", "slow"),
    "not-utf8.json": (b"\xff\xfe" + GOOD, "slow"),
    "invalid-utf8-in-string.json": (GOOD.replace(b'"sto3g"', b'"sto\xff3g"'), "slow"),
}


@pytest.fixture(scope="module")
def case_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fast path")  # a space: Spark's file_path is URL-encoded
    topic = folder / "experiment.vqe"
    topic.mkdir()
    for name, (content, _) in CASES.items():
        (topic / name).write_bytes(content)
    return folder


def _record_values(row) -> dict:
    values = row.asDict(recursive=True)
    return {k: v for k, v in values.items() if k not in ("experiment_id", "object_key")}


def test_both_paths_decide_every_file_alike_with_the_same_reasons_and_values(spark, case_files):
    objects = list_raw_objects(spark, f"file://{case_files}")
    name_of = {o.uri: o.uri.rsplit("/", 1)[-1] for o in objects}
    assert sorted(name_of.values()) == sorted(CASES)

    # Act: the validator alone, and the job's reader (fast path first).
    validator = {name_of[r.object_uri]: r for r in read_json_outcomes(spark, [o.uri for o in objects]).collect()}
    records, outcomes = read_objects(spark, f"file://{case_files}", objects)
    paths = {spark_file_path(spark, o.uri): name_of[o.uri] for o in objects}
    fast_rows = parse_json_files(spark, f"file://{case_files}", sorted(paths)).select("file_path", "accepted").collect()
    decided_fast = {paths[r.file_path]: r.accepted for r in fast_rows}

    # Assess: the same decision and reason for every file, decided by the expected path.
    for name, (_, path) in CASES.items():
        expected = validator[name]
        got = outcomes[next(uri for uri, n in name_of.items() if n == name)]
        assert (got.status, got.reason) == (expected.status, expected.reason), name
        assert decided_fast[name] == (path == "fast"), f"{name} should be decided by the {path} path"
    # ... and the same records with the same values and experiment ids.
    by_key = {}
    for row in records.collect():
        by_key.setdefault(row.object_key.rsplit("/", 1)[-1], []).append(row)
    for name, outcome in validator.items():
        if outcome.status != "accepted":
            assert name not in by_key, name
            continue
        expected = {}
        for experiment, text in zip(outcome.experiment_ids, outcome.records, strict=True):
            expected.setdefault(experiment, json.loads(text))  # an experiment twice in a file: its first record
        got = {row.experiment_id: _record_values(row) for row in by_key[name]}
        assert len(by_key[name]) == len(got), f"{name}: an experiment appears twice"
        assert got == expected, name


def test_the_validator_names_a_duplicate_key_and_both_values(spark, case_files):
    objects = list_raw_objects(spark, f"file://{case_files}")

    _, outcomes = read_objects(spark, f"file://{case_files}", [o for o in objects if "duplicate" in o.uri])

    reasons = {uri.rsplit("/", 1)[-1]: o.reason for uri, o in outcomes.items()}
    assert reasons == {
        "duplicate-key.json": (
            'duplicate key "basis_set" in one JSON object (ambiguous: string "sto3g", then string "6-31g")'
        ),
        "duplicate-nested-key.json": (
            'duplicate key "iteration" in one JSON object (ambiguous: number 2, then number 5)'
        ),
        "duplicate-key-in-unknown-field.json": (
            'duplicate key "a" in one JSON object (ambiguous: number 1, then number 2)'
        ),
    }
