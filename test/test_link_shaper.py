"""The user-space WAN link: relays both ways, holds everything while cut, paces to a cap."""
import socket
import threading
import time

import pytest

from seg_bringup.link_shaper import LinkShaper


@pytest.fixture
def echo():
    """A TCP echo server on 127.0.0.1."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=lambda c=conn: [c.sendall(d) for d in iter(lambda: c.recv(65536), b"")],
                             daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()
    server.close()


def roundtrip(sock, payload: bytes) -> bytes:
    sock.sendall(payload)
    got = b""
    while len(got) < len(payload):
        got += sock.recv(65536)
    return got


def test_relays_both_ways_and_counts_bytes(echo):
    link = LinkShaper(echo)
    with socket.create_connection(("127.0.0.1", link.port), timeout=10) as sock:
        assert roundtrip(sock, b"x" * 100_000) == b"x" * 100_000
    assert link.sent == {"up": 100_000, "down": 100_000}
    assert link.state == "up"
    link.close()


def test_a_cut_holds_every_byte_until_restored(echo):
    link = LinkShaper(echo)
    with socket.create_connection(("127.0.0.1", link.port), timeout=10) as sock:
        assert roundtrip(sock, b"hello") == b"hello"
        link.cut()
        assert link.state == "cut"
        sock.sendall(b"during the cut")
        sock.settimeout(0.5)
        with pytest.raises(socket.timeout):
            sock.recv(100)
        link.restore()
        sock.settimeout(10)
        assert roundtrip(sock, b"") == b"" and sock.recv(100) == b"during the cut"
    link.close()


def test_a_cap_paces_the_link(echo):
    link = LinkShaper(echo)
    link.cap(400)  # kbit/s each way: 50 kB take at least ~1 s up and ~1 s down
    with socket.create_connection(("127.0.0.1", link.port), timeout=30) as sock:
        t0 = time.monotonic()
        assert roundtrip(sock, b"y" * 50_000) == b"y" * 50_000
        assert time.monotonic() - t0 >= 0.9
    assert link.state == "400 kbit/s up, 400 kbit/s down"
    with pytest.raises(ValueError, match="must be > 0"):
        link.cap(0)
    link.close()
