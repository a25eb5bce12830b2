"""Reading raw objects: per-file outcomes for JSON and Avro, topics and formats from keys."""

import json

import pytest

from quantum_pipeline.raw_io import (
    describe_object,
    is_readable,
    list_raw_objects,
    read_avro_outcomes,
    read_json_outcomes,
    records_from_outcomes,
    unreadable_outcomes,
)
from quantum_pipeline.record_spec import RECORD_SCHEMA
from quantum_pipeline.validation import experiment_id, validate_record
from support import base_record, records_frame


@pytest.mark.parametrize(
    "uri, topic, file_format",
    [
        ("s3a://raw-results/experiments/experiment.vqe/0001-17.json", "experiment.vqe", "json"),
        ("s3a://raw-results/experiments/experiment.vqe/batch.AVRO", "experiment.vqe", "avro"),
        ("s3a://raw-results/experiments/other/x.jsonl", "other", "json"),
        ("s3a://raw-results/experiments/other/notes.txt", "other", "unsupported"),
        ("s3a://raw-results/experiments/loose.json", "", "json"),
    ],
)
def test_describe_object(uri, topic, file_format):
    described = describe_object(uri, '"abc"', 10, "s3a://raw-results/experiments")

    assert (described.topic, described.file_format, described.etag) == (topic, file_format, "abc")
    assert described.key == uri.split("s3a://raw-results/", 1)[1]


def test_json_outcomes_accept_good_files_and_reject_bad_ones_with_reasons(spark, tmp_path):
    files = {
        "good.json": json.dumps(base_record()).encode(),
        "two.jsonl": (json.dumps(base_record()) + "\n" + json.dumps(base_record(basis_set="6-31g"))).encode(),
        "object.json": b"{}",
    }
    for name, body in files.items():
        (tmp_path / name).write_bytes(body)
    uris = [f"file://{tmp_path / name}" for name in files]

    outcomes = {r.object_uri.rsplit("/", 1)[-1]: r for r in read_json_outcomes(spark, uris).collect()}

    assert outcomes["good.json"].status == "accepted"
    assert outcomes["good.json"].experiment_ids == [experiment_id(validate_record(base_record()))]
    assert outcomes["two.jsonl"].status == "accepted" and len(outcomes["two.jsonl"].records) == 2
    assert outcomes["object.json"].reason == "vqe_result: required field is missing"


def test_empty_and_unsupported_objects_are_rejected_without_reading(spark):
    root = "s3a://raw-results/experiments"
    empty = describe_object(f"{root}/t/empty.json", "e", 0, root)
    notes = describe_object(f"{root}/t/notes.txt", "n", 5, root)
    good = describe_object(f"{root}/t/good.json", "g", 5, root)

    reasons = {r.object_uri.rsplit("/", 1)[-1]: r.reason for r in unreadable_outcomes(spark, [empty, notes]).collect()}

    assert [is_readable(o) for o in (empty, notes, good)] == [False, False, True]
    assert reasons == {
        "empty.json": "empty file (0 bytes)",
        "notes.txt": "unsupported file type 'notes.txt' (expected .json, .jsonl or .avro)",
    }


def test_avro_input_goes_through_the_same_validation(spark, tmp_path):
    frame = records_frame(spark, [base_record(), base_record(basis_set="6-31g")])
    frame.select(*[f.name for f in RECORD_SCHEMA.fields]).coalesce(1).write.format("avro").save(str(tmp_path / "a"))
    avro_file = next((tmp_path / "a").glob("part-*.avro"))
    corrupt = tmp_path / "corrupt.avro"
    corrupt.write_bytes(b"Obj\x01 definitely not avro")

    outcomes = {
        r.object_uri.rsplit("/", 1)[-1]: r
        for r in read_avro_outcomes(spark, [f"file://{avro_file}", f"file://{corrupt}"]).collect()
    }

    accepted = outcomes[avro_file.name]
    assert accepted.status == "accepted" and len(accepted.records) == 2
    # Avro 1.12.0 would read this non-null double array through float (0.7400000095367432).
    assert json.loads(accepted.records[0])["molecule"]["molecule_data"]["coords"][1][2] == 0.74
    assert set(accepted.experiment_ids) == {
        experiment_id(validate_record(r)) for r in (base_record(), base_record(basis_set="6-31g"))
    }
    assert outcomes["corrupt.avro"].status == "rejected"
    assert outcomes["corrupt.avro"].reason.startswith("unreadable Avro file")


def test_records_from_outcomes_yield_typed_rows_with_their_key(spark, tmp_path):
    (tmp_path / "good.json").write_bytes(json.dumps(base_record()).encode())
    uri = f"file:{tmp_path / 'good.json'}"  # how Hadoop names it in both the listing and the read
    outcomes = read_json_outcomes(spark, [uri])
    keys = spark.createDataFrame([(uri, "experiments/t/good.json")], "object_uri string, object_key string")

    row = records_from_outcomes(outcomes, keys).first()

    assert row.object_key == "experiments/t/good.json"
    assert row.vqe_result.iteration_list[1].result == -1.5
    assert row.molecule.molecule_data.symbols == ["H", "H"]


def test_listing_a_local_folder_uses_a_size_and_mtime_token(spark, tmp_path):
    (tmp_path / "experiment.vqe").mkdir()
    (tmp_path / "experiment.vqe" / "a.json").write_bytes(b"{}")

    [listed] = list_raw_objects(spark, f"file://{tmp_path}")

    assert listed.topic == "experiment.vqe" and listed.size == 2
    assert listed.key == f"{tmp_path}/experiment.vqe/a.json".lstrip("/")
    assert listed.etag.startswith("size:2:mtime:")


def test_listing_a_missing_root_is_empty(spark, tmp_path):
    assert list_raw_objects(spark, f"file://{tmp_path}/nothing-here") == []


def test_the_listing_digest_depends_on_keys_and_etags_not_on_order():
    from quantum_pipeline.ledger import listing_digest

    a = describe_object("s3a://raw/experiments/t/a.json", '"e1"', 10, "s3a://raw/experiments")
    b = describe_object("s3a://raw/experiments/t/b.json", '"e2"', 20, "s3a://raw/experiments")
    b_changed = describe_object("s3a://raw/experiments/t/b.json", '"e3"', 20, "s3a://raw/experiments")

    assert listing_digest([a, b]) == listing_digest([b, a])
    assert listing_digest([a, b]) != listing_digest([a, b_changed])
    assert listing_digest([a, b]) != listing_digest([a])
    assert len(listing_digest([])) == 64
