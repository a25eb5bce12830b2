"""SPEC section 1, written out field by field for the tests, with a checker that lists every
deviation. Stricter than the pipeline's reader on purpose: every field must be present (nullable
ones as null), no field may be extra, and a double must be a JSON number with a fraction or
exponent, so a record that passes here passes anywhere."""

from __future__ import annotations

from typing import Any

# A type is a scalar name, ("array", item), ("object", {field: (type, nullable)}).
STRING, INT, DOUBLE, BOOLEAN = "string", "int", "double", "boolean"


def array(item: Any) -> tuple[str, Any]:
    return ("array", item)


def obj(**fields: tuple[Any, bool]) -> tuple[str, dict[str, tuple[Any, bool]]]:
    return ("object", fields)


REQUIRED, NULLABLE = False, True

MOLECULE_DATA = obj(
    symbols=(array(STRING), REQUIRED),
    coords=(array(array(DOUBLE)), REQUIRED),
    multiplicity=(INT, REQUIRED),
    charge=(INT, REQUIRED),
    units=(STRING, REQUIRED),
    masses=(array(DOUBLE), NULLABLE),
)

INITIAL_DATA = obj(
    backend=(STRING, REQUIRED),
    num_qubits=(INT, REQUIRED),
    hamiltonian=(
        array(
            obj(
                label=(STRING, REQUIRED),
                coefficients=(obj(real=(DOUBLE, REQUIRED), imaginary=(DOUBLE, REQUIRED)), REQUIRED),
            )
        ),
        REQUIRED,
    ),
    num_parameters=(INT, REQUIRED),
    initial_parameters=(array(DOUBLE), REQUIRED),
    optimizer=(STRING, REQUIRED),
    ansatz=(STRING, REQUIRED),
    noise_backend=(STRING, REQUIRED),
    default_shots=(INT, NULLABLE),
    ansatz_reps=(INT, REQUIRED),
    init_strategy=(STRING, NULLABLE),
    seed=(INT, NULLABLE),
    ansatz_name=(STRING, NULLABLE),
    exact_estimator=(BOOLEAN, REQUIRED),
)

VQE_PROCESS = obj(
    iteration=(INT, REQUIRED),
    parameters=(array(DOUBLE), REQUIRED),
    result=(DOUBLE, REQUIRED),
    std=(DOUBLE, REQUIRED),
    energy_delta=(DOUBLE, NULLABLE),
    parameter_delta_norm=(DOUBLE, NULLABLE),
    cumulative_min_energy=(DOUBLE, NULLABLE),
)

VQE_RESULT = obj(
    initial_data=(INITIAL_DATA, REQUIRED),
    iteration_list=(array(VQE_PROCESS), REQUIRED),
    minimum=(DOUBLE, REQUIRED),
    optimal_parameters=(array(DOUBLE), REQUIRED),
    maxcv=(DOUBLE, NULLABLE),
    minimization_time=(DOUBLE, REQUIRED),
    nuclear_repulsion_energy=(DOUBLE, NULLABLE),
    success=(BOOLEAN, NULLABLE),
    nfev=(INT, NULLABLE),
    nit=(INT, NULLABLE),
)

VQE_DECORATED_RESULT = obj(
    vqe_result=(VQE_RESULT, REQUIRED),
    molecule=(obj(molecule_data=(MOLECULE_DATA, REQUIRED)), REQUIRED),
    basis_set=(STRING, REQUIRED),
    hamiltonian_time=(DOUBLE, REQUIRED),
    mapping_time=(DOUBLE, REQUIRED),
    vqe_time=(DOUBLE, REQUIRED),
    total_time=(DOUBLE, REQUIRED),
    molecule_id=(INT, REQUIRED),
    performance_start=(STRING, NULLABLE),
    performance_end=(STRING, NULLABLE),
)


def _scalar_ok(kind: str, value: Any) -> bool:
    if kind == STRING:
        return isinstance(value, str)
    if kind == BOOLEAN:
        return isinstance(value, bool)
    if kind == INT:  # bool is an int subclass in Python; JSON true is not an int
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == DOUBLE:
        return isinstance(value, float)
    raise AssertionError(f"unknown scalar kind {kind}")


def schema_errors(value: Any, spec: Any = VQE_DECORATED_RESULT, path: str = "$") -> list[str]:
    """Every place where `value` (a parsed JSON document) departs from `spec`."""
    if isinstance(spec, str):
        return [] if _scalar_ok(spec, value) else [f"{path}: expected {spec}, got {type(value).__name__} {value!r:.60}"]
    kind, inner = spec
    if kind == "array":
        if not isinstance(value, list):
            return [f"{path}: expected array, got {type(value).__name__}"]
        return [e for i, item in enumerate(value) for e in schema_errors(item, inner, f"{path}[{i}]")]
    if not isinstance(value, dict):
        return [f"{path}: expected object, got {type(value).__name__}"]
    errors = [f"{path}.{name}: unexpected field" for name in sorted(set(value) - set(inner))]
    for name, (field_spec, nullable) in inner.items():
        if name not in value:
            errors.append(f"{path}.{name}: missing")
        elif value[name] is None:
            if not nullable:
                errors.append(f"{path}.{name}: null but not nullable")
        else:
            errors.extend(schema_errors(value[name], field_spec, f"{path}.{name}"))
    return errors
