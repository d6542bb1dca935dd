"""`aego rehearse`: rehearsal mode: reward from the keyboard (keys shown on screen), same score and visuals."""

from __future__ import annotations

import argparse

from aego.commands.modes import add_mode_arguments

HELP = "rehearsal mode: reward from the keyboard (keys shown on screen), same score and visuals"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_mode_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from aego.runner import run_mode

    return run_mode(args, "rehearse")
