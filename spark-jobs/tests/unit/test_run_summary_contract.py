"""The run summary the jobs write against the golden fixture the TypeScript Lambdas also check.

test/fixtures/run-summary.json is one summary as job 1 writes it, every field present. Here it is
rebuilt the way feature_job.run builds it and serialized with RunSummary.to_json; vitest parses the
same file with the zod schema RunSummary (test/feature-pipeline/run-summary-contract.test.ts). A
field added, renamed or retyped on either side fails one of the two.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

from quantum_pipeline.quality import quarantine_finding
from quantum_pipeline.run_summary import Finding, QuarantinedFile, RunSummary

FIXTURE = Path(__file__).resolve().parents[3] / "test" / "fixtures" / "run-summary.json"


def fixture() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def summary_from(values: dict) -> RunSummary:
    """The fixture's values through the constructor and methods the job uses, in its order."""
    summary = RunSummary(
        job=values["job"],
        run_id=values["run_id"],
        batch_id=values["batch_id"],
        status=values["status"],
        started_at=values["started_at"],
        resumed_batch=values["resumed_batch"],
        new_rows=values["new_rows"],
        tags=values["tags"],
        files=values["files"],
        details=values["details"],
    )
    summary.add_quarantined([QuarantinedFile(**item) for item in values["quarantined"]])
    summary.findings = [quarantine_finding(summary.quarantined, summary.quarantined_total)]
    summary.finished_at = values["finished_at"]
    summary.duration_seconds = values["duration_seconds"]
    return summary


def test_the_fixture_has_every_field_of_the_dataclasses_and_no_other():
    expected = fixture()

    assert set(expected) == {f.name for f in fields(RunSummary)}
    assert expected["quarantined"], "the fixture lists at least one quarantined file"
    for item in expected["quarantined"]:
        assert set(item) == {f.name for f in fields(QuarantinedFile)}
    assert expected["findings"], "the fixture holds at least one data-quality finding"
    for item in expected["findings"]:
        assert set(item) == {f.name for f in fields(Finding)}


def test_the_summary_serializes_to_the_fixture_key_for_key_and_type_for_type():
    expected = fixture()

    text = summary_from(expected).to_json()

    # The exact text compares types too (1 and 1.0, or false and 0, print differently).
    assert json.loads(text) == expected
    assert text == json.dumps(expected, sort_keys=True, separators=(",", ":"))
