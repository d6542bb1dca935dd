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
    parser.add_argument("--sample-rate", type=a.positive_int, default=None, metavar="HZ",
                        help="output rate (default: the space's own rate, so the frames are exactly as decoded)")


def run(args: argparse.Namespace) -> int:
    from aego.render import render_timeline, trajectory, write_wav
    from aego.space import SoundSpace
    from aego.synth import SynthConfig

    space = SoundSpace.load(args.space)
    timeline = trajectory(space, args.trajectory, args.seconds, seed=args.seed)
    rate = args.sample_rate or space.transform.sample_rate
    rendering = render_timeline(space, timeline, args.seconds, SynthConfig(sample_rate=rate), progress=True)
    write_wav(args.output, rendering.audio, rate)
    if args.save_frames:
        rendering.save_frames(args.save_frames)
    for event in rendering.events[:5]:
        print(f"note: {event.get('what')}: {event.get('detail', '')}")
    print(f"wrote {args.output} ({args.seconds:g} s, {rate} Hz, {args.trajectory} trajectory through {space.name})")
    return 0
