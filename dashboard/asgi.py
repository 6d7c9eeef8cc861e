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
from telephony import gc_policy

# A dashboard process holds the floor (its feed's mirror) and its consoles:
# keep the collector's full passes from stalling their frames. A thread,
# not a task: nothing may be scheduled on a loop at import time here.
gc_policy.install()

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
