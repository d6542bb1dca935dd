"""Fuzzing the OSC path: random bytes, mutated valid packets (flipped bytes, truncations, wrong type tags,
lying sizes, nested and future-dated bundles, NaN/inf, wrong argument counts) for every address ægo
understands, through the datagram parser, the decoder and the input pipeline; then a few thousand of them
over real loopback UDP into a running input process, mixed with valid messages.

The only outcomes allowed: a decoded item whose numbers are finite and in range, or the documented
errors (MalformedDatagramError, InvalidMessageError, UnknownAddressError), each counted. Runs are
derandomized (the same examples on every machine) and sized to a few seconds each.
"""

from __future__ import annotations

import math
import random
import socket
import struct
import time

import pytest
from aego.sensors.events import Control, ImuSample, Reward, SensorEvent
from aego.sensors.hub import InputConfig, InputHub
from aego.sensors.osc_formats import InvalidMessageError, UnknownAddressError, decode
from aego.sensors.osc_server import MAX_BUNDLE_DEPTH, MalformedDatagramError, parse_datagram
from aego.sensors.pipeline import InputPipeline
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pythonosc.osc_message_builder import OscMessageBuilder

FUZZ = settings(max_examples=400, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Every address of CONTRACT §4 and §5, with a valid argument list for each.
VALID: list[tuple[str, list]] = [
    ("/aego/reward", [0.5]), ("/aego/zone", [-0.5]), ("/aego/explore", []), ("/aego/pause", [1]),
    ("/aego/cue", []), ("/aego/section", ["intro"]), ("/aego/dims", [3]), ("/aego/period", [0.1]),
    ("/aego/mute", [0]), ("/aego/gain", [1.0]), ("/aego/stop", []),
    ("/aego/imu/left", [10.0, 20.0, 30.0]), ("/aego/imu/left/quat", [1.0, 0.0, 0.0, 0.0]),
    ("/aego/imu/left/battery", [80.0]),
    ("/riot/v3/1/absoluteorientation/quaternion", [0.0, 0.0, 0.0, 1.0, 512]),
    ("/riot/v3/1/absoluteorientation/euler", [10.0, 20.0, 30.0, 512]),
    ("/riot/v3/1/gyroscope", [0.1, 0.2, 0.3, 512]), ("/riot/v3/1/battery", [3.9]),
    ("/riot/v3/1/accelerometer", [0.0, 0.0, 1.0, 512]),
    ("/2/raw", [0.0] * 14 + [1.0, 0.0, 0.0, 0.0, 10.0, 20.0, 30.0, 0.0]),
    ("/quaternion", [1.0, 0.0, 0.0, 0.0]), ("/euler", [1.0, 2.0, 3.0]), ("/sensors", [1.0, 2.0, 3.0] + [0.0] * 7),
    ("/battery", [90.0, 1.0, 3.9, 0.1]), ("/matrix", [1.0] * 9),
]
ADDRESSES = [a for a, _ in VALID] + ["/aego/nothing", "/riot/v3//gyroscope", "/riot/v3/" + "x" * 100 + "/gyroscope",
                                     "/aego/imu/", "/raw", "//raw", "/aego", "/", "/aego/imu/x/y/z"]
ERRORS = (InvalidMessageError, UnknownAddressError)


def build(address: str, args: list) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        if isinstance(a, float):
            b.add_arg(a, OscMessageBuilder.ARG_TYPE_FLOAT)
        else:
            b.add_arg(a)
    return b.build().dgram


def _pad(b: bytes) -> bytes:
    return b + b"\0" * (4 - len(b) % 4)


def raw_message(address: bytes, tags: bytes, payload: bytes) -> bytes:
    """An OSC message with any address, type tag string and payload, however wrong."""
    return _pad(address) + _pad(b"," + tags) + payload


def bundle(elements: list[bytes], timetag: int = 1) -> bytes:
    out = b"#bundle\0" + struct.pack(">Q", timetag)
    for e in elements:
        out += struct.pack(">i", len(e)) + e
    return out


# -- strategies ------------------------------------------------------------------------------------------
finite_or_not = st.floats(width=32, allow_nan=True, allow_infinity=True)
arg = st.one_of(
    finite_or_not,
    st.floats(allow_nan=True, allow_infinity=True),  # doubles ('d')
    st.integers(-(2 ** 31), 2 ** 31 - 1),
    st.integers(-(2 ** 63), 2 ** 63 - 1),  # int64 ('h')
    st.text(max_size=40),
    st.binary(min_size=1, max_size=40),  # python-osc cannot even build an empty blob
    st.booleans(),
    st.none(),
)
address = st.one_of(st.sampled_from(ADDRESSES),
                    st.text(max_size=60).map(lambda s: "/" + s.replace("\0", "")),
                    st.lists(st.text("abcxyz019", max_size=6), max_size=6).map(lambda p: "/" + "/".join(p)))


@st.composite
def message_bytes(draw: st.DrawFn) -> bytes:
    addr = draw(address)
    args = draw(st.lists(arg, max_size=25))
    b = OscMessageBuilder(addr)
    for a in args:
        if isinstance(a, float) and (draw(st.booleans()) or (math.isfinite(a) and abs(a) > 3.4e38)):
            b.add_arg(a, OscMessageBuilder.ARG_TYPE_DOUBLE)
        elif isinstance(a, float):
            b.add_arg(a, OscMessageBuilder.ARG_TYPE_FLOAT)
        elif isinstance(a, int) and not isinstance(a, bool) and not -(2 ** 31) <= a < 2 ** 31:
            b.add_arg(a, OscMessageBuilder.ARG_TYPE_INT64)
        else:
            b.add_arg(a)
    return b.build().dgram


@st.composite
def mutated_valid(draw: st.DrawFn) -> bytes:
    """A valid packet of a known address, then broken in one or more ways."""
    addr, args = draw(st.sampled_from(VALID))
    data = bytearray(build(addr, args))
    for _ in range(draw(st.integers(1, 4))):
        how = draw(st.sampled_from(["flip", "truncate", "extend", "insert", "delete", "tags", "nan", "count"]))
        if how == "flip" and data:
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif how == "truncate":
            del data[draw(st.integers(0, len(data))):]
        elif how == "extend":
            data += draw(st.binary(max_size=64))
        elif how == "insert":
            i = draw(st.integers(0, len(data)))
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif how == "delete" and data:
            i = draw(st.integers(0, len(data) - 1))
            del data[i:i + draw(st.integers(1, 8))]
        elif how == "tags":  # wrong type tags for the same payload (or unknown ones)
            tags = draw(st.text("ifdshbTFNIm[]rtcz?", max_size=24)).encode()
            payload = b"".join(struct.pack(">f", float(a)) if isinstance(a, float | int) else _pad(str(a).encode())
                               for a in args)
            data = bytearray(raw_message(addr.encode(), tags, payload))
        elif how == "nan":
            bad = draw(st.sampled_from([math.nan, math.inf, -math.inf, 1e30, -1e30, 0.0]))
            new = [bad if isinstance(a, float) and draw(st.booleans()) else a for a in args] or [bad]
            data = bytearray(build(addr, new))
        elif how == "count":  # too few or too many arguments
            n = draw(st.integers(0, 2 * len(args) + 3))
            data = bytearray(build(addr, (args * 3 + [0.0] * n)[:n]))
    return bytes(data)


@st.composite
def bundles(draw: st.DrawFn, depth: int = 0) -> bytes:
    """Bundles (nested up to beyond the allowed depth), with future or absurd timetags and lying sizes."""
    elements = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["valid", "mutated", "random", "nested"] if depth < MAX_BUNDLE_DEPTH + 2
                                    else ["valid", "random"]))
        if kind == "valid":
            elements.append(build(*draw(st.sampled_from(VALID))))
        elif kind == "mutated":
            elements.append(draw(mutated_valid()))
        elif kind == "random":
            elements.append(draw(st.binary(max_size=40)))
        else:
            elements.append(draw(bundles(depth + 1)))
    in_2030 = (1_893_456_000 + 2_208_988_800) << 32  # NTP seconds: a sensor clock years ahead
    timetag = draw(st.sampled_from([0, 1, 2 ** 64 - 1, 4_000_000_000 << 32, in_2030]))
    data = bytearray(bundle(elements, timetag))
    if draw(st.booleans()) and len(data) > 20:  # a size field that lies (huge, negative, zero)
        i = 16
        data[i:i + 4] = struct.pack(">i", draw(st.sampled_from([0, -1, -(2 ** 31), 2 ** 31 - 1, 65536, 3])))
    if draw(st.booleans()):
        del data[draw(st.integers(8, len(data))):]
    return bytes(data)


