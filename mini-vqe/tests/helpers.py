"""Constants and helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

MINI_VQE_DIR = Path(__file__).resolve().parents[1]
MOLECULES_FILE = MINI_VQE_DIR / "molecules" / "cpu.json"
H2, HEH_PLUS = 0, 1

# Fields that measure the run rather than describe it: the only ones allowed to differ between
# two runs with the same arguments.
MEASURED_FIELDS = ("hamiltonian_time", "mapping_time", "vqe_time", "total_time", "performance_start", "performance_end")


def cli_arguments(
    molecule_index: int = H2,
    optimizer: str = "L-BFGS-B",
    init_strategy: str = "hf",
    seed: int | None = 1,
    ansatz: str = "EfficientSU2",
    extra: tuple[str, ...] = (),
) -> list[str]:
    """The batch runner's command line (SPEC section 5) for one run."""
    arguments = [
        "--file",
        str(MOLECULES_FILE),
        "--molecule-index",
        str(molecule_index),
        "--basis",
        "sto3g",
        "--optimizer",
        optimizer,
        "--init-strategy",
        init_strategy,
        "--ansatz",
        ansatz,
        "--simulation-method",
        "statevector",
        "--convergence",
        "--threshold",
        "1e-6",
    ]
    if seed is not None:
        arguments += ["--seed", str(seed)]
    return arguments + list(extra)


def without_measurements(record: dict[str, Any]) -> dict[str, Any]:
    copy = {k: v for k, v in record.items() if k not in MEASURED_FIELDS}
    copy["vqe_result"] = {k: v for k, v in record["vqe_result"].items() if k != "minimization_time"}
    return copy
