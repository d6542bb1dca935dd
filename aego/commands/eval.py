"""`aego eval SPACE DATA`: reconstruction by the space's VAE against a PCA of the same size."""

from __future__ import annotations

import argparse

HELP = "measure how well a space reconstructs DATA, against the PCA baseline (sc, l2, log_l1)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("space", metavar="SPACE", help="a sound-space file or a bundled space name")
    parser.add_argument("data", metavar="DATA", help="a folder of audio files (held-out sounds for a fair check)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")


def run(args: argparse.Namespace) -> int:
    from aego.commands._pending import pending

    return pending("eval")
