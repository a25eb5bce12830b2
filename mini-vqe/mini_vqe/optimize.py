"""Exact statevector energies and the SciPy minimisation, with one trajectory entry per iteration.

The trajectory is recorded once per optimizer iteration (SciPy's `callback`), not once per
energy evaluation: gradient methods spend most evaluations on finite-difference probes, which
are not points of the optimizer's path and would bury it under near-duplicates.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp, Statevector
from scipy.optimize import OptimizeResult, minimize

from .choices import OPTIMIZERS

log = logging.getLogger(__name__)

# Energies at recently visited points: the callback reports a point the optimizer has just
# evaluated, so looking it up avoids a second simulation. Small, because only the latest
# points are ever asked for again.
_ENERGY_CACHE_SIZE = 256
# Below this squared norm the projected state is numerical noise, not a state.
_MIN_SECTOR_WEIGHT = 1e-12

EnergyFunction = Callable[[np.ndarray], float]


@dataclass(frozen=True)
class OptimizationOutcome:
    iterations: list[dict[str, Any]]
    minimum: float
    optimal_parameters: list[float]
    success: bool | None
    nfev: int | None
    nit: int | None
    maxcv: float | None
    minimization_time: float


def sector_energy(state: np.ndarray, matrix: Any, sector: np.ndarray) -> float:
    """<P psi|H|P psi> / <P psi|P psi>, P the projector on the molecule's electron sector.

    This is the energy a device reports after post-selecting on the electron count (symmetry
    verification), and it is variational: never below the sector's FCI energy. With no weight
    at all in the sector there is nothing to post-select; 0 Ha, the energy of no electrons
    (above every bound state), is returned so that the optimizer is pushed away, not rewarded.
    """
    projected = np.where(sector, state, 0.0)
    weight = float(np.real(np.vdot(projected, projected)))
    if weight < _MIN_SECTOR_WEIGHT:
        return 0.0
    return float(np.real(np.vdot(projected, matrix @ projected))) / weight


def energy_function(circuit: QuantumCircuit, operator: SparsePauliOp, sector: np.ndarray) -> EnergyFunction:
    """The exact sector energy of the ansatz state at `parameters` (no shots, so std = 0)."""
    # A sparse matrix built once: applying it costs far less than summing Pauli terms each time.
    matrix = operator.to_matrix(sparse=True)
    cache: OrderedDict[bytes, float] = OrderedDict()

    def energy(parameters: np.ndarray) -> float:
        values = np.asarray(parameters, dtype=float)
        key = values.tobytes()
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
        value = sector_energy(Statevector(circuit.assign_parameters(values)).data, matrix, sector)
        cache[key] = value
        if len(cache) > _ENERGY_CACHE_SIZE:
            cache.popitem(last=False)
        return value

    return energy


def iteration_entry(
    iteration: int, parameters: np.ndarray, energy: float, previous: dict[str, Any] | None
) -> dict[str, Any]:
    """One `VQEProcess` of SPEC section 1; deltas are null for the first iteration."""
    values = [float(v) for v in parameters]
    if previous is None:
        energy_delta = parameter_delta_norm = None
        best = energy
    else:
        energy_delta = energy - previous["result"]
        parameter_delta_norm = float(np.linalg.norm(np.subtract(values, previous["parameters"])))
        best = min(previous["cumulative_min_energy"], energy)
    return {
        "iteration": iteration,
        "parameters": values,
        "result": energy,
        "std": 0.0,
        "energy_delta": energy_delta,
        "parameter_delta_norm": parameter_delta_norm,
        "cumulative_min_energy": best,
    }


def solver_options(optimizer: str, max_iterations: int | None) -> dict[str, Any]:
    """SciPy's iteration cap under the name each method knows. Its meaning is SciPy's: COBYLA
    counts function evaluations as iterations, and TNC has no iteration cap at all, only one on
    function evaluations, which is what it gets."""
    if max_iterations is None:
        return {}
    return {"maxfun" if optimizer == "TNC" else "maxiter": max_iterations}


def _optional_int(result: OptimizeResult, name: str) -> int | None:
    value = result.get(name)
    return int(value) if value is not None else None


def _optional_float(result: OptimizeResult, name: str) -> float | None:
    value = result.get(name)
    return float(value) if value is not None else None


def minimize_energy(
    energy: EnergyFunction, initial: np.ndarray, optimizer: str, tolerance: float | None, max_iterations: int | None
) -> OptimizationOutcome:
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r} (choose from {', '.join(OPTIMIZERS)})")
    iterations: list[dict[str, Any]] = []

    def record(xk: np.ndarray) -> None:
        previous = iterations[-1] if iterations else None
        entry = iteration_entry(len(iterations) + 1, xk, energy(xk), previous)
        iterations.append(entry)
        if entry["iteration"] % 25 == 0:
            log.debug("iteration %d: energy %.10f", entry["iteration"], entry["result"])

    started = time.perf_counter()
    result = minimize(
        energy,
        np.asarray(initial, dtype=float),
        method=optimizer,
        tol=tolerance,
        callback=record,
        options=solver_options(optimizer, max_iterations),
    )
    elapsed = time.perf_counter() - started
    minimum = float(result.fun)
    if not math.isfinite(minimum):
        raise ArithmeticError(f"{optimizer} ended on a non-finite energy ({minimum})")
    log.info(
        "%s: %s after %d evaluation(s), %d iteration(s) recorded, %.2f s: %s",
        optimizer,
        "converged" if result.success else "stopped",
        result.nfev,
        len(iterations),
        elapsed,
        str(result.message).strip(),
    )
    return OptimizationOutcome(
        iterations=iterations,
        minimum=minimum,
        optimal_parameters=[float(v) for v in result.x],
        success=bool(result.success) if result.get("success") is not None else None,
        nfev=_optional_int(result, "nfev"),
        nit=_optional_int(result, "nit"),
        maxcv=_optional_float(result, "maxcv"),
        minimization_time=elapsed,
    )
