"""A small client of Spark standalone's REST submission API (port 6066): tests, benchmarks, run_job.py.

Python jobs cannot be submitted in cluster mode by spark-submit on standalone, so the request
launches SparkSubmit itself on the worker (in client mode there), which then runs the script.
"""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

FINAL_STATES = {"FINISHED", "FAILED", "KILLED", "ERROR"}


@dataclass(frozen=True)
class DriverResult:
    submission_id: str
    state: str
    stdout: str
    stderr: str

    @property
    def last_stdout_line(self) -> str:
        lines = [line for line in self.stdout.splitlines() if line.strip()]
        return lines[-1] if lines else ""


class SparkRestClient:
    def __init__(self, rest_url: str, master_url: str, work_dir: str, python: str, spark_version: str = "4.0.2"):
        self.rest_url, self.master_url = rest_url.rstrip("/"), master_url
        self.work_dir, self.python, self.spark_version = Path(work_dir), python, spark_version

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.rest_url}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def submit(
        self,
        entry_point: str,
        args: list[str],
        py_files: str,
        conf: dict[str, str] | None = None,
        app_name: str = "quantum-pipeline-test",
        driver_master: str | None = None,
    ) -> str:
        """Launch a driver on the cluster. `driver_master` (e.g. local[2]) makes that driver run its
        tasks in its own JVM instead of asking the cluster for an executor: for tests about the
        driver process itself (its crash or its kill), where the executor is only start-up cost."""
        properties = {
            "spark.master": self.master_url,
            "spark.app.name": app_name,
            "spark.submit.deployMode": "cluster",
            "spark.driver.memory": "1g",
            "spark.executor.memory": "1536m",
            "spark.driver.supervise": "false",
            **(conf or {}),
        }
        # SparkSubmit on the worker takes its master and conf from its own arguments (system
        # properties alone would leave it on local[*]); the JVM settings stay in sparkProperties.
        conf_args = [
            part
            for key, value in properties.items()
            if key not in ("spark.master", "spark.submit.deployMode")
            for part in ("--conf", f"{key}={value}")
        ]
        body = {
            "action": "CreateSubmissionRequest",
            "clientSparkVersion": self.spark_version,
            "appResource": entry_point,
            "mainClass": "org.apache.spark.deploy.SparkSubmit",
            "appArgs": [
                "--master",
                driver_master or self.master_url,
                "--deploy-mode",
                "client",
                *conf_args,
                "--py-files",
                py_files,
                entry_point,
                *args,
            ],
            "environmentVariables": {"PYSPARK_PYTHON": self.python, "SPARK_LOCAL_IP": "127.0.0.1"},
            "sparkProperties": properties,
        }
        reply = self._call("POST", "/v1/submissions/create", body)
        if not reply.get("success"):
            raise RuntimeError(f"submission refused: {reply.get('message')}")
        return reply["submissionId"]

    def state(self, submission_id: str) -> str:
        return self._call("GET", f"/v1/submissions/status/{submission_id}").get("driverState", "UNKNOWN")

    def kill(self, submission_id: str) -> dict:
        return self._call("POST", f"/v1/submissions/kill/{submission_id}")

    def wait(self, submission_id: str, timeout_s: float = 900, poll_s: float = 0.5) -> DriverResult:
        deadline = time.monotonic() + timeout_s
        state = self.state(submission_id)
        while state not in FINAL_STATES:
            if time.monotonic() > deadline:
                self.kill(submission_id)
                raise TimeoutError(f"driver {submission_id} still {state} after {timeout_s}s (killed)")
            time.sleep(poll_s)
            state = self.state(submission_id)
        return self.result(submission_id, state)

    def result(self, submission_id: str, state: str) -> DriverResult:
        folder = self.work_dir / submission_id
        read = lambda name: (folder / name).read_text(errors="replace") if (folder / name).exists() else ""  # noqa: E731
        return DriverResult(submission_id, state, read("stdout"), read("stderr"))
