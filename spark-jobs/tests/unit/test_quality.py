"""The data-quality gates: each fires on data that should trip it and stays quiet on clean data."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import Row
from pyspark.sql import types as T
from pyspark.testing import assertDataFrameEqual

from quantum_pipeline import features, ml_features, quality
from quantum_pipeline.reference_energies import REFERENCES
from quantum_pipeline.run_summary import FINDING_OFFENDING_LIMIT, FINDING_TEXT_LIMIT, Finding, QuarantinedFile
from quantum_pipeline.validation import experiment_id, validate_record
from support import base_record, records_frame

JOB1 = features.BatchContext("b-1", dt.datetime(2026, 1, 2), "job1")
H2_GEOMETRY = [[0.0, 0.0, 0.0], [0.0, 0.0, 0.7414]]  # mini-vqe/molecules/cpu.json, molecule 0
H2_STO3G = next(e for e in REFERENCES if e["symbols"] == ["H", "H"] and e["basis"] == "sto3g")
VIOLATION_SCHEMA = T.StructType(
    [
        T.StructField("experiment_id", T.StringType()),
        T.StructField("object_key", T.StringType()),
        T.StructField("reference", T.StringType()),
        T.StructField("minimum_energy", T.DoubleType()),
        T.StructField("reference_energy", T.DoubleType()),
        T.StructField("below_by", T.DoubleType()),
    ]
)
DROPS_SCHEMA = T.StructType(
    [
        T.StructField("incomplete_rows", T.LongType(), False),
        T.StructField("incomplete_experiments", T.IntegerType(), False),
        T.StructField("incomplete_sample", T.ArrayType(T.StringType(), False)),
        T.StructField("fan_out_rows", T.LongType()),
        T.StructField("fan_out_experiments", T.IntegerType(), False),
        T.StructField("fan_out_sample", T.ArrayType(T.StringType(), False)),
    ]
)


def h2(minimum: float, **overrides) -> dict:
    """An H2 record at the cpu lane's geometry, in sto3g, with this minimum (electronic) energy."""
    return base_record(**{"molecule.molecule_data.coords": H2_GEOMETRY, "vqe_result.minimum": minimum, **overrides})


def eid(raw: dict) -> str:
    return experiment_id(validate_record(raw))


# ----------------------------------------------------------------------------------------------
# physics: a minimum below the exact (FCI) energy of its molecule and basis
# ----------------------------------------------------------------------------------------------
def test_a_minimum_below_fci_is_a_violation_and_one_above_is_not(spark):
    # Prepare
    reference = H2_STO3G["fci_electronic_energy"]
    impossible, fine = h2(reference - 0.25), h2(reference + 0.01, **{"vqe_result.initial_data.seed": 8})
    records = records_frame(spark, [impossible, fine])

    # Act
    actual = quality.energy_violations(records, quality.reference_frame(spark))

    # Assess
    expected = spark.createDataFrame(
        [(eid(impossible), "k0", H2_STO3G["key"], reference - 0.25, reference, (reference - 0.25) - reference)],
        VIOLATION_SCHEMA,
    )
    assertDataFrameEqual(actual, expected)


def test_within_the_tolerance_is_not_a_violation(spark):
    # Prepare: 0.5 micro-Hartree below FCI is rounding, not physics
    records = records_frame(spark, [h2(H2_STO3G["fci_electronic_energy"] - 5e-7)])

    # Act
    actual = quality.energy_violations(records, quality.reference_frame(spark))

    # Assess
    assert actual.count() == 0


@pytest.mark.parametrize(
    "override",
    [
        {"molecule.molecule_data.coords": [[0.0, 0.0, 0.0], [0.0, 0.0, 0.74]]},  # another geometry
        {"molecule.molecule_data.charge": 1, "molecule.molecule_data.multiplicity": 2},  # H2+
        {"molecule.molecule_data.units": "bohr"},  # the same numbers in bohr: another molecule
        {"basis_set": "sto6g"},  # no reference for this basis
    ],
)
def test_a_run_without_a_reference_is_not_judged(spark, override):
    # Prepare
    records = records_frame(spark, [h2(-10.0, **override)])

    # Act
    actual = quality.energy_violations(records, quality.reference_frame(spark))

    # Assess
    assert actual.count() == 0


def test_basis_names_match_without_case_or_separators(spark):
    # Prepare
    records = records_frame(spark, [h2(-10.0, basis_set="STO-3G"), h2(-10.0, basis_set="cc_pVDZ")])

    # Act
    violations = quality.energy_violations(records, quality.reference_frame(spark))
    references = sorted(r.reference for r in violations.collect())

    # Assess
    assert [r.rsplit("| ", 1)[-1] for r in references] == ["cc-pvdz", "sto3g"]
    assert quality.basis_key("6-31G*") == "631g*"


