"""Running the application on uvicorn: logs on stderr, the bound address announced, Ctrl-C / SIGTERM ending it
cleanly (in-flight requests answered, then exit status 0); with ``workers`` > 1, several processes forked after
the models are loaded, each with a listening socket of its own on the one port."""
from __future__ import annotations

import logging
import logging.config
import os
import select
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from seqtag.errors import InputError
from seqtag.serve.limits import Limits
from seqtag.serve.service import Served

LOG = logging.getLogger("seqtag.serve")
READY_TIMEOUT = 120.0  # seconds a worker has to start listening
RESTARTS = (3, 60.0)  # a worker's number replaced this often within these seconds: the server stops


class WorkerFailed(RuntimeError):
    """Worker processes kept ending (so would their replacements): the server stopped."""


def log_config(access_log: bool) -> dict[str, Any]:
    """uvicorn's logging, every line on stderr (stdout is for results, and a server has none)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "seqtag serve: %(message)s"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
            "uvicorn.error": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
            "uvicorn.access": {"handlers": ["stderr"], "level": "INFO" if access_log else "WARNING", "propagate": False},
            "seqtag.serve": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        },
    }


def run(served: list[Served], limits: Limits, host: str, port: int, workers: int = 1, max_connections: int = 1024,
        drain_timeout: float = 30.0, access_log: bool = False, announce: Callable[[str], None] | None = None) -> None:
    """Serve until Ctrl-C or SIGTERM, then answer the requests in flight (at most ``drain_timeout`` seconds)
    and return. An address that cannot be bound is an InputError. ``workers`` > 1 needs ``os.fork``."""
    sockets = listen(host, port, workers)
    bound = sockets[0].getsockname()[1]
    address = f"http://{'[' + host + ']' if ':' in host else host}:{bound}"
    say = (lambda: announce(address)) if announce else (lambda: None)

    def serve(sock: socket.socket, worker: int, ready: Callable[[], None], quiet: bool) -> bool:
        """Run one uvicorn server on ``sock`` until it stops; whether it started."""
        import uvicorn

        from seqtag.serve.app import create_app

        config = uvicorn.Config(
            create_app(served, limits, worker=(worker, workers)),
            log_config=log_config(access_log),
            access_log=access_log,
            limit_concurrency=max_connections,
            timeout_graceful_shutdown=drain_timeout,
            timeout_keep_alive=5,
            lifespan="on",
            server_header=False,
        )
        server = _server(config, ready, quiet)
        server.run(sockets=[sock])
        return bool(server.started)

    if workers == 1:
        if not serve(sockets[0], 1, say, quiet=False):
            raise InputError("the server did not start (see the lines above)")
        return
    logging.config.dictConfig(log_config(access_log))  # the parent's own lines (uvicorn configures the workers')
    for model in served:  # /healthz counts every worker's passes
        model.share_counters()
    Workers(sockets, serve, say).run()


def listen(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` sockets bound to one address (with SO_REUSEPORT when more than one: the kernel then spreads
    new connections over them evenly, where processes accepting from one shared socket take them unevenly)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets: list[socket.socket] = []

    def bound(reuse_port: bool) -> socket.socket:
        # IPPROTO_TCP, not 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets that say they
        # are TCP, and with it on, every answer waited ~40 ms for the client's delayed ACK.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sockets.append(sock)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        return sock

    try:
        if count > 1:
            # First a plain bind: it fails where any process listens, SO_REUSEPORT or not, so the workers never
            # join another server's sockets and split its connections with it.
            port = bound(False).getsockname()[1]  # port 0: a free port, that the workers then take
            sockets.pop().close()
        for _ in range(count):
            sock = bound(count > 1)
            if count > 1:
                sock.listen(2048)  # now, so that connections queue while the workers start
    except OSError as error:
        for sock in sockets:
            sock.close()
        raise InputError(f"cannot listen on {host}:{port}: {error.strerror or error}", "--port") from None
    return sockets


class Workers:
    """Forked server processes, one per socket, kept at their number until a signal stops them.

    The models were loaded before the fork, so the workers share their memory (copy-on-write) and start at
    once. The parent only forwards signals, replaces a worker that dies (unless one keeps dying: then it stops
    the others and raises :class:`WorkerFailed`) and returns when every worker has ended.
    """

    def __init__(self, sockets: list[socket.socket],
                 serve: Callable[[socket.socket, int, Callable[[], None], bool], bool],
                 announce: Callable[[], None]) -> None:
        self.sockets = sockets
        self.serve = serve
        self.announce = announce
        self.pids: dict[int, int] = {}  # pid -> worker number
        self.ended: dict[int, list[float]] = {}  # worker number -> when its processes ended
        self.stopping = False

    def run(self) -> None:
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            pipes = [self._start(number) for number in range(1, len(self.sockets) + 1)]
            self._wait_ready(pipes)
            self.announce()
            while self.pids:
                pid, status = os.waitpid(-1, 0)
                if pid not in self.pids:
                    continue
                number = self.pids.pop(pid)
                code = os.waitstatus_to_exitcode(status)
                if self.stopping:
                    if code != 0:
                        LOG.warning("worker %d ended with status %d while stopping", number, code)
                    continue
                how = f"signal {signal.Signals(-code).name}" if code < 0 else f"status {code}"
                now = time.monotonic()
                recent = [t for t in self.ended.get(number, []) if now - t < RESTARTS[1]] + [now]
                self.ended[number] = recent
                if len(recent) > RESTARTS[0]:
                    self._stop_all()
                    raise WorkerFailed(f"worker {number} ended {len(recent)} times within {RESTARTS[1]:.0f} s, "
                                       f"the last with {how}; the server stopped")
                LOG.warning("worker %d ended with %s; starting another", number, how)
                os.close(self._start(number))
                if self.stopping:  # a signal came while it forked, and missed it
                    self._stop(signal.SIGTERM, None)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            for sock in self.sockets:
                sock.close()

    def _start(self, number: int) -> int:
        """Fork worker ``number``; the read end of a pipe that gets a byte once it listens."""
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker: serve, then leave without running the parent's clean-up
            code = 1
            try:
                os.close(read)
                for sig in (signal.SIGINT, signal.SIGTERM):
                    signal.signal(sig, signal.SIG_DFL)  # uvicorn installs its own once it runs
                for other in self.sockets:
                    if other is not self.sockets[number - 1]:
                        other.close()
                code = 0 if self.serve(self.sockets[number - 1], number, lambda: _tell(write), True) else 1
            except BaseException:  # noqa: BLE001 - a worker must never return into the parent's code
                LOG.exception("worker %d failed", number)
            finally:
                os._exit(code)
        os.close(write)
        self.pids[pid] = number
        return read

    def _wait_ready(self, pipes: list[int]) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        waiting = set(pipes)
        while waiting:
            left = deadline - time.monotonic()
            readable, _, _ = select.select(list(waiting), [], [], max(left, 0))
            if not readable:
                self._stop_all()
                raise InputError(f"the server did not start: a worker was not listening after {READY_TIMEOUT:.0f} s")
            for fd in readable:
                if not os.read(fd, 1):  # the worker ended before it listened (its error is on stderr)
                    self._stop_all()
                    raise InputError("the server did not start (see the lines above)")
                waiting.discard(fd)
                os.close(fd)

    def _stop(self, sig: int, frame: Any) -> None:
        if not self.stopping:
            LOG.info("%s: answering the requests in flight, then stopping", signal.Signals(sig).name)
        self.stopping = True
        for sock in self.sockets:  # the parent's copies: once the workers close theirs, the port refuses
            sock.close()
        self._terminate()

    def _stop_all(self) -> None:
        self.stopping = True
        self._terminate()
        while self.pids:
            pid, _ = os.waitpid(-1, 0)
            self.pids.pop(pid, None)

    def _terminate(self) -> None:
        """SIGTERM to every worker, whatever signal came: a second SIGINT would make uvicorn drop the requests
        in flight."""
        for pid in list(self.pids):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


def _tell(fd: int) -> None:
    """Write the byte that says a worker listens (a replacement's parent no longer reads it)."""
    try:
        os.write(fd, b"1")
    except OSError:
        pass
    os.close(fd)


def _server(config: Any, ready: Callable[[], None], quiet: bool) -> Any:
    """A uvicorn.Server that calls ``ready`` once it listens and, on a signal, only stops: uvicorn's own
    raises the signal again after shutting down, which would end the process with a non-zero status.
    ``quiet``: the parent of the workers says that it stops."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                ready()

        @contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            previous = {sig: signal.signal(sig, self.stop) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

        def stop(self, sig: int, frame: Any) -> None:
            if not self.should_exit and not quiet:
                LOG.info("%s: answering the requests in flight, then stopping", signal.Signals(sig).name)
            self.handle_exit(sig, frame)

    return Server(config)
