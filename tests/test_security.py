"""Security: where OSC listens, who may send, what files may hold code, where paths may point, and that no
shell command is ever built from user text.

- OSC listens on loopback unless asked (the hub's default and every command's ``--osc-listen`` default);
  listening on every interface prints a warning on stderr.
- ``--osc-allow IP,...`` drops every other sender, tested with a real second loopback address (127.0.0.2:
  Linux routes all of 127/8 to ``lo``) as the stranger.
- Model, agent and checkpoint files are never unpickled: a crafted pickle whose unpickling would create a
  marker file is refused with a clear error, the marker never appears, and Python's audit hooks see no
  ``pickle.find_class`` (nothing from the file was even looked up).
- Paths: a score's relative space paths resolve against the score's folder (never the working folder);
  whatever they name is only ever opened as a safetensors sound space. OSC never names a file: decoding
  and applying every control, with path-like and shell-like strings, opens nothing and runs nothing.
- The source never unpickles, evals, execs, or runs a shell (static check of every module).
"""

from __future__ import annotations

import ast
import io
import os
import pickle
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from aego.sensors.events import Control, Reward
from aego.sensors.hub import InputConfig, InputHub, config_from_args
from aego.sensors.osc_server import is_loopback
from pythonosc.osc_message_builder import OscMessageBuilder

from aego.errors import ScoreError, SpaceFileError

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["aego", "agent", "sensors", "visuals", "scores"]
GUARD_S = 20.0  # only against hanging: waits end as soon as their condition holds


def msg(address: str, *args: object) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


def wait_for(hub: InputHub, until, guard: float = GUARD_S) -> list:
    events: list = []
    end = time.monotonic() + guard
    while time.monotonic() < end:
        events += hub.poll()
        if until(events, hub.counters()):
            return events
        time.sleep(0.01)
    raise AssertionError(f"condition not reached: {hub.counters()} {events[-5:]}")


# -- audit hooks: what the process opens, runs and unpickles ------------------------------------------------------
_AUDIT: dict[str, list] = {}
_AUDIT_LOCK = threading.Lock()
# (not "exec"/"compile": importing a module raises those, and the loaders import lazily)
_WATCHED = ("open", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "subprocess.Popen",
            "pickle.find_class", "os.startfile", "ctypes.dlopen")


def _hook(event: str, args: tuple) -> None:
    if _AUDIT.get("on") and event.startswith(_WATCHED) and threading.get_ident() == _AUDIT["thread"][0]:
        _AUDIT["events"].append((event, args[:1]))


sys.addaudithook(_hook)  # hooks cannot be removed; it records only inside `audited()` on the calling thread


@contextmanager
def audited():
    """Record the watched audit events raised by this thread inside the block."""
    with _AUDIT_LOCK:
        _AUDIT.update(on=True, events=[], thread=[threading.get_ident()])
        try:
            yield _AUDIT["events"]
        finally:
            _AUDIT["on"] = False


# -- where OSC listens ---------------------------------------------------------------------------------------------
def test_osc_listens_on_loopback_unless_asked() -> None:
    from aego.cli import build_parser

    assert is_loopback(InputConfig().listen[0])
    parser = build_parser()
    for command in ("play", "perform", "rehearse", "install", "sensors", "calibrate"):
        args = parser.parse_args([command])
        assert args.osc_listen == ("127.0.0.1", 8000), command
    for command in ("play", "perform", "rehearse", "install"):
        args = parser.parse_args([command])
        assert args.osc_send == ("127.0.0.1", 8001), command
        assert config_from_args(args).listen == ("127.0.0.1", 8000)
        assert config_from_args(args).allow is None


