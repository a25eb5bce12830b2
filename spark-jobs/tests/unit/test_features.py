"""Job 1 transforms: every column of the 9 base tables, on tiny explicit-schema frames."""

import datetime as dt

import pytest
from pyspark.testing import assertDataFrameEqual

from quantum_pipeline import features, tables
from quantum_pipeline.validation import experiment_id, validate_record
from support import base_record, records_frame

TS = dt.datetime(2026, 1, 2, 3, 4, 5)
BATCH = features.BatchContext("b-1", TS, "unit-test")
META = (TS, TS.date(), "b-1", "unit-test")


def expected(spark, spec, rows):
    return spark.createDataFrame([tuple(r) + META for r in rows], spec.schema)


@pytest.fixture(scope="module")
def h2(spark):
    return records_frame(spark, [base_record()])


@pytest.fixture(scope="module")
def eid():
    return experiment_id(validate_record(base_record()))


def test_molecules(spark, h2, eid):
    actual = features.molecules(h2, BATCH)

    assertDataFrameEqual(
        actual,
        expected(
            spark,
            tables.MOLECULES,
            [(eid, 0, ["H", "H"], "HH", [[0.0, 0.0, 0.0], [0.0, 0.0, 0.74]], 1, 0, "angstrom", [1.008, 1.008])],
        ),
    )
    assert actual.columns == tables.MOLECULES.column_names


def test_ansatz_info(spark, h2, eid):
    assertDataFrameEqual(
        features.ansatz_info(h2, BATCH),
        expected(spark, tables.ANSATZ_INFO, [(eid, 0, "sto3g", "OPENQASM 3.0;", 2, "RealAmplitudes", "hf")]),
    )


def test_performance_metrics_adds_computed_total(spark, h2, eid):
    assertDataFrameEqual(
        features.performance_metrics(h2, BATCH),
        expected(spark, tables.PERFORMANCE_METRICS, [(eid, 0, "sto3g", 1.0, 0.5, 3.0, 5.0, 2.0, 4.5)]),
    )


def test_vqe_results(spark, h2, eid):
    assertDataFrameEqual(
        features.vqe_results(h2, BATCH),
        expected(
            spark,
            tables.VQE_RESULTS,
            [
                (
                    eid,
                    0,
                    "sto3g",
                    "aer_simulator",
                    4,
                    "COBYLA",
                    "undef",
                    1024,
                    2,
                    "RealAmplitudes",
                    "hf",
                    7,
                    -1.5,
                    0.0,
                    0.7,
                    True,
                    3,
                    2,
                    3,
                )
            ],
        ),
    )


def test_equal_values_in_a_parameter_vector_keep_their_rows(spark, h2, eid):
    assertDataFrameEqual(
        features.initial_parameters(h2, BATCH),
        expected(
            spark,
            tables.INITIAL_PARAMETERS,
            [
                (f"{eid}:0", eid, "sto3g", "aer_simulator", 4, 0, 0.5),
                (f"{eid}:1", eid, "sto3g", "aer_simulator", 4, 1, 0.5),
            ],
        ),
    )


def test_optimal_parameters(spark, h2, eid):
    assertDataFrameEqual(
        features.optimal_parameters(h2, BATCH),
        expected(
            spark,
            tables.OPTIMAL_PARAMETERS,
            [
                (f"{eid}:0", eid, "sto3g", "aer_simulator", 4, 0, 0.25),
                (f"{eid}:1", eid, "sto3g", "aer_simulator", 4, 1, 0.5),
            ],
        ),
    )


