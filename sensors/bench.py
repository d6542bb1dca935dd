"""``aego bench osc``: OSC reception while the main process learns.

Phase 1 (``--seconds``, default 10; the documented figure uses 600): two R-IoT v3 streams at 200 Hz
each (one bundle per sample: quaternion, Euler, gyroscope, as the device sends) from a separate sender
process to the input hub on loopback, while the main process runs a torch training loop (an MLP, Adam,
batch 256) as the agent's learning would. Figures: bundles sent and received; sensor-to-reward latency
inside the program, from the datagram's arrival (the kernel's time stamp) to the wrist reward being
readable by the main process (``InputHub.latest_reward``, shared memory): ``latency_ms_*``; and to the
reward *event* reaching the main process through the pipe, which includes the main process's own load
(its reader thread needs the GIL the learning loop holds): ``event_latency_ms_*``.

Phase 2: 10 000 malformed or random datagrams at 2 kHz (random bytes, broken bundles, bad type tags,
NaN and zero-norm quaternions, Euler angles out of range, wrong argument types, unknown addresses, an
unknown sensor id) mixed with valid sensor bundles and ``/aego/reward`` clicks, training still running.
Figures: bad datagrams sent and counted, valid messages sent and used.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import random
import socket
import struct
import time
from typing import Any

from aego.sensors.events import Reward
from aego.sensors.hub import InputConfig, InputHub
from aego.sensors.quaternion import IDENTITY
from aego.sensors.reward_mix import MixConfig
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder

RATE_HZ = 200.0
IDS = ("1", "2")
FLOOD_BAD = 10_000
FLOOD_RATE_HZ = 2000.0


def _msg(address: str, args: list[Any]) -> Any:
    b = OscMessageBuilder(address)
    for v in args:
        b.add_arg(v)
    return b.build()


def riot_bundle(sensor_id: str, t: float, n: int) -> bytes:
    """One R-IoT v3 sample: quaternion x y z w millis, Euler yaw pitch roll millis, gyroscope."""
    angle = 0.8 * math.sin(2 * math.pi * 0.3 * t)  # forearm twist, radians
    q = (math.cos(angle / 2), math.sin(angle / 2), 0.0, 0.0)
    millis = int(t * 1000)
    b = OscBundleBuilder(IMMEDIATELY)
    base = f"/riot/v3/{sensor_id}"
    b.add_content(_msg(f"{base}/absoluteorientation/quaternion", [q[1], q[2], q[3], q[0], millis]))
    b.add_content(_msg(f"{base}/absoluteorientation/euler", [0.0, 0.0, math.degrees(angle), millis]))
    b.add_content(_msg(f"{base}/gyroscope", [0.1, 0.0, 0.0, millis]))
    return b.build().dgram


def bad_datagram(i: int, rng: random.Random) -> bytes:
    """The i-th malformed datagram: every kind of bad input in turn."""
    kind = i % 10
    if kind == 0:
        data = bytearray(rng.randbytes(rng.randint(1, 200)))
        data[0] = rng.choice([c for c in range(256) if c not in (ord("/"), ord("#"))])
        return bytes(data)
    if kind == 1:
        return b"#bundle\0" + rng.randbytes(8) + struct.pack(">i", 4000) + rng.randbytes(20)
    if kind == 2:
        return b"/riot/v3/1/gyroscope\0\0\0\0fff\0" + rng.randbytes(12)  # type tag without its comma
    if kind == 3:
        return _msg("/riot/v3/1/absoluteorientation/quaternion", [math.nan, 0.0, 0.0, 1.0, 5]).dgram
    if kind == 4:
        return _msg("/riot/v3/2/absoluteorientation/quaternion", [0.0, 0.0, 0.0, 0.0, 5]).dgram
    if kind == 5:
        return _msg("/riot/v3/1/absoluteorientation/euler", [720.0, 10.0, 3000.0, 5]).dgram
    if kind == 6:
        return _msg("/aego/reward", ["a lot"]).dgram
    if kind == 7:
        return _msg(f"/nobody/knows/{rng.randint(0, 10 ** 6)}", [1.0]).dgram
    if kind == 8:
        return _msg("/riot/v3/99/absoluteorientation/quaternion", [0.0, 0.0, 0.0, 1.0, 5]).dgram  # not a wrist
    return _msg("/aego/dims", [1000]).dgram


def _sender(address: tuple[str, int], seconds: float, flood: bool, conn: Any) -> None:
    """Separate process: the two sensors (and, with ``flood``, the bad datagrams and reward clicks)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rng = random.Random(5)
    sent = bundles = bad = clicks = 0
    start = time.monotonic()
    next_sample = next_bad = next_click = start
    period, bad_period, click_period = 1.0 / RATE_HZ, 1.0 / FLOOD_RATE_HZ, 0.01
    n = 0
    while True:
        now = time.monotonic()
        if flood:
            if bad >= FLOOD_BAD:
                break
        elif now - start >= seconds:
            break
        if now >= next_sample:
            for sid in IDS:
                sock.sendto(riot_bundle(sid, now - start, n), address)
                bundles += 1
            n += 1
            next_sample += period
        if flood:
            while now >= next_bad and bad < FLOOD_BAD:
                sock.sendto(bad_datagram(bad, rng), address)
                bad += 1
                next_bad += bad_period
            if now >= next_click:
                sock.sendto(_msg("/aego/reward", [((clicks % 200) - 100) / 100.0]).dgram, address)
                clicks += 1
                next_click += click_period
        wake = min(next_sample, next_bad if flood else next_sample, next_click if flood else next_sample)
        delay = wake - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    sent = bundles
    conn.send({"bundles": sent, "bad": bad, "clicks": clicks})
    sock.close()


