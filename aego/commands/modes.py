"""Options shared by the four run modes: play, perform, rehearse, install (CONTRACT §2)."""

from __future__ import annotations

import argparse

from aego.commands import arguments as a


def add_mode_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the options every run mode takes."""
    parser.add_argument("--score", default=None, metavar="NAME|PATH",
                        help="a bundled score by name ('aego' is the piece, 'installation' loops) or a TOML file "
                             "(default: 'installation' for install, 'aego' otherwise)")
    parser.add_argument("--space", action="append", default=[], type=a.space_override, metavar="NAME=PATH",
                        help="replace a space named in the score by another sound-space file (repeatable)")
    parser.add_argument("--audio", default="default", type=a.audio_output, metavar="default|jack|null|file:PATH",
                        help="audio output; 'default' is the system's default device")
    parser.add_argument("--buffer-ms", type=a.buffer_ms, default=None, metavar="MS",
                        help="audio queued ahead of the output: more rides over a busy machine, less answers faster "
                             "(default: 100 for play and install, two blocks, about 11 ms, for perform and rehearse)")
    parser.add_argument("--no-window", action="store_true", help="no visuals window")
    parser.add_argument("--frames", metavar="DIR", help="also write the visuals as PNG files, one every second")
    parser.add_argument("--duration", type=a.positive_float, metavar="S",
                        help="stop after S seconds (fade out, write the summary, exit 0)")
    parser.add_argument("--time-scale", type=a.positive_float, default=1.0, metavar="K",
                        help="the score's clock runs K times faster (audio and agent keep real time)")
    parser.add_argument("--agent", choices=("deep-tamer", "random"), default="deep-tamer",
                        help="the explorer; 'random' is an unbiased random walk with the same step and period")
    parser.add_argument("--osc-listen", default="127.0.0.1:8000", type=a.host_port, metavar="HOST:PORT",
                        help="where OSC is received (default 127.0.0.1:8000, loopback only)")
    parser.add_argument("--osc-send", default="127.0.0.1:8001", type=a.host_port, metavar="HOST:PORT",
                        help="where OSC state is sent (default 127.0.0.1:8001)")
    parser.add_argument("--osc-allow", type=a.ip_list, metavar="IP,...",
                        help="accept OSC only from these sender addresses (for a stage network)")
    parser.add_argument("--log", metavar="DIR", help="the session folder (default: a new one in the data folder)")
    parser.add_argument("--resume", metavar="DIR", help="continue an interrupted session")
    parser.add_argument("--seed", type=int, metavar="N", help="reproducible headless runs (with --audio null or file:)")
    parser.add_argument("--display", type=int, default=0, metavar="N", help="the display the window opens on")
    parser.add_argument("--fullscreen", action="store_true", help="open the visuals full screen")
    parser.add_argument("--replay-sensors", metavar="FILE", help="play a recorded sensor stream through the pipeline")
    parser.add_argument("--serial", action="append", default=[], metavar="PORT",
                        help="a serial IMU port (e.g. /dev/ttyUSB0, or 'auto'); repeatable")
    parser.add_argument("--midi", metavar="PORT", help="a MIDI input port for operator cues ('auto' takes the first)")
    parser.add_argument("--console", choices=("auto", "on", "off"), default="auto",
                        help="the operator's terminal console (auto: only when the terminal is interactive)")
