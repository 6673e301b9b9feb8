"""``newsletter serve``: the web side (subscribe, confirm, unsubscribe, preferences, webhook, archive)
under uvicorn.

The socket is bound here, before uvicorn starts, so a port in use is a one-line error (exit 2).
Behind a reverse proxy, uvicorn takes the client address from ``X-Forwarded-For`` and the scheme
from ``X-Forwarded-Proto`` when the proxy's address is in ``FORWARDED_ALLOW_IPS`` (default
127.0.0.1); the rate limits count per client address, so that matters.
"""

from __future__ import annotations

import logging
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


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000, ready=None) -> None:
    """Run the site until interrupted (Ctrl-C or SIGTERM: the requests in flight finish first).
    ``ready(url)`` is called once it listens."""
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
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        app.state.store.close()
