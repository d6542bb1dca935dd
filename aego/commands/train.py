"""`aego train DATA... -o SPACE`: train a sound space from folders of sounds."""

from __future__ import annotations

import argparse

from aego.commands import arguments as a

HELP = "train a sound space (spectral VAE + projections) from folders of sounds"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", nargs="+", metavar="DATA", help="folders of audio files (or written by aego dataset)")
    parser.add_argument("-o", "--output", required=True, metavar="SPACE", help="the sound-space file to write")
    parser.add_argument("--dims", type=a.positive_int, default=8, help="latent dimensions (default 8)")
    parser.add_argument("--beta", type=float, default=None, metavar="B", help="weight of the latent regulariser")
    parser.add_argument("--regularization", choices=("kl", "mmd"), default="kl", help="latent regulariser")
    parser.add_argument("--epochs", type=a.positive_int, default=None, metavar="N", help="training epochs")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (split, init, batches)")


def run(args: argparse.Namespace) -> int:
    from aego.commands._pending import pending

    return pending("train")
