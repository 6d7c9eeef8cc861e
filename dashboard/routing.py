from django.urls import path

from dashboard.consumers import SupervisorConsumer
from dashboard.wall import WallConsumer

websocket_urlpatterns = [
    path("ws/console/", SupervisorConsumer.as_asgi()),
    # The live call wall: opened by a wall token, read-only (dashboard.wall).
    path("ws/wall/", WallConsumer.as_asgi()),
]