datagrams = st.one_of(st.binary(max_size=300), st.binary(max_size=300).map(lambda b: b"/" + b),
                      st.binary(max_size=300).map(lambda b: b"#bundle\0" + b), message_bytes(), mutated_valid(),
                      bundles())


# -- invariants --------------------------------------------------------------------------------------------
def check_item(item: object) -> None:
    """Whatever gets through the decoder is usable: typed, finite, in range."""
    if item is None:
        return
    if isinstance(item, Reward):
        assert math.isfinite(item.value) and -1.0 <= item.value <= 1.0
    elif isinstance(item, Control):
        assert item.address.startswith("/aego/")
        for a in item.args:
            assert isinstance(a, int | float | str) and not isinstance(a, bool)
            if isinstance(a, float):
                assert math.isfinite(a)
            if isinstance(a, str):
                assert 0 < len(a) <= 100
    elif isinstance(item, ImuSample):
        if item.quat is not None:
            assert all(math.isfinite(v) for v in item.quat)
            assert abs(math.sqrt(sum(v * v for v in item.quat)) - 1.0) < 1e-6
        for v in (item.gyro or ()):
            assert math.isfinite(v)
        if item.battery is not None:
            assert math.isfinite(item.battery)
        assert 0 < len(item.sensor_id) <= 80
    else:
        raise AssertionError(f"decode returned {type(item).__name__}")


