"""`aego eval SPACE DATA`: reconstruction by the space's VAE against a PCA of the same size."""

from __future__ import annotations

import argparse

HELP = "measure how well a space reconstructs DATA, against the PCA baseline (sc, l2, log_l1)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("space", metavar="SPACE", help="a sound-space file or a bundled space name")
    parser.add_argument("data", metavar="DATA", help="a folder of audio files (held-out sounds for a fair check)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    from aego.evaluation import evaluate_folder, table
    from aego.space import SoundSpace

    space = SoundSpace.load(args.space)
    figures, skipped = evaluate_folder(space, [args.data])
    for s in skipped:
        print(f"skipped {s.path}: {s.reason}", file=sys.stderr)
    figures["space"] = args.space
    if args.json:
        print(json.dumps(figures))
    else:
        print(table(figures, f"{args.space} on {args.data}"))
    return 0
