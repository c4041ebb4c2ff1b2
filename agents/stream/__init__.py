"""The live stream (`/ws/tenants/{id}/events/`): tickets, the websocket consumer, its records.

- `services`: issue a ticket (the API and the console), open / touch / close a connection;
- `consumer`: the Channels consumer; `routing`: its URL, routed by config/asgi.py.
Events are published by any layer with `core.stream.publish` and carried by the channel layer
(Redis, or PostgreSQL's LISTEN/NOTIFY: core/channel_layer.py).
"""
