"""OSC out (CONTRACT §4): the piece's state, for Max, Pd, TouchDesigner or a lighting desk.

Sent over UDP to ``--osc-send`` from a non-blocking socket: a slow or absent receiver never
delays the run (a datagram that cannot leave at once is dropped and counted).

========================  ===================  ============================
address                   arguments            when
========================  ===================  ============================
``/aego/state``           f × active dims      after every action
``/aego/latent``          f × latent size      after every action
``/aego/action``          i i (dim, dir)       after every action
``/aego/reward``          f                    each reward received
``/aego/section``         s i (name, dims)     on entering a section
========================  ===================  ============================
"""

from __future__ import annotations

import socket
from collections.abc import Sequence

from pythonosc.osc_message_builder import OscMessageBuilder


class OscOut:
    """A non-blocking OSC sender.

    Args:
        host, port: where to send (``--osc-send``); a host name is resolved once, here.
    """

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.sent = 0
        self.dropped = 0
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            info = socket.getaddrinfo(host, port, family, socket.SOCK_DGRAM)
            self._address = info[0][4]
        except OSError as exc:
            from aego.errors import UsageError

            raise UsageError(f"--osc-send {host}:{port}: cannot resolve '{host}' ({exc.strerror or exc}); "
                             "give an IP address or a known host name") from None
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        if host in ("255.255.255.255",) or host.endswith(".255"):
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)

    def send(self, address: str, *args: float | int | str) -> bool:
        """Send one message; ``False`` (and counted) if it could not leave now."""
        builder = OscMessageBuilder(address=address)
        for value in args:
            if isinstance(value, bool):
                builder.add_arg(int(value), OscMessageBuilder.ARG_TYPE_INT)
            elif isinstance(value, int):
                builder.add_arg(value, OscMessageBuilder.ARG_TYPE_INT)
            elif isinstance(value, str):
                builder.add_arg(value, OscMessageBuilder.ARG_TYPE_STRING)
            else:
                builder.add_arg(float(value), OscMessageBuilder.ARG_TYPE_FLOAT)
        try:
            self._sock.sendto(builder.build().dgram, self._address)
        except OSError:
            # full socket buffer, unreachable host, ICMP refusal from an earlier datagram: drop it
            self.dropped += 1
            return False
        self.sent += 1
        return True

    # -- the contract's messages -------------------------------------------------------------------
    def action(self, dim: int, direction: int, state: Sequence[float], latent: Sequence[float]) -> None:
        """After every action: ``/aego/state``, ``/aego/latent``, ``/aego/action``."""
        self.send("/aego/state", *[float(v) for v in state])
        self.send("/aego/latent", *[float(v) for v in latent])
        self.send("/aego/action", int(dim), int(direction))

    def reward(self, value: float) -> None:
        self.send("/aego/reward", float(value))

    def section(self, name: str, dims: int) -> None:
        self.send("/aego/section", str(name), int(dims))

    def counters(self) -> dict:
        return {"sent": self.sent, "dropped": self.dropped, "target": f"{self.target[0]}:{self.target[1]}"}

    def close(self) -> None:
        self._sock.close()
