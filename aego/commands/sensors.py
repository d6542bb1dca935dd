"""`aego sensors`: a live terminal monitor of every sensor heard and the resulting reward."""

from __future__ import annotations

import argparse

from aego.commands import arguments as a

HELP = "monitor the sensors live: id, format, rate, age, twist, battery, reward"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--osc-listen", default="127.0.0.1:8000", type=a.host_port, metavar="HOST:PORT",
                        help="where sensor OSC is received")
    parser.add_argument("--serial", action="append", default=[], metavar="PORT", help="a serial IMU port; repeatable")
    parser.add_argument("--seconds", type=float, default=None, metavar="S", help="stop after S seconds")


def run(args: argparse.Namespace) -> int:
    from aego.errors import UsageError
    from aego.sensors.hub import InputHub, config_from_args
    from aego.sensors.monitor import run_monitor

    if args.seconds is not None and not args.seconds > 0:
        raise UsageError(f"--seconds {args.seconds}: give a positive number of seconds")
    hub = InputHub(config_from_args(args))
    hub.start()
    try:
        run_monitor(hub, args.seconds)
    finally:
        hub.stop()
    return 0
