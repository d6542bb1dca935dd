"""A real JACK server with the dummy driver, for tests that play sound (no sound card needed).

Usage as a context manager::

    with JackServer(rate=48000, period=256) as jack:
        env = jack.env()          # JACK_DEFAULT_SERVER=<unique name>, JACK_NO_START_SERVER=1
        ...                       # start the process under test with env (or use jack.activate())
        jack.restart()            # kill and start again under the same name

or as the pytest fixture ``jack_server`` (import it into a test module or a conftest):
``from tests.jack_server import jack_server  # noqa: F401``.

Each server has a unique name (``aego-test-<pid>-<n>``), so parallel test runs never share one, and
the environment variables are what libjack reads: clients started with ``env()`` talk to this server
only and never start one of their own.

The server runs in real-time mode (``jackd -R``, its driver thread SCHED_FIFO at ``priority``) as a real
set-up does, when the system allows it (root, CAP_SYS_NICE or an ``rtprio`` limit); otherwise, or when
``realtime=False``, it falls back to ``jackd -r`` and logs why (``self.fallback_reason``). ``self.realtime``
says which mode it runs in; the server's output goes to ``self.log_path`` (removed when the context ends).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

_counter = itertools.count()
log = logging.getLogger(__name__)


def realtime_permitted() -> tuple[bool, str]:
    """Whether this process may create SCHED_FIFO threads, and if not, why."""
    if not hasattr(os, "sched_setscheduler"):
        return False, "this system has no POSIX real-time scheduling"
    soft, _hard = resource.getrlimit(resource.RLIMIT_RTPRIO)
    try:  # the direct test: take SCHED_FIFO for a moment and give it back
        before = os.sched_getscheduler(0), os.sched_getparam(0)
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
        os.sched_setscheduler(0, before[0], before[1])
        return True, ""
    except OSError as exc:
        return False, f"SCHED_FIFO refused ({exc.strerror}; RLIMIT_RTPRIO {soft}, not root, no CAP_SYS_NICE)"


def fifo_threads(pid: int) -> dict[int, int]:
    """``{thread id: priority}`` of the SCHED_FIFO threads of process ``pid``."""
    out = {}
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError, ValueError):
            tid = int(task.name)
            if os.sched_getscheduler(tid) == os.SCHED_FIFO:
                out[tid] = os.sched_getparam(tid).sched_priority
    return out


class JackServer:
    """``jackd -n NAME -R -P PRIORITY -d dummy -r RATE -p PERIOD`` (or ``-r``: no real time): start, wait until it
    answers, stop cleanly.

    Args:
        rate, period: the dummy driver's sample rate (Hz) and block size (frames).
        name: server name (default: unique per process and call).
        realtime: ``None`` (default) real time when permitted, else ``-r`` with a logged reason; ``True``
            real time or fail; ``False`` never.
        priority: SCHED_FIFO priority of the server's driver thread (jackd's default is 10; clients' process
            threads get ``priority - 5``).
    """

    def __init__(self, rate: int = 48000, period: int = 256, name: str | None = None,
                 realtime: bool | None = None, priority: int = 10) -> None:
        self.rate = rate
        self.period = period
        self.name = name or f"aego-test-{os.getpid()}-{next(_counter)}"
        self.want_realtime = realtime
        self.priority = priority
        self.realtime = False
        self.fallback_reason = ""
        self.process: subprocess.Popen | None = None
        self.log_path = Path(tempfile.gettempdir()) / f"{self.name}.jackd.log"
        self._saved: dict[str, str | None] = {}

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """An environment for a process that must use this server."""
        env = dict(os.environ if base is None else base)
        env["JACK_DEFAULT_SERVER"] = self.name
        env["JACK_NO_START_SERVER"] = "1"
        return env

    def activate(self) -> None:
        """Point this process (and the processes it starts) at the server."""
        for key, value in self.env().items():
            if key in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER"):
                self._saved.setdefault(key, os.environ.get(key))
                os.environ[key] = value

    def deactivate(self) -> None:
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved = {}

    def command(self, realtime: bool) -> list[str]:
        mode = ["-R", "-P", str(self.priority)] if realtime else ["-r"]
        return ["jackd", "-n", self.name, *mode, "-d", "dummy", "-r", str(self.rate), "-p", str(self.period)]

    def start(self, timeout: float = 15.0) -> None:
        if shutil.which("jackd") is None:
            pytest.skip("jackd is not installed (Debian package jackd2)")
        if self.want_realtime is False:
            self._launch(False, timeout)
            return
        permitted, why = realtime_permitted()
        if permitted:
            try:
                self._launch(True, timeout)
                if fifo_threads(self.process.pid):
                    return
                why = "jackd -R started but none of its threads runs SCHED_FIFO"
            except RuntimeError as exc:
                why = f"jackd -R did not start ({exc}): {self._log_tail()}"
            self.stop()
        if self.want_realtime:
            raise RuntimeError(f"a real-time JACK server was asked for: {why}")
        self.fallback_reason = why
        log.warning("JACK server %s without real time (jackd -r): %s", self.name, why)
        self._launch(False, timeout)

    def _log_tail(self, lines: int = 3) -> str:
        with contextlib.suppress(OSError):
            return " | ".join(self.log_path.read_text(errors="replace").strip().splitlines()[-lines:])
        return ""

    def _launch(self, realtime: bool, timeout: float) -> None:
        with open(self.log_path, "w") as err:
            self.process = subprocess.Popen(self.command(realtime), stdout=err, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=self.env(), start_new_session=True)
        self.realtime = realtime
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jackd -n {self.name} exited at start (status {self.process.returncode})")
            probe = subprocess.run(["jack_wait", "-c", "-s", self.name], env=self.env(), capture_output=True,
                                   text=True, timeout=10)
            if "running" in probe.stdout and "not" not in probe.stdout:
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"jackd -n {self.name} did not come up within {timeout} s")

    def stop(self, timeout: float = 5.0) -> None:
        p, self.process = self.process, None
        if p is None or p.poll() is not None:
            return
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout)

    def kill(self) -> None:
        """End the server abruptly (SIGKILL), as a crash would."""
        p, self.process = self.process, None
        if p is not None and p.poll() is None:
            p.kill()
            p.wait(5)

    def restart(self, pause: float = 1.0) -> None:
        """Stop and start again under the same name, in the same mode as before."""
        realtime = self.realtime
        self.stop()
        time.sleep(pause)
        self._launch(realtime, 15.0)

    def ports(self) -> list[str]:
        out = subprocess.run(["jack_lsp"], env=self.env(), capture_output=True, text=True, timeout=10)
        return [line.strip() for line in out.stdout.splitlines() if line.strip()]

    def __enter__(self) -> JackServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.deactivate()
        self.stop()
        with contextlib.suppress(OSError):  # read it inside the block if it matters
            self.log_path.unlink()


@pytest.fixture
def jack_server() -> Iterator[JackServer]:
    """A fresh JACK dummy server at 48 kHz / 256 frames, active in this process's environment."""
    with JackServer() as server:
        server.activate()
        yield server
