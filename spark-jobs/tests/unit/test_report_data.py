"""The run report's data: the Spark transforms on tiny frames, the sampling, the energy error."""

import datetime as dt
import json

from pyspark.sql import types as T
from pyspark.testing import assertDataFrameEqual

from quantum_pipeline import quality, report_data
from quantum_pipeline.reference_energies import REFERENCES
from quantum_pipeline.report_data import CHEMICAL_ACCURACY_HARTREE, Outcome

ITERATIONS = T.StructType(
    [
        T.StructField("experiment_id", T.StringType(), False),
        T.StructField("molecule_name", T.StringType(), False),
        T.StructField("basis_set", T.StringType(), False),
        T.StructField("optimizer", T.StringType(), False),
        T.StructField("ansatz_type", T.StringType(), False),
        T.StructField("init_strategy", T.StringType(), False),
        T.StructField("iteration_step", T.IntegerType(), False),
        T.StructField("energy", T.DoubleType(), False),
        T.StructField("final_energy", T.DoubleType(), False),
        T.StructField("total_iterations", T.IntegerType(), False),
    ]
)
MOLECULES = T.StructType(
    [
        T.StructField("experiment_id", T.StringType(), False),
        T.StructField("atom_symbols", T.ArrayType(T.StringType(), False), False),
        T.StructField("molecule_name", T.StringType(), False),
        T.StructField("coordinates", T.ArrayType(T.ArrayType(T.DoubleType(), False), False), False),
        T.StructField("multiplicity", T.IntegerType(), False),
        T.StructField("charge", T.IntegerType(), False),
        T.StructField("coordinate_units", T.StringType(), False),
    ]
)
OUTCOMES = T.StructType(
    [
        T.StructField("experiment_id", T.StringType()),
        T.StructField("molecule_name", T.StringType()),
        T.StructField("basis_set", T.StringType()),
        T.StructField("optimizer", T.StringType()),
        T.StructField("ansatz_type", T.StringType()),
        T.StructField("init_strategy", T.StringType()),
        T.StructField("final_energy", T.DoubleType()),
        T.StructField("iterations", T.IntegerType()),
        T.StructField("reference_energy", T.DoubleType()),
    ]
)
H2_GEOMETRY = [[0.0, 0.0, 0.0], [0.0, 0.0, 0.7414]]  # the reference table's H2
H2_STO3G = next(e for e in REFERENCES if e["symbols"] == ["H", "H"] and e["basis"] == "sto3g")["fci_electronic_energy"]
METADATA = T.StructType(
    [
        T.StructField("processing_batch_id", T.StringType(), False),
        T.StructField("processing_name", T.StringType(), False),
        T.StructField("processing_timestamp", T.TimestampType(), False),
        T.StructField("record_counts", T.MapType(T.StringType(), T.LongType()), False),
    ]
)


def curve(eid, molecule, optimizer, energies, ansatz="RealAmplitudes", basis="sto3g"):
    final = energies[-1]
    return [
        (eid, molecule, basis, optimizer, ansatz, "hf", step, e, final, len(energies))
        for step, e in enumerate(energies, start=1)
    ]


def h2_molecule(eid, coordinates=H2_GEOMETRY):
    return (eid, ["H", "H"], "HH", coordinates, 1, 0, "angstrom")


def outcome(eid, energy, optimizer="COBYLA", molecule="H2", ansatz="RealAmplitudes", reference=None):
    return Outcome(eid, molecule, "sto3g", optimizer, ansatz, "hf", energy, 10, reference)


def outcomes_of(spark, iteration_rows, molecule_rows):
    iterations = spark.createDataFrame(iteration_rows, ITERATIONS)
    geometries = report_data.molecule_geometries(spark.createDataFrame(molecule_rows, MOLECULES))
    return report_data.experiment_outcomes(iterations, geometries, quality.reference_frame(spark))


