"""The autouse guard in conftest really blocks the network (and only the network)."""
from __future__ import annotations

import socket

import pytest

from conftest import NetworkBlocked


@pytest.mark.parametrize("address", [("203.0.113.7", 443), ("huggingface.co", 443), ("2001:db8::1", 80)])
def test_outside_connections_are_refused(no_network, address):
    with pytest.raises(NetworkBlocked):
        socket.create_connection(address, timeout=1)
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s, pytest.raises(NetworkBlocked):
        s.connect(address)
    assert len(no_network) == 2
    no_network.clear()  # expected here; anywhere else a recorded attempt fails the test


def test_loopback_is_allowed():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=2):
            conn, _ = server.accept()
            conn.close()
