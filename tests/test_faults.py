"""Small faults inside a run, on the real parts (the runner's reward path, a real explorer, a real
session folder, OSC out over loopback)."""

from __future__ import annotations

import math
import socket
import time
from pathlib import Path

from aego.agent import AgentConfig, make_explorer

from aego.osc_out import OscOut
from aego.runner import RunConfig, Runner
from aego.session import Session, read_events


def test_a_reward_that_is_not_a_number_is_dropped_and_said_once(tmp_path: Path) -> None:
    """NaN must not be clipped into +1 (``min(1.0, nan)`` is 1.0): it is dropped, logged once per
    source, and the rewards around it are used as usual."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    runner = Runner(RunConfig(mode="perform"))
    runner.session = Session(tmp_path / "s")
    runner.explorer = make_explorer("deep-tamer", AgentConfig(), 1)
    runner.osc = OscOut(*listener.getsockname())
    try:
        now = time.monotonic()
        runner.explorer.act(now)
        for i, value in enumerate([0.5, math.nan, math.inf, -math.inf, math.nan, -0.25]):
            runner._reward(value, "osc", False, now + 0.1 * i)
        runner._reward(math.nan, "imu", True, now + 1.0)
        runner._reward(0.75, "imu", True, now + 1.1)
    finally:
        runner.session.close()
        runner.explorer.close()
        runner.osc.close()
        listener.close()
    events = list(read_events(tmp_path / "s"))
    assert [(e["value"], e["source"]) for e in events if e["type"] == "reward"] == [
        (0.5, "osc"), (-0.25, "osc"), (0.75, "imu")]
    errors = [e for e in events if e["type"] == "error"]
    assert [e["source"] for e in errors] == ["osc", "imu"] and "not a number" in errors[0]["message"]
    assert runner.rewards == 3
    agent = runner.explorer.summary()
    assert agent["feedback"] == 2 and agent["stream_samples"] == 1