def test_build_from_frames_samples_curves_and_groups(spark):
    # Prepare: 3 H2/COBYLA runs (2 are sampled), 1 H2/SLSQP run, 1 HeH+ run
    rows = (
        curve("e3", "H2", "COBYLA", [-1.0, -1.10, -1.13])
        + curve("e1", "H2", "COBYLA", [-0.9, -1.12, -1.137])
        + curve("e2", "H2", "COBYLA", [-0.8, -1.0])
        + curve("e4", "H2", "SLSQP", [-1.0, -1.1372])
        + curve("e5", "HeH+", "COBYLA", [-2.5, -2.86])
    )
    iterations = spark.createDataFrame(rows, ITERATIONS)
    molecules = [h2_molecule(e) for e in ("e1", "e2", "e3", "e4")]
    metadata = spark.createDataFrame(
        [("b1", "job1", dt.datetime(2026, 1, 1, 2), {"molecules": 5, "vqe_results": 5})], METADATA
    )

    # Act
    data = report_data.build(
        "run-1",
        "m-1",
        "2026-01-01T02:05:00+00:00",
        outcomes_of(spark, rows, molecules).collect(),
        lambda ids: report_data.curve_points(iterations, ids).collect(),
        report_data.recent_runs(metadata).collect(),
    )

    # Assess: groups, samples by id, whole curves in step order
    groups = {(g["molecule"], g["optimizer"]): g for g in data["convergence"]["groups"]}
    assert set(groups) == {("H2", "COBYLA"), ("H2", "SLSQP"), ("HeH+", "COBYLA")}
    cobyla = groups[("H2", "COBYLA")]
    assert cobyla["runs"] == 3
    assert [s["experiment_id"] for s in cobyla["samples"]] == ["e1", "e2"]
    assert cobyla["samples"][0]["points"] == [[1, -0.9], [2, -1.12], [3, -1.137]]
    assert data["experiments"] == 5
    kinds = {(g["molecule"], g["optimizer"]): g["reference_kind"] for g in data["energy_error"]["groups"]}
    assert kinds == {("H2", "COBYLA"): "exact", ("H2", "SLSQP"): "exact", ("HeH+", "COBYLA"): "best_seen"}
    assert data["history"] == [
        {
            "processing_name": "job1",
            "batch_id": "b1",
            "at": "2026-01-01T02:00:00",
            "total_rows": 10,
            "rows": {"molecules": 5, "vqe_results": 5},
        }
    ]
    assert json.loads(json.dumps(data, allow_nan=False)) == data


def test_recent_runs_keeps_the_newest_per_job(spark):
    # Prepare: 4 runs of job1, 2 of job2
    rows = [(f"b{i}", "job1", dt.datetime(2026, 1, i + 1), {"t": i}) for i in range(4)] + [
        (f"m{i}", "job2", dt.datetime(2026, 1, i + 1), {"t": 1}) for i in range(2)
    ]
    metadata = spark.createDataFrame(rows, METADATA)

    # Act
    recent = report_data.recent_runs(metadata, limit=2).collect()

    # Assess
    assert sorted(r.processing_batch_id for r in recent) == ["b2", "b3", "m0", "m1"]


def test_energy_error_against_the_best_seen_without_a_reference():
    # Prepare
    outcomes = [outcome("a", -1.137), outcome("b", -1.130), outcome("c", -1.1365, "SLSQP")]

    # Act
    result = report_data.energy_errors(outcomes)

    # Assess: COBYLA holds the best energy; b is 7 mHa above it, c within chemical accuracy
    cobyla, slsqp = result["groups"]
    assert cobyla["reference_kind"] == "best_seen"
    assert cobyla["reference_energy"] == -1.137
    assert cobyla["best_error"] == 0
    assert cobyla["within_chemical_accuracy"] == 1
    assert abs(cobyla["median_error"] - 0.0035) < 1e-12
    assert slsqp["within_chemical_accuracy"] == 1
    assert result["chemical_accuracy_hartree"] == CHEMICAL_ACCURACY_HARTREE


def test_outcomes_carry_the_exact_reference_of_a_matching_geometry_and_basis(spark):
    # Prepare: H2 at the reference geometry in sto3g and spelled STO-3G, H2 stretched by 1e-3
    # angstrom, H2 in a basis without a reference, and a run without a molecules row
    stretched = [[0.0, 0.0, 0.0], [0.0, 0.0, 0.7414 + 1e-3]]
    iterations = (
        curve("exact", "HH", "COBYLA", [-1.0, -1.85])
        + curve("spelled", "HH", "COBYLA", [-1.84], basis="STO-3G")
        + curve("stretched", "HH", "COBYLA", [-1.83])
        + curve("unknown-basis", "HH", "COBYLA", [-1.82], basis="sto6g")
        + curve("no-molecule", "HH", "COBYLA", [-1.81])
    )
    molecules = [h2_molecule("exact"), h2_molecule("spelled"), h2_molecule("stretched", stretched)]
    molecules.append(h2_molecule("unknown-basis"))

    # Act
    actual = outcomes_of(spark, iterations, molecules)

    # Assess
    expected = spark.createDataFrame(
        [
            ("exact", "HH", "sto3g", "COBYLA", "RealAmplitudes", "hf", -1.85, 2, H2_STO3G),
            ("spelled", "HH", "STO-3G", "COBYLA", "RealAmplitudes", "hf", -1.84, 1, H2_STO3G),
            ("stretched", "HH", "sto3g", "COBYLA", "RealAmplitudes", "hf", -1.83, 1, None),
            ("unknown-basis", "HH", "sto6g", "COBYLA", "RealAmplitudes", "hf", -1.82, 1, None),
            ("no-molecule", "HH", "sto3g", "COBYLA", "RealAmplitudes", "hf", -1.81, 1, None),
        ],
        OUTCOMES,
    )
    assertDataFrameEqual(actual, expected)