def test_vqe_iterations_keep_steps_from_one_and_null_first_deltas(spark, h2, eid):
    assertDataFrameEqual(
        features.vqe_iterations(h2, BATCH),
        expected(
            spark,
            tables.VQE_ITERATIONS,
            [
                (f"{eid}:1", eid, "sto3g", "aer_simulator", 4, 1, -1.0, 0.01, None, None, -1.0),
                (f"{eid}:2", eid, "sto3g", "aer_simulator", 4, 2, -1.5, 0.02, -0.5, 0.25, -1.5),
                (f"{eid}:3", eid, "sto3g", "aer_simulator", 4, 3, -1.25, 0.03, 0.25, 0.25, -1.5),
            ],
        ),
    )


def test_iteration_parameters_are_keyed_by_step_and_position(spark, h2, eid):
    rows = [
        (f"{eid}:{step}:{i}", f"{eid}:{step}", eid, "sto3g", step, i, v)
        for step, vector in ((1, [0.5, 0.5]), (2, [0.25, 0.5]), (3, [0.25, 0.25]))
        for i, v in enumerate(vector)
    ]

    assertDataFrameEqual(features.iteration_parameters(h2, BATCH), expected(spark, tables.ITERATION_PARAMETERS, rows))


def test_hamiltonian_terms(spark, h2, eid):
    assertDataFrameEqual(
        features.hamiltonian_terms(h2, BATCH),
        expected(
            spark,
            tables.HAMILTONIAN_TERMS,
            [
                (f"{eid}:0", eid, "sto3g", "aer_simulator", "IIZZ", 0.5, 0.0),
                (f"{eid}:1", eid, "sto3g", "aer_simulator", "XXII", -0.25, 0.1),
            ],
        ),
    )


def test_nulls_in_every_nullable_field_are_kept(spark):
    raw = base_record()
    for name in ("maxcv", "nuclear_repulsion_energy", "success", "nfev", "nit"):
        raw["vqe_result"][name] = None
    raw["vqe_result"]["initial_data"]["default_shots"] = None
    raw["vqe_result"]["initial_data"]["seed"] = None
    raw["molecule"]["molecule_data"]["masses"] = None
    for it in raw["vqe_result"]["iteration_list"]:
        it["energy_delta"] = it["parameter_delta_norm"] = it["cumulative_min_energy"] = None
    frame = records_frame(spark, [raw])

    result = features.vqe_results(frame, BATCH).first()
    molecule = features.molecules(frame, BATCH).first()
    iterations = features.vqe_iterations(frame, BATCH).collect()

    assert [
        result[c] for c in ("default_shots", "seed", "maxcv", "nuclear_repulsion_energy", "success", "nfev", "nit")
    ] == [None] * 7
    assert molecule.atomic_masses is None
    assert {(r.energy_delta, r.parameter_delta_norm, r.cumulative_min_energy) for r in iterations} == {(None,) * 3}
    assert len(iterations) == 3


def test_empty_iteration_list_gives_no_iteration_rows(spark):
    frame = records_frame(spark, [base_record(**{"vqe_result.iteration_list": []})])

    assert features.vqe_iterations(frame, BATCH).count() == 0
    assert features.iteration_parameters(frame, BATCH).count() == 0
    assert features.vqe_results(frame, BATCH).first().total_iterations == 0


def test_drop_known_experiments_keeps_one_first_delivery(spark, h2, eid):
    other = records_frame(spark, [base_record(basis_set="6-31g")])
    twice = h2.unionByName(h2.withColumn("object_key", h2.object_key.substr(0, 0))).unionByName(other)
    known = spark.createDataFrame([(eid,)], "experiment_id string")

    only_new = features.drop_known_experiments(twice, spark.createDataFrame([], "experiment_id string"))
    without_known = features.drop_known_experiments(twice, known)

    assert sorted(r.object_key for r in only_new.collect()) == ["", "k0"]  # smallest key wins per experiment
    assert without_known.count() == 1 and without_known.first().basis_set == "6-31g"


def test_every_transform_writes_exactly_its_table_columns(spark, h2):
    for spec, transform in features.FEATURE_TRANSFORMS:
        assert transform(h2, BATCH).columns == spec.column_names, spec.name
