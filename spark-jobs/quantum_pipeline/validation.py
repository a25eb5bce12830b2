"""Parsing and validating raw result files, in plain Python (runs inside Spark's Python workers).

A file is accepted whole or rejected whole: the ingestion ledger's unit is the file, so a
re-delivered, corrected file is simply a new (key, ETag) and is ingested then.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from typing import Any

from .record_spec import VQE_DECORATED_RESULT, ArrayOf, Field, Scalar, Spec

_LARGEST_DOUBLE = sys.float_info.max
_INT_RANGES = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}


class RecordError(ValueError):
    """A record that does not satisfy the schema; the message names the field and the value."""

    def __init__(self, path: str, problem: str, value: Any = None, show_value: bool = True) -> None:
        shown = f", got {_describe(value)}" if show_value else ""
        super().__init__(f"{path}: {problem}{shown}" if path else f"{problem}{shown}")
        self.path = path


def _describe(value: Any) -> str:
    kind = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number" if isinstance(value, (int, float)) else type(value).__name__
    )
    text = json.dumps(value, default=str) if not isinstance(value, (dict, list)) else ""
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{kind} {text}".rstrip()


def _child(path: str, name: str | int) -> str:
    if isinstance(name, int):
        return f"{path}[{name}]"
    return f"{path}.{name}" if path else name


def _normalise_scalar(value: Any, spec: Scalar, path: str) -> Any:
    kind = spec.kind
    if kind == "string":
        if not isinstance(value, str):
            raise RecordError(path, "expected a string", value)
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise RecordError(path, "expected true or false", value)
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RecordError(path, f"expected a {'number' if kind == 'double' else 'whole number'}", value)
    if kind == "double":
        if isinstance(value, int) and abs(value) > _LARGEST_DOUBLE:  # float() would raise OverflowError
            raise RecordError(path, "expected a finite number", value)
        if not math.isfinite(value):
            raise RecordError(path, "expected a finite number", value)
        # 1 and 1.0 are the same value: normalise so they hash to the same experiment_id.
        return float(value)
    if isinstance(value, float):
        if not value.is_integer():
            raise RecordError(path, "expected a whole number", value)
        value = int(value)
    low, high = _INT_RANGES[kind]
    if not low <= value <= high:
        raise RecordError(path, f"out of range for a {kind} ({low}..{high})", value)
    return value


def normalise(value: Any, spec: Spec, path: str = "") -> Any:
    """Check `value` against `spec`; return it with defaults applied and unknown fields dropped."""
    if isinstance(spec, Scalar):
        return _normalise_scalar(value, spec, path)
    if isinstance(spec, ArrayOf):
        if not isinstance(value, list):
            raise RecordError(path, "expected an array", value)
        return [normalise(item, spec.item, _child(path, i)) for i, item in enumerate(value)]
    if not isinstance(value, dict):
        raise RecordError(path, "expected an object", value)
    return {name: _normalise_field(value, name, f, _child(path, name)) for name, f in spec.fields.items()}


def _normalise_field(parent: dict, name: str, f: Field, path: str) -> Any:
    value = parent.get(name)
    if value is None:
        if f.has_default:
            return f.default
        if f.nullable:
            return None
        problem = "required field is null" if name in parent else "required field is missing"
        raise RecordError(path, problem, show_value=False)
    return normalise(value, f.spec, path)


def _check_structure(record: dict) -> None:
    """Cross-field rules the tables rely on (one row per atom, per iteration step)."""
    data = record["molecule"]["molecule_data"]
    symbols, coords, masses = data["symbols"], data["coords"], data["masses"]
    base = "molecule.molecule_data"
    if not symbols:
        raise RecordError(f"{base}.symbols", "a molecule needs at least one atom", symbols)
    if len(coords) != len(symbols):
        raise RecordError(f"{base}.coords", f"expected {len(symbols)} rows (one per symbol)", coords)
    for i, row in enumerate(coords):
        if len(row) != 3:
            raise RecordError(f"{base}.coords[{i}]", "expected 3 coordinates (x, y, z)", row)
    if masses is not None and len(masses) != len(symbols):
        raise RecordError(f"{base}.masses", f"expected {len(symbols)} masses (one per symbol)", masses)
    seen: set[int] = set()
    for i, it in enumerate(record["vqe_result"]["iteration_list"]):
        if it["iteration"] in seen:
            raise RecordError(
                f"vqe_result.iteration_list[{i}].iteration",
                "iteration numbers must be unique within a run",
                it["iteration"],
            )
        seen.add(it["iteration"])


def validate_record(raw: Any) -> dict:
    """A normalised record, or RecordError naming the first field that is wrong."""
    record = normalise(raw, VQE_DECORATED_RESULT)
    _check_structure(record)
    return record


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def experiment_id(record: dict) -> str:
    """SHA-256 of the canonical JSON of what defines a simulation (SPEC section 1).

    It is taken over the normalised record, so defaults applied and 1 vs 1.0 do not change it.
    """
    identity = {
        "molecule_data": record["molecule"]["molecule_data"],
        "basis_set": record["basis_set"],
        "initial_data": record["vqe_result"]["initial_data"],
    }
    return hashlib.sha256(canonical_json(identity).encode("ascii")).hexdigest()


def _object_without_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    """json.loads keeps the last of two equal keys; an ambiguous document is refused instead."""
    record: dict = {}
    for key, value in pairs:
        if key in record:
            raise RecordError(
                "",
                f"duplicate key {json.dumps(key)} in one JSON object (ambiguous: "
                f"{_describe(record[key])}, then {_describe(value)})",
                show_value=False,
            )
        record[key] = value
    return record


def _loads(text: str) -> Any:
    return json.loads(text, object_pairs_hook=_object_without_duplicate_keys)


def parse_json_documents(content: bytes) -> list[Any]:
    """One JSON document per file, or several separated by newlines (JSON Lines). A document with
    a duplicate key in any object is refused."""
    if not content:
        raise RecordError("", "empty file (0 bytes)", show_value=False)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RecordError("", f"not UTF-8 text (byte {exc.start})", show_value=False) from exc
    if not text.strip():
        raise RecordError("", "file holds only white space", show_value=False)
    try:
        return [_loads(text)]
    except json.JSONDecodeError as whole_error:
        if whole_error.msg != "Extra data":
            raise RecordError(
                "",
                f"invalid JSON at line {whole_error.lineno} column {whole_error.colno}: {whole_error.msg}",
                show_value=False,
            ) from whole_error
    documents = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            documents.append(_loads(line))
        except json.JSONDecodeError as exc:
            raise RecordError(
                "", f"invalid JSON on line {number} column {exc.colno}: {exc.msg}", show_value=False
            ) from exc
        except RecordError as exc:
            raise RecordError(f"line {number}", str(exc), show_value=False) from exc
    return documents


def validate_documents(documents: list[Any]) -> list[dict]:
    """Validate every document of one file; an error names the record's position when there are several."""
    records = []
    for index, document in enumerate(documents):
        try:
            records.append(validate_record(document))
        except RecordError as exc:
            if len(documents) == 1:
                raise
            raise RecordError(f"record {index + 1} of {len(documents)}", str(exc), show_value=False) from exc
    return records
