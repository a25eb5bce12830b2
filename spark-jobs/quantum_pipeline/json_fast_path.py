"""The JVM fast path for raw JSON files: one typed pass, the validation rules as Column expressions.

A file takes the fast path when it holds exactly one JSON document that the declared schema
(record_spec) parses without error and that satisfies every rule the Python validator checks.
Anything else is *flagged* and goes to the Python validator (validation.py), which names the field
and the value. The rules here are deliberately stricter than the validator, never looser: a file the
fast path accepts is one the validator accepts with the same values, so the two paths agree (the
tests prove it on every poison case), and a flagged file costs only time, never a wrong answer.

What a typed JSON parse lets through, and the rule that catches it:
- a string field given a number, boolean, object or array (Spark keeps its JSON text): strings that
  look like such text are flagged;
- NaN and infinities (the tokens, "NaN"/"Infinity" strings for a double, numbers beyond a double's
  range): doubles must be finite;
- nulls and missing fields (both read as null): required fields and array elements must be present;
- duplicate keys (the last one wins) and invalid JSON anywhere: `try_parse_json` refuses both;
- a second document after the first (JSON Lines, trailing text): the file must be one document;
- bytes that are not UTF-8 (the text reader keeps them as they are): flagged.
"""

from __future__ import annotations

import json

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from .record_spec import VQE_DECORATED_RESULT, ArrayOf, Obj, Scalar, Spec
from .validation import experiment_id

# Duplicate keys must make try_parse_json fail (the Spark 4 default; set so a cluster default
# cannot turn the check off).
DUPLICATE_KEYS_CONF = "spark.sql.variant.allowDuplicateKeys"

# The text Spark keeps when a string field holds a JSON number, boolean, object or array.
_NON_STRING = r"(-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?|true|false|NaN|-?Infinity)"
_NON_STRING_TEXT = rf"^{_NON_STRING}$|^[\[{{]"
# The same for each item of strings joined by _SEPARATOR (U+0001).
_NON_STRING_ITEM = rf"(^|\x{{01}}){_NON_STRING}(\x{{01}}|$)|(^|\x{{01}})[\[{{]"


def _parse_type(spec: Spec) -> T.DataType:
    """The schema the parser reads with: every field nullable, so a gap is a null to check."""
    if isinstance(spec, Scalar):
        return {
            "string": T.StringType(),
            "int": T.IntegerType(),
            "long": T.LongType(),
            "double": T.DoubleType(),
            "boolean": T.BooleanType(),
        }[spec.kind]
    if isinstance(spec, ArrayOf):
        return T.ArrayType(_parse_type(spec.item), containsNull=True)
    return T.StructType([T.StructField(name, _parse_type(f.spec), True) for name, f in spec.fields.items()])


CORRUPT_COLUMN = "_corrupt_record"
PARSE_SCHEMA = T.StructType([*_parse_type(VQE_DECORATED_RESULT).fields, T.StructField(CORRUPT_COLUMN, T.StringType())])


# A value no real record holds, per type: array_contains(values, probe) is NULL exactly when the
# array holds a null and not the probe (and TRUE if it holds the probe: then the file is flagged).
_PROBES = {"string": "\u0000", "int": -(2**31), "long": -(2**63), "double": float("nan")}
_SEPARATOR = "\u0001"
_INFINITY = float("inf")


def _no_nulls(values: Column, kind: str) -> Column:
    """True when the array `values` (or NULL: its container is absent) holds no null."""
    if kind not in _PROBES:
        return values.isNull() | ~F.exists(values, lambda v: v.isNull())
    return values.isNull() | ~F.coalesce(F.array_contains(values, F.lit(_PROBES[kind])), F.lit(True))


def _leaf_checks(value: Column, spec: Spec, depth: int, required: bool) -> list[Column]:
    """Checks of every value below `value`, without a lambda per array element (those run
    interpreted, element by element). At depth 0 `value` is one value; at depth d > 0 it is an
    array of every value found at this place of the record, flattened, with a null for each gap."""
    checks: list[Column] = []
    if depth == 0 and required:
        checks.append(value.isNotNull())
    if isinstance(spec, Scalar):
        if depth > 0 and required:
            checks.append(_no_nulls(value, spec.kind))
        if spec.kind == "double":  # Spark orders NaN above +Infinity, so neither passes `< inf`
            low, high = (value, value) if depth == 0 else (F.array_min(value), F.array_max(value))
            checks.append(F.coalesce((low > -_INFINITY) & (high < _INFINITY), F.lit(True)))
        if spec.kind == "string":
            text = value if depth == 0 else F.array_join(value, _SEPARATOR)
            checks.append(text.isNull() | ~text.rlike(_NON_STRING_TEXT if depth == 0 else _NON_STRING_ITEM))
        return checks
    if isinstance(spec, ArrayOf):
        if depth == 0:
            items = value
        else:  # an array of arrays: flatten is NULL when one of them is, which a required item must not be
            items = F.flatten(value)
            checks.append(value.isNull() | items.isNotNull())
        return checks + _leaf_checks(items, spec.item, depth + 1, required=True)
    for name, f in spec.fields.items():
        checks += _leaf_checks(value.getField(name), f.spec, depth, required=not f.nullable)
    return checks


