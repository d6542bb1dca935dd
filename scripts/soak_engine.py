#!/usr/bin/env python3
"""Soak the synthesis engine through a real-time JACK dummy server while the machine is busy.

    .venv/bin/python scripts/soak_engine.py --minutes 10 [--space synthetic] [--jack-priority 80]
                                            [--no-jack-rt] [--no-visuals] [--buffer-ms MS] [--json]

Run it without ``nice``: it measures real-time behaviour. A JACK server (dummy driver, 48 kHz, 256-frame
blocks) is started under a unique name, in real-time mode (``jackd -R -P PRIORITY``) when the system
permits it (``--no-jack-rt``: ``jackd -r``). The engine plays into it while this process does what a
performance's main process does, all at once:

- the agent learns: a Deep TAMER explorer acts every 50 ms on 4 axes of the space's ICA projection, its
  position goes to the engine as the latent target, a simulated performer streams rewards at 100 Hz
  and the learner trains on its own thread;
- the visuals render: the spectrogram and overlay at 1280×720, offscreen through EGL (Mesa llvmpipe on a
  machine without a GPU, whose drawing threads load every core), fed with the engine's spectrum frames;
- a pure-Python thread holds the GIL as much as it can;

and another process keeps a core busy with a pure-Python loop. Whatever else the machine runs (another
model training, say) is part of the load; the load average and the time the hypervisor stole from the
machine are reported. A witness process (SCHED_FIFO 90, above everything of ours and JACK's) sleeps 1 ms
at a time and counts how late it wakes: stalls it sees are the machine's (a virtual machine's CPUs
paused by its host, say), not the engine's.

Every 10 s it records blocks, underflows (JACK xruns flagged to the callback, and blocks the engine's
ring could not fill), the engine's stall counters, and the resident memory of the engine and device
processes; at the end, a summary (the whole series with ``--json``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


WITNESS = """
import json, os, sys, time
try:
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(int(sys.argv[2])))
    fifo = True
except OSError:
    fifo = False
end = time.monotonic() + float(sys.argv[1])
late, when = [], []
while True:
    t0 = time.monotonic()
    time.sleep(0.001)
    now = time.monotonic()
    if now - t0 - 0.001 > 0.002:
        late.append(round((now - t0 - 0.001) * 1e3, 2))
        when.append(round(now, 3))
    if now > end:
        break
print(json.dumps({"fifo": fifo, "over_2ms": len(late), "over_5ms": sum(x > 5 for x in late),
                  "over_10ms": sum(x > 10 for x in late), "worst_ms": max(late, default=0.0),
                  "stalls": list(zip(when, late))[:200]}))
"""


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def cpu_ticks() -> dict[str, int]:
    """Machine-wide CPU time in clock ticks: busy, idle, steal (time the hypervisor gave to others)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields[:8]
    return {"busy": user + nice + system + irq + softirq, "idle": idle + iowait, "steal": steal}