RUNS_SCHEMA = T.StructType(
    [
        T.StructField("experiment_id", T.StringType(), False),
        T.StructField("symbols_key", T.StringType(), False),
        T.StructField("units", T.StringType(), False),
        T.StructField("charge", T.IntegerType(), False),
        T.StructField("multiplicity", T.IntegerType(), False),
        T.StructField("basis_key", T.StringType(), False),
        T.StructField("coords", T.ArrayType(T.DoubleType(), False), False),
    ]
)
MATCHED_SCHEMA = T.StructType(
    [*RUNS_SCHEMA.fields, T.StructField("reference_energy", T.DoubleType()), T.StructField("reference", T.StringType())]
)


def geometry_runs(spark) -> tuple:
    flat = [v for row in H2_GEOMETRY for v in row]
    off = [*flat[:-1], flat[-1] + 1e-3]
    rows = [
        ("same", "H H", "angstrom", 0, 1, quality.basis_key("STO-3G"), flat),
        ("off", "H H", "angstrom", 0, 1, "sto3g", off),
        ("cation", "H H", "angstrom", 1, 2, "sto3g", flat),
    ]
    return rows, spark.createDataFrame(rows, RUNS_SCHEMA)


def test_match_references_gives_a_matching_geometry_its_reference(spark):
    # Prepare: H2 at the reference geometry (basis spelled STO-3G), 1e-3 angstrom off, and H2+
    rows, runs = geometry_runs(spark)

    # Act
    matched = quality.match_references(runs, quality.reference_frame(spark))

    # Assess: only the exact geometry, charge and (normalised) basis match
    expected = [(*rows[0], H2_STO3G["fci_electronic_energy"], H2_STO3G["key"])]
    assertDataFrameEqual(matched, spark.createDataFrame(expected, MATCHED_SCHEMA))


def test_a_left_match_keeps_every_run_with_null_where_none_matches(spark):
    # Prepare
    rows, runs = geometry_runs(spark)

    # Act
    matched = quality.match_references(runs, quality.reference_frame(spark), how="left")

    # Assess
    expected = [(*rows[0], H2_STO3G["fci_electronic_energy"], H2_STO3G["key"])] + [(*r, None, None) for r in rows[1:]]
    assertDataFrameEqual(matched, spark.createDataFrame(expected, MATCHED_SCHEMA))


def test_the_worst_violations_come_first_with_the_total(spark):
    # Prepare
    rows = [Row(experiment_id=f"e{i}", below_by=-1.0 - i) for i in range(3)] + [Row(experiment_id="d", below_by=-3.0)]

    # Act
    worst = quality.worst_violations(rows, limit=2)

    # Assess
    assert [w.experiment_id for w in worst] == ["d", "e2"]


def test_the_reference_frame_holds_the_table_exactly(spark):
    # Act
    frame = quality.reference_frame(spark).collect()

    # Assess
    assert [(r.reference, r.reference_energy) for r in frame] == [
        (e["key"], e["fci_electronic_energy"]) for e in REFERENCES
    ]
    assert frame[0].reference_coords == [0.0, 0.0, 0.0, 0.0, 0.0, 0.7414]
    declared = T._parse_datatype_string(quality.REFERENCE_SCHEMA)  # noqa: SLF001 - PySpark's own DDL parser
    assert quality.reference_frame(spark).schema.simpleString() == declared.simpleString()


def test_the_energy_finding_names_the_worst_run_and_is_quiet_without_violations(spark):
    # Prepare
    records = records_frame(spark, [h2(-2.0), h2(-1.5)])

    # Act
    violations = quality.check_energies(spark, records)
    finding = quality.energy_finding(violations)

    # Assess
    assert quality.energy_finding([]) is None
    assert finding.gate == "energy_below_exact" and finding.severity == "error"
    assert finding.offending == [eid(h2(-2.0))] and finding.offending_total == 1
    assert "minimum -2.0000000000 Ha, FCI electronic energy -1.8510241683 Ha" in finding.message
    assert H2_STO3G["key"] in finding.message


# ----------------------------------------------------------------------------------------------
# quarantine and volume reconciliation (job 1)
# ----------------------------------------------------------------------------------------------
def test_quarantined_files_are_a_warning_naming_them():
    # Prepare
    files = [QuarantinedFile(f"experiments/x/{i}.json", "e", "empty file (0 bytes)") for i in range(25)]

    # Act
    finding = quality.quarantine_finding(files, 130)

    # Assess
    assert quality.quarantine_finding([], 0) is None
    assert finding.severity == "warning" and finding.offending_total == 130
    assert finding.offending == [f.key for f in files[:FINDING_OFFENDING_LIMIT]]
    assert finding.message.endswith("first: experiments/x/0.json: empty file (0 bytes)")


@pytest.mark.parametrize(
    "files",
    [
        {"listed": 10, "already_known": 5, "deferred": 2, "in_batch": 3, "ingested": 2, "quarantined": 1},
        {"listed": None, "already_known": None, "deferred": None, "in_batch": 3, "ingested": 3, "quarantined": 0},
        {"listed": 4, "already_known": 4, "deferred": 0, "in_batch": 0, "ingested": 0, "quarantined": 0},
    ],
)
def test_counts_that_add_up_are_quiet(files):
    assert quality.reconciliation_finding(files, []) is None


