"""Test data helpers shared by unit and integration tests."""

from __future__ import annotations

import copy


def base_record(**overrides) -> dict:
    """A small, valid H2 record: 2 atoms, 2 Hamiltonian terms, 3 iterations from step 1."""
    record = {
        "vqe_result": {
            "initial_data": {
                "backend": "aer_simulator",
                "num_qubits": 4,
                "hamiltonian": [
                    {"label": "IIZZ", "coefficients": {"real": 0.5, "imaginary": 0.0}},
                    {"label": "XXII", "coefficients": {"real": -0.25, "imaginary": 0.1}},
                ],
                "num_parameters": 2,
                "initial_parameters": [0.5, 0.5],
                "optimizer": "COBYLA",
                "ansatz": "OPENQASM 3.0;",
                "noise_backend": "undef",
                "default_shots": 1024,
                "ansatz_reps": 2,
                "init_strategy": "hf",
                "seed": 7,
                "ansatz_name": "RealAmplitudes",
                "exact_estimator": True,
            },
            "iteration_list": [
                {
                    "iteration": 1,
                    "parameters": [0.5, 0.5],
                    "result": -1.0,
                    "std": 0.01,
                    "energy_delta": None,
                    "parameter_delta_norm": None,
                    "cumulative_min_energy": -1.0,
                },
                {
                    "iteration": 2,
                    "parameters": [0.25, 0.5],
                    "result": -1.5,
                    "std": 0.02,
                    "energy_delta": -0.5,
                    "parameter_delta_norm": 0.25,
                    "cumulative_min_energy": -1.5,
                },
                {
                    "iteration": 3,
                    "parameters": [0.25, 0.25],
                    "result": -1.25,
                    "std": 0.03,
                    "energy_delta": 0.25,
                    "parameter_delta_norm": 0.25,
                    "cumulative_min_energy": -1.5,
                },
            ],
            "minimum": -1.5,
            "optimal_parameters": [0.25, 0.5],
            "maxcv": 0.0,
            "minimization_time": 2.0,
            "nuclear_repulsion_energy": 0.7,
            "success": True,
            "nfev": 3,
            "nit": 2,
        },
        "molecule": {
            "molecule_data": {
                "symbols": ["H", "H"],
                "coords": [[0.0, 0.0, 0.0], [0.0, 0.0, 0.74]],
                "multiplicity": 1,
                "charge": 0,
                "units": "angstrom",
                "masses": [1.008, 1.008],
            }
        },
        "basis_set": "sto3g",
        "hamiltonian_time": 1.0,
        "mapping_time": 0.5,
        "vqe_time": 3.0,
        "total_time": 5.0,
        "molecule_id": 0,
        "performance_start": None,
        "performance_end": None,
    }
    merged = copy.deepcopy(record)
    for path, value in overrides.items():
        target = merged
        *parents, leaf = path.split(".")
        for name in parents:
            target = target[name]
        target[leaf] = value
    return merged


def records_frame(spark, raw_records: list[dict]):
    """Validated records as the transforms receive them (explicit schema, one row per record)."""
    from pyspark.sql import types as T

    from quantum_pipeline.record_spec import RECORD_SCHEMA
    from quantum_pipeline.validation import experiment_id, validate_record

    schema = T.StructType(
        [
            T.StructField("experiment_id", T.StringType(), False),
            T.StructField("object_key", T.StringType(), False),
            *RECORD_SCHEMA.fields,
        ]
    )
    rows = []
    for index, raw in enumerate(raw_records):
        record = validate_record(raw)
        rows.append({"experiment_id": experiment_id(record), "object_key": f"k{index}", **record})
    return spark.createDataFrame(rows, schema)
