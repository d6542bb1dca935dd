"""Space changes while the engine plays, a big space included (the figures are `aego bench switch`'s)."""

from __future__ import annotations

import argparse

from aego.bench_switch import run_bench


def test_every_change_of_space_is_loaded_and_played_at_both_queue_settings():
    figures = run_bench(argparse.Namespace(seconds=3.0))
    assert figures["big_space_mb"] > 20
    for run in (figures["performance"], figures["unattended"]):
        assert run["switches"] == 3
        assert run["loaded"] == run["switches"] and run["not_loaded"] == 0
        assert run["blocks"] > 0
    assert figures["unattended"]["buffer_ms"] > figures["performance"]["buffer_ms"]
