"""A websocket test client for the ASGI application, on asgiref's ApplicationCommunicator.

Channels' own (`channels.testing.WebsocketCommunicator`) cannot be imported without daphne
(`channels.testing` imports its live-server case), which the project does not otherwise need."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import unquote, urlsplit

from asgiref.testing import ApplicationCommunicator


class WebsocketCommunicator(ApplicationCommunicator):
    def __init__(self, application: Any, path: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        parts = urlsplit(path)
        scope = {
            "type": "websocket",
            "path": unquote(parts.path),
            "raw_path": parts.path.encode(),
            "query_string": parts.query.encode(),
            "headers": headers or [],
            "subprotocols": [],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8001),
        }
        super().__init__(application, scope)
        self.response_headers: list[Any] | None = None

    async def connect(self, timeout: float = 5) -> tuple[bool, int | None]:
        """(accepted, close code or subprotocol)."""
        await self.send_input({"type": "websocket.connect"})
        response = await self.receive_output(timeout)
        if response["type"] == "websocket.close":
            return False, response.get("code", 1000)
        return True, response.get("subprotocol")

    async def receive_from(self, timeout: float = 1) -> str:
        response = await self.receive_output(timeout)
        assert response["type"] == "websocket.send", response
        return response["text"] if response.get("text") is not None else response["bytes"]

    async def receive_json_from(self, timeout: float = 1) -> Any:
        return json.loads(await self.receive_from(timeout))

    async def disconnect(self, code: int = 1000, timeout: float = 5) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": code})
        await self.wait(timeout)

    async def receive_available(self, wait: float = 1.0) -> list[Any]:
        """The JSON frames sent within `wait` seconds (asgiref's receive_output would cancel the
        application on a timeout)."""
        await asyncio.sleep(wait)
        frames = []
        while not self.output_queue.empty():
            message = self.output_queue.get_nowait()
            assert message["type"] == "websocket.send", message
            frames.append(json.loads(message["text"]))
        return frames