def _fields_ok(record: Column, spec: Obj) -> Column:
    checks = _leaf_checks(record, spec, 0, required=True)
    condition = checks[0]
    for check in checks[1:]:
        condition = condition & check
    return condition


def _structure_ok(record: Column) -> Column:
    """The cross-field rules of validation._check_structure."""
    data = record["molecule"]["molecule_data"]
    atoms = F.size(data["symbols"])
    iterations = record["vqe_result"]["iteration_list"]["iteration"]
    return (
        (atoms >= 1)
        & (F.size(data["coords"]) == atoms)
        & F.forall(data["coords"], lambda row: F.size(row) == 3)
        & (data["masses"].isNull() | (F.size(data["masses"]) == atoms))
        & (F.size(F.array_distinct(iterations)) == F.size(iterations))
    )


def _with_defaults(value: Column, spec: Spec) -> Column:
    """`value` with every field's default applied, as validation.normalise does."""
    if not _has_defaults(spec):
        return value
    if isinstance(spec, ArrayOf):
        return F.transform(value, lambda item: _with_defaults(item, spec.item))
    assert isinstance(spec, Obj)
    fields = []
    for name, f in spec.fields.items():
        child = _with_defaults(value.getField(name), f.spec)
        fields.append((F.coalesce(child, F.lit(f.default)) if f.has_default else child).alias(name))
    return F.when(value.isNull(), F.lit(None)).otherwise(F.struct(*fields))


def _has_defaults(spec: Spec) -> bool:
    if isinstance(spec, Scalar):
        return False
    if isinstance(spec, ArrayOf):
        return _has_defaults(spec.item)
    return any(f.has_default or _has_defaults(f.spec) for f in spec.fields.values())


def _identity_hash(identity_json: str | None) -> str | None:
    """validation.experiment_id of one accepted record, from the JSON text of its identity fields
    (Spark's to_json: exact doubles, every field kept). Python re-serialises it canonically, so the
    id is exactly the one the validator computes."""
    if identity_json is None:
        return None
    identity = json.loads(identity_json)
    return experiment_id(
        {
            "molecule": {"molecule_data": identity["molecule_data"]},
            "basis_set": identity["basis_set"],
            "vqe_result": {"initial_data": identity["initial_data"]},
        }
    )


def with_experiment_ids(accepted: DataFrame) -> DataFrame:
    """`accepted` (file_path, record) with `experiment_id` added.

    The hash runs in Python on a narrow projection (file path and identity text) whose result is
    cached and joined back: a Python UDF next to the whole record would copy every record into
    Spark's Python-evaluation buffer."""
    record = F.col("record")
    identity = F.to_json(
        F.struct(
            record["molecule"]["molecule_data"].alias("molecule_data"),
            record["basis_set"].alias("basis_set"),
            record["vqe_result"]["initial_data"].alias("initial_data"),
        ),
        {"ignoreNullFields": "false"},
    )
    hashed = F.udf(_identity_hash, T.StringType())
    ids = accepted.select("file_path", hashed(identity).alias("experiment_id")).persist()
    return accepted.join(F.broadcast(ids), "file_path")


def parse_json_files(spark: SparkSession, root: str, file_paths: list[str]) -> DataFrame:
    """One row per file of `file_paths` (URL-encoded, as Spark's `_metadata.file_path` names them)
    below `root`: `file_path`, `accepted`, and for accepted files `record` (RECORD_SCHEMA values,
    defaults applied). All in the JVM: no Python worker sees a file here.

    The root is listed once (a few LIST requests per thousand objects) and the filter on the file
    path prunes the listing before anything is read; handing Spark thousands of single paths instead
    costs a status request per path, more than the reading itself.
    """
    spark.conf.set(DUPLICATE_KEYS_CONF, "false")
    text = (
        spark.read.format("text")
        .option("wholetext", "true")
        .option("ignoreMissingFiles", "true")
        .option("recursiveFileLookup", "true")
        .load(root)
        .where(F.col("_metadata.file_path").isin(file_paths))
        .select(F.col("_metadata.file_path").alias("file_path"), "value")
    )
    parsed = text.select(
        "file_path",
        "value",
        F.from_json("value", PARSE_SCHEMA, {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_COLUMN}).alias(
            "r"
        ),
    )
    record = F.col("r")
    accepted = (
        record.isNotNull()
        & record[CORRUPT_COLUMN].isNull()
        & F.expr("try_parse_json(value)").isNotNull()
        & (F.expr("json_array_length(concat('[', value, ']'))") == 1)
        & F.expr("is_valid_utf8(value)")
        & _fields_ok(record, VQE_DECORATED_RESULT)
        & _structure_ok(record)
    )
    fields = [record[name].alias(name) for name in VQE_DECORATED_RESULT.fields]
    normalised = _with_defaults(F.struct(*fields), VQE_DECORATED_RESULT)
    decided = parsed.select(
        "file_path", F.coalesce(accepted, F.lit(False)).alias("accepted"), normalised.alias("record")
    )
    return decided.select("file_path", "accepted", F.when(F.col("accepted"), F.col("record")).alias("record"))
