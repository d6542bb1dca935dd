"""The installation soak, CI's two-minute version of `aego bench soak --seconds 3600` (docs/reliability.md).

It runs the real `aego install` (null audio output at real time, the installation score 20× faster) and
checks what must hold however loaded the machine is: the run lasts, ends cleanly, logs no error and moves
through the score. Memory growth and underflows are printed, not asserted (they are the hour-long bench's
figures; two minutes on a shared machine say little about either).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from aego.bench_soak import run_bench


def test_a_two_minute_installation_soak_runs_clean():
    figures = run_bench(argparse.Namespace(seconds=120.0, space=None))
    print("\nsoak:", json.dumps(figures))
    assert figures["seconds"] >= 120.0
    assert figures["errors"] == 0 and figures["audio_errors"] == 0
    # the installation score's first four sections last 2040 s of score time: 102 s at 20×
    assert figures["sections"] >= 4
    assert figures["actions"] > 0
    assert figures["rss_warm_mb"] > 0 and figures["rss_end_mb"] > 0
    events = [json.loads(line) for line in (Path(figures["session"]) / "events.jsonl").read_text().splitlines()]
    assert events[-1]["type"] == "end" or any(e["type"] == "end" for e in events[-5:])
