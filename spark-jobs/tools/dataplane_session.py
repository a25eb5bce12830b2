"""Spark session settings to read (and clean up) what the local cluster wrote: its JDBC catalog
and Garage. Used by the integration tests and the benchmark, which run outside the cluster."""

from __future__ import annotations

import os

CATALOG = "quantum_catalog"  # must equal the cluster's name: Iceberg's JDBC catalog stores it in its rows


def with_dataplane_catalog(builder):
    """Add the data plane's catalog and S3 settings to a SparkSession builder (from QP_* variables)."""
    prefix = f"spark.sql.catalog.{CATALOG}"
    return (
        builder.config(prefix, "org.apache.iceberg.spark.SparkCatalog")
        .config(f"{prefix}.type", "jdbc")
        .config(f"{prefix}.uri", os.environ["QP_CATALOG_URI"])
        .config(f"{prefix}.jdbc.user", os.environ["QP_CATALOG_USER"])
        .config(f"{prefix}.jdbc.password", os.environ["QP_CATALOG_PASSWORD"])
        .config(f"{prefix}.jdbc.schema-version", "V1")
        .config(f"{prefix}.warehouse", "s3a://features/warehouse/")
        .config(f"{prefix}.cache-enabled", "false")  # see every commit the cluster makes
        .config("spark.hadoop.fs.s3a.endpoint", os.environ["QP_S3_ENDPOINT"])
        .config("spark.hadoop.fs.s3a.endpoint.region", os.environ["QP_S3_REGION"])
        .config("spark.hadoop.fs.s3a.path.style.access", "true")
        .config("spark.hadoop.fs.s3a.connection.ssl.enabled", "false")
        .config("spark.hadoop.fs.s3a.aws.credentials.provider", "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider")
        .config("spark.hadoop.fs.s3a.access.key", os.environ["AWS_ACCESS_KEY_ID"])
        .config("spark.hadoop.fs.s3a.secret.key", os.environ["AWS_SECRET_ACCESS_KEY"])
    )


def drop_namespace(spark, namespace: str, s3=None) -> None:
    """Drop a namespace and its tables' files, if it exists. With an S3 client the files go by one
    bulk delete of the namespace's warehouse folder (seconds faster per namespace than a PURGE of
    each table, which deletes file by file)."""
    if namespace not in {row[0] for row in spark.sql(f"SHOW NAMESPACES IN {CATALOG}").collect()}:
        return
    purge = "" if s3 is not None else " PURGE"
    for row in spark.sql(f"SHOW TABLES IN {CATALOG}.{namespace}").collect():
        spark.sql(f"DROP TABLE IF EXISTS {CATALOG}.{namespace}.{row.tableName}{purge}")
    spark.sql(f"DROP NAMESPACE IF EXISTS {CATALOG}.{namespace}")
    if s3 is not None:
        delete_prefix(s3, "features", f"warehouse/{namespace}/")


def delete_prefix(s3, bucket: str, prefix: str) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
