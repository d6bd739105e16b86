"""Running the application on uvicorn: one process, logs on stderr, the bound address announced, and
Ctrl-C / SIGTERM ending it cleanly (in-flight requests answered, then exit status 0)."""
from __future__ import annotations

import logging
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from seqtag.errors import InputError
from seqtag.serve.limits import Limits
from seqtag.serve.service import Served


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


def run(served: list[Served], limits: Limits, host: str, port: int, max_connections: int = 1024,
        drain_timeout: float = 30.0, access_log: bool = False, announce: Callable[[str], None] | None = None) -> None:
    """Serve until Ctrl-C or SIGTERM, then answer the requests in flight (at most ``drain_timeout`` seconds)
    and return. An address that cannot be bound is an InputError."""
    import uvicorn

    from seqtag.serve.app import create_app

    try:
        # IPPROTO_TCP, not 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets that say they
        # are TCP, and with it on, every answer waited ~40 ms for the client's delayed ACK.
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as error:
        raise InputError(f"cannot listen on {host}:{port}: {error.strerror or error}", "--port") from None
    bound = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(served, limits),
        log_config=log_config(access_log),
        access_log=access_log,
        limit_concurrency=max_connections,
        timeout_graceful_shutdown=drain_timeout,
        timeout_keep_alive=5,
        lifespan="on",
        server_header=False,
    )
    server = _server(config)
    address = f"http://{'[' + host + ']' if ':' in host else host}:{bound}"
    server.announce = (lambda: announce(address)) if announce else None
    server.run(sockets=[sock])
    if not server.started:
        raise InputError("the server did not start (see the lines above)")


def _server(config: Any) -> Any:
    """A uvicorn.Server that announces its address once it listens and, on a signal, only stops: uvicorn's
    own raises the signal again after shutting down, which would end the process with a non-zero status."""
    import uvicorn

    class Server(uvicorn.Server):
        announce: Callable[[], None] | None = None

        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if self.started and self.announce is not None:
                self.announce()

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
            if not self.should_exit:
                logging.getLogger("seqtag.serve").info(
                    "%s: answering the requests in flight, then stopping", signal.Signals(sig).name)
            self.handle_exit(sig, frame)

    return Server(config)
