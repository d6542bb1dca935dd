"""``aego bench agent``: timing of the explorer while it learns, and what it learns, over several seeds.

Timing (real time, the learner on its own thread as live): a Deep TAMER explorer at 4 dims paced
every 30 ms while a simulated performer streams rewards at 100 Hz, then a burst of 1000 rewards a
second, then nothing at all with curiosity at full (the novelty bonus read on every decision).
Figures: ``decide_ms`` (one ``act``, all three parts), ``update_ms`` (one learner update),
``jitter_ms`` (|interval − period| between actions), all p50/p99; per part ``decide_*_ms_p99``.

Learning (simulated time, :mod:`aego.agent.simulation`, averaged over ``--seeds``): taught toward a
target ten steps away (4 dims, 50 ms, 90 s), the mean distance over the last 30 s relative to the
start distance and to the random walk's, with clicks and with a stream; with no reward at all, the
cells (two steps wide) visited in 60 s at 2 dims by curiosity and by the random walk.
"""

from __future__ import annotations

import argparse
import threading
import time

import numpy as np


def _timing(seconds: float, period: float = 0.03, side_seconds: float | None = None) -> dict[str, float]:
    """``seconds`` of learning; ``side_seconds`` (default max(2, seconds / 3)) for the idle control and the burst."""
    side = max(2.0, seconds / 3) if side_seconds is None else side_seconds
    from aego.agent import AgentConfig, Pacer, PerformerConfig, SimulatedPerformer, make_explorer

    # Control: the pacer alone (no explorer, no learning) shows what the machine itself adds.
    idle = Pacer(lambda now: None, period)
    idle.start()
    time.sleep(side)
    idle.stop()
    idle_stats = idle.stats()

    explorer = make_explorer("deep-tamer", AgentConfig(period=period), seed=0)
    dims = 4
    explorer.configure(dims, np.full(dims, 0.5), 0.01)
    performer = SimulatedPerformer(np.full(dims, 0.6), 0.01, PerformerConfig(mode="stream"), seed=0)
    decide_ms: list[float] = []
    decide_cpu_ms: list[float] = []

    def tick(now: float) -> None:
        start, cpu = time.perf_counter(), time.thread_time()
        explorer.act(now)
        decide_ms.append((time.perf_counter() - start) * 1e3)
        decide_cpu_ms.append((time.thread_time() - cpu) * 1e3)
        performer.hear(now, explorer.position)

    pacer = Pacer(tick, period)
    pacer.start()
    end = time.monotonic() + seconds
    while time.monotonic() < end:  # the stream arrives on another thread, as from the input hub
        for t, value in performer.poll(time.monotonic()):
            explorer.stream(value, t)
        time.sleep(0.005)
    learning = pacer.stats()
    n_learning = len(decide_ms)

    # A burst: 1000 clicks a second from another thread for a third of the time.
    stop = threading.Event()

    def burst() -> None:
        k = 0
        next_t = time.monotonic()
        while not stop.is_set():
            explorer.feedback(1.0 if k % 2 else -1.0, time.monotonic(), "burst")
            k += 1
            next_t += 0.001
            time.sleep(max(0.0, next_t - time.monotonic()))

    pacer.call_times.clear()
    pacer.lateness.clear()
    thread = threading.Thread(target=burst, daemon=True)
    sent_before = explorer.counts["feedback"]
    thread.start()
    time.sleep(side)
    stop.set()
    thread.join()
    burst_stats = pacer.stats()
    burst_rate = (explorer.counts["feedback"] - sent_before) / side
    n_burst = len(decide_ms)
    explorer.explore(time.monotonic())  # nobody says anything: curiosity at full, the bonus read every action
    time.sleep(side)
    pacer.stop()
    explorer.learner.idle()
    summary = explorer.summary()
    explorer.close()
    d = np.array(decide_ms)
    update_cpu = np.array(explorer.learner.update_cpu_ms)
    parts = {"stream": d[:n_learning], "burst": d[n_learning:n_burst], "curious": d[n_burst:]}
    return {"decide_ms_p50": float(np.percentile(d, 50)), "decide_ms_p99": float(np.percentile(d, 99)),
            "decide_cpu_ms_p99": float(np.percentile(decide_cpu_ms, 99)),
            **{f"decide_{k}_ms_p99": float(np.percentile(v, 99)) if len(v) else float("nan")
               for k, v in parts.items()},
            "update_ms_p50": summary["update_ms_p50"], "update_ms_p99": summary["update_ms_p99"],
            "update_cpu_ms_p99": float(np.percentile(update_cpu, 99)),
            "idle_jitter_ms_p99": idle_stats["jitter_ms_p99"],
            "updates": summary["updates"], "period_ms": period * 1e3, "actions_while_learning": n_learning,
            "jitter_ms_p50": learning["jitter_ms_p50"], "jitter_ms_p99": learning["jitter_ms_p99"],
            "late_ms_p99": learning["late_ms_p99"], "skipped_ticks": learning["skipped"] + burst_stats["skipped"],
            "burst_rewards_per_s": burst_rate, "burst_jitter_ms_p99": burst_stats["jitter_ms_p99"],
            "burst_late_ms_p99": burst_stats["late_ms_p99"]}


def _learning(seeds: int) -> dict[str, float]:
    from aego.agent.simulation import teach, wander
    from tqdm import tqdm

    out: dict[str, float] = {}
    bar = tqdm(total=seeds * 6, desc="agent learning (simulated time)", unit="run", leave=False)
    for mode in ("clicks", "stream"):
        tamer, walk, rate, interval = [], [], [], []
        for seed in range(seeds):
            t = teach("deep-tamer", mode, seed)
            r = teach("random", mode, seed)
            tamer.append(t["tail_mean"] / t["start"])
            walk.append(r["tail_mean"] / r["start"])
            rate.append(t["rewards_per_s"])
            interval.append(t["interval_median"])
            bar.update(2)
        if mode == "clicks":  # what the simulated performer gave while teaching
            out["clicks_per_s"] = float(np.mean(rate))
            out["click_interval_median_s"] = float(np.mean(interval))
        out[f"{mode}_tail_over_start"] = float(np.mean(tamer))
        out[f"{mode}_random_tail_over_start"] = float(np.mean(walk))
        out[f"{mode}_tail_over_random"] = float(np.mean(tamer) / np.mean(walk))
        out[f"{mode}_tail_over_start_worst"] = float(np.max(tamer))
    curious, walk = [], []
    for seed in range(seeds):
        curious.append(wander("deep-tamer", seed))
        walk.append(wander("random", seed))
        bar.update(2)
    bar.close()
    out["curiosity_cells"] = float(np.mean(curious))
    out["random_cells"] = float(np.mean(walk))
    out["curiosity_cells_ratio"] = float(np.mean(curious) / np.mean(walk))
    out["seeds"] = seeds
    return out


def run_bench(args: argparse.Namespace) -> dict:
    """Both parts; ``args.seconds`` (default 10) is the timing run, ``args.seeds`` (default 5) the learning."""
    seconds = float(getattr(args, "seconds", None) or 10.0)
    seeds = int(getattr(args, "seeds", None) or 5)
    figures = _timing(seconds)
    figures.update(_learning(seeds))
    return figures