def parse_and_decode(data: bytes) -> None:
    try:
        messages, bad = parse_datagram(data)
    except MalformedDatagramError:
        return
    assert bad >= 0
    for addr, args in messages:
        assert isinstance(addr, str)
        try:
            item = decode(addr, args, 1.0, "127.0.0.1:9")
        except ERRORS:
            continue
        check_item(item)


# -- tests -------------------------------------------------------------------------------------------------
@pytest.mark.timeout(120)
@settings(FUZZ, max_examples=1000)
@given(st.binary(max_size=2000))
def test_random_bytes_are_dropped_or_parsed(data: bytes) -> None:
    parse_and_decode(data)
    parse_and_decode(b"/" + data)
    parse_and_decode(b"#bundle\0" + data)


@pytest.mark.timeout(120)
@settings(FUZZ, max_examples=1000)
@given(mutated_valid())
def test_mutated_valid_packets_of_every_address(data: bytes) -> None:
    parse_and_decode(data)


@pytest.mark.timeout(120)
@FUZZ
@given(bundles())
def test_nested_bundles_lying_sizes_and_future_timetags(data: bytes) -> None:
    parse_and_decode(data)


@pytest.mark.timeout(120)
@FUZZ
@given(address, st.lists(arg, max_size=30))
def test_decoder_on_any_address_and_arguments(addr: str, args: list) -> None:
    """Arguments as python-osc could hand them over (and some it never would: lists, tuples)."""
    for extra in ([], [[1.0, 2.0]], [(1, 2, 3, 4)], [b"\0" * 8]):
        try:
            item = decode(addr, args + extra, 1.0, "127.0.0.1:9")
        except ERRORS:
            continue
        check_item(item)


@pytest.mark.timeout(120)
@FUZZ
@given(st.sampled_from(VALID), st.integers(0, 40), st.sampled_from([math.nan, math.inf, -math.inf, 0.0, 3.4e38]))
def test_wrong_argument_counts_and_non_finite_values(valid: tuple[str, list], n: int, bad: float) -> None:
    addr, args = valid
    for values in ((args * 3 + [bad] * n)[:n], [bad] * n, [bad if isinstance(a, float) else a for a in args]):
        data = build(addr, values)
        messages, bad_elements = parse_datagram(data)
        assert messages[0][0] == addr and bad_elements == 0
        try:
            item = decode(addr, messages[0][1], 1.0, "127.0.0.1:9")
        except ERRORS:
            continue
        check_item(item)


def test_every_valid_packet_decodes() -> None:
    """The corpus the mutations start from is itself valid (so the fuzzing starts from real packets)."""
    for addr, args in VALID:
        (messages, bad) = parse_datagram(build(addr, args))
        assert bad == 0 and messages[0][0] == addr
        check_item(decode(addr, messages[0][1], 1.0, "127.0.0.1:9"))


