"""Schema evolution: a column added to a table's declaration reaches the existing table; a type
change or a removal is refused, naming the table and the column."""

import pytest
from pyspark.testing import assertDataFrameEqual

from quantum_pipeline.iceberg_io import (
    SchemaEvolutionError,
    TableRef,
    append_once,
    columns_to_add,
    declaration_digest,
    ensure_tables,
    parse_namespace_properties,
)
from quantum_pipeline.tables import D, I, L, S, TableSpec

REF = TableRef("local_catalog", "unit_evolution")
BEFORE = TableSpec("runs", (("id", L, False), ("label", S, True)), ("id",), ())
# A column declared later, between the two existing ones.
AFTER = TableSpec("runs", (("id", L, False), ("energy", D, True), ("label", S, True)), ("id",), ())


def test_an_added_optional_column_is_placed_after_its_declared_neighbour():
    assert columns_to_add(AFTER, BEFORE.schema) == ["ADD COLUMN `energy` double AFTER `id`"]


def test_a_column_declared_first_goes_first_and_a_table_that_matches_needs_nothing():
    first = TableSpec("runs", (("run_tag", S, True), *BEFORE.columns), ("id",), ())

    assert columns_to_add(first, BEFORE.schema) == ["ADD COLUMN `run_tag` string FIRST"]
    assert columns_to_add(BEFORE, BEFORE.schema) == []


def test_a_new_required_column_is_refused_naming_table_and_column():
    required = TableSpec("runs", (*BEFORE.columns, ("shots", I, False)), ("id",), ())

    with pytest.raises(SchemaEvolutionError, match=r"table runs: new column shots is declared NOT NULL"):
        columns_to_add(required, BEFORE.schema)


def test_a_type_change_is_refused_naming_table_column_and_both_types():
    retyped = TableSpec("runs", (("id", L, False), ("label", I, True)), ("id",), ())

    with pytest.raises(
        SchemaEvolutionError, match=r"table runs: column label is string in the table and int in its declaration"
    ):
        columns_to_add(retyped, BEFORE.schema)


def test_a_removed_column_is_refused_naming_it():
    removed = TableSpec("runs", (("id", L, False),), ("id",), ())

    with pytest.raises(SchemaEvolutionError, match=r"table runs: column\(s\) label exist in the table but not"):
        columns_to_add(removed, BEFORE.schema)


def test_a_declared_column_reaches_the_existing_table_with_old_rows_null(spark):
    # Prepare: a table made from the old declaration, with rows
    fqn = REF.fqn("runs")
    spark.sql(f"DROP TABLE IF EXISTS {fqn}")
    ensure_tables(spark, REF, (BEFORE,))
    append_once(spark, fqn, spark.createDataFrame([(1, "old")], BEFORE.schema), "batch-1")

    # Act: the next run declares the new column, then writes a row that has it
    ensure_tables(spark, REF, (AFTER,))
    ensure_tables(spark, REF, (AFTER,))  # a second run finds nothing to add
    append_once(spark, fqn, spark.createDataFrame([(2, -1.137, "new")], AFTER.schema), "batch-2")

    # Assess
    assert spark.table(fqn).schema.simpleString() == AFTER.schema.simpleString()
    expected = spark.createDataFrame([(1, None, "old"), (2, -1.137, "new")], AFTER.schema)
    assertDataFrameEqual(spark.table(fqn), expected)


def test_a_run_with_a_retyped_declaration_fails_before_writing(spark):
    # Prepare
    fqn = REF.fqn("runs")
    spark.sql(f"DROP TABLE IF EXISTS {fqn}")
    ensure_tables(spark, REF, (BEFORE,))
    retyped = TableSpec("runs", (("id", S, False), ("label", S, True)), ("id",), ())

    # Act / Assess
    with pytest.raises(SchemaEvolutionError, match=r"table runs: column id is bigint in the table and string"):
        ensure_tables(spark, REF, (retyped,))
    assert spark.table(fqn).schema.simpleString() == BEFORE.schema.simpleString()


def test_the_digest_follows_names_types_and_nullability_only():
    renamed_table = TableSpec("other", BEFORE.columns, ("label",), ("label",))
    optional_id = TableSpec("runs", (("id", L, True), ("label", S, True)), ("id",), ())

    assert declaration_digest(renamed_table) == declaration_digest(BEFORE)
    assert len({declaration_digest(BEFORE), declaration_digest(AFTER), declaration_digest(optional_id)}) == 3


def test_namespace_properties_are_read_from_describe_namespace():
    described = [("Namespace Name", "n"), ("Properties", "((qp.schema.runs,0a1b), (owner,me))")]

    assert parse_namespace_properties(described) == {"qp.schema.runs": "0a1b", "owner": "me"}
    assert parse_namespace_properties([("Properties", "")]) == {}