def test_listening_on_every_interface_warns_on_stderr() -> None:
    proc = subprocess.run([sys.executable, "-m", "aego", "sensors", "--osc-listen", f"0.0.0.0:{free_port()}",
                           "--seconds", "0.3"],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, cwd=ROOT,
                          env={**os.environ, "CI": "true"})
    assert proc.returncode == 0, proc.stderr
    assert "warning: OSC listens on every network interface (0.0.0.0)" in proc.stderr
    assert "--osc-allow" in proc.stderr
    quiet = subprocess.run([sys.executable, "-m", "aego", "sensors", "--osc-listen", f"127.0.0.1:{free_port()}",
                            "--seconds", "0.3"], capture_output=True, text=True, timeout=120,
                           stdin=subprocess.DEVNULL, cwd=ROOT, env={**os.environ, "CI": "true"})
    assert quiet.returncode == 0 and "warning" not in quiet.stderr


def test_osc_allow_on_the_command_line_is_checked() -> None:
    from aego.cli import build_parser

    args = build_parser().parse_args(["perform", "--osc-listen", "0.0.0.0:9000", "--osc-allow", "127.0.0.1, ::1"])
    config = config_from_args(args)
    assert config.listen == ("0.0.0.0", 9000) and config.allow == ["127.0.0.1", "::1"]
    for bad in ("localhost", "10.0.0.300", ",", "127.0.0.1;rm -rf /"):
        proc = subprocess.run([sys.executable, "-m", "aego", "perform", "--osc-allow", bad], capture_output=True,
                              text=True, timeout=120, stdin=subprocess.DEVNULL, cwd=ROOT)
        assert proc.returncode == 2, bad
        assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_osc_allow_drops_every_other_sender() -> None:
    """A stage set-up: listening on every interface, only the operator's machine allowed. The stranger is
    127.0.0.2, a real second address; its rewards and controls (even /aego/stop) never get through."""
    from aego.cli import build_parser

    args = build_parser().parse_args(["perform", "--osc-listen", f"0.0.0.0:{free_port()}", "--osc-allow",
                                   "127.0.0.1"])
    config = config_from_args(args)
    config.realtime = False
    hub = InputHub(config)
    hub.start()
    port = hub.address[1]
    friend = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger.bind(("127.0.0.2", 0))
    try:
        for i in range(50):
            stranger.sendto(msg("/aego/reward", -1.0), ("127.0.0.1", port))
            stranger.sendto(msg("/aego/stop"), ("127.0.0.1", port))
            stranger.sendto(msg("/aego/imu/left", 10.0, 20.0, 30.0), ("127.0.0.1", port))
            if i % 10 == 0:
                friend.sendto(msg("/aego/reward", 0.5), ("127.0.0.1", port))
        events = wait_for(hub, lambda evs, c: c.get("received", 0) >= 155 and
                          sum(isinstance(e, Reward) for e in evs) >= 5)
        c = hub.counters()
        assert c["received"] == 155 and c["dropped"] == 150
        assert [e.value for e in events if isinstance(e, Reward)] == [0.5] * 5
        assert not any(isinstance(e, Control) for e in events)  # the stranger's /aego/stop never arrived
        assert c["samples"] == 0
        assert any("127.0.0.2" in getattr(e, "detail", "") for e in events)  # said once, in the log
    finally:
        friend.close()
        stranger.close()
        hub.stop()


def test_osc_allow_with_a_dual_stack_listener() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    hub = InputHub(InputConfig(listen=("::", 0), allow=["127.0.0.1"], realtime=False))
    hub.start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.sendto(msg("/aego/reward", 0.5), ("127.0.0.1", hub.address[1]))
        wait_for(hub, lambda evs, c: c.get("received", 0) >= 1)
        c = hub.counters()
        assert c["dropped"] == 0 and c["controls"] == 1
    finally:
        sock.close()
        hub.stop()


