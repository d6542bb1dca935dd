"""`aego perform`: see HELP below."""

from __future__ import annotations

import argparse

from aego.commands.modes import add_mode_arguments

HELP = "stage mode: reward from the two wrist IMUs, operator cues from keys/OSC/MIDI, visuals on a chosen display"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_mode_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from aego.runner import run_mode

    return run_mode(args, "perform")
