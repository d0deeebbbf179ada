"""Serve a built site on 127.0.0.1 (for viewing and for the browser test); only files inside the folder."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass


def server(folder: Path, port: int = 0, quiet: bool = True) -> http.server.ThreadingHTTPServer:
    handler = functools.partial(_Quiet if quiet else http.server.SimpleHTTPRequestHandler, directory=str(folder))
    return http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)


def serve_in_thread(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """A server on a free port in a daemon thread, and its base URL; call .shutdown() when done."""
    srv = server(folder)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}/"
