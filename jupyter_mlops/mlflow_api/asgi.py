"""The route table as a bare ASGI app, for ``jupyter mlops server`` on uvicorn.

Every request but ``/health`` needs the token, sent as MLflow's client sends
``MLFLOW_TRACKING_TOKEN`` (``Authorization: Bearer …``) or as ``Basic`` with any user name
and the token as password (``MLFLOW_TRACKING_USERNAME``/``PASSWORD``). Calls into the
Client run on one worker thread, in order: the event loop keeps accepting, and the Client's
buffered writer sees one caller at a time.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, unquote

from jupyter_mlops.mlflow_api.routes import LIMITS, PREFIXES, Answer, handle

_UNAUTHORIZED = Answer(401, {"error_code": "UNAUTHENTICATED",
                             "message": "This server needs its token: set "
                                        "MLFLOW_TRACKING_TOKEN to the token it printed."})


class MlflowApp:
    def __init__(self, client: Any, token: str | None):
        self.client = client
        self.token = token
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="mlops-mlflow-api")

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await asyncio.get_running_loop().run_in_executor(self.pool,
                                                                     self.client.flush)
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path in ("/health", "/version"):
            await _send(send, Answer(200, b"OK", "text/plain"))
            return
        if not self._authorized(scope):
            await _send(send, _UNAUTHORIZED)
            return
        rel = next((path[len(p):] for p in PREFIXES if path.startswith(p)), None)
        if rel is None:
            await _send(send, Answer(404, {"error_code": "ENDPOINT_NOT_FOUND",
                                           "message": f"No endpoint {path[:120]}."}))
            return
        body = await _read(receive, LIMITS.max_bytes)
        if body is None:
            await _send(send, Answer(413, {"error_code": "INVALID_PARAMETER_VALUE",
                                           "message": "The request body is too large."}))
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"),
                         keep_blank_values=True)
        answer = await asyncio.get_running_loop().run_in_executor(
            self.pool, handle, self.client, scope["method"], unquote(rel), query, body)
        await _send(send, answer)

    def _authorized(self, scope) -> bool:
        if not self.token:
            return True
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                kind, _sep, cred = value.decode("latin-1").partition(" ")
                if kind.lower() == "bearer":
                    given = cred.strip()
                elif kind.lower() == "basic":
                    try:
                        given = base64.b64decode(cred).decode().partition(":")[2]
                    except ValueError:
                        return False
                else:
                    return False
                return hmac.compare_digest(given.encode(), self.token.encode())
        return False


async def _read(receive, limit: int) -> bytes | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send(send, answer: Answer) -> None:
    data = answer.encoded()
    await send({"type": "http.response.start", "status": answer.status,
                "headers": [(b"content-type", answer.content_type.encode()),
                            (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})
