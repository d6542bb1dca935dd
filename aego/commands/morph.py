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
    from aego.errors import UsageError
    from aego.render import morph_timeline, read_sound, render_timeline, sound_latent, write_wav
    from aego.space import SoundSpace
    from aego.synth import SynthConfig

    if len(args.sounds) < 2:
        raise UsageError("give at least two sounds to morph between")
    space = SoundSpace.load(args.space)
    points = [sound_latent(space, *read_sound(path)) for path in args.sounds]
    timeline = morph_timeline(points, args.seconds)
    rate = space.transform.sample_rate
    rendering = render_timeline(space, timeline, args.seconds, SynthConfig(sample_rate=rate), progress=True)
    write_wav(args.output, rendering.audio, rate)
    print(f"wrote {args.output} ({args.seconds:g} s through {len(points)} sounds in {space.name})")
    return 0