class Visuals(threading.Thread):
    """Draws the spectrogram and overlay offscreen, at most ``fps`` pictures a second, from the engine's spectra."""

    def __init__(self, engine, stop: threading.Event, sample_rate: float, fps: float = 60.0) -> None:
        super().__init__(name="soak-visuals", daemon=True)
        self.engine, self.stop, self.sample_rate, self.fps = engine, stop, sample_rate, fps
        self.frames = 0
        self.error = ""
        self.renderer_name = ""

    def run(self) -> None:
        try:
            from aego.visuals.headless import OffscreenTarget, create_headless_context
            from aego.visuals.overlay import OverlayState
            from aego.visuals.spectrogram import SpectrogramRenderer

            ctx = create_headless_context()
            self.renderer_name = ctx.info["GL_RENDERER"]
            target = OffscreenTarget(ctx, 1280, 720)
            bins = self.engine.stats()["spectrum_bins"]
            renderer = SpectrogramRenderer(ctx, 1280, 720, bins, self.sample_rate)
            period = 1.0 / self.fps
            next_frame = time.monotonic()
            while not self.stop.is_set():
                spectra = self.engine.spectra()
                if len(spectra):
                    renderer.push(spectra)
                if self.frames % 3 == 0:
                    s = self.engine.stats()
                    renderer.set_overlay(OverlayState(mode="soak", elapsed=self.frames / self.fps,
                                                      audio_load=s["load"], underflows=s["underflows"]))
                renderer.render(target.fbo)
                ctx.finish()
                self.frames += 1
                next_frame += period
                time.sleep(max(0.0, next_frame - time.monotonic()))
            renderer.release()
            target.release()
            ctx.release()
        except Exception as exc:  # reported in the summary; the soak goes on without pictures
            self.error = f"{type(exc).__name__}: {exc}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--space", default="synthetic")
    parser.add_argument("--jack-priority", type=int, default=80, help="SCHED_FIFO priority of jackd -R")
    parser.add_argument("--no-jack-rt", action="store_true", help="jackd -r (no real time)")
    parser.add_argument("--no-visuals", action="store_true")
    parser.add_argument("--no-hog", action="store_true", help="no core-burning process (a control run)")
    parser.add_argument("--witness-priority", type=int, default=90, help="SCHED_FIFO priority of the stall witness")
    parser.add_argument("--buffer-ms", type=float, default=0.0,
                        help="audio queued ahead of the callback (default: the engine's two blocks)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import logging

    import torch
    from aego.agent import AgentConfig, PerformerConfig, SimulatedPerformer, make_explorer

    from aego.engine import Engine, EngineConfig
    from aego.space import SoundSpace
    from tests.jack_server import JackServer, fifo_threads

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(1)
    space = SoundSpace.load(args.space)
    projection = space.projection("ica")
    report: dict = {"minutes": args.minutes, "space": args.space, "samples": [], "stalls": [], "events": [],
                    "load_added": {"hog": not args.no_hog, "visuals": not args.no_visuals, "agent": True}}
    ticks0 = cpu_ticks()
    with JackServer(rate=48000, period=256, realtime=False if args.no_jack_rt else None,
                    priority=args.jack_priority) as jack:
        jack.activate()
        report["jack"] = {"realtime": jack.realtime, "priority": args.jack_priority if jack.realtime else None,
                          "fallback_reason": jack.fallback_reason}
        config = EngineConfig(audio="jack", buffer_ms=args.buffer_ms)
        engine = Engine(config, space=space)
        engine.start()
        started = engine.stats()
        report["engine"] = {"buffer_blocks": config.buffer_blocks, "fill_target": started["fill_target"],
                            "redundancy": config.redundancy,
                            "lookahead": config.lookahead, "hop": started["hop"], "blocksize": started["blocksize"],
                            "realtime": started["realtime"],
                            "synth_fifo": fifo_threads(started["engine_pid"]).get(started["synth_tid"])}
        hog = subprocess.Popen([sys.executable, "-c", "pass" if args.no_hog else "while True: pass"])
        witness = subprocess.Popen([sys.executable, "-c", WITNESS, str(args.minutes * 60), str(args.witness_priority)],
                                   stdout=subprocess.PIPE, text=True)
        stop = threading.Event()

        def python_work() -> None:
            x = 0
            while not stop.is_set():
                x = (x * 31 + 7) % 1000003

        worker = threading.Thread(target=python_work, daemon=True)
        worker.start()
        visuals = None
        if not args.no_visuals:
            visuals = Visuals(engine, stop, space.transform.sample_rate)
            visuals.start()
        dims = 4
        explorer = make_explorer("deep-tamer", AgentConfig(period=0.05), seed=0)
        explorer.configure(dims, np.full(dims, 0.5), 0.02)
        rng = np.random.default_rng(0)
        performer = SimulatedPerformer(rng.uniform(0.2, 0.8, dims), 0.02, PerformerConfig(mode="stream"), seed=0)
        start = time.monotonic()
        end = start + args.minutes * 60
        next_sample = start
        next_action = start
        loadavg = []
        try:
            while time.monotonic() < end:
                now = time.monotonic()
                if now >= next_action:
                    explorer.act(now)
                    performer.hear(now, explorer.position)
                    u = np.asarray(explorer.position)
                    engine.set_target(projection.to_latent(projection.denormalise(u)))
                    next_action += 0.05
                for t, value in performer.poll(now):
                    explorer.stream(value, t)
                for event in engine.events():
                    if event.get("what") == "synthesis stalled":
                        report["stalls"].append({"t": round(now - start, 2), **event})
                    elif event.get("type") in ("error", "audio"):
                        report["events"].append({"t": round(now - start, 2), **event})
                if now >= next_sample:
                    s = engine.stats()
                    loadavg.append(os.getloadavg()[0])
                    report["samples"].append({
                        "t": round(now - start, 1), "blocks": s["blocks"], "underflows": s["underflows"],
                        "xruns": s["xruns"], "starved": s["starved"], "stalls": s["stalls"],
                        "gap_ms_max": s["gap_ms_max"], "load": s["load"], "loadavg": loadavg[-1],
                        "engine_rss_mb": round(rss_mb(s["engine_pid"]), 1),
                        "device_rss_mb": round(rss_mb(s["device_pid"]), 1),
                        "main_rss_mb": round(rss_mb(os.getpid()), 1),
                    })
                    if not args.json:
                        print(report["samples"][-1], flush=True)
                    next_sample += 10.0
                time.sleep(max(0.0, min(next_action - time.monotonic(), 0.005)))
            final = engine.stats()
            report["witness"] = json.loads(witness.communicate(timeout=30)[0] or "{}")
        finally:
            if witness.poll() is None:
                witness.kill()
            stop.set()
            hog.kill()
            hog.wait()
            engine.stop()
            if visuals is not None:
                visuals.join(5.0)
        jack_log = jack.log_path.read_text(errors="replace") if jack.log_path.exists() else ""
    ticks1 = cpu_ticks()
    elapsed = {k: ticks1[k] - ticks0[k] for k in ticks0}
    total = max(1, elapsed["busy"] + elapsed["idle"] + elapsed["steal"])
    first, last = report["samples"][0], report["samples"][-1]
    report.update({
        "blocks": final["blocks"], "underflows": final["underflows"], "xruns": final["xruns"],
        "starved": final["starved"], "callback_errors": final["callback_errors"], "load": final["load"],
        "frame_ms_p50": final["frame_ms_p50"], "frame_ms_p99": final["frame_ms_p99"],
        "frame_ms_max": final["frame_ms_max"], "stalls_count": final["stalls"], "gap_ms_max": final["gap_ms_max"],
        "latency_ms_p50": final["latency_ms_p50"], "latency_ms_max": final["latency_ms_max"],
        "latency_dac_ms_max": final["latency_dac_ms_max"], "device_delay_ms": final["device_delay_ms"],
        "latency_count": final["latency_count"], "latency_estimated": final["latency_estimated"],
        "realtime": final["realtime"], "spectra_dropped": final["spectra_dropped"],
        "agent_actions": explorer.counts["actions"], "agent_stream_samples": explorer.counts["stream_samples"],
        "visual_frames": visuals.frames if visuals else 0, "visuals_error": visuals.error if visuals else "",
        "renderer": visuals.renderer_name if visuals else "",
        "engine_rss_mb": [first["engine_rss_mb"], last["engine_rss_mb"]],
        "device_rss_mb": [first["device_rss_mb"], last["device_rss_mb"]],
        "main_rss_mb": [first["main_rss_mb"], last["main_rss_mb"]],
        "loadavg_mean": round(float(np.mean(loadavg)), 2) if loadavg else None,
        "cpu_busy_fraction": round(elapsed["busy"] / total, 3),
        "steal_fraction": round(elapsed["steal"] / total, 4),
        "jack_log_xrun_lines": len(re.findall(r"(?i)xrun", jack_log)),
    })
    # Which of the engine's long stalls (longer than the ring's two blocks) the witness saw at the same time.
    seen = [t for t, _late in report.get("witness", {}).get("stalls", [])]
    long = [s for s in report["stalls"] if s["gap_ms"] > 2 * 256 / 48 ]
    report["engine_long_stalls"] = len(long)
    report["engine_long_stalls_seen_by_witness"] = sum(
        any(-0.05 <= s["monotonic"] - t <= s["gap_ms"] / 1e3 + 0.05 for t in seen) for s in long)
    summary = {k: v for k, v in report.items() if k not in ("samples", "stalls")}
    summary["witness"] = {k: v for k, v in report.get("witness", {}).items() if k != "stalls"}
    summary["long_stalls"] = [(s["t"], s["gap_ms"]) for s in long][:40]
    print(json.dumps(report if args.json else summary, indent=None if args.json else 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
