"""`aego dataset NAME OUT`: render a dataset of sounds with their generating parameters."""

from __future__ import annotations

import argparse

from aego.commands import arguments as a

HELP = "render a dataset: toy-additive, toy-fm or instruments (FluidSynth + a GM soundfont)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", choices=("toy-additive", "toy-fm", "instruments"), help="which dataset")
    parser.add_argument("out", metavar="OUT", help="the folder to write (an interrupted rendering continues)")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (phases, random draws)")
    parser.add_argument("--limit", type=a.positive_int, metavar="K",
                        help="K sounds with parameters drawn at random (off the grid), instead of the full plan")
    parser.add_argument("--soundfont", metavar="PATH", help="instruments: the GM soundfont (default: FluidR3_GM)")


def run(args: argparse.Namespace) -> int:
    from aego.commands._pending import pending

    return pending("dataset")
