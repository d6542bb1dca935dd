"""`aego install`: installation mode: unattended, loops the score, driven by curiosity plus any reward that arrives."""

from __future__ import annotations

import argparse

from aego.commands.modes import add_mode_arguments

HELP = "installation mode: unattended, loops the score, driven by curiosity plus any reward that arrives"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_mode_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from aego.runner import run_mode

    return run_mode(args, "install")
