"""`aego train DATA... -o SPACE`: train a sound space from folders of sounds."""

from __future__ import annotations

import argparse

from aego.commands import arguments as a

HELP = "train a sound space (spectral VAE + projections) from folders of sounds"
DESCRIPTION = (
    "Train a sound space on the magnitude frames of every audio file under DATA (bad files are skipped "
    "and listed). Checkpoints, the loss curves (loss.png) and audio previews (previews/*.wav) go to "
    "SPACE.train/; running the same command again continues an interrupted training."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", nargs="+", metavar="DATA", help="folders of audio files (or written by aego dataset)")
    parser.add_argument("-o", "--output", required=True, metavar="SPACE", help="the sound-space file to write")
    parser.add_argument("--dims", type=a.positive_int, default=8, help="latent dimensions (default 8)")
    parser.add_argument("--beta", type=float, default=None, metavar="B",
                        help="weight of the latent regulariser (default 0.1 for kl, 100 for mmd)")
    parser.add_argument("--regularization", choices=("kl", "mmd"), default="kl", help="latent regulariser")
    parser.add_argument("--epochs", type=a.positive_int, default=None, metavar="N", help="training epochs (default 40)")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (split, init, batches)")
    parser.add_argument("--frames-per-sound", type=int, default=0, metavar="K",
                        help="use K frames of each sound, drawn at random (default: all)")
    parser.add_argument("--batch-size", type=a.positive_int, default=None, metavar="N", help="frames per step")
    parser.add_argument("--lr", type=a.positive_float, default=None, help="initial learning rate")
    parser.add_argument("--sc-weight", type=float, default=None, metavar="W",
                        help="weight of the spectral-convergence term against the log-spectrum error (default 100)")
    parser.add_argument("--eq-db", type=float, default=None, metavar="DB",
                        help="hear each training sound through a random smooth equaliser, gains of this "
                             "standard deviation in dB (default 0: off); helps with other recordings of the "
                             "same instruments")
    parser.add_argument("--max-minutes", type=a.positive_float, default=None, metavar="M",
                        help="stop when M minutes have passed (reading the sounds included)")
    parser.add_argument("--decoder", choices=("peaks", "mlp"), default="peaks",
                        help="peaks: partials drawn at continuous frequencies from pitch-aware latent axes "
                             "(default); mlp: a decoder that outputs bins")
    parser.add_argument("--half-peaks", type=a.positive_int, default=None, metavar="N",
                        help="the peak decoder draws 2N+1 partials (default 32)")
    parser.add_argument("--env-points", type=a.positive_int, default=None, metavar="N",
                        help="points of the peak decoder's noise envelope (default 64)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    import sys

    from aego.training import TrainConfig, train

    if args.sc_weight is not None and not 0 <= args.sc_weight < 1e6:
        from aego.errors import UsageError

        raise UsageError("--sc-weight must be a number from 0 to 1e6")
    if args.eq_db is not None and not 0 <= args.eq_db <= 24:
        from aego.errors import UsageError

        raise UsageError("--eq-db must be a number of dB from 0 to 24")
    if args.frames_per_sound < 0:
        from aego.errors import UsageError

        raise UsageError("--frames-per-sound must be 0 (all frames) or a positive number")
    overrides = {
        "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "max_minutes": args.max_minutes,
        "sc_weight": args.sc_weight, "eq_db": args.eq_db,
    }
    arch: dict[str, object] = {"decoder": args.decoder}
    if args.decoder == "peaks":
        if args.dims < 4:
            from aego.errors import UsageError

            raise UsageError("the peak decoder needs --dims 4 or more (or use --decoder mlp)")
        if args.half_peaks is not None:
            arch["half_peaks"] = args.half_peaks
        if args.env_points is not None:
            if args.env_points < 2:
                from aego.errors import UsageError

                raise UsageError("--env-points must be 2 or more")
            arch["env_points"] = args.env_points
    config = TrainConfig(
        arch=arch,
        dims=args.dims, beta=args.beta, regularization=args.regularization, seed=args.seed,
        frames_per_sound=args.frames_per_sound, **{k: v for k, v in overrides.items() if v is not None},
    )
    train(args.data, args.output, config, progress=not args.quiet and sys.stderr.isatty(),
          log=lambda line: print(line, file=sys.stderr, flush=True))
    return 0
