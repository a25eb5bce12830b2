"""Schema evolution on the data plane's own catalog (JDBC, tables on Garage): each table is compared
with its declaration once per declaration change, recorded as a namespace property."""

import uuid

import pytest
from pyspark.testing import assertDataFrameEqual

from quantum_pipeline import iceberg_io
from quantum_pipeline.iceberg_io import SCHEMA_PROPERTY_PREFIX, TableRef, declaration_digest, ensure_tables
from quantum_pipeline.tables import D, L, S, TableSpec
from tools.dataplane_session import CATALOG, drop_namespace

BEFORE = TableSpec("runs", (("id", L, False), ("label", S, True)), ("id",), ())
AFTER = TableSpec("runs", (("id", L, False), ("energy", D, True), ("label", S, True)), ("id",), ())
OTHER = TableSpec("notes", (("id", L, False),), ("id",), ())


@pytest.fixture
def ref(spark):
    ref = TableRef(CATALOG, f"it_schema_{uuid.uuid4().hex[:8]}")
    yield ref
    drop_namespace(spark, ref.namespace)


def checked_digests(spark, ref: TableRef) -> dict[str, str]:
    rows = spark.sql(f"DESCRIBE NAMESPACE EXTENDED {ref.catalog}.{ref.namespace}").collect()
    properties = iceberg_io.parse_namespace_properties([(r[0], r[1]) for r in rows])
    return {
        k.removeprefix(SCHEMA_PROPERTY_PREFIX): v for k, v in properties.items() if k.startswith(SCHEMA_PROPERTY_PREFIX)
    }


def test_a_table_is_compared_again_only_when_its_declaration_changed(spark, ref, monkeypatch):
    # Prepare: count the comparisons (each one loads the table)
    compared: list[str] = []
    compare = iceberg_io.columns_to_add
    monkeypatch.setattr(
        iceberg_io, "columns_to_add", lambda spec, actual: compared.append(spec.name) or compare(spec, actual)
    )
    ensure_tables(spark, ref, (BEFORE, OTHER))
    spark.createDataFrame([(1, "old")], BEFORE.schema).writeTo(ref.fqn("runs")).append()

    # Act
    ensure_tables(spark, ref, (BEFORE, OTHER))
    after_unchanged_run = list(compared)
    ensure_tables(spark, ref, (AFTER, OTHER))

    # Assess: creating and an unchanged run compare nothing; the changed declaration is compared and applied
    assert after_unchanged_run == []
    assert compared == ["runs"]
    assert checked_digests(spark, ref) == {"runs": declaration_digest(AFTER), "notes": declaration_digest(OTHER)}
    expected = spark.createDataFrame([(1, None, "old")], AFTER.schema)
    assertDataFrameEqual(spark.table(ref.fqn("runs")), expected)
