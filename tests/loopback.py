"""The life cycle shared by the fake services of the tests: one HTTP server on 127.0.0.1."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class LoopbackServer:
    """Serves `handler_class` (which reaches this object as `self.fake`) on a free local port."""

    handler_class: type[BaseHTTPRequestHandler]
    _server: ThreadingHTTPServer | None = None
    _serving = False

    def bind(self) -> None:
        """Take a port now (for fakes whose records carry their own URL before start)."""
        handler = type("Handler", (self.handler_class,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True

    def start(self) -> Self:
        if self._server is None:
            self.bind()
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        self._serving = True
        return self

    def stop(self) -> None:
        if self._server:
            if self._serving:  # shutdown() waits for a serve_forever that must have started
                self._server.shutdown()
            self._server.server_close()
            self._serving = False
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def origin(self) -> str:
        """http://127.0.0.1:PORT of the running server."""
        assert self._server, "start the server first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"
