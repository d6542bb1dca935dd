"""The pacer: drift-free ticks, a live period change, late ticks skipped, errors survived."""

from __future__ import annotations

import time

import numpy as np
from aego.agent import AgentConfig, Pacer, make_explorer


def _run(pacer: Pacer, seconds: float) -> None:
    pacer.start()
    time.sleep(seconds)
    pacer.stop()


def test_work_inside_the_tick_does_not_add_up() -> None:
    period = 0.02
    # A naive loop (work, then sleep one period) would take 1.6 periods a tick.
    pacer = Pacer(lambda now: time.sleep(0.6 * period), period)
    _run(pacer, 0.6)
    calls = np.array(pacer.call_times)
    assert len(calls) >= 10
    mean_interval = (calls[-1] - calls[0]) / (len(calls) - 1)
    assert mean_interval < 1.3 * period


def test_period_changes_live() -> None:
    pacer = Pacer(lambda now: None, 0.05)
    pacer.start()
    time.sleep(0.3)
    n_slow = pacer.ticks
    pacer.set_period(0.01)
    time.sleep(0.3)
    pacer.stop()
    assert pacer.ticks - n_slow > 2 * n_slow
    assert pacer.period == 0.01


def test_late_ticks_are_skipped_and_errors_counted() -> None:
    calls: list[float] = []

    def tick(now: float) -> None:
        calls.append(now)
        if len(calls) == 3:
            time.sleep(0.08)  # four periods late
        if len(calls) == 6:
            raise RuntimeError("a bad tick")

    pacer = Pacer(tick, 0.02)
    _run(pacer, 0.4)
    assert pacer.skipped >= 2
    assert pacer.errors == 1 and "bad tick" in pacer.last_error
    assert len(calls) > 6  # it went on after the error
    assert np.sum(np.diff(calls) < 0.01) <= 1  # at most one catch-up call, not a burst


def test_bad_period_refused() -> None:
    for bad in (0.0, -1.0, float("nan"), 100.0):
        try:
            Pacer(lambda now: None, bad)
        except ValueError as exc:
            assert "period" in str(exc)
        else:
            raise AssertionError(f"period {bad} accepted")


def test_a_burst_of_rewards_does_not_stop_the_actions() -> None:
    """1000 rewards a second arrive while the explorer is paced: every action still comes, every
    reward is counted, and the learner takes them in a few coalesced updates, not one each."""
    explorer = make_explorer("deep-tamer", AgentConfig(period=0.03), seed=0)
    explorer.configure(4, np.full(4, 0.5))
    pacer = Pacer(explorer.act, 0.03)
    pacer.start()
    time.sleep(0.3)
    ticks_before = pacer.ticks
    start = time.monotonic()
    sent = 0
    while time.monotonic() - start < 1.0:
        explorer.feedback(1.0 if sent % 2 else -1.0, time.monotonic(), "burst")
        sent += 1
        time.sleep(0.001)
    elapsed = time.monotonic() - start
    ticks = pacer.ticks - ticks_before
    pacer.stop()
    explorer.learner.idle()
    explorer.close()
    assert explorer.counts["feedback"] == sent and sent > 300
    assert ticks >= 0.5 * elapsed / 0.03  # actions kept coming during the burst
    assert 0 < explorer.learner.feedback_updates < sent  # coalesced
    assert pacer.errors == 0


def test_bench_timing_part_reports_the_contract_keys() -> None:
    from aego.agent.bench import _timing

    figures = _timing(1.0, side_seconds=0.5)
    for key in ("decide_ms_p99", "update_ms_p99", "jitter_ms_p99", "idle_jitter_ms_p99", "burst_jitter_ms_p99"):
        assert figures[key] >= 0.0
    assert figures["updates"] > 0 and figures["actions_while_learning"] > 5
    assert figures["burst_rewards_per_s"] > 100
