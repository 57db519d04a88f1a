"""A TCP proxy in front of anvil that the tests and the soak benchmark switch between up, down
and stalled: a real network fault for the node's HTTP client, without losing the chain's state."""

from __future__ import annotations

import contextlib
import socket
import threading

from oracle.chain.anvil import free_loopback_port

UP, DOWN, STALL = "up", "down", "stall"


class FaultyProxy:
    """Forward 127.0.0.1:<port> to `upstream_port`; `mode` decides what new connections get:
    UP forwards, DOWN resets at once, STALL accepts and never answers."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_loopback_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.mode = UP
        self.refused = 0  # connections reset or stalled
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def set_mode(self, mode: str) -> None:
        """Switch mode and drop every open connection (keep-alive ones included)."""
        with self._lock:
            self.mode = mode
            for sock in self._open:
                _close(sock)
            self._open.clear()

    def close(self) -> None:
        self.set_mode(DOWN)
        _close(self._listener)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                mode = self.mode
                if mode != UP:
                    self.refused += 1
                if mode == DOWN:
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
                    _close(client)
                    continue
                self._open.append(client)
            if mode == UP:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
                with self._lock:
                    self._open.append(upstream)
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=_pipe, args=(a, b), daemon=True).start()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        _close(src)
        _close(dst)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()
