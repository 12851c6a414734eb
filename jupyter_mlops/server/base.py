"""The one handler base class: authentication, authorization, errors as JSON, off-loop calls.

Every error leaves as ``{"error": {"type": ..., "message": ...}}`` with the status from
:func:`jupyter_mlops.errors.http_status_for` — a user's mistake is a 4xx with the library's
own message (which says what to do), never a 500 with a traceback.
"""

from __future__ import annotations

import json
from typing import Any, Callable, TypeVar

from jupyter_server.base.handlers import APIHandler
from tornado.web import HTTPError

from jupyter_mlops.errors import InvalidInputError, MlopsError, http_status_for
from jupyter_mlops.request_body import BodyTooLargeError, parse_json_body
from jupyter_mlops.server.extension import MlopsExtension

T = TypeVar("T")

#: The resource name jupyter_server's authorizer sees for every mlops route.
AUTH_RESOURCE = "mlops"
#: Key under which the extension object is stored in the tornado settings.
SETTINGS_KEY = "jupyter_mlops"


class MlopsHandler(APIHandler):
    """Base of every ``/mlops/api/v1`` handler.

    Subclasses decorate each verb with ``@tornado.web.authenticated`` and jupyter_server's
    ``@authorized`` (action from the HTTP method, resource :data:`AUTH_RESOURCE`); a test
    walks the route table and fails if one does not. Mutating verbs get XSRF checks from
    :class:`APIHandler` when the request is cookie-authenticated.
    """

    auth_resource = AUTH_RESOURCE

    @property
    def mlops(self) -> MlopsExtension:
        return self.settings[SETTINGS_KEY]

    @property
    def acting_user(self) -> str:
        """The registry/audit identity of this request (``MlopsExtension.user_identity``)."""
        return self.acting_identity[0]

    @property
    def acting_identity(self) -> tuple[str, str]:
        """``(user, source)``: the Jupyter user's username, or the server's own identity."""
        return self.mlops.acting_user(self.current_user, self.identity_provider)

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(client, ...)`` on the extension's worker threads (never on the loop)."""
        return await self.mlops.call(fn, *args, **kwargs)

    # ------------------------------------------------------------------ request parsing
    def int_arg(self, name: str, default: int, lo: int, hi: int) -> int:
        raw = self.get_query_argument(name, None)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise InvalidInputError(f"Query parameter {name!r} must be an integer, got {raw!r}.")
        if not lo <= value <= hi:
            raise InvalidInputError(f"Query parameter {name!r} must be between {lo} and {hi}.")
        return value

    def str_arg(self, name: str) -> str | None:
        value = self.get_query_argument(name, None)
        return value if value else None

    def json_body(self) -> dict[str, Any]:
        """The request body as a JSON object, within the extension's size and depth limits.

        Every handler reads its body here (never ``json.loads`` itself), so no body can reach
        a handler that is too big (413), too deep, not UTF-8, or holding a lone surrogate or
        an integer outside int64 (400 naming the field): such values would otherwise fail
        later, inside a write, as a 500.
        """
        try:
            body = parse_json_body(self.request.body or b"{}", self.mlops.body_limits)
        except BodyTooLargeError as exc:
            raise HTTPError(413, "%s", exc) from None
        if not isinstance(body, dict):
            raise InvalidInputError("The request body must be a JSON object.")
        return body

    def write_json(self, payload: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(payload, allow_nan=False, separators=(",", ":")))

    # ------------------------------------------------------------------ errors
    def log_exception(self, typ, value, tb) -> None:  # noqa: ANN001
        # A user's mistake is not a server error: one warning line, no traceback.
        if isinstance(value, MlopsError) and http_status_for(value) < 500:
            self.log.warning(
                "%d %s %s: %s", http_status_for(value), self.request.method,
                self.request.uri, value,
            )
            return
        super().log_exception(typ, value, tb)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, MlopsError):
            status_code = http_status_for(exc)
            error = {"type": type(exc).__name__, "message": str(exc)}
            if status_code >= 500:
                error["message"] = f"{exc} (see the server log for details)"
        elif isinstance(exc, HTTPError):
            message = exc.log_message or exc.reason or self._reason
            if exc.log_message and exc.args:
                message = exc.log_message % exc.args
            error = {"type": exc.reason or self._reason, "message": message}
        else:
            error = {
                "type": "InternalServerError",
                "message": "Unexpected server error; the details are in the server log.",
            }
        self.set_status(status_code)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": error}))