class _Learner:
    """The learning load: an MLP (64→256→256→16) trained with Adam on batches of 256."""

    def __init__(self) -> None:
        import torch

        torch.manual_seed(0)
        self.torch = torch
        self.net = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                                       torch.nn.ReLU(), torch.nn.Linear(256, 16))
        self.opt = torch.optim.Adam(self.net.parameters(), lr=1e-3)
        self.x, self.y = torch.randn(256, 64), torch.randn(256, 16)

    def step(self) -> None:
        loss = self.torch.nn.functional.mse_loss(self.net(self.x), self.y)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()


def _train_until(done: Any, hub: InputHub, tally: dict, learner: _Learner) -> int:
    """Train until the sender is done, polling the hub every few steps as the run's main loop would."""
    steps = 0
    while not done.poll():
        learner.step()
        steps += 1
        if steps % 4 == 0:
            _count(hub.poll(), tally)
    return steps


def _count(events: list, tally: dict) -> None:
    for ev in events:
        if isinstance(ev, Reward):
            tally["osc_rewards" if ev.source == "osc" else "imu_rewards"] += 1


def run_bench(args: Any) -> dict:
    seconds = float(getattr(args, "seconds", None) or 10.0)
    learner = _Learner()  # torch imported and warmed up before the clock starts, as in a run
    for _ in range(5):
        learner.step()
    ctx = mp.get_context("spawn")
    # The wrists come calibrated (as after `aego calibrate`), so rewards flow from the first sample.
    mix = MixConfig(neutral=dict.fromkeys(IDS, IDENTITY))
    hub = InputHub(InputConfig(listen=("127.0.0.1", 0), mix=mix))
    hub.start()
    tally = {"osc_rewards": 0, "imu_rewards": 0}
    try:
        # Phase 1: two sensors at 200 Hz while the main process learns.
        here, there = ctx.Pipe()
        proc = ctx.Process(target=_sender, args=(hub.address, seconds, False, there), daemon=True)
        proc.start()
        steps = _train_until(here, hub, tally, learner)
        sent = here.recv()
        proc.join()
        time.sleep(0.5)  # let the last datagrams through, and one status report
        _count(hub.poll(), tally)
        c1 = hub.counters()
        lat = hub.latency_ms()
        pub = hub.publish_latency_ms()
        hub.reset_latency()

        # Phase 2: the malformed flood, mixed with valid sensor data and reward clicks.
        here, there = ctx.Pipe()
        proc = ctx.Process(target=_sender, args=(hub.address, 0.0, True, there), daemon=True)
        proc.start()
        t0 = time.monotonic()
        steps2 = _train_until(here, hub, tally, learner)
        flood_s = time.monotonic() - t0
        flood = here.recv()
        proc.join()
        time.sleep(0.5)
        _count(hub.poll(), tally)
        c2 = hub.counters()
        alive = hub.alive
        lat2 = hub.latency_ms()
    finally:
        hub.stop()
    d = {k: c2.get(k, 0) - c1.get(k, 0) for k in c2}
    valid_msgs = 3 * flood["bundles"]
    return {
        "seconds": seconds,
        "streams": len(IDS),
        "rate_hz": RATE_HZ,
        "sent": sent["bundles"],
        "received": c1.get("received", 0),
        "lost": sent["bundles"] - c1.get("received", 0),
        "latency_ms_p50": pub.get("p50", math.nan),
        "latency_ms_p99": pub.get("p99", math.nan),
        "latency_ms_max": pub.get("max", math.nan),
        "rewards": pub.get("n", 0),
        "event_latency_ms_p50": lat["p50"],
        "event_latency_ms_p99": lat["p99"],
        "event_latency_ms_max": lat["max"],
        "train_steps_per_s": steps / seconds,
        "rcvbuf_bytes": hub.rcvbuf,
        "flood_seconds": flood_s,
        "flood_bad_sent": flood["bad"],
        "flood_bad_counted": d.get("malformed", 0) + d.get("unknown", 0) + d.get("ignored", 0),
        "flood_malformed": d.get("malformed", 0),
        "flood_unknown": d.get("unknown", 0),
        "flood_valid_sent": valid_msgs + flood["clicks"],
        "flood_valid_used": d.get("samples", 0) - 0 + tally["osc_rewards"],
        "flood_received": d.get("received", 0),
        "flood_datagrams_sent": flood["bad"] + flood["bundles"] + flood["clicks"],
        "flood_latency_ms_p99": lat2["p99"],
        "flood_train_steps": steps2,
        "hub_alive": alive,
        "realtime_input": bool(hub.info.get("realtime")),
        "kernel_timestamps": bool(hub.info.get("kernel_timestamps")),
        "cpus": os.cpu_count() or 0,
        "torch_threads": learner.torch.get_num_threads(),
    }