def test_deep_and_huge_bundles() -> None:
    inner = build("/aego/reward", [0.25])
    data = inner
    for _ in range(MAX_BUNDLE_DEPTH + 1):
        data = bundle([data])
    assert parse_datagram(data)[0] == [("/aego/reward", [0.25])]
    data = bundle([data])  # one level too deep: refused, counted
    with pytest.raises(MalformedDatagramError):
        parse_datagram(data)
    # The biggest UDP payload, full of one-message elements: every one comes out.
    many = bundle([inner] * ((65507 - 16) // (len(inner) + 4)))
    messages, bad = parse_datagram(many)
    assert bad == 0 and len(messages) == (65507 - 16) // (len(inner) + 4)


@pytest.mark.timeout(180)
@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(datagrams, min_size=1, max_size=20))
def test_pipeline_counts_every_datagram_and_never_raises(batch: list[bytes]) -> None:
    """The input process's own code on every datagram: nothing raises, every datagram is counted once."""
    pipeline = InputPipeline()
    for i, data in enumerate(batch):
        pipeline.datagram(data, ("127.0.0.1", 9000 + i), float(i))
    pipeline.tick(len(batch) + 1.0)
    pipeline.flush_reward()
    c = pipeline.counters
    assert c["received"] == len(batch)
    assert c["errors"] == 0
    for ev in pipeline.take():
        if isinstance(ev, Reward):
            assert math.isfinite(ev.value) and -1.0 <= ev.value <= 1.0
        elif isinstance(ev, Control | ImuSample):
            check_item(ev)


# -- end to end: a running input process under fuzzed traffic ----------------------------------------------
def _corpus(n: int, seed: int) -> list[bytes]:
    """``n`` fuzzed datagrams drawn reproducibly from the strategies above."""
    rng = random.Random(seed)
    out = []
    valid = [build(a, v) for a, v in VALID if a != "/aego/reward"]  # rewards are the marked valid messages
    while len(out) < n:
        kind = rng.randrange(6)
        if kind == 0:
            data = bytearray(rng.randbytes(rng.randint(1, 300)))
            data[0] = rng.choice([c for c in range(256) if c not in (ord("/"), ord("#"))])  # surely not OSC
            out.append(bytes(data))
            continue
        base = bytearray(rng.choice(valid))
        if kind == 1:
            base[rng.randrange(len(base))] ^= 1 << rng.randrange(8)
        elif kind == 2:
            del base[rng.randrange(1, len(base)):]
        elif kind == 3:
            base += rng.randbytes(rng.randint(1, 64))
        elif kind == 4:
            base = bytearray(bundle([bytes(base)] * rng.randint(1, 3), rng.choice([0, 2 ** 64 - 1])))
            base[16:20] = struct.pack(">i", rng.choice([-1, 2 ** 31 - 1, 0, len(base)]))
        else:
            addr = rng.choice([a for a, _ in VALID])
            base = bytearray(build(addr, [rng.choice([math.nan, math.inf, "x", b"\1", 1e30, True, None])
                                          for _ in range(rng.randint(0, 25))]))
        out.append(bytes(base))
    return out


@pytest.mark.timeout(180)
def test_running_input_process_survives_fuzzed_traffic() -> None:
    """3000 fuzzed datagrams and 1000 valid rewards over loopback: the process lives, every valid reward
    arrives in order, every datagram is counted and the malformed ones are counted as the decoder says."""
    fuzzed = _corpus(3000, seed=8)
    values = [round((k % 2001 - 1000) / 1000, 3) for k in range(1000)]
    valid = [build("/aego/reward", [v]) for v in values]
    # What the same code says about the same datagrams, in the same order: the expected counters.
    expected = InputPipeline()
    order: list[bytes] = []
    for i, data in enumerate(fuzzed):
        order.append(data)
        if i % 3 == 0:
            order.append(valid[i // 3])
    for data in order:
        expected.datagram(data, ("127.0.0.1", 1), 0.0)
    expected_rewards = sum(isinstance(e, Reward) and e.source == "osc" for e in expected.take())
    hub = InputHub(InputConfig(listen=("127.0.0.1", 0), realtime=False))
    hub.start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        events: list = []
        for i, data in enumerate(order):
            sock.sendto(data, hub.address)
            if i % 100 == 99:
                time.sleep(0.004)  # bursts of 100 at a few kHz, like a busy stage network
                events += hub.poll()
        end = time.monotonic() + 30
        while time.monotonic() < end and hub.counters().get("received", 0) < len(order):
            time.sleep(0.02)
        while time.monotonic() < end and \
                sum(isinstance(e, Reward) and e.source == "osc" for e in events) < expected_rewards:
            events += hub.poll()
            time.sleep(0.02)
        events += hub.poll()
        c = hub.counters()
        assert hub.alive and c["restarts"] == 0
        assert c["received"] == len(order)
        assert c["errors"] == 0
        for key in ("malformed", "unknown", "messages", "controls"):
            assert c[key] == expected.counters[key], key
        assert c["malformed"] >= sum(1 for d in fuzzed if d[:1] not in (b"/", b"#"))
        got = [e.value for e in events if isinstance(e, Reward) and e.source == "osc"]
        # Every valid reward arrived, in order (a mutated packet may add a reward of its own in between).
        it = iter(got)
        assert all(any(abs(g - v) < 1e-6 for g in it) for v in values)
        invalid_reports = [e for e in events if isinstance(e, SensorEvent) and e.state in ("invalid", "unknown")]
        assert len(invalid_reports) <= 200  # each kind once, never once per datagram
        # And it still answers normally afterwards.
        sock.sendto(build("/aego/reward", [0.125]), hub.address)
        end = time.monotonic() + 20
        late: list = []
        while time.monotonic() < end and not any(isinstance(e, Reward) and e.value == 0.125 for e in late):
            late += hub.poll()
            time.sleep(0.01)
        assert any(isinstance(e, Reward) and e.value == 0.125 for e in late)
    finally:
        sock.close()
        hub.stop()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_performance_survives_fuzzed_traffic(tmp_path) -> None:
    """The whole program (``aego perform``, headless): 1500 fuzzed datagrams with 300 valid rewards among
    them, then ``/aego/stop``. It ends as asked (exit 0, no traceback), every valid reward is in the event
    log in order, and summary.json counts every datagram and exactly the malformed ones."""
    import json

    from piece_support import start, wait_for

    port = _free_port()
    log = tmp_path / "session"
    # No /aego/stop or /aego/cue among the fuzzed (intact ones would end the run or play through the score
    # before the test is done); rewards are the marked valid messages.
    fuzzed = [d for d in _corpus(2000, seed=11) if b"/aego/stop" not in d and b"/aego/cue" not in d][:1500]
    values = [round((k % 1001 - 500) / 500, 3) for k in range(300)]
    order: list[bytes] = []
    for i, data in enumerate(fuzzed):
        order.append(data)
        if i % 5 == 0:
            order.append(build("/aego/reward", [values[i // 5]]))
    expected = InputPipeline()
    for data in order:
        expected.datagram(data, ("127.0.0.1", 1), 0.0)
    proc = start("perform", log, "--score", "aego", "--seed", "3", listen=port)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        wait_for(log, lambda evs: sum(e["type"] == "action" for e in evs) >= 3)
        for i, data in enumerate(order):
            sock.sendto(data, ("127.0.0.1", port))
            if i % 50 == 49:
                time.sleep(0.01)  # ~5 kHz in bursts
        wait_for(log, lambda evs: sum(e["type"] == "reward" and e.get("source") == "osc" for e in evs) >=
                 len(values))
        sock.sendto(build("/aego/stop", []), ("127.0.0.1", port))
        _out, err = proc.communicate(timeout=120)
    finally:
        sock.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0 and "Traceback" not in err, err[-2000:]
    from aego.session import read_events

    got = [e["value"] for e in read_events(log) if e["type"] == "reward" and e.get("source") == "osc"]
    it = iter(got)
    assert all(any(abs(g - v) < 1e-3 for g in it) for v in values)
    summary = json.loads((log / "summary.json").read_text())
    assert summary["ended_by"] == "stop"
    assert summary["osc"]["received"] == len(order) + 1
    assert summary["osc"]["malformed"] == expected.counters["malformed"]
    assert summary["osc"].get("errors", 0) == 0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
