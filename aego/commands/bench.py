"""`aego bench synth|agent|visuals|osc|soak|load|kill|switch`: the project's own measurements (CONTRACT §8).

Each benchmark lives beside the part it measures and exposes ``run_bench(args) -> dict``;
this front end prints the dict as a table or as JSON.
"""

from __future__ import annotations

import argparse
import importlib
import json

HELP = ("measure the synthesis engine, the agent, the visuals, OSC reception, a soak run, an OSC flood, SIGKILL "
        "or space changes")

BENCHES = {
    "synth": "aego.bench_synth",
    "agent": "aego.agent.bench",
    "visuals": "aego.visuals.bench",
    "osc": "aego.sensors.bench",
    "soak": "aego.bench_soak",
    "load": "aego.bench_load",
    "kill": "aego.bench_kill",
    "switch": "aego.bench_switch",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", choices=tuple(BENCHES), help="what to measure")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--seconds", type=float, default=None, metavar="S", help="how long to measure")
    parser.add_argument("--space", default="synthetic", metavar="SPACE", help="the space to use (default synthetic)")
    parser.add_argument("--seeds", type=int, default=None, metavar="N",
                        help="agent: how many seeds to average over; kill: how many runs to kill")


def run(args: argparse.Namespace) -> int:
    from aego.errors import UsageError

    try:
        module = importlib.import_module(BENCHES[args.what])
    except ModuleNotFoundError as exc:
        raise UsageError(f"the '{args.what}' benchmark is not available in this build ({exc.name})") from None
    figures = module.run_bench(args)
    if args.json:
        print(json.dumps(figures))
    else:
        width = max(len(k) for k in figures)
        for key, value in figures.items():
            shown = f"{value:.4g}" if isinstance(value, float) else value
            print(f"{key:<{width}}  {shown}")
    return 0
