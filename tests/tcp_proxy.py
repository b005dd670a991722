"""A small TCP proxy on the loopback for tests: it forwards each connection to a target port and can
cut or stall the reply on demand, so a test can drop a streamed reply mid-way (as Wi-Fi, a VPN or a
proxy's idle timeout does) against a real server, without patching the client. Standard library only.

    with TcpProxy(server_port) as proxy:
        proxy.cut_on(b'"event": "token"')        # the next reply that carries a token is cut just after it
        run_the_client(f"http://127.0.0.1:{proxy.port}")
        assert proxy.cuts == 1

Arming a fault (cut_after, cut_on, stall_after) applies to the server's bytes from then on, on
whichever connection carries them, once: the connection that trips it is cut (or stalled); later
connections go through untouched, so a client's re-attach succeeds.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading


class TcpProxy:
    """Listens on 127.0.0.1:port and forwards every connection to target_host:target_port."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.connections = 0  # accepted so far
        self.cuts = 0  # connections cut by an armed fault or by cut_now()
        self.downstream_bytes = 0  # bytes sent from the server to the clients, all connections
        self._lock = threading.Lock()
        self._open: dict[socket.socket, socket.socket] = {}  # client side -> server side, per connection
        self._closing = threading.Event()
        self._limit: int | None = None  # cut or stall once this many more server bytes have passed
        self._pattern: bytes | None = None  # cut right after the server's bytes that hold this
        self._stall = False  # the armed fault stalls (stops forwarding, keeps the connection) instead
        self._reset = False  # cut with a TCP reset instead of a clean close
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut_after(self, count: int, reset: bool = False) -> None:
        """Cut the connection that carries the server's next `count` bytes, right after them."""
        with self._lock:
            self._limit, self._pattern, self._stall, self._reset = count, None, False, reset

    def cut_on(self, pattern: bytes, reset: bool = False) -> None:
        """Cut the connection right after the server sends bytes containing `pattern`."""
        with self._lock:
            self._limit, self._pattern, self._stall, self._reset = None, pattern, False, reset

    def stall_after(self, count: int) -> None:
        """After the server's next `count` bytes, forward nothing more on that connection (it stays open)."""
        with self._lock:
            self._limit, self._pattern, self._stall, self._reset = count, None, True, False

    def cut_now(self, reset: bool = False) -> None:
        """Cut every open connection at once."""
        with self._lock:
            clients = list(self._open)
            self.cuts += len(clients)
        for client in clients:
            self._cut(client, reset)

    def close(self) -> None:
        self._closing.set()
        self._listener.close()
        with self._lock:
            pairs = list(self._open.items())
        for pair in pairs:
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.close()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            with self._lock:
                self.connections += 1
                self._open[client] = server
            threading.Thread(target=self._pump, args=(client, server, client), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, client), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, client: socket.socket) -> None:
        """Copy bytes one way until either side closes; on the server's side, trip an armed fault."""
        downstream = sink is client
        stalled = False
        try:
            while not self._closing.is_set():
                readable, _, _ = select.select([source], [], [], 0.1)
                if not readable:
                    continue
                data = source.recv(65536)
                if not data:
                    break
                if stalled:
                    continue
                fault, data = self._trip(data) if downstream else (None, data)
                sink.sendall(data)
                if fault == "stall":
                    stalled = True
                elif fault is not None:
                    self._cut(client, fault == "reset")
                    break
        except (OSError, ValueError):  # ValueError: the other direction closed this socket meanwhile
            pass
        finally:
            if not stalled:  # a stalled connection stays open, silent, until the proxy closes
                with self._lock:
                    self._open.pop(client, None)
                for sock in (source, sink):
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                    sock.close()

    def _trip(self, data: bytes) -> tuple[str | None, bytes]:
        """Count the server's bytes; if an armed fault trips in `data`, disarm it and return its kind
        and the part of `data` to forward before it acts."""
        with self._lock:
            self.downstream_bytes += len(data)
            if self._pattern is not None and self._pattern in data:
                self._pattern = None
            elif self._limit is not None and self._limit <= len(data):
                data, self._limit = data[: self._limit], None
            elif self._limit is not None:
                self._limit -= len(data)
                return None, data
            else:
                return None, data
            if self._stall:
                return "stall", data
            self.cuts += 1
            return ("reset" if self._reset else "close"), data

    def _cut(self, client: socket.socket, reset: bool) -> None:
        """Close the client's side: with a TCP reset (SO_LINGER 0), or shut it down cleanly."""
        with contextlib.suppress(OSError):
            if reset:
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.close()
            else:
                client.shutdown(socket.SHUT_RDWR)
