"""`aego render SPACE -o OUT.wav`: offline rendering of a latent trajectory."""

from __future__ import annotations

import argparse

from aego.commands import arguments as a

HELP = "render a latent trajectory through a space to a WAV file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("space", metavar="SPACE", help="a sound-space file or a bundled space name")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.wav", help="the WAV file to write")
    parser.add_argument("--seconds", type=a.positive_float, default=10.0, metavar="S", help="length (default 10)")
    parser.add_argument("--trajectory", default="random", metavar="random|line|circle|FILE.csv",
                        help="the path through the latent space")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="random seed")
    parser.add_argument("--save-frames", metavar="FRAMES.npz", help="also save the decoded magnitudes")


def run(args: argparse.Namespace) -> int:
    from aego.commands._pending import pending

    return pending("render")
