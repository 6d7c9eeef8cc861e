"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
# Initialise Django (apps, models) before importing consumers.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter

from dashboard.routing import websocket_urlpatterns
from dashboard.security import SameOriginValidator, StaticFiles

application = ProtocolTypeRouter(
    {
        # Static files come from the same process: `make run` needs no proxy.
        "http": StaticFiles(django_asgi_app),
        # The origin must be this site's exactly (dashboard.security).
        "websocket": SameOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
