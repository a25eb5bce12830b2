"""The command line: argument errors (status 2, naming argument and value) and output targets."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from helpers import MINI_VQE_DIR, cli_arguments
from mini_vqe import output
from mini_vqe.cli import main, parse_arguments
from mini_vqe.output import S3Target, parse_s3_target, s3_client, upload_to_s3

FILE_NAME = re.compile(r"^\d{6}-\d{19}\.json$")


def replace(arguments: list[str], name: str, value: str) -> list[str]:
    changed = list(arguments)
    changed[changed.index(name) + 1] = value
    return changed


@pytest.mark.parametrize(
    "name, value",
    [
        ("--optimizer", "Adam"),
        ("--init-strategy", "zeros"),
        ("--ansatz", "UCCSD"),
        ("--simulation-method", "density_matrix"),
        ("--seed", "-1"),
        ("--seed", "one"),
        ("--seed", str(2**63)),
        ("--molecule-index", "7"),
        ("--molecule-index", "-1"),
        ("--basis", "no-such-basis"),
        ("--threshold", "0"),
        ("--threshold", "tight"),
        ("--file", "no-such-file.json"),
    ],
)
def test_bad_argument_exits_2_naming_argument_and_value(capsys, name: str, value: str) -> None:
    with pytest.raises(SystemExit) as stopped:
        parse_arguments(replace(cli_arguments(), name, value))
    assert stopped.value.code == 2
    message = capsys.readouterr().err
    assert f"argument {name}" in message and value in message, message


@pytest.mark.parametrize(
    "extra, name, value",
    [
        (["--max-iterations", "0"], "--max-iterations", "0"),
        (["--output", "http://bucket/x"], "--output", "http://bucket/x"),
        (["--output", "s3:///no-bucket"], "--output", "s3:///no-bucket"),
        (["--counter", "-4"], "--counter", "-4"),
        (["--gpu"], "--gpu", "--gpu"),
        (["--kafka"], "--kafka", "--kafka"),
    ],
)
def test_bad_optional_argument_exits_2(capsys, extra: list[str], name: str, value: str) -> None:
    with pytest.raises(SystemExit) as stopped:
        parse_arguments(cli_arguments() + extra)
    assert stopped.value.code == 2
    message = capsys.readouterr().err
    assert f"argument {name}" in message and value in message, message


@pytest.mark.parametrize(
    "content, detail",
    [
        ("{not json", "not valid JSON"),
        ('[{"symbols": ["H", "H"], "coords": [[0, 0, 0]], "multiplicity": 1, "charge": 0}]', "coords"),
        ('[{"symbols": ["H", "H"], "coords": [[0, 0, 0], [0, 0, 0.74]], "units": "furlong"}]', "units"),
    ],
)
def test_malformed_molecules_file_exits_2(tmp_path: Path, capsys, content: str, detail: str) -> None:
    bad = tmp_path / "molecules.json"
    bad.write_text(content)
    with pytest.raises(SystemExit) as stopped:
        parse_arguments(replace(cli_arguments(), "--file", str(bad)))
    assert stopped.value.code == 2
    message = capsys.readouterr().err
    assert "argument --file" in message and detail in message, message


def test_spec_command_line_parses() -> None:
    args = parse_arguments(
        [*cli_arguments(optimizer="Nelder-Mead", init_strategy="random", seed=25), "--max-iterations", "300"]
    )
    assert (args.optimizer, args.init_strategy, args.seed, args.max_iterations) == ("Nelder-Mead", "random", 25, 300)
    assert args.tolerance == 1e-6 and args.molecule.symbols == ("H", "H")
    assert args.output_dir is None and args.output_s3 is None
    # Without --convergence, SciPy's own tolerances apply.
    assert parse_arguments([a for a in cli_arguments() if a != "--convergence"]).tolerance is None


def test_output_without_value_is_the_raw_results_prefix() -> None:
    args = parse_arguments([*cli_arguments(), "--output"])
    assert args.output_s3 == S3Target("raw-results", "experiments/experiment.vqe/")


@pytest.mark.parametrize(
    "uri, bucket, prefix",
    [
        ("s3://raw-results/experiments/experiment.vqe/", "raw-results", "experiments/experiment.vqe/"),
        ("s3://raw-results/experiments/experiment.vqe", "raw-results", "experiments/experiment.vqe/"),
        ("s3://scratch", "scratch", ""),
    ],
)
def test_parse_s3_target(uri: str, bucket: str, prefix: str) -> None:
    assert parse_s3_target(uri) == S3Target(bucket, prefix)


def test_s3_client_is_path_style_on_the_configured_endpoint() -> None:
    client = s3_client({"QP_S3_ENDPOINT": "http://127.0.0.1:3900", "QP_S3_REGION": "garage"})
    assert client.meta.endpoint_url == "http://127.0.0.1:3900"
    assert client.meta.region_name == "garage"
    assert client.meta.config.s3["addressing_style"] == "path"


def _stubbed_client(monkeypatch) -> tuple[Any, Stubber]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    client = s3_client({"QP_S3_ENDPOINT": "http://127.0.0.1:3900", "QP_S3_REGION": "garage"})
    return client, Stubber(client)


def test_upload_puts_one_json_object(monkeypatch) -> None:
    client, stub = _stubbed_client(monkeypatch)
    stub.add_response(
        "put_object",
        {},
        {
            "Bucket": "raw-results",
            "Key": "experiments/experiment.vqe/000007-1.json",
            "Body": b'{"a": 1}',
            "ContentType": "application/json",
        },
    )
    with stub:
        uri = upload_to_s3(client, S3Target("raw-results", "experiments/experiment.vqe/"), "000007-1.json", '{"a": 1}')
    stub.assert_no_pending_responses()
    assert uri == "s3://raw-results/experiments/experiment.vqe/000007-1.json"


def test_run_writes_the_same_record_to_folder_and_s3(tmp_path: Path, monkeypatch) -> None:
    client, stub = _stubbed_client(monkeypatch)
    sent: dict = {}
    client.meta.events.register("before-parameter-build.s3.PutObject", lambda params, **_: sent.update(params))
    stub.add_response(
        "put_object", {}, {"Bucket": "raw-results", "Key": ANY, "Body": ANY, "ContentType": "application/json"}
    )
    monkeypatch.setattr(output, "s3_client", lambda: client)
    with stub:
        assert (
            main(
                [
                    *cli_arguments(optimizer="COBYLA", extra=("--max-iterations", "60", "--counter", "42")),
                    "--output-dir",
                    str(tmp_path),
                    "--output",
                ]
            )
            == 0
        )
    stub.assert_no_pending_responses()
    (path,) = tmp_path.glob("*.json")
    assert FILE_NAME.match(path.name) and path.name.startswith("000042-")
    assert sent["Key"] == f"experiments/experiment.vqe/{path.name}"
    assert json.loads(sent["Body"]) == json.loads(path.read_text())


def _module_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(MINI_VQE_DIR), env.get("PYTHONPATH")]))
    return env


def test_python_dash_m_exits_2_on_a_bad_optimizer() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mini_vqe", *replace(cli_arguments(), "--optimizer", "Adam")],
        env=_module_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "argument --optimizer" in done.stderr and "'Adam'" in done.stderr


def test_python_dash_m_writes_a_record(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mini_vqe",
            *cli_arguments(molecule_index=1, optimizer="SLSQP"),
            "--output-dir",
            str(tmp_path),
        ],
        env=_module_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    (path,) = tmp_path.glob("*.json")
    assert FILE_NAME.match(path.name), path.name
    assert json.loads(path.read_text())["molecule"]["molecule_data"]["charge"] == 1
    assert "record written to" in done.stderr


def test_without_an_output_option_the_record_goes_to_stdout(capsys) -> None:
    assert main(cli_arguments(optimizer="COBYLA", extra=("--max-iterations", "60"))) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["molecule_id"] == 0 and len(record["vqe_result"]["iteration_list"]) > 0
