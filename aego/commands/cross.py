"""`aego cross SPACE IN.wav -o OUT.wav`: an outside sound heard through a space."""

from __future__ import annotations

import argparse

HELP = "cross-synthesis: encode an outside sound and decode it through a space"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("space", metavar="SPACE", help="a sound-space file or a bundled space name")
    parser.add_argument("input", metavar="IN.wav", help="the sound to pass through the space")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.wav", help="the WAV file to write")


def run(args: argparse.Namespace) -> int:
    from aego.render import cross_timeline, read_sound, render_timeline, write_wav
    from aego.space import SoundSpace
    from aego.synth import SynthConfig

    space = SoundSpace.load(args.space)
    audio, rate = read_sound(args.input)
    timeline, seconds = cross_timeline(space, audio, rate)
    out_rate = space.transform.sample_rate
    # A short glide: the codes already move frame by frame.
    config = SynthConfig(sample_rate=out_rate, glide_s=0.01)
    rendering = render_timeline(space, timeline, seconds, config, progress=True)
    write_wav(args.output, rendering.audio, out_rate)
    print(f"wrote {args.output} ({seconds:.2f} s of {args.input} through {space.name})")
    return 0