# -- no unpickling ---------------------------------------------------------------------------------------------------
class _Trap:
    """Unpickling this creates the marker file (through a shell command, the classic payload)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def pickles(marker: Path) -> dict[str, bytes]:
    import torch

    out = {f"protocol{p}": pickle.dumps(_Trap(marker), protocol=p) for p in range(pickle.HIGHEST_PROTOCOL + 1)}
    buf = io.BytesIO()
    torch.save({"model": _Trap(marker)}, buf)  # a torch checkpoint: a zip holding a pickle
    out["torch-zip"] = buf.getvalue()
    buf = io.BytesIO()
    torch.save({"model": _Trap(marker)}, buf, _use_new_zipfile_serialization=False)  # the legacy format
    out["torch-legacy"] = buf.getvalue()
    return out


def test_the_trap_works_when_unpickled(tmp_path: Path) -> None:
    """The payload is real: plain pickle.loads would run it (so the refusals below mean something)."""
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(_Trap(marker)))
    assert marker.exists()


def test_space_loader_refuses_pickles(tmp_path: Path) -> None:
    from aego.space import SoundSpace

    marker = tmp_path / "pwned"
    for name, blob in pickles(marker).items():
        path = tmp_path / f"{name}.space"
        path.write_bytes(blob)
        with audited() as events, pytest.raises(SpaceFileError) as info:
            SoundSpace.load(path)
        message = str(info.value)
        assert "\n" not in message and str(path) in message, message
        assert "pickle" in message or "zip" in message or "not a readable sound-space file" in message, message
        assert not [e for e in events if e[0] != "open"], events  # no find_class, no system, no exec
        assert not marker.exists(), name


def test_cli_refuses_a_pickled_space_with_one_line(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.space"
    path.write_bytes(pickle.dumps(_Trap(marker), protocol=2))
    proc = subprocess.run([sys.executable, "-m", "aego", "render", str(path), "-o", str(tmp_path / "x.wav"),
                           "--seconds", "0.1"], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, cwd=ROOT)
    assert proc.returncode == 2 and "pickle" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["random", "deep-tamer"])
def test_agent_loader_refuses_pickles(tmp_path: Path, kind: str) -> None:
    from aego.agent import make_explorer

    marker = tmp_path / "pwned"
    explorer = make_explorer(kind, None, 0)
    try:
        for name, blob in pickles(marker).items():
            path = tmp_path / f"{name}.agent"
            path.write_bytes(blob)
            with audited() as events:
                used = explorer.load(path)
            assert used is False and "starting fresh" in explorer.messages[-1]
            assert not [e for e in events if e[0] not in ("open",)], events
            assert not path.exists() and list(tmp_path.glob(f"{name}.agent.corrupt-*"))  # kept aside
            assert not marker.exists(), name
    finally:
        explorer.close()


def test_training_checkpoints_are_loaded_weights_only(tmp_path: Path) -> None:
    """aego train continues from checkpoint.pt with torch.load(weights_only=True): a crafted checkpoint is
    refused (training starts over) and nothing in it runs."""
    import torch

    marker = tmp_path / "pwned"
    for name in ("torch-zip", "torch-legacy"):
        path = tmp_path / f"{name}.pt"
        path.write_bytes(pickles(marker)[name])
        with pytest.raises(pickle.UnpicklingError):
            torch.load(path, weights_only=True)
        assert not marker.exists()
    calls = [c for c in _calls(ROOT / "aego" / "training.py") if _name(c.func).endswith("torch.load")]
    assert calls and all(_kw_true(c, "weights_only") for c in calls)


# -- static checks of the source ---------------------------------------------------------------------------------
def _sources() -> list[Path]:
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    files += list((ROOT / "scripts").rglob("*.py"))
    return sorted(files)


def _calls(path: Path) -> list[ast.Call]:
    return [n for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(n, ast.Call)]


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_name(node.value)}.{node.attr}"
    return ""


def _kw_true(call: ast.Call, key: str) -> bool:
    return any(k.arg == key and isinstance(k.value, ast.Constant) and k.value.value is True for k in call.keywords)


def test_source_never_unpickles_evals_or_runs_a_shell() -> None:
    problems = []
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = path.relative_to(ROOT)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
                for n in names:
                    if n and n.split(".")[0] in ("pickle", "cPickle", "dill", "marshal", "shelve", "joblib",
                                                 "cloudpickle", "yaml"):
                        problems.append(f"{where}:{node.lineno} imports {n}")
                # so that every call is spelled subprocess.X / os.X and the checks below see it
                if isinstance(node, ast.ImportFrom) and node.module in ("subprocess", "os") and any(
                        a.name in ("system", "popen", "Popen", "run", "call", "check_call", "check_output")
                        for a in node.names):
                        problems.append(f"{where}:{node.lineno} imports a process function by name")
            if not isinstance(node, ast.Call):
                continue
            name = _name(node.func)
            line = f"{where}:{node.lineno}"
            if name in ("eval", "exec", "compile", "__import__") or name.endswith(("os.system", "os.popen")) \
                    or ".spawn" in name or name.startswith("os.exec"):
                problems.append(f"{line} calls {name}")
            if name.endswith("torch.load") and not _kw_true(node, "weights_only"):
                problems.append(f"{line} torch.load without weights_only=True")
            if name.split(".")[-1] == "load" and name.split(".")[0] in ("np", "numpy") and \
                    _kw_true(node, "allow_pickle"):
                problems.append(f"{line} np.load with allow_pickle=True")
            if name.startswith("subprocess."):
                if _kw_true(node, "shell"):
                    problems.append(f"{line} {name} with shell=True")
                if node.args and isinstance(node.args[0], ast.Constant | ast.JoinedStr | ast.BinOp):
                    problems.append(f"{line} {name} with a command string (build an argument list)")
    assert not problems, "\n".join(problems)


def test_subprocess_uses_are_argument_lists() -> None:
    """Every subprocess call site passes an argument list, never a command string and never shell=True
    (today: the soak benches starting `aego install`, `chrt` and a CPU hog, from fixed words and numbers)."""
    sites = []
    for path in _sources():
        for call in _calls(path):
            name = _name(call.func)
            if name.startswith("subprocess."):
                sites.append(f"{path.relative_to(ROOT)}:{call.lineno}")
                assert not _kw_true(call, "shell"), sites[-1]
                first = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "args"), None)
                assert not isinstance(first, ast.Constant | ast.JoinedStr | ast.BinOp), sites[-1]
    assert sites  # the scan sees the known call sites (so it can fail)


# -- paths from scores and OSC -------------------------------------------------------------------------------------
def test_score_space_paths_resolve_against_the_score_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aego.score import load_score

    folder = tmp_path / "piece"
    (folder / "spaces").mkdir(parents=True)
    (folder / "spaces" / "mine.space").write_bytes(b"not used here")
    (folder / "study.toml").write_text('[spaces]\na = "spaces/mine.space"\nb = "synthetic"\n'
                                       '[[section]]\nname = "one"\nspace = "a"\nduration = 5\n', encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "spaces").mkdir(parents=True)
    (elsewhere / "spaces" / "mine.space").write_bytes(b"a decoy in the working folder")
    monkeypatch.chdir(elsewhere)
    score = load_score(str(folder / "study.toml"))
    assert Path(score.spaces["a"]) == folder / "spaces" / "mine.space"
    assert score.spaces["b"] == "synthetic"  # a bundled name stays a name
    # Moved away from its spaces, the score is refused before any sound (the decoy is not picked up).
    (folder / "spaces" / "mine.space").unlink()
    with pytest.raises(ScoreError) as info:
        load_score(str(folder / "study.toml"))
    assert "spaces.a" in str(info.value)


def test_whatever_a_score_names_is_only_opened_as_a_space(tmp_path: Path) -> None:
    """A score may name any readable file (as a command line may): it is read as a safetensors sound space
    and nothing else, so a path to another kind of file is refused with a clear error."""
    from aego.space import SoundSpace

    marker = tmp_path / "pwned"
    trap = tmp_path / "trap.space"
    trap.write_bytes(pickle.dumps(_Trap(marker)))
    for target in (trap, Path("/etc/passwd"), Path("/dev/null")):
        if not target.exists():
            continue
        with pytest.raises(SpaceFileError):
            SoundSpace.load(target)
    assert not marker.exists()


PATHLIKE = ["../../../../etc/passwd", "/etc/shadow", "~/.ssh/id_rsa", "$(touch /tmp/aego-pwned)", "`id`",
            "a; rm -rf /", "%s%s%n", "\u202e", "CON", "section\0nul", "x" * 100]


def test_osc_never_names_a_file() -> None:
    """Every control, carrying path- and shell-like strings, through the input pipeline and the score's
    section lookup: no file is opened, nothing is run, nothing is unpickled."""
    from aego.sensors.pipeline import InputPipeline

    from aego.scheduler import Scheduler
    from aego.score import parse_score

    score = parse_score('[spaces]\na = "synthetic"\n[[section]]\nname = "one"\nspace = "a"\nduration = 5\n'
                        '[[section]]\nname = "two"\nspace = "a"\nduration = 5\n', "<osc-test>")
    scheduler = Scheduler(score)
    pipeline = InputPipeline()
    addresses = ["/aego/reward", "/aego/zone", "/aego/explore", "/aego/pause", "/aego/cue", "/aego/section",
                 "/aego/dims", "/aego/period", "/aego/mute", "/aego/gain", "/aego/stop", "/aego/imu/x",
                 "/aego/imu/x/quat", "/riot/v3/x/absoluteorientation/quaternion", "/x/raw", "/euler"]
    datagrams = [msg(a, s) for a in addresses for s in PATHLIKE]
    datagrams += [msg("/aego/imu/" + s.replace("/", "_").replace("\0", ""), 1.0, 2.0, 3.0) for s in PATHLIKE]
    datagrams += [msg("/riot/v3/" + s.replace("/", "_").replace("\0", "") + "/gyroscope", 1.0, 2.0, 3.0)
                  for s in PATHLIKE]
    for d in datagrams[:20]:  # once outside the audit, so lazy imports (which open files) happen first
        InputPipeline().datagram(d, ("127.0.0.1", 9), 1.0)
    with audited() as events:
        for d in datagrams:
            pipeline.datagram(d, ("127.0.0.1", 9), 1.0)
        pipeline.tick(2.0)
        controls = [e for e in pipeline.take() if isinstance(e, Control)]
        for c in controls:
            if c.address == "/aego/section":
                with pytest.raises(KeyError):
                    scheduler.goto(c.args[0], 1.0)
    assert not events, events
    assert {c.args[0] for c in controls if c.address == "/aego/section"} >= {s.strip() for s in PATHLIKE
                                                                              if s.strip() and "\0" not in s}
    assert not Path("/tmp/aego-pwned").exists()


def test_sensor_ids_from_the_network_never_become_file_names(tmp_path: Path) -> None:
    """Recording a session's sensors writes one file whatever the ids heard (ids are data in it)."""
    from aego.sensors.pipeline import InputPipeline
    from aego.sensors.recording import SensorRecorder

    recorder = SensorRecorder(tmp_path / "sensors.jsonl")
    pipeline = InputPipeline(recorder=recorder)
    for s in PATHLIKE:
        sid = s.replace("/", "_").replace("\0", "")
        pipeline.datagram(msg(f"/aego/imu/{sid}", 1.0, 2.0, 3.0), ("127.0.0.1", 9), 1.0)
        pipeline.datagram(msg(f"/riot/v3/{sid}/absoluteorientation/euler", 1.0, 2.0, 3.0, 5), ("127.0.0.1", 9), 1.0)
    recorder.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sensors.jsonl"]
    assert pipeline.counters["samples"] > 0
