"""The command line's promises: --help everywhere, exit 2 and one line for bad arguments."""

import subprocess
import sys

import pytest

from aego.cli import COMMANDS, build_parser


def _aego(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aego", *args], capture_output=True, text=True, timeout=120)


def test_top_level_help_lists_every_command():
    out = _aego("--help")
    assert out.returncode == 0
    for name in COMMANDS:
        assert name in out.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_has_help(command):
    parser = build_parser()
    with pytest.raises(SystemExit) as exc:
        parser.parse_args([command, "--help"])
    assert exc.value.code == 0


@pytest.mark.parametrize(
    "args",
    [
        ["play", "--audio", "speakers"],
        ["play", "--osc-listen", "localhost"],
        ["play", "--osc-listen", "127.0.0.1:99999"],
        ["play", "--duration", "-3"],
        ["play", "--space", "nonsense"],
        ["dataset", "toy-strings", "out"],
        ["render", "synthetic"],
        ["train", "data", "-o", "x.space", "--dims", "0"],
    ],
)
def test_bad_arguments_exit_2_with_one_line(args):
    out = _aego(*args)
    assert out.returncode == 2
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert lines and "error" in lines[-1]
    assert "Traceback" not in out.stderr