def test_energy_error_against_an_exact_reference():
    # Prepare: the exact reference is 1 mHa and 3 mHa below the two runs
    outcomes = [outcome("a", -1.136, reference=-1.137), outcome("b", -1.134, reference=-1.137)]

    # Act
    (group,) = report_data.energy_errors(outcomes)["groups"]

    # Assess
    assert group["reference_kind"] == "exact"
    assert group["reference_energy"] == -1.137
    assert group["best_energy"] == -1.136
    assert abs(group["best_error"] - 0.001) < 1e-12
    assert abs(group["median_error"] - 0.002) < 1e-12
    assert group["within_chemical_accuracy"] == 1


def test_a_group_with_one_run_lacking_a_reference_falls_back_to_the_best_seen():
    # Prepare: COBYLA has one run without a reference; SLSQP's runs all have one
    outcomes = [
        outcome("a", -1.130, reference=-1.137),
        outcome("b", -1.135),
        outcome("c", -1.136, "SLSQP", reference=-1.137),
    ]

    # Act
    cobyla, slsqp = report_data.energy_errors(outcomes)["groups"]

    # Assess: COBYLA against the lowest energy of H2 in this run (SLSQP's), SLSQP against FCI
    assert cobyla["reference_kind"] == "best_seen"
    assert cobyla["reference_energy"] == -1.136
    assert abs(cobyla["best_error"] - 0.001) < 1e-12
    assert slsqp["reference_kind"] == "exact"
    assert slsqp["reference_energy"] == -1.137


def test_each_run_is_measured_against_its_own_geometry_reference():
    # Prepare: two geometries under one molecule name; run a is the lower energy but 5 mHa above
    # its reference, run b 1 mHa above its own
    outcomes = [outcome("a", -1.140, reference=-1.145), outcome("b", -1.120, reference=-1.121)]

    # Act
    (group,) = report_data.energy_errors(outcomes)["groups"]

    # Assess: the best run is the one closest to its own reference, and its numbers agree
    assert group["reference_kind"] == "exact"
    assert group["best_energy"] == -1.120 and group["reference_energy"] == -1.121
    assert abs(group["best_error"] - 0.001) < 1e-12
    assert abs(group["best_energy"] - group["reference_energy"] - group["best_error"]) < 1e-12
    assert abs(group["median_error"] - 0.003) < 1e-12
    assert group["within_chemical_accuracy"] == 1


def test_sampling_caps_groups_and_samples():
    # Prepare: 5 optimizers x 4 runs
    outcomes = [outcome(f"{o}-{i}", -1.0, optimizer=o) for o in "ABCDE" for i in range(4)]

    # Act
    samples = report_data.sample_experiments(outcomes, per_group=2, max_groups=3)

    # Assess
    assert [g[2] for g in samples] == ["A", "B", "C"]
    assert all(len(chosen) == 2 for chosen in samples.values())


def test_downsample_keeps_ends_and_caps_points():
    # Prepare
    points = [(i, float(-i)) for i in range(1000)]

    # Act
    cut = report_data.downsample(points, max_points=50)

    # Assess
    assert len(cut) == 50
    assert cut[0] == (0, 0.0) and cut[-1] == (999, -999.0)
    assert report_data.downsample(points[:10], max_points=50) == points[:10]


def test_non_finite_energies_are_left_out():
    # Prepare
    rows = [
        {
            "experiment_id": "x",
            "molecule_name": "H2",
            "basis_set": "sto3g",
            "optimizer": "COBYLA",
            "ansatz_type": "R",
            "init_strategy": "hf",
            "final_energy": float("nan"),
            "iterations": 3,
            "reference_energy": None,
        }
    ]

    # Act / Assess
    assert report_data.to_outcomes(rows) == []


def test_location_is_beside_the_run_summary():
    assert (
        report_data.report_data_location("s3a://features/pipeline-runs/", "ml_feature_processing", "r-1")
        == "s3a://features/pipeline-runs/ml_feature_processing/r-1.report-data.json"
    )
