"""``newsletter serve``: the web side (subscribe, confirm, unsubscribe, preferences, webhook, archive)
under uvicorn.

The socket is bound here, before uvicorn starts, so a port in use is a one-line error (exit 2).
Behind a reverse proxy, uvicorn takes the client address from ``X-Forwarded-For`` and the scheme
from ``X-Forwarded-Proto`` when the proxy's address is in ``FORWARDED_ALLOW_IPS`` (default
127.0.0.1); the rate limits count per client address, so that matters.
"""

from __future__ import annotations

import logging
import signal
import socket

from ..config import Settings
from ..errors import InputError, Problem


def listen(host: str, port: int) -> socket.socket:
    """A listening socket, or a one-line error."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        raise InputError([Problem("serve", None, f"cannot listen on {host}:{port}: {exc.strerror or exc}")]) from None
    sock.set_inheritable(True)
    return sock


class _Stopped(Exception):
    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _stopped(signum: int, frame) -> None:
    raise _Stopped(signum)


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000, ready=None) -> int:
    """Run the site until interrupted; the exit code (0, or 130/143 after Ctrl-C or SIGTERM, once
    the requests in flight have finished). ``ready(url)`` is called once it listens.

    uvicorn handles the signal gracefully, then raises it again for the handler it found, which
    is ours: so the exit code says how it stopped, as ``send``'s does."""
    import uvicorn

    from ..providers import make_provider
    from ..web import create_app

    make_provider(settings).close()  # a provider that cannot work fails now, not at the first subscriber
    app = create_app(settings)
    sock = listen(host, port)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config = uvicorn.Config(app, log_level="warning", access_log=False, server_header=False, proxy_headers=True,
                            lifespan="off")
    server = uvicorn.Server(config)
    if ready is not None:
        bound = sock.getsockname()
        ready(f"http://{bound[0] if ':' not in bound[0] else f'[{bound[0]}]'}:{bound[1]}/")
    previous = {signum: signal.signal(signum, _stopped) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run(sockets=[sock])
    except _Stopped as stop:
        return 128 + stop.signum
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        sock.close()
        app.state.store.close()
    return 0
