"""Client of the running local data plane (Garage + Spark standalone) for the integration tests.

Each test gets its own Iceberg namespace and its own raw and summary prefixes, so tests never see
each other's data (or a person's data in the default locations). A job runs either in the test
process (`run_here`: the job's own `run()` on the test session, against the real Garage and JDBC
catalog) or as a driver on the cluster through the REST API (`run`), where the submission, the
driver process or a kill is what a test is about.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

import boto3

from tools.spark_rest import DriverResult, SparkRestClient


@dataclass
class JobRun:
    driver: DriverResult
    summary: dict | None


@dataclass
class Plane:
    name: str  # unique per module: namespace it_<hex>, prefixes it-<hex>/
    s3: object
    rest: SparkRestClient
    dist: Path

    @property
    def namespace(self) -> str:
        return f"it_{self.name}"

    @property
    def raw_prefix(self) -> str:
        return f"it-{self.name}/experiments"

    @property
    def summary_uri(self) -> str:
        return f"s3a://features/it-{self.name}/runs"

    def put_raw(self, key: str, body: bytes) -> None:
        if body:
            self.s3.put_object(Bucket="raw-results", Key=f"{self.raw_prefix}/{key}", Body=body)
            return
        # After an empty PUT, Garage 2.5 leaves the connection so that the next request on it waits
        # for botocore's read timeout (60 s) before a retry succeeds: empty objects go through a
        # client of their own, closed right after.
        once = boto3.client("s3", endpoint_url=self.s3.meta.endpoint_url, region_name=self.s3.meta.region_name)
        try:
            once.put_object(Bucket="raw-results", Key=f"{self.raw_prefix}/{key}", Body=body)
        finally:
            once.close()

    def fqn(self, name: str) -> str:
        return f"quantum_catalog.{self.namespace}.{name}"

    def table(self, spark, name: str):
        return spark.table(self.fqn(name))

    def job_args(self, job: str, run_id: str, extra_args: list[str] = ()) -> list[str]:
        args = [
            "--run-id",
            run_id,
            "--catalog",
            "quantum_catalog",
            "--namespace",
            self.namespace,
            "--summary-uri",
            self.summary_uri,
            *extra_args,
        ]
        if job == "feature_processing":
            args += ["--raw-uri", f"s3a://raw-results/{self.raw_prefix}"]
        return args

    def submit(
        self,
        job: str,
        run_id: str,
        conf: dict[str, str] | None = None,
        extra_args: list[str] = (),
        tasks_in_driver: bool = False,
    ) -> str:
        """A driver on the cluster; with `tasks_in_driver` it runs its tasks itself (local[2]):
        for the tests of a driver's crash or kill, which need the driver process, not an executor."""
        return self.rest.submit(
            str(self.dist / f"{job}.py"),
            self.job_args(job, run_id, extra_args),
            str(self.dist / "quantum_pipeline.zip"),
            conf,
            app_name=f"it-{job}-{run_id}",
            driver_master="local[2]" if tasks_in_driver else None,
        )

    def run_here(self, spark, job: str, extra_args: list[str] = ()) -> dict:
        """The job's run() in this process; its summary as the JSON the cluster would publish."""
        from quantum_pipeline import feature_job, ml_job
        from quantum_pipeline.config import parse_feature_args, parse_ml_args

        args = self.job_args(job, f"{job[:2]}-{uuid.uuid4().hex[:8]}", extra_args)
        if job == "feature_processing":
            summary = feature_job.run(spark, parse_feature_args(args))
        else:
            summary = ml_job.run(spark, parse_ml_args(args))
        return json.loads(summary.to_json())

    def run(
        self, job: str, conf: dict[str, str] | None = None, extra_args: list[str] = (), tasks_in_driver: bool = False
    ) -> JobRun:
        run_id = f"{job[:2]}-{uuid.uuid4().hex[:8]}"
        driver = self.rest.wait(self.submit(job, run_id, conf, extra_args, tasks_in_driver))
        return JobRun(driver, self.read_summary(job, run_id))

    def read_summary(self, job: str, run_id: str) -> dict | None:
        try:
            body = self.s3.get_object(Bucket="features", Key=f"it-{self.name}/runs/{job}/{run_id}.json")["Body"]
        except self.s3.exceptions.NoSuchKey:
            return None
        return json.loads(body.read())


def assert_succeeded(run: JobRun) -> dict:
    assert run.driver.state == "FINISHED", (
        f"driver {run.driver.submission_id} ended {run.driver.state}; stderr tail:\n{run.driver.stderr[-4000:]}"
    )
    assert run.summary is not None, "the job wrote no run summary"
    assert json.loads(run.driver.last_stdout_line) == run.summary, "the summary must be the last stdout line"
    return run.summary
