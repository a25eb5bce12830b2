"""The molecules input file: a JSON array of SPEC section 1 `molecule_data` objects.

Parsing is strict so a typo in the file fails before any chemistry runs, with a message that
names the molecule and the field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

UNITS = ("angstrom", "bohr")


class MoleculeFileError(ValueError):
    """The molecules file cannot be read or one of its molecules is malformed."""


@dataclass(frozen=True)
class Molecule:
    symbols: tuple[str, ...]
    coords: tuple[tuple[float, float, float], ...]
    multiplicity: int
    charge: int
    units: str
    masses: tuple[float, ...] | None

    @property
    def spin(self) -> int:
        """2S, the number of unpaired electrons, as PySCF counts spin."""
        return self.multiplicity - 1

    def to_record(self) -> dict[str, Any]:
        """The `molecule_data` object of the record, in the input's own units."""
        return {
            "symbols": list(self.symbols),
            "coords": [list(xyz) for xyz in self.coords],
            "multiplicity": self.multiplicity,
            "charge": self.charge,
            "units": self.units,
            "masses": list(self.masses) if self.masses is not None else None,
        }


def _is_int(value: Any) -> bool:
    # JSON booleans are ints in Python; a `true` multiplicity is a typo, not 1.
    return isinstance(value, int) and not isinstance(value, bool)


def _finite_float(value: Any, where: str) -> float:
    if not (_is_int(value) or isinstance(value, float)) or not math.isfinite(value):
        raise MoleculeFileError(f"{where}: expected a finite number, got {value!r}")
    return float(value)


def _symbols(raw: Any, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw or not all(isinstance(s, str) and s for s in raw):
        raise MoleculeFileError(f"{where}.symbols: expected a non-empty list of element symbols")
    return tuple(raw)


def _coords(raw: Any, count: int, where: str) -> tuple[tuple[float, float, float], ...]:
    if not isinstance(raw, list) or len(raw) != count:
        raise MoleculeFileError(f"{where}.coords: expected {count} rows (one per symbol)")
    rows = []
    for i, row in enumerate(raw):
        if not isinstance(row, list) or len(row) != 3:
            raise MoleculeFileError(f"{where}.coords[{i}]: expected [x, y, z]")
        x, y, z = (_finite_float(v, f"{where}.coords[{i}]") for v in row)
        rows.append((x, y, z))
    return tuple(rows)


def _masses(raw: Any, count: int, where: str) -> tuple[float, ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or len(raw) != count:
        raise MoleculeFileError(f"{where}.masses: expected null or {count} numbers")
    return tuple(_finite_float(v, f"{where}.masses") for v in raw)


def parse_molecule(raw: Any, index: int) -> Molecule:
    where = f"molecule {index}"
    if not isinstance(raw, Mapping):
        raise MoleculeFileError(f"{where}: expected a JSON object")
    symbols = _symbols(raw.get("symbols"), where)
    multiplicity, charge = raw.get("multiplicity", 1), raw.get("charge", 0)
    if not _is_int(multiplicity) or multiplicity < 1:
        raise MoleculeFileError(f"{where}.multiplicity: expected an integer >= 1, got {multiplicity!r}")
    if not _is_int(charge):
        raise MoleculeFileError(f"{where}.charge: expected an integer, got {charge!r}")
    units = raw.get("units", "angstrom")
    if not isinstance(units, str) or units.lower() not in UNITS:
        raise MoleculeFileError(f"{where}.units: expected one of {', '.join(UNITS)}, got {units!r}")
    return Molecule(
        symbols=symbols,
        coords=_coords(raw.get("coords"), len(symbols), where),
        multiplicity=multiplicity,
        charge=charge,
        units=units,
        masses=_masses(raw.get("masses"), len(symbols), where),
    )


def load_molecules(path: Path) -> list[Molecule]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise MoleculeFileError(f"cannot read {path}: {error.strerror or error}") from error
    except json.JSONDecodeError as error:
        raise MoleculeFileError(f"{path} is not valid JSON: {error}") from error
    if not isinstance(document, list) or not document:
        raise MoleculeFileError(f"{path}: expected a non-empty JSON array of molecules")
    return [parse_molecule(raw, i) for i, raw in enumerate(document)]
