"""The run report's data: the Spark transforms on tiny frames, the sampling, the energy error."""

import datetime as dt
import json

from pyspark.sql import types as T

from quantum_pipeline import report_data
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
METADATA = T.StructType(
    [
        T.StructField("processing_batch_id", T.StringType(), False),
        T.StructField("processing_name", T.StringType(), False),
        T.StructField("processing_timestamp", T.TimestampType(), False),
        T.StructField("record_counts", T.MapType(T.StringType(), T.LongType()), False),
    ]
)


def curve(eid, molecule, optimizer, energies, ansatz="RealAmplitudes"):
    final = energies[-1]
    return [
        (eid, molecule, "sto3g", optimizer, ansatz, "hf", step, e, final, len(energies))
        for step, e in enumerate(energies, start=1)
    ]


def outcome(eid, energy, optimizer="COBYLA", molecule="H2", ansatz="RealAmplitudes"):
    return Outcome(eid, molecule, "sto3g", optimizer, ansatz, "hf", energy, 10)


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
    metadata = spark.createDataFrame(
        [("b1", "job1", dt.datetime(2026, 1, 1, 2), {"molecules": 5, "vqe_results": 5})], METADATA
    )

    # Act
    data = report_data.build(
        "run-1",
        "m-1",
        "2026-01-01T02:05:00+00:00",
        report_data.experiment_outcomes(iterations).collect(),
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


def test_energy_error_against_an_exact_reference():
    # Prepare: the exact reference is 1 mHa and 3 mHa below the two runs
    outcomes = [outcome("a", -1.136), outcome("b", -1.134)]

    # Act
    (group,) = report_data.energy_errors(outcomes, {("H2", "sto3g"): -1.137})["groups"]

    # Assess
    assert group["reference_kind"] == "exact"
    assert abs(group["best_error"] - 0.001) < 1e-12
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
        }
    ]

    # Act / Assess
    assert report_data.to_outcomes(rows) == []


def test_location_is_beside_the_run_summary():
    assert (
        report_data.report_data_location("s3a://features/pipeline-runs/", "ml_feature_processing", "r-1")
        == "s3a://features/pipeline-runs/ml_feature_processing/r-1.report-data.json"
    )