def test_counts_that_do_not_add_up_are_an_error_naming_the_numbers():
    # Prepare: the listing has one file more than the ledger, the deferral and the batch explain
    files = {"listed": 11, "already_known": 5, "deferred": 2, "in_batch": 3, "ingested": 2, "quarantined": 1}
    lost = {"listed": 3, "already_known": 0, "deferred": 0, "in_batch": 3, "ingested": 1, "quarantined": 1}

    # Act
    listing = quality.reconciliation_finding(files, [])
    batch = quality.reconciliation_finding(lost, ["experiments/x/lost.json"])

    # Assess
    assert listing.severity == "error" and listing.offending == []
    assert "11 files listed but 5 already known + 2 deferred + 2 ingested + 1 quarantined = 10" in listing.message
    assert "the batch holds 3 files but 1 ingested + 1 quarantined" in batch.message
    assert batch.offending == ["experiments/x/lost.json"] and batch.offending_total == 1


def test_a_finding_caps_its_texts_and_its_list():
    # Act
    finding = Finding.of("g", "warning", "m" * 5000, ["k" * 5000] * 50, 50)

    # Assess
    assert len(finding.message) == FINDING_TEXT_LIMIT and finding.message.endswith("\u2026")
    assert len(finding.offending) == FINDING_OFFENDING_LIMIT
    assert {len(o) for o in finding.offending} == {FINDING_TEXT_LIMIT}


# ----------------------------------------------------------------------------------------------
# rows dropped by job 2: NULL context and fan-out
# ----------------------------------------------------------------------------------------------
def joined_iterations(spark, raw_records, drop_molecule_of=None, duplicate_results=False):
    base = {spec.name: t(records_frame(spark, raw_records), JOB1) for spec, t in features.FEATURE_TRANSFORMS}
    molecules = base["molecules"]
    if drop_molecule_of:
        molecules = molecules.where(molecules.experiment_id != drop_molecule_of)
    results = base["vqe_results"]
    if duplicate_results:
        results = results.unionByName(results)
    context = ml_features.with_context_multiplicity(
        ml_features.experiment_context(results, base["ansatz_info"], molecules, base["performance_metrics"])
    )
    return ml_features.join_iterations(base["vqe_iterations"], context), context


def test_clean_context_drops_nothing(spark):
    # Prepare
    joined, _ = joined_iterations(spark, [base_record()])

    # Act
    drops = quality.dropped_rows(joined)

    # Assess
    assertDataFrameEqual(drops, spark.createDataFrame([(0, 0, [], 0, 0, [])], DROPS_SCHEMA))
    assert quality.dropped_rows_finding(drops.first()) is None


def test_rows_without_a_molecule_are_counted_and_named(spark):
    # Prepare
    lost = base_record(basis_set="6-31g")
    joined, _ = joined_iterations(spark, [base_record(), lost], drop_molecule_of=eid(lost))

    # Act
    drops = quality.dropped_rows(joined)

    # Assess
    assertDataFrameEqual(drops, spark.createDataFrame([(3, 1, [eid(lost)], 0, 0, [])], DROPS_SCHEMA))
    finding = quality.dropped_rows_finding(drops.first())
    assert finding.severity == "warning" and finding.offending == [eid(lost)] and finding.offending_total == 1
    assert finding.message.startswith("job 2 dropped 3 iteration row(s) of 1 experiment(s) with a NULL")


def test_a_fanned_out_experiment_is_counted_once_per_iteration_and_dropped(spark):
    # Prepare: vqe_results holds the experiment twice, so the join doubles its 3 iterations
    joined, context = joined_iterations(spark, [base_record()], duplicate_results=True)

    # Act
    drops = quality.dropped_rows(joined)
    kept_rows = joined.where(ml_features.usable_rows(joined)).count()
    kept_runs = context.where(ml_features.usable_rows(context)).count()

    # Assess
    assert joined.count() == 6
    assertDataFrameEqual(drops, spark.createDataFrame([(0, 0, [], 3, 1, [eid(base_record())])], DROPS_SCHEMA))
    assert kept_rows == 0 and kept_runs == 0
    finding = quality.dropped_rows_finding(drops.first())
    assert finding.severity == "error" and "not unique" in finding.message


def test_the_dropped_rows_finding_sums_both_causes():
    # Prepare
    drops = Row(
        incomplete_rows=4,
        incomplete_experiments=2,
        incomplete_sample=["a", "b"],
        fan_out_rows=3,
        fan_out_experiments=1,
        fan_out_sample=["c"],
    )

    # Act
    finding = quality.dropped_rows_finding(drops)

    # Assess
    assert finding.offending == ["c", "a", "b"] and finding.offending_total == 3
    assert " and 3 iteration row(s) of 1 experiment(s) whose context is not unique" in finding.message
