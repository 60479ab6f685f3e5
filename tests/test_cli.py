"""The `tinyxray` command dispatches to the stage modules present."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from tinyxray import cli


def test_usage_lists_every_stage_and_every_stage_exists(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["--help"]) == 0
    output = capsys.readouterr().out
    for name, (module, _) in cli.STAGES.items():
        assert f"  {name} " in output
        # A listed stage whose module is missing would fail only when a user runs it.
        assert importlib.util.find_spec(module) is not None, module
    assert {"aot", "crossval", "bench"} <= set(cli.STAGES)


@pytest.mark.parametrize("stage", ["aot", "crossval", "train", "evaluate", "preprocess"])
def test_every_stage_answers_help(stage: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tinyxray.cli", stage, "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    # The usage line names the command the user typed, not the module behind it.
    assert result.stdout.startswith(f"usage: tinyxray {stage} "), result.stdout.splitlines()[0]


def test_no_arguments_prints_usage_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "usage: tinyxray" in capsys.readouterr().out


def test_unknown_command_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["no-such-stage"]) == 2
    assert "unknown command 'no-such-stage'" in capsys.readouterr().err


def test_dispatch_passes_arguments_to_the_stage() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tinyxray.cli", "virtual-board", "banner", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert "{host,qemu}" in result.stdout


def test_dispatch_reports_stage_errors() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tinyxray.cli", "virtual-board", "banner", "nano33ble"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
