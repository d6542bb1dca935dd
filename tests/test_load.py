"""Load through the whole program: valid OSC clicks mixed with malformed datagrams, sent to a running
``aego perform`` over real UDP loopback. Counts only (the rates and timings are ``aego bench load``)."""

from __future__ import annotations

import random

import pytest
from aego.sensors.events import Reward
from aego.sensors.pipeline import InputPipeline
from piece_support import command, env, free_port

from aego.bench_load import (
    MALFORMED_KINDS,
    build,
    expected_counters,
    flood_run,
    interleave,
    malformed_datagram,
    valid_datagrams,
)


def test_every_malformed_kind_counts_once_and_delivers_nothing() -> None:
    rng = random.Random(3)
    for i in range(5 * MALFORMED_KINDS):
        counters = expected_counters(interleave([], [malformed_datagram(i, rng)]))
        assert counters["malformed"] == 1 and counters["controls"] == 0 and counters["samples"] == 0, i


def test_a_cut_click_is_malformed_not_another_reward() -> None:
    """python-osc reads a float cut short as another number (0.25 cut by 3 bytes is 0.125): an OSC packet
    is always a multiple of 4 bytes, so a cut one is refused, alone or inside a bundle."""
    whole = build("/aego/reward", [0.25])
    for cut in (1, 2, 3):
        p = InputPipeline()
        p.datagram(whole[:-cut], ("127.0.0.1", 1), 0.0)
        assert p.counters["malformed"] == 1 and not any(isinstance(e, Reward) for e in p.take()), cut
        element = whole[:-cut]
        bundle = b"#bundle\0" + bytes(8) + len(element).to_bytes(4, "big") + element
        p = InputPipeline()
        p.datagram(bundle, ("127.0.0.1", 1), 0.0)
        assert p.counters["malformed"] == 1 and not any(isinstance(e, Reward) for e in p.take()), cut
    p = InputPipeline()
    p.datagram(whole, ("127.0.0.1", 1), 0.0)
    assert [e.value for e in p.take()] == [0.25]


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_a_performance_takes_every_valid_click_of_a_flood(tmp_path) -> None:
    """1 000 valid clicks and 1 000 malformed datagrams, alternately, at 2.5 kHz each, then /aego/stop:
    the run goes on through the flood and ends as asked; every valid click reached the explorer and is in
    the event log, in order; every malformed one is counted, exactly as the decoder says."""
    n = 1000
    port = free_port()
    log = tmp_path / "session"
    cmd = command("perform", log, "--score", "aego", "--seed", "3", listen=port)
    f = flood_run(cmd, log, port, valid=n, malformed=n, rate_hz=2500.0, env=env())
    assert f["alive_after_flood"], f
    assert f["exit_code"] == 0 and f["ended_by"] == "stop", f
    assert f["valid_used"] == n and f["in_order"], f
    assert f["valid_received"] == n and f["agent_feedback"] == n, f
    assert f["malformed_counted"] == f["malformed_expected"] == n, f
    assert f["datagrams_received"] == f["datagrams_sent"] == 2 * n + 1, f
    assert f["errors"] == 0 and f["input_restarts"] == 0, f
    # each kind of bad input is said once, never once per datagram
    assert 1 <= f["stderr_lines"] <= MALFORMED_KINDS + 2, f


def test_the_flood_is_what_it_says() -> None:
    """The bench's traffic: the valid clicks all decode to distinct rewards, the malformed ones never do."""
    order = interleave(valid_datagrams(5000), [malformed_datagram(i, random.Random(i)) for i in range(5000)])
    counters = expected_counters(order)
    assert counters["controls"] == 5000 and counters["malformed"] == 5000 and counters["received"] == 10000
