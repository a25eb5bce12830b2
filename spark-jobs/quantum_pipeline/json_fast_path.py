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
- NaN and infinities (the tokens, or "NaN"/"Infinity" strings for a double): doubles must be finite;
- nulls and missing fields (both read as null): required fields and array elements must be present;
- duplicate keys (the last one wins) and invalid JSON anywhere: `try_parse_json` refuses both;
- a second document after the first (JSON Lines, trailing text): the file must be one document;
- bytes that are not UTF-8 (the text reader keeps them as they are): flagged.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from .record_spec import VQE_DECORATED_RESULT, ArrayOf, Field, Obj, Scalar, Spec
from .validation import experiment_id

# Duplicate keys must make try_parse_json fail (the Spark 4 default; set so a cluster default
# cannot turn the check off).
DUPLICATE_KEYS_CONF = "spark.sql.variant.allowDuplicateKeys"

# The text Spark keeps when a string field holds a JSON number, boolean, object or array.
_NON_STRING_TEXT = (r"^(-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?|true|false|NaN|-?Infinity)$"
                    r"|^[\[{]")


def _parse_type(spec: Spec) -> T.DataType:
    """The schema the parser reads with: every field nullable, so a gap is a null to check."""
    if isinstance(spec, Scalar):
        return {"string": T.StringType(), "int": T.IntegerType(), "long": T.LongType(),
                "double": T.DoubleType(), "boolean": T.BooleanType()}[spec.kind]
    if isinstance(spec, ArrayOf):
        return T.ArrayType(_parse_type(spec.item), containsNull=True)
    return T.StructType([T.StructField(name, _parse_type(f.spec), True) for name, f in spec.fields.items()])


CORRUPT_COLUMN = "_corrupt_record"
PARSE_SCHEMA = T.StructType(_parse_type(VQE_DECORATED_RESULT).fields + [T.StructField(CORRUPT_COLUMN, T.StringType())])


def _value_ok(value: Column, spec: Spec) -> Column:
    """True when a non-null value satisfies its spec (nulls are checked by the caller)."""
    if isinstance(spec, Scalar):
        if spec.kind == "string":
            return ~value.rlike(_NON_STRING_TEXT)
        if spec.kind == "double":
            return ~F.isnan(value) & (F.abs(value) < F.lit(float("inf")))
        return F.lit(True)
    if isinstance(spec, ArrayOf):
        return F.forall(value, lambda item: item.isNotNull() & _value_ok(item, spec.item))
    return _fields_ok(value, spec)


def _field_ok(value: Column, field: Field) -> Column:
    if field.nullable:  # optional, or filled with its default
        return value.isNull() | _value_ok(value, field.spec)
    return value.isNotNull() & _value_ok(value, field.spec)


def _fields_ok(value: Column, spec: Obj) -> Column:
    checks = [_field_ok(value.getField(name), f) for name, f in spec.fields.items()]
    condition = checks[0]
    for check in checks[1:]:
        condition = condition & check
    return condition


def _structure_ok(record: Column) -> Column:
    """The cross-field rules of validation._check_structure."""
    data = record["molecule"]["molecule_data"]
    atoms = F.size(data["symbols"])
    iterations = record["vqe_result"]["iteration_list"]["iteration"]
    return ((atoms >= 1) & (F.size(data["coords"]) == atoms)
            & F.forall(data["coords"], lambda row: F.size(row) == 3)
            & (data["masses"].isNull() | (F.size(data["masses"]) == atoms))
            & (F.size(F.array_distinct(iterations)) == F.size(iterations)))


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


def _identity_hash(molecule_data, basis_set, initial_data) -> str | None:
    """validation.experiment_id over the parsed values (rows become the dicts the validator builds)."""
    if basis_set is None:  # a flagged file
        return None
    return experiment_id({"molecule": {"molecule_data": _plain(molecule_data)}, "basis_set": basis_set,
                          "vqe_result": {"initial_data": _plain(initial_data)}})


def _plain(value):
    if isinstance(value, T.Row):
        return {k: _plain(v) for k, v in value.asDict(recursive=False).items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def parse_json_files(spark: SparkSession, uris: list[str]) -> DataFrame:
    """One row per file: `file_path` (URL-encoded, as Spark names it), `accepted`, and for accepted
    files `experiment_id` and `record` (RECORD_SCHEMA values, defaults applied)."""
    spark.conf.set(DUPLICATE_KEYS_CONF, "false")
    text = (spark.read.format("text").option("wholetext", "true").option("ignoreMissingFiles", "true")
            .load(uris).select(F.col("_metadata.file_path").alias("file_path"), "value"))
    parsed = text.select(
        "file_path", "value",
        F.from_json("value", PARSE_SCHEMA, {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_COLUMN})
        .alias("r"))
    record = F.col("r")
    accepted = (record.isNotNull() & record[CORRUPT_COLUMN].isNull()
                & F.expr("try_parse_json(value)").isNotNull()
                & (F.expr("json_array_length(concat('[', value, ']'))") == 1)
                & F.expr("is_valid_utf8(value)")
                & _fields_ok(record, VQE_DECORATED_RESULT) & _structure_ok(record))
    fields = [record[name].alias(name) for name in VQE_DECORATED_RESULT.fields]
    normalised = _with_defaults(F.struct(*fields), VQE_DECORATED_RESULT)
    decided = parsed.select("file_path", F.coalesce(accepted, F.lit(False)).alias("accepted"),
                            normalised.alias("record"))
    # Python UDFs are evaluated for every row whatever the CASE around them says, so a flagged
    # file's values (a NaN, say) must not reach the hash: they are nulled first.
    kept = F.when(F.col("accepted"), F.col("record"))
    identity = F.udf(_identity_hash, T.StringType())
    return decided.select(
        "file_path", "accepted",
        identity(kept["molecule"]["molecule_data"], kept["basis_set"], kept["vqe_result"]["initial_data"])
        .alias("experiment_id"),
        kept.alias("record"))
