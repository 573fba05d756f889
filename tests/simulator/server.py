"""GatewaySimulator: hypercorn serving GatewayApp over real TLS on its own thread.

The listening socket is bound in ``start()`` before the thread begins, so the
port is known at once; ``start()`` returns when hypercorn has started serving
(its shutdown trigger runs only after every listener is up), with no polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType

import trustme
from hypercorn.asyncio.run import worker_serve
from hypercorn.config import Config, Sockets
from hypercorn.utils import wrap_app

from .app import GatewayApp
from .figure import figure_ply_bytes
from .handlers import Limits
from .state import SIM_API_KEY, Fault, SimState, Stats

START_TIMEOUT_S = 10.0


class _CountingSocket(socket.socket):
    """A listening socket that reports each accepted connection (asyncio calls accept()).

    It also sets TCP_NODELAY as hypercorn does for its own sockets: without it,
    Nagle's algorithm delays every small response by about 40 ms.
    """

    def __init__(self, on_accept: Callable[[], None], should_drop: Callable[[], bool]) -> None:
        super().__init__(socket.AF_INET, socket.SOCK_STREAM)
        self.on_accept = on_accept
        self.should_drop = should_drop
        self.accepted: weakref.WeakSet[socket.socket] = weakref.WeakSet()

    def accept(self) -> tuple[socket.socket, object]:
        conn, addr = super().accept()
        self.on_accept()
        if self.should_drop():  # reset before the TLS handshake: no request byte got here
            _abort(conn)
            conn.close()
            raise BlockingIOError  # asyncio's accept loop takes this as "nothing more now"
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.accepted.add(conn)
        return conn, addr

    def kill(self, client: tuple[str, int] | None) -> bool:
        """Cut the connection whose peer is ``client`` (both directions, RST on close)."""
        for conn in list(self.accepted):
            with contextlib.suppress(OSError):
                if conn.fileno() != -1 and tuple(conn.getpeername()[:2]) == tuple(client or ()):
                    _abort(conn)
                    conn.shutdown(socket.SHUT_RDWR)
                    return True
        return False

    def drop_connections(self) -> None:
        """Shut every accepted connection down, so asyncio's wait_closed() can return
        (it waits for idle keep-alive clients, which may never leave on their own)."""
        for conn in list(self.accepted):
            if conn.fileno() != -1:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)


def _abort(conn: socket.socket) -> None:
    """Make closing ``conn`` send a TCP reset instead of an orderly FIN."""
    with contextlib.suppress(OSError):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class GatewaySimulator:
    """A local HTTPS gateway for tests and demos.

    ``http2=False`` serves HTTP/1.1 only (ALPN offers just ``http/1.1``), like a
    gateway behind an older proxy. ``stage_seconds`` is how long each of NoResult,
    InProgress and PartialResult(1) lasts before Success. ``result_ply`` is what every
    task returns (a binary PLY in 404's layout); by default the synthetic test figure.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_keys: Iterable[str] = (SIM_API_KEY,),
        stage_seconds: float = 0.25,
        result_ttl_s: float = 300.0,
        http2: bool = True,
        ca_pem_path: str | Path | None = None,
        figure_points: int = 3000,
        limits: Limits | None = None,
        log_level: int = logging.WARNING,
        result_ply: bytes | None = None,
    ) -> None:
        self.host = host
        self.http2 = http2
        self.api_keys = tuple(api_keys)
        self.state = SimState(
            api_keys=self.api_keys, stage_seconds=stage_seconds, result_ttl_s=result_ttl_s
        )
        result = result_ply if result_ply is not None else figure_ply_bytes(figure_points)
        self.app = GatewayApp(self.state, result, limits)
        self._requested_port = port
        self._requested_ca = Path(ca_pem_path) if ca_pem_path else None
        self._log_level = log_level
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._sock: _CountingSocket | None = None
        self.port = 0
        self.ca_pem_path = Path()

    # -- lifecycle -------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    @property
    def api_key(self) -> str:
        return self.api_keys[0] if self.api_keys else ""

    def start(self) -> GatewaySimulator:
        if self._thread is not None:
            raise RuntimeError("simulator already started")
        config = self._config()
        sock = self._sock = _CountingSocket(
            self.state.count_connection, self.state.take_connection_drop
        )
        self.app.kill_connection = sock.kill
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self._requested_port))
            sock.listen(config.backlog)
        except OSError:
            sock.close()
            self._remove_files()
            raise
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._thread = threading.Thread(
            target=self._run, args=(config, sock), name=f"gateway-sim-{self.port}", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise RuntimeError("gateway simulator did not start in time")
        if self._error is not None:
            raise RuntimeError("gateway simulator failed to start") from self._error
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already ended
                self._loop.call_soon_threadsafe(self._shut_down)
        self._thread.join(timeout=10)
        self._thread = None
        self._remove_files()

    def _shut_down(self) -> None:
        """On the loop: let hypercorn stop, and cut idle keep-alive clients loose."""
        if self._stop is not None:
            self._stop.set()
        if self._sock is not None:
            self._sock.drop_connections()

    def _remove_files(self) -> None:
        """Delete the server's key and certificates; a caller's ``ca_pem_path`` stays."""
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> GatewaySimulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _config(self) -> Config:
        """Certificates from a fresh trustme CA; its PEM goes where clients will look."""
        self._tmp = tempfile.TemporaryDirectory(prefix="gen404-sim-")
        tmp = Path(self._tmp.name)
        ca = trustme.CA(organization_name="gen404 gateway simulator")
        server_cert = ca.issue_cert(self.host, "localhost", "127.0.0.1")
        self.ca_pem_path = self._requested_ca or tmp / "ca.pem"
        self.ca_pem_path.parent.mkdir(parents=True, exist_ok=True)
        ca.cert_pem.write_to_path(str(self.ca_pem_path))
        server_cert.private_key_pem.write_to_path(str(tmp / "server.key"))
        server_cert.cert_chain_pems[0].write_to_path(str(tmp / "server.pem"))
        for pem in server_cert.cert_chain_pems[1:]:
            pem.write_to_path(str(tmp / "server.pem"), append=True)
        config = Config()
        config.certfile = str(tmp / "server.pem")
        config.keyfile = str(tmp / "server.key")
        config.alpn_protocols = ["h2", "http/1.1"] if self.http2 else ["http/1.1"]
        config.graceful_timeout = 1.0
        # No idle timeout: hypercorn's (asyncio.wait_for on Python 3.11, restarted as
        # HTTP/2 streams come and go) was seen closing busy connections mid-request,
        # about one test run in 25. Clients close idle connections themselves
        # (httpx after 5 s), as they would against a server that keeps them open.
        config.keep_alive_timeout = None
        logger = logging.getLogger("tests.simulator")
        logger.setLevel(self._log_level)
        config.errorlog = logger
        config.accesslog = None
        return config

    def _run(self, config: Config, sock: socket.socket) -> None:
        try:
            asyncio.run(self._serve(config, sock))
        except BaseException as exc:  # reported by start() or lost after stop()
            self._error = exc
        finally:
            self._ready.set()
            sock.close()

    async def _serve(self, config: Config, sock: socket.socket) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        stop = self._stop

        async def shutdown_trigger() -> None:
            self._ready.set()  # hypercorn calls this only once every listener is serving
            await stop.wait()

        await worker_serve(
            wrap_app(self.app, config.wsgi_max_body_size, "asgi"),  # type: ignore[arg-type]
            config,
            sockets=Sockets(secure_sockets=[sock], insecure_sockets=[], quic_sockets=[]),
            shutdown_trigger=shutdown_trigger,
        )

    # -- control (in-process twins of the /_sim/ endpoints) --------------------
    def reset(self) -> None:
        self.state.reset()

    def set_stage_seconds(self, seconds: float) -> None:
        """Stage length for tasks created from now on; ``math.inf`` = NoResult forever."""
        self.state.configure(stage_seconds=seconds)

    def set_result_glb(self, glb: bytes) -> None:
        """What the mesh models return from now on (each task's copy carries its seed)."""
        self.state.result_glb = glb

    def set_max_concurrent(self, count: int) -> None:
        """Tasks the account may run at once (0: no limit); more get 429 concurrent_limit."""
        self.state.configure(max_concurrent=count)

    def set_successes(self, count: int) -> None:
        """Workers that succeed on each task created from now on (1 to 3): ``all=true``
        then answers a ZIP of that many variants once the task reports Success."""
        self.state.configure(successes=count)

    def fail_next(self, reason: str = "Task timed out", count: int = 1) -> None:
        self.state.fail_next(reason, count)

    def add_fault(self, path: str, fault: Fault, count: int = 1) -> None:
        self.state.add_fault(path, fault, count)

    def add_faults(self, path: str, faults: Iterable[Fault]) -> None:
        self.state.add_faults(path, faults)

    def drop_connections(self, count: int = 1) -> None:
        """Reset the next ``count`` connections in the TLS handshake (see SimState)."""
        self.state.drop_connections(count)

    def advance(self, seconds: float) -> None:
        self.state.advance(seconds)

    def stats(self) -> Stats:
        return self.state.stats()
