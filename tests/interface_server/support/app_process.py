"""Run the test app in its own process against a Redis layer.

``python -m tests.interface_server.support.app_process REDIS_URL CONTROL_FILE [PREFIX]``
"""

from __future__ import annotations

import signal
import sys
import threading

from channels_classic.layers.redis import RedisChannelLayer

from .app import serve


def main() -> None:
    url, control_file = sys.argv[1], sys.argv[2]
    prefix = sys.argv[3] if len(sys.argv) > 3 else "asgi:"
    layer = RedisChannelLayer(hosts=[url], prefix=prefix, receive_timeout=0.5)
    serve(layer, control_file)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    stop.wait()


if __name__ == "__main__":
    main()
