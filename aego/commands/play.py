"""`aego play`: see HELP below."""

from __future__ import annotations

import argparse

from aego.commands.modes import add_mode_arguments

HELP = "play the piece on the bundled spaces and score (installation mode; writes audio.wav when there is no device)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_mode_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from aego.runner import run_mode

    return run_mode(args, "play")
