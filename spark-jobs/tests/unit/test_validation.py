"""Record validation, normalisation, parsing and experiment identity (pure Python)."""

import json

import pytest

from quantum_pipeline.validation import (
    RecordError,
    experiment_id,
    parse_json_documents,
    validate_documents,
    validate_record,
)
from support import base_record


def test_valid_record_keeps_values_and_drops_unknown_fields():
    raw = base_record()
    raw["extra_field_from_a_newer_producer"] = 1

    record = validate_record(raw)

    assert record["vqe_result"]["iteration_list"][1]["result"] == -1.5
    assert "extra_field_from_a_newer_producer" not in record


def test_defaults_fill_absent_or_null_fields():
    raw = base_record()
    init = raw["vqe_result"]["initial_data"]
    del init["init_strategy"], init["exact_estimator"]
    init["ansatz_name"] = None

    init_out = validate_record(raw)["vqe_result"]["initial_data"]

    assert (init_out["init_strategy"], init_out["ansatz_name"], init_out["exact_estimator"]) == (
        "random",
        "EfficientSU2",
        False,
    )


def test_absent_nullable_fields_become_null():
    raw = base_record()
    del raw["vqe_result"]["maxcv"], raw["molecule"]["molecule_data"]["masses"], raw["performance_start"]

    record = validate_record(raw)

    assert record["vqe_result"]["maxcv"] is None
    assert record["molecule"]["molecule_data"]["masses"] is None
    assert record["performance_start"] is None


@pytest.mark.parametrize(
    "path, value, message",
    [
        ("vqe_result.minimum", "low", 'vqe_result.minimum: expected a number, got string "low"'),
        ("molecule_id", 1.5, "molecule_id: expected a whole number, got number 1.5"),
        ("molecule_id", True, "molecule_id: expected a whole number, got boolean true"),
        ("vqe_result.initial_data.num_qubits", 2**31, "vqe_result.initial_data.num_qubits: out of range for a int"),
        ("vqe_result.minimum", float("nan"), "vqe_result.minimum: expected a finite number, got number NaN"),
        ("basis_set", None, "basis_set: required field is null"),
        ("vqe_result.success", "yes", 'vqe_result.success: expected true or false, got string "yes"'),
        ("molecule.molecule_data.symbols", "HH", 'molecule.molecule_data.symbols: expected an array, got string "HH"'),
    ],
)
def test_type_errors_name_the_field_and_the_value(path, value, message):
    with pytest.raises(RecordError) as caught:
        validate_record(base_record(**{path: value}))

    assert str(caught.value).startswith(message)


def test_error_inside_an_array_names_the_position():
    raw = base_record()
    raw["vqe_result"]["iteration_list"][2]["std"] = "n/a"

    with pytest.raises(RecordError, match=r"vqe_result\.iteration_list\[2\]\.std: expected a number"):
        validate_record(raw)


def test_empty_object_is_missing_its_first_required_field():
    with pytest.raises(RecordError, match=r"^vqe_result: required field is missing$"):
        validate_record({})


@pytest.mark.parametrize(
    "path, value, message",
    [
        ("molecule.molecule_data.coords", [[0.0, 0.0, 0.0]], "expected 2 rows"),
        ("molecule.molecule_data.coords", [[0.0, 0.0], [0.0, 0.0, 1.0]], r"coords\[0\]: expected 3 coordinates"),
        ("molecule.molecule_data.masses", [1.0], "expected 2 masses"),
        ("molecule.molecule_data.symbols", [], "at least one atom"),
    ],
)
def test_structure_errors(path, value, message):
    with pytest.raises(RecordError, match=message):
        validate_record(base_record(**{path: value}))


def test_duplicate_iteration_numbers_are_rejected():
    raw = base_record()
    raw["vqe_result"]["iteration_list"][2]["iteration"] = 2

    with pytest.raises(RecordError, match=r"iteration_list\[2\]\.iteration: iteration numbers must be unique"):
        validate_record(raw)


def test_experiment_id_is_stable_across_formatting_and_defaults():
    explicit = base_record(**{"vqe_result.initial_data.init_strategy": "random"})
    implicit = base_record()
    del implicit["vqe_result"]["initial_data"]["init_strategy"]
    implicit["molecule"]["molecule_data"]["coords"] = [[0, 0, 0], [0, 0, 0.74]]  # ints for doubles
    reordered = json.loads(json.dumps(explicit, sort_keys=True))

    ids = {experiment_id(validate_record(r)) for r in (explicit, implicit, reordered)}

    assert len(ids) == 1
    assert len(ids.pop()) == 64


def test_experiment_id_changes_with_what_defines_the_simulation():
    a = experiment_id(validate_record(base_record()))
    other_seed = experiment_id(validate_record(base_record(**{"vqe_result.initial_data.seed": 8})))
    other_basis = experiment_id(validate_record(base_record(basis_set="6-31g")))
    other_result_only = experiment_id(validate_record(base_record(**{"vqe_result.minimum": -9.0})))

    assert len({a, other_seed, other_basis}) == 3
    assert other_result_only == a  # results do not define the experiment


def test_parse_single_pretty_printed_document():
    content = json.dumps(base_record(), indent=2).encode()

    assert len(parse_json_documents(content)) == 1


def test_parse_json_lines_gives_several_documents():
    content = (json.dumps({"a": 1}) + "\n\n" + json.dumps({"a": 2}) + "\n").encode()

    assert parse_json_documents(content) == [{"a": 1}, {"a": 2}]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty file (0 bytes)"),
        (b"  \n ", "file holds only white space"),
        (b'{"vqe_result": {"minimum": ', "invalid JSON at line 1 column 28: Expecting value"),
        (b'{"a": 1}\n{"a": ', "invalid JSON on line 2 column 7"),
        (b"\xff\xfe{}", "not UTF-8 text (byte 0)"),
    ],
)
def test_parse_errors_are_reasons(content, message):
    with pytest.raises(RecordError) as caught:
        parse_json_documents(content)

    assert str(caught.value) == message or str(caught.value).startswith(message)


def test_one_bad_record_rejects_the_file_and_names_its_position():
    documents = [base_record(), base_record(basis_set=3)]

    with pytest.raises(RecordError, match=r"^record 2 of 2: basis_set: expected a string, got number 3$"):
        validate_documents(documents)
