"""The raw VQE record (SPEC section 1) declared once.

The same declaration validates a parsed record with field-level error messages and yields the
Spark schema the tables are built from, so the two can never drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyspark.sql import types as T

_MISSING = object()


@dataclass(frozen=True)
class Scalar:
    kind: str  # "string" | "int" | "long" | "double" | "boolean"


@dataclass(frozen=True)
class ArrayOf:
    item: Spec


@dataclass(frozen=True)
class Obj:
    fields: Mapping[str, Field]


Spec = Scalar | ArrayOf | Obj


@dataclass(frozen=True)
class Field:
    spec: Spec
    nullable: bool = False
    # A value used when the field is absent or null (older producers omit these fields).
    default: Any = _MISSING

    @property
    def has_default(self) -> bool:
        return self.default is not _MISSING


STRING, INT, LONG, DOUBLE, BOOLEAN = (Scalar(k) for k in ("string", "int", "long", "double", "boolean"))


def req(spec: Spec) -> Field:
    return Field(spec)


def opt(spec: Spec, default: Any = _MISSING) -> Field:
    return Field(spec, nullable=True, default=default)


MOLECULE_DATA = Obj(
    {
        "symbols": req(ArrayOf(STRING)),
        "coords": req(ArrayOf(ArrayOf(DOUBLE))),
        "multiplicity": req(INT),
        "charge": req(INT),
        "units": req(STRING),
        "masses": opt(ArrayOf(DOUBLE)),
    }
)

HAMILTONIAN_TERM = Obj(
    {
        "label": req(STRING),
        "coefficients": req(Obj({"real": req(DOUBLE), "imaginary": req(DOUBLE)})),
    }
)

INITIAL_DATA = Obj(
    {
        "backend": req(STRING),
        "num_qubits": req(INT),
        "hamiltonian": req(ArrayOf(HAMILTONIAN_TERM)),
        "num_parameters": req(INT),
        "initial_parameters": req(ArrayOf(DOUBLE)),
        "optimizer": req(STRING),
        "ansatz": req(STRING),
        "noise_backend": req(STRING),
        "default_shots": opt(LONG),
        "ansatz_reps": req(INT),
        "init_strategy": opt(STRING, default="random"),
        "seed": opt(LONG),
        "ansatz_name": opt(STRING, default="EfficientSU2"),
        "exact_estimator": opt(BOOLEAN, default=False),
    }
)

ITERATION = Obj(
    {
        "iteration": req(INT),
        "parameters": req(ArrayOf(DOUBLE)),
        "result": req(DOUBLE),
        "std": req(DOUBLE),
        "energy_delta": opt(DOUBLE),
        "parameter_delta_norm": opt(DOUBLE),
        "cumulative_min_energy": opt(DOUBLE),
    }
)

VQE_RESULT = Obj(
    {
        "initial_data": req(INITIAL_DATA),
        "iteration_list": req(ArrayOf(ITERATION)),
        "minimum": req(DOUBLE),
        "optimal_parameters": req(ArrayOf(DOUBLE)),
        "maxcv": opt(DOUBLE),
        "minimization_time": req(DOUBLE),
        "nuclear_repulsion_energy": opt(DOUBLE),
        "success": opt(BOOLEAN),
        "nfev": opt(LONG),
        "nit": opt(LONG),
    }
)

VQE_DECORATED_RESULT = Obj(
    {
        "vqe_result": req(VQE_RESULT),
        "molecule": req(Obj({"molecule_data": req(MOLECULE_DATA)})),
        "basis_set": req(STRING),
        "hamiltonian_time": req(DOUBLE),
        "mapping_time": req(DOUBLE),
        "vqe_time": req(DOUBLE),
        "total_time": req(DOUBLE),
        "molecule_id": req(INT),
        "performance_start": opt(STRING),
        "performance_end": opt(STRING),
    }
)

_SPARK_SCALARS = {
    "string": T.StringType(),
    "int": T.IntegerType(),
    "long": T.LongType(),
    "double": T.DoubleType(),
    "boolean": T.BooleanType(),
}


def spark_type(spec: Spec) -> T.DataType:
    """The Spark type of a spec; fields with a default are never null after normalisation."""
    if isinstance(spec, Scalar):
        return _SPARK_SCALARS[spec.kind]
    if isinstance(spec, ArrayOf):
        return T.ArrayType(spark_type(spec.item), containsNull=False)
    return T.StructType(
        [
            T.StructField(name, spark_type(f.spec), nullable=f.nullable and not f.has_default)
            for name, f in spec.fields.items()
        ]
    )


RECORD_SCHEMA: T.StructType = spark_type(VQE_DECORATED_RESULT)  # type: ignore[assignment]


__all__ = [
    "INITIAL_DATA",
    "ITERATION",
    "MOLECULE_DATA",
    "RECORD_SCHEMA",
    "VQE_DECORATED_RESULT",
    "VQE_RESULT",
    "ArrayOf",
    "Field",
    "Obj",
    "Scalar",
    "Spec",
    "spark_type",
]
