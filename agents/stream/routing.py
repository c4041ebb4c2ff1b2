"""The websocket routes (config/asgi.py serves them)."""

from django.urls import path

from agents.stream.consumer import TenantEventsConsumer

websocket_urlpatterns = [
    path("ws/tenants/<uuid:tenant_id>/events/", TenantEventsConsumer.as_asgi(), name="tenant-events"),
]
