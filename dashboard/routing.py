from django.urls import path

from dashboard.consumers import SupervisorConsumer

websocket_urlpatterns = [
    path("ws/console/", SupervisorConsumer.as_asgi()),
]
