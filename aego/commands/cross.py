"""`aego cross SPACE IN.wav -o OUT.wav`: an outside sound heard through a space."""

from __future__ import annotations

import argparse

HELP = "cross-synthesis: encode an outside sound and decode it through a space"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("space", metavar="SPACE", help="a sound-space file or a bundled space name")
    parser.add_argument("input", metavar="IN.wav", help="the sound to pass through the space")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.wav", help="the WAV file to write")


def run(args: argparse.Namespace) -> int:
    from aego.commands._pending import pending

    return pending("cross")
