"""`aego replay SESSION -o OUT.wav`: re-render a recorded session offline from its event log."""

from __future__ import annotations

import argparse

HELP = "re-render a recorded session offline from its event log"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("session", metavar="SESSION", help="a session folder (with events.jsonl)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.wav", help="the WAV file to write")


def run(args: argparse.Namespace) -> int:
    from aego.commands._pending import pending

    return pending("replay")
