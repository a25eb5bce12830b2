"""Quantum Pipeline Spark jobs: raw VQE results -> Iceberg feature tables -> ML feature tables."""
