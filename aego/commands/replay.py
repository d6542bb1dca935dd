"""`aego replay SESSION -o OUT.wav`: re-render a recorded session offline from its event log."""

from __future__ import annotations

import argparse

HELP = "re-render a recorded session offline from its event log"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("session", metavar="SESSION", help="a session folder (with events.jsonl)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.wav", help="the WAV file to write")


def run(args: argparse.Namespace) -> int:
    import sys

    from aego.replay import replay

    figures = replay(args.session, args.output, progress=sys.stderr.isatty())
    print(f"{args.output}: {figures['seconds']:.1f} s at {figures['sample_rate']} Hz, "
          f"{len(figures['sections'])} sections, {figures['targets']} positions")
    return 0
