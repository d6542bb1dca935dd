"""`aego calibrate`: neutral pose and range of each wrist, saved in the user's config folder."""

from __future__ import annotations

import argparse

from aego.commands import arguments as a

HELP = "calibrate the wrist sensors (neutral pose and range), saved for later runs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--osc-listen", default="127.0.0.1:8000", type=a.host_port, metavar="HOST:PORT",
                        help="where sensor OSC is received")
    parser.add_argument("--serial", action="append", default=[], metavar="PORT", help="a serial IMU port; repeatable")
    parser.add_argument("--seconds", type=a.positive_float, default=2.0, metavar="S", help="how long to hold each pose")
    parser.add_argument("-o", "--output", metavar="FILE", help="where to save (default: the user's config folder)")


def run(args: argparse.Namespace) -> int:
    from aego.commands._pending import pending

    return pending("calibrate")
