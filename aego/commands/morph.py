"""`aego morph SPACE A.wav B.wav -o OUT.wav`: interpolate between sounds in latent space."""

from __future__ import annotations

import argparse

from aego.commands import arguments as a

HELP = "morph between two or more sounds through a space's latent space"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("space", metavar="SPACE", help="a sound-space file or a bundled space name")
    parser.add_argument("sounds", nargs="+", metavar="SOUND.wav", help="two or more sounds, in order")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.wav", help="the WAV file to write")
    parser.add_argument("--seconds", type=a.positive_float, default=6.0, metavar="S", help="length (default 6)")


def run(args: argparse.Namespace) -> int:
    from aego.commands._pending import pending

    return pending("morph")
