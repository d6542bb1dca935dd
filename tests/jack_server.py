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
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest

_counter = itertools.count()


class JackServer:
    """``jackd -n NAME -r -d dummy -r RATE -p PERIOD``: start, wait until it answers, stop cleanly."""

    def __init__(self, rate: int = 48000, period: int = 256, name: str | None = None) -> None:
        self.rate = rate
        self.period = period
        self.name = name or f"aego-test-{os.getpid()}-{next(_counter)}"
        self.process: subprocess.Popen | None = None
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

    def start(self, timeout: float = 15.0) -> None:
        if shutil.which("jackd") is None:
            pytest.skip("jackd is not installed (Debian package jackd2)")
        self.process = subprocess.Popen(
            ["jackd", "-n", self.name, "-r", "-d", "dummy", "-r", str(self.rate), "-p", str(self.period)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
            env=self.env(), start_new_session=True,
        )
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
        self.stop()
        time.sleep(pause)
        self.start()

    def ports(self) -> list[str]:
        out = subprocess.run(["jack_lsp"], env=self.env(), capture_output=True, text=True, timeout=10)
        return [line.strip() for line in out.stdout.splitlines() if line.strip()]

    def __enter__(self) -> JackServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.deactivate()
        self.stop()


@pytest.fixture
def jack_server() -> Iterator[JackServer]:
    """A fresh JACK dummy server at 48 kHz / 256 frames, active in this process's environment."""
    with JackServer() as server:
        server.activate()
        yield server
