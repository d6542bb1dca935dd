"""`aego calibrate`: neutral pose and range of each wrist, saved in the user's config folder."""

from __future__ import annotations

import argparse

from aego.commands import arguments as a

HELP = "calibrate the wrist sensors (neutral pose and range), saved for later runs"
DESCRIPTION = (
    "Calibrate the wrist sensors. Step 1: hold both forearms still in the neutral pose. Step 2: turn both "
    "forearms as far as is comfortable one way, then the other, several times. The neutral pose and each "
    "performer's range are saved (default: calibration.json in the user's config folder) and replace the "
    "automatic calibration in later runs."
)
WAIT_FOR_SENSORS_S = 15.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--osc-listen", default="127.0.0.1:8000", type=a.host_port, metavar="HOST:PORT",
                        help="where sensor OSC is received")
    parser.add_argument("--serial", action="append", default=[], metavar="PORT", help="a serial IMU port; repeatable")
    parser.add_argument("--seconds", type=a.positive_float, default=2.0, metavar="S", help="how long to hold each pose")
    parser.add_argument("-o", "--output", metavar="FILE", help="where to save (default: the user's config folder)")


def _collect(hub, seconds: float, into: dict[str, list]) -> None:
    import time

    from aego.sensors.events import ImuSample

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for ev in hub.poll():
            if isinstance(ev, ImuSample) and ev.quat is not None:
                into.setdefault(ev.sensor_id, []).append(ev.quat)
        time.sleep(0.02)


def run(args: argparse.Namespace) -> int:
    import sys
    import time

    from aego.errors import UsageError
    from aego.sensors import calibration, settings
    from aego.sensors.hub import InputConfig, InputHub

    mix = settings.load()  # axes and signs per wrist, before anything starts
    hub = InputHub(InputConfig(listen=args.osc_listen, serial=list(args.serial), forward_samples=True))
    hub.start()
    say = print
    try:
        where = f"{hub.address[0]}:{hub.address[1]}" if hub.address else "serial"
        say(f"waiting for sensors on {where} ...", flush=True)
        heard: dict[str, list] = {}
        end = time.monotonic() + WAIT_FOR_SENSORS_S
        while not heard and time.monotonic() < end:
            _collect(hub, 0.2, heard)
        if not heard:
            raise UsageError(f"no sensor orientation heard on {where} in {WAIT_FOR_SENSORS_S:.0f} s: point the "
                             "sensors at this address (see docs/sensors.md) or give --osc-listen / --serial")
        say(f"heard: {', '.join(sorted(heard))}", flush=True)
        say(f"STEP 1 — HOLD both forearms still in the neutral pose ({args.seconds:g} s)", flush=True)
        neutral: dict[str, list] = {}
        _collect(hub, args.seconds, neutral)
        turn_s = max(3.0 * args.seconds, 1.0)
        say(f"STEP 2 — TURN both forearms as far as comfortable, one way then the other ({turn_s:g} s)", flush=True)
        turns: dict[str, list] = {}
        _collect(hub, turn_s, turns)
    finally:
        hub.stop()
    wrists = {}
    for sid, qs in neutral.items():
        if len(qs) < 3 or len(turns.get(sid, [])) < 3:
            print(f"{sid}: too few samples, not calibrated (is it sending steadily?)", file=sys.stderr)
            continue
        cfg = mix.per_wrist.get(sid, mix.wrist)
        wrists[sid] = calibration.compute(qs, turns[sid], cfg.axis, cfg.sign)
    if not wrists:
        raise UsageError("no sensor sent enough data during the calibration; check the sensors and try again")
    saved = {**_previous(calibration, args.output), **wrists}
    path = calibration.save(saved, args.output)
    for sid, c in wrists.items():
        say(f"{sid}: range -{c.range_neg_deg:.0f}° / +{c.range_pos_deg:.0f}°")
    say(f"saved {path}")
    return 0


def _previous(calibration, output: str | None) -> dict:
    """Wrists calibrated before and not re-done now are kept (a broken old file is simply replaced)."""
    from aego.errors import UsageError

    try:
        return calibration.load(output)
    except UsageError:
        return {}
