"""Job 2 transforms: every column of both ML tables, the guards, and division under ANSI mode."""

import datetime as dt
import math

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from quantum_pipeline import features, ml_features, tables
from quantum_pipeline.ml_features import MlParams
from quantum_pipeline.validation import experiment_id, validate_record
from support import base_record, records_frame

TS = dt.datetime(2026, 1, 3, 0, 0, 0)
JOB1 = features.BatchContext("b-1", dt.datetime(2026, 1, 2), "job1")
ML = features.BatchContext("m-1", TS, "job2")
META = (TS, TS.date(), "m-1", "job2")
CONTEXT = ("HH", 2, 4, 0, 1, "sto3g", "COBYLA", "RealAmplitudes", 2, "hf", 7, 1024)
SLOPE_TOLERANCE = dict(rtol=1e-9, atol=1e-12)


def base_tables(spark, raw_records):
    frame = records_frame(spark, raw_records)
    return {spec.name: transform(frame, JOB1) for spec, transform in features.FEATURE_TRANSFORMS}


def ml_frames(spark, raw_records, params=MlParams(), base=None):
    base = base or base_tables(spark, raw_records)
    context = ml_features.experiment_context(
        base["vqe_results"], base["ansatz_info"], base["molecules"], base["performance_metrics"]
    )
    joined = ml_features.join_iterations(base["vqe_iterations"], context)
    feats = ml_features.iteration_features(joined.where(ml_features.complete_rows(joined)), params)
    summary = ml_features.run_summaries(feats, context.where(ml_features.complete_rows(context)), params, ML)
    return ml_features.to_iteration_table(feats, ML), summary


def test_iteration_features_every_column(spark):
    eid = experiment_id(validate_record(base_record()))
    labels, timing = (3, -1.5, True, 2), (3.0, 5.0)
    std_2 = math.sqrt(0.125)

    actual, _ = ml_frames(spark, [base_record()])

    rows = [
        (eid, 1, *CONTEXT, -1.0, 0.01, None, None, -1.0, True, 0, -1.0, None, None, 1 / 3, 0.0, 0.0, *labels, *timing),
        (
            eid,
            2,
            *CONTEXT,
            -1.5,
            0.02,
            -0.5,
            0.25,
            -1.5,
            True,
            0,
            -1.25,
            std_2,
            0.125,
            2 / 3,
            0.25,
            0.0,
            *labels,
            *timing,
        ),
        (
            eid,
            3,
            *CONTEXT,
            -1.25,
            0.03,
            0.25,
            0.25,
            -1.5,
            False,
            1,
            -1.25,
            0.25,
            0.5 / 3,
            1.0,
            0.5 / 3,
            0.25 / 1.5,
            *labels,
            *timing,
        ),
    ]
    assertDataFrameEqual(
        actual, spark.createDataFrame([r + META for r in rows], tables.ML_ITERATION_FEATURES.schema), **SLOPE_TOLERANCE
    )


def test_run_summary_every_column(spark):
    eid = experiment_id(validate_record(base_record()))

    _, actual = ml_frames(spark, [base_record()])

    std_delta = math.sqrt(((-0.5 + 0.125) ** 2 + (0.25 + 0.125) ** 2) / 1)
    row = (
        eid,
        *CONTEXT,
        3,
        -1.5,
        True,
        2,
        3.0,
        5.0,
        -0.125,
        std_delta,
        -1.5,
        -1.0,
        0.5,
        0.25,
        0.0,
        0.5,
        2,
        1,
        2 / 3,
        -1.25,
        -0.125,
        -1.25,
        1.0,
    )
    assertDataFrameEqual(actual, spark.createDataFrame([row + META], tables.ML_RUN_SUMMARY.schema), **SLOPE_TOLERANCE)


def test_head_tail_and_window_are_configurable(spark):
    features_df, summary = ml_frames(
        spark, [base_record()], MlParams(rolling_window=2, trajectory_head=2, trajectory_tail=1)
    )
    row = summary.first()
    step3 = features_df.where("iteration_step = 3").first()

    assert (row.first_10_mean_energy, row.first_10_energy_slope, row.last_10_mean_energy) == (-1.25, -0.5, -1.25)
    assert step3.energy_moving_avg_5 == pytest.approx((-1.5 - 1.25) / 2)


def test_step_zero_and_empty_run_give_nulls_not_ansi_errors(spark):
    starting_at_zero = base_record()
    for it in starting_at_zero["vqe_result"]["iteration_list"]:
        it["iteration"] -= 1
    empty = base_record(basis_set="6-31g", **{"vqe_result.iteration_list": []})

    feats, summary = ml_frames(spark, [starting_at_zero, empty])
    step0 = feats.where("iteration_step = 0").first()
    empty_summary = summary.where("basis_set = '6-31g'").first()

    assert (step0.mean_param_change, step0.energy_improvement_rate, step0.relative_iteration) == (None, None, 0.0)
    assert feats.where("basis_set = '6-31g'").count() == 0
    assert empty_summary.total_iterations == 0 and empty_summary.num_new_minima == 0
    assert (empty_summary.improvement_ratio, empty_summary.time_per_iteration, empty_summary.min_energy) == (
        None,
        None,
        None,
    )


def test_normalized_energy_is_zero_when_the_minimum_is_zero(spark):
    raw = base_record()
    for it in raw["vqe_result"]["iteration_list"]:
        it["result"], it["cumulative_min_energy"] = 0.5, 0.0

    feats, _ = ml_frames(spark, [raw])

    assert {r.normalized_energy for r in feats.collect()} == {0.0}


def test_ratio_yields_null_for_zero_or_null_divisors_under_ansi(spark):
    df = spark.createDataFrame([(1.0, 2.0), (1.0, 0.0), (1.0, None)], "n double, d double")

    assert [r.q for r in df.select(ml_features.ratio(F.col("n"), F.col("d")).alias("q")).collect()] == [0.5, None, None]
    with pytest.raises(Exception, match="DIVIDE_BY_ZERO"):
        df.select((F.col("n").cast("int") / F.col("d").cast("int")).alias("q")).collect()  # the raw operator raises


def test_rows_missing_required_context_are_dropped(spark):
    base = base_tables(spark, [base_record(), base_record(basis_set="6-31g")])
    kept_id = experiment_id(validate_record(base_record()))
    base["molecules"] = base["molecules"].where(F.col("experiment_id") == kept_id)  # the other loses its molecule

    feats, summary = ml_frames(spark, [], base=base)

    assert {r.experiment_id for r in feats.collect()} == {kept_id}
    assert [r.experiment_id for r in summary.collect()] == [kept_id]


def test_an_experiment_with_a_duplicated_context_is_not_usable_and_the_others_are(spark):
    other = base_record(basis_set="6-31g")
    base = base_tables(spark, [base_record(), other])
    doubled = base["vqe_results"].where(F.col("experiment_id") == experiment_id(validate_record(base_record())))
    context = ml_features.with_context_multiplicity(
        ml_features.experiment_context(
            base["vqe_results"].unionByName(doubled),
            base["ansatz_info"],
            base["molecules"],
            base["performance_metrics"],
        )
    )

    joined = ml_features.join_iterations(base["vqe_iterations"], context)

    assert joined.count() == 9  # 3 iterations twice, 3 once
    usable = {r.experiment_id for r in joined.where(ml_features.usable_rows(joined)).collect()}
    assert usable == {experiment_id(validate_record(other))}
    assert [r.experiment_id for r in context.where(ml_features.usable_rows(context)).collect()] == list(usable)
