"""Client of the running local data plane (Garage + Spark standalone) for the integration tests.

Each test module gets its own Iceberg namespace and its own raw and summary prefixes, so tests
never see each other's data (or a person's data in the default locations).
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

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
        self.s3.put_object(Bucket="raw-results", Key=f"{self.raw_prefix}/{key}", Body=body)

    def fqn(self, name: str) -> str:
        return f"quantum_catalog.{self.namespace}.{name}"

    def table(self, spark, name: str):
        return spark.table(self.fqn(name))

    def submit(self, job: str, run_id: str, conf: dict[str, str] | None = None, extra_args: list[str] = ()) -> str:
        args = ["--run-id", run_id, "--catalog", "quantum_catalog", "--namespace", self.namespace,
                "--summary-uri", self.summary_uri, *extra_args]
        if job == "feature_processing":
            args += ["--raw-uri", f"s3a://raw-results/{self.raw_prefix}"]
        return self.rest.submit(str(self.dist / f"{job}.py"), args, str(self.dist / "quantum_pipeline.zip"), conf,
                                app_name=f"it-{job}-{run_id}")

    def run(self, job: str, conf: dict[str, str] | None = None, extra_args: list[str] = ()) -> JobRun:
        run_id = f"{job[:2]}-{uuid.uuid4().hex[:8]}"
        driver = self.rest.wait(self.submit(job, run_id, conf, extra_args))
        return JobRun(driver, self.read_summary(job, run_id))

    def read_summary(self, job: str, run_id: str) -> dict | None:
        try:
            body = self.s3.get_object(Bucket="features", Key=f"it-{self.name}/runs/{job}/{run_id}.json")["Body"]
        except self.s3.exceptions.NoSuchKey:
            return None
        return json.loads(body.read())


def assert_succeeded(run: JobRun) -> dict:
    assert run.driver.state == "FINISHED", (
        f"driver {run.driver.submission_id} ended {run.driver.state}; stderr tail:\n{run.driver.stderr[-4000:]}")
    assert run.summary is not None, "the job wrote no run summary"
    assert json.loads(run.driver.last_stdout_line) == run.summary, "the summary must be the last stdout line"
    return run.summary
