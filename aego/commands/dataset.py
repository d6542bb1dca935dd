"""`aego dataset NAME OUT`: render a dataset of sounds with their generating parameters."""

from __future__ import annotations

import argparse
import sys

from aego.commands import arguments as a

HELP = "render a dataset: toy-additive, toy-fm or instruments (FluidSynth + a GM soundfont)"
DESCRIPTION = (
    "Render a dataset folder: audio files (FLAC, 16 bit, 22050 Hz, mono) plus metadata.csv with each sound's "
    "generating parameters. toy-additive: 3500 additive tones; toy-fm: 21250 FM tones; instruments: 12 orchestral "
    "instruments over their ranges at pp, p, mf, ff, rendered by FluidSynth. With --limit K, K sounds with "
    "parameters drawn at random (off the grid). Run the same command again to continue an interrupted rendering."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", choices=("toy-additive", "toy-fm", "instruments"), help="which dataset")
    parser.add_argument("out", metavar="OUT", help="the folder to write (an interrupted rendering continues)")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (phases, random draws)")
    parser.add_argument("--limit", type=a.positive_int, metavar="K",
                        help="K sounds with parameters drawn at random (off the grid), instead of the full plan")
    parser.add_argument("--soundfont", metavar="PATH", help="instruments: the GM soundfont (default: FluidR3_GM)")


def run(args: argparse.Namespace) -> int:
    from aego.datasets import write_dataset
    from aego.errors import UsageError

    if args.soundfont and args.name != "instruments":
        raise UsageError(f"--soundfont is for the instruments dataset only, not {args.name}: leave it out")
    try:
        summary = write_dataset(args.name, args.out, seed=args.seed, limit=args.limit, soundfont=args.soundfont,
                                progress=True)
    except KeyboardInterrupt:
        print(f"aego dataset: interrupted; run the same command again to continue writing {args.out}",
              file=sys.stderr)
        return 130
    done = f"{summary.rendered} rendered" + (f", {summary.kept} kept from before" if summary.kept else "")
    print(f"{summary.out}: {summary.total} sounds ({done}) in {summary.seconds:.1f} s; parameters in "
          f"{summary.out / 'metadata.csv'}")
    if summary.clipped:
        print(f"warning: {summary.clipped} sounds reached full scale and were clipped", file=sys.stderr)
    return 0
