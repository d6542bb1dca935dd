"""The ``aego`` command: one subcommand per front-end module in :mod:`aego.commands`.

Each front end exposes ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``.
Front ends import heavy libraries (torch, pygame) inside ``run`` so that ``--help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from aego import __version__
from aego.errors import UsageError

# Order is the order of `aego --help`.
COMMANDS: tuple[str, ...] = (
    "play",
    "perform",
    "rehearse",
    "install",
    "dataset",
    "train",
    "eval",
    "render",
    "morph",
    "cross",
    "bench",
    "replay",
    "calibrate",
    "sensors",
)


class _Parser(argparse.ArgumentParser):
    """argparse with the project's error convention: one line on stderr, exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _module_for(command: str):
    return importlib.import_module(f"aego.commands.{command}")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, every subcommand registered."""
    parser = _Parser(
        prog="aego",
        description="ægo — a learning machine explores a latent sound space; you teach it with your forearms.",
    )
    parser.add_argument("--version", action="version", version=f"aego {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        module = _module_for(name)
        p = sub.add_parser(name, help=module.HELP, description=getattr(module, "DESCRIPTION", module.HELP))
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``aego`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    prog = f"aego {args.command}"
    try:
        return int(args._module.run(args) or 0)
    except UsageError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
