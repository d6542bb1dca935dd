#!/usr/bin/env python3
"""Soak the synthesis engine through a JACK dummy server while the machine is busy.

    .venv/bin/python scripts/soak_engine.py --minutes 10 [--space synthetic] [--no-jack-rt] [--json]

A JACK server (dummy driver, 48 kHz, 256-frame blocks) is started under a unique name; the engine
plays into it while: another process keeps one core busy (a pure-Python loop), and this process runs
a pure-Python thread and trains a small torch MLP non-stop, and sends a new latent target every 50 ms.
Every 10 s it records blocks, underflows (JACK xruns flagged to the callback, and blocks the engine's
ring could not fill), and the resident memory of the engine and device processes.

``--no-jack-rt`` leaves jackd at normal priority (``jackd -r``); by default its threads are given
SCHED_FIFO with ``chrt`` when permitted, as a real-time JACK set-up would have them. The engine asks
for SCHED_FIFO for its own synthesis and callback threads either way.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--space", default="synthetic")
    parser.add_argument("--no-jack-rt", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import torch

    from aego.engine import Engine, EngineConfig
    from tests.jack_server import JackServer

    torch.set_num_threads(1)
    report: dict = {"minutes": args.minutes, "space": args.space, "jack_rt": not args.no_jack_rt, "samples": []}
    with JackServer(rate=48000, period=256) as jack:
        jack.activate()
        if not args.no_jack_rt:
            rt = subprocess.run(["chrt", "-a", "-f", "-p", "80", str(jack.process.pid)], capture_output=True)
            report["jack_rt"] = rt.returncode == 0
        engine = Engine(EngineConfig(audio="jack"), space=args.space)
        engine.start()
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        stop = threading.Event()

        def python_work() -> None:
            x = 0
            while not stop.is_set():
                x = (x * 31 + 7) % 1000003

        worker = threading.Thread(target=python_work, daemon=True)
        worker.start()
        model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 64))
        opt = torch.optim.Adam(model.parameters(), 1e-3)
        rng = np.random.default_rng(0)
        lo, hi = -2.0, 2.0
        start = time.monotonic()
        end = start + args.minutes * 60
        next_sample = start
        steps = 0
        try:
            while time.monotonic() < end:
                engine.set_target(rng.uniform(lo, hi, engine.stats()["latent_dim"]))
                t_action = time.monotonic() + 0.05
                while time.monotonic() < t_action:  # train between actions, as the agent would
                    x = torch.randn(128, 64)
                    loss = ((model(x) - x) ** 2).mean()
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    steps += 1
                now = time.monotonic()
                if now >= next_sample:
                    s = engine.stats()
                    report["samples"].append({
                        "t": round(now - start, 1), "blocks": s["blocks"], "underflows": s["underflows"],
                        "xruns": s["xruns"], "starved": s["starved"], "load": s["load"],
                        "engine_rss_mb": round(rss_mb(s["engine_pid"]), 1),
                        "device_rss_mb": round(rss_mb(s["device_pid"]), 1),
                    })
                    if not args.json:
                        print(report["samples"][-1], flush=True)
                    next_sample += 10.0
            final = engine.stats()
            events = engine.events()
        finally:
            stop.set()
            hog.kill()
            hog.wait()
            engine.stop()
    first, last = report["samples"][0], report["samples"][-1]
    report.update({
        "blocks": final["blocks"], "underflows": final["underflows"], "xruns": final["xruns"],
        "starved": final["starved"], "callback_errors": final["callback_errors"], "load": final["load"],
        "frame_ms_p99": final["frame_ms_p99"], "latency_ms_p50": final["latency_ms_p50"],
        "latency_ms_max": final["latency_ms_max"], "realtime": final["realtime"], "torch_steps": steps,
        "engine_rss_mb": [first["engine_rss_mb"], last["engine_rss_mb"]],
        "device_rss_mb": [first["device_rss_mb"], last["device_rss_mb"]],
        "events": [e for e in events if e.get("type") != "info"][:20],
    })
    summary = {k: v for k, v in report.items() if k != "samples"}
    print(json.dumps(report if args.json else summary, indent=None if args.json else 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
