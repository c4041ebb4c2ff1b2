"""ASGI entry point (uvicorn): the live stream's websockets; HTTP goes to gunicorn (DESIGN.md).

`/ws/tenants/{id}/events/` is the tenant's event stream (agents/stream/): the consumer checks the
Origin, redeems the single-use ticket and asks the tenant gate itself, since API-key clients
(agent runtimes) send no Origin and carry no cookie. HTTP here is Django's ASGI handler, for
health checks only.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402  # needs Django set up

from agents.stream.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
