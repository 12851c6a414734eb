"""TCP_NODELAY on every accepted connection of the model server.

With Nagle's algorithm on, a small response written as headers then body waits for the
client's delayed ACK (≈ 40 ms per request on Linux). The server's protocol class sets the
option itself; this checks the option on a real accepted loopback socket, both ways, so the
check fails if the flag is lost (no timing is asserted: `benchmarks/` measures latency).
"""

from __future__ import annotations

import socket

import pytest

from jupyter_mlops.serving.server import _protocol_class


class _Transport:
    def __init__(self, sock: socket.socket):
        self.sock = sock

    def get_extra_info(self, name: str, default=None):
        return self.sock if name == "socket" else default


@pytest.fixture
def accepted():
    """A real TCP connection on loopback; yields the server side's socket."""
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname())
    server_side, _ = listener.accept()
    try:
        yield server_side
    finally:
        for s in (server_side, client, listener):
            s.close()


@pytest.mark.parametrize("nodelay", [True, False])
def test_protocol_sets_nodelay_on_accepted_socket(accepted, monkeypatch, nodelay):
    cls = _protocol_class(nodelay)
    handed_on = []
    # The base class's own connection_made needs a running server; what matters here is
    # that ours sets the option and then hands the transport on.
    monkeypatch.setattr(cls.__mro__[1], "connection_made",
                        lambda self, transport: handed_on.append(transport))
    accepted.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0 if nodelay else 1)
    transport = _Transport(accepted)
    cls.__new__(cls).connection_made(transport)
    assert bool(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)) is nodelay
    assert handed_on == [transport]


def test_unix_socket_without_nagle_is_accepted(monkeypatch):
    cls = _protocol_class(True)
    monkeypatch.setattr(cls.__mro__[1], "connection_made", lambda self, transport: None)
    a, b = socket.socketpair()
    try:
        cls.__new__(cls).connection_made(_Transport(a))  # must not raise
    finally:
        a.close()
        b.close()
