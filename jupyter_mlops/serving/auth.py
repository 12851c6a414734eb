"""Who may call the model server: a bearer token, same-origin checks and a Host allow-list.

Three independent checks, applied by :class:`ServingApp` before a route reads its body:

* **Token.** Routes that change the store (``POST /feedback``; with ``auth="all"`` every route
  but ``/health`` and ``/ping``) need ``Authorization: Bearer <token>`` (``token <token>`` is
  accepted too, as Jupyter spells it). The token comes from ``--token`` or
  ``MLOPS_SERVE_TOKEN``, else one is generated at start, printed once with the URL and
  written to a 0600 file for launchers. It is compared in constant time. → 401.
* **Cross-site.** A browser attaches ``Origin`` (or at least ``Referer``) to a POST; a POST
  whose origin is not the server's own, nor allowed with ``--allow-origin``, is refused before
  its body is read, so a web page cannot make a visitor's browser post to a server on their
  machine. ``POST /feedback`` also requires ``Content-Type: application/json``, which no HTML
  form or "simple" cross-site request can send. → 403 / 415.
* **Host.** Bound to a loopback address, the server answers only requests whose ``Host`` is a
  loopback name (or one allowed with ``--allow-host``): a DNS-rebinding page, which reaches
  127.0.0.1 under its own host name, is refused. → 403.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from jupyter_mlops.serving.inputs import InputError

#: Routes that write to the store: always behind the token and the cross-site checks.
MUTATING = frozenset({"/feedback"})
#: Routes a load balancer's liveness probe calls: never behind the token.
PROBES = frozenset({"/health", "/ping"})
AUTH_MODES = ("writes", "all")
TOKEN_ENV = "MLOPS_SERVE_TOKEN"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost",
                             "ip6-loopback"})


def generate_token() -> str:
    """A fresh random token (48 hex characters, like Jupyter's)."""
    return secrets.token_hex(24)


def resolve_token(token: str | None) -> tuple[str, str]:
    """``(token, source)``: the given one, else ``MLOPS_SERVE_TOKEN``, else a new one.

    ``source`` is ``"--token"``, ``"MLOPS_SERVE_TOKEN"`` or ``"generated"``. An empty string
    counts as not given (auth cannot be switched off).
    """
    if token:
        return token, "--token"
    env = os.environ.get(TOKEN_ENV)
    if env:
        return env, TOKEN_ENV
    return generate_token(), "generated"


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a bind address or a Host header's name) names this machine only."""
    name = host.strip().strip("[]").lower().rstrip(".")
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _split_host(value: str, default_port: int | None) -> tuple[str, int | None]:
    """``"Host:port"`` → ``("host", port)`` (IPv6 in brackets; port defaulted)."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        name, rest = value[1:end if end > 0 else None], value[end + 1:] if end > 0 else ""
    elif value.count(":") == 1:
        name, _, rest = value.partition(":")
        rest = ":" + rest
    else:
        name, rest = value, ""
    port = default_port
    # isascii: str.isdigit() also holds for "²" (latin-1 0xB2 in a header), which int() refuses
    if rest.startswith(":") and rest[1:].isascii() and rest[1:].isdigit():
        port = int(rest[1:])
    return name.rstrip("."), port


def normalise_origin(origin: str) -> str | None:
    """``"HTTP://Example.com:80/"`` → ``"http://example.com"``; None if not an http(s) origin."""
    try:
        parts = urlsplit(origin.strip())
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.netloc:
        return None
    name, port = _split_host(parts.netloc.rsplit("@", 1)[-1], _DEFAULT_PORTS[scheme])
    if not name:
        return None
    shown = f"[{name}]" if ":" in name else name
    return f"{scheme}://{shown}" + ("" if port == _DEFAULT_PORTS[scheme] else f":{port}")


class Guard:
    """The checks above for one server.

    Parameters
    ----------
    token : str
        The bearer token.
    auth : {"writes", "all"}
        Which routes need the token: the mutating ones, or every route but the probes.
    allow_origins : iterable of str
        Origins (``scheme://host[:port]``) whose cross-site requests are accepted (and get
        CORS headers); ``"*"`` accepts any.
    bind_host : str
        The address the server listens on; loopback turns the Host check on.
    allow_hosts : iterable of str
        Extra Host names accepted on a loopback server (``"*"``: any).
    """

    def __init__(self, token: str, *, auth: str = "writes", allow_origins=(),
                 bind_host: str = "127.0.0.1", allow_hosts=()):
        if not token:
            raise ValueError("the model server needs a non-empty token")
        if auth not in AUTH_MODES:
            raise ValueError(f"auth must be one of {AUTH_MODES}, not {auth!r}")
        self._token = token.encode("utf-8")
        self.auth = auth
        self.any_origin = "*" in allow_origins
        self.allow_origins = frozenset(o for o in (normalise_origin(a) for a in allow_origins
                                                   if a != "*") if o)
        hosts = set(allow_hosts)
        self.check_host = is_loopback(bind_host) and "*" not in hosts
        self.allow_hosts = frozenset(_split_host(h, None)[0] for h in hosts if h != "*")
        #: Host header values already accepted (parsing one costs microseconds per request).
        self._good_hosts: set[bytes] = set()

    # ------------------------------------------------------------------ the checks
    def needs_token(self, path: str) -> bool:
        return path in MUTATING or (self.auth == "all" and path not in PROBES)

    def check(self, scope, path: str, method: str) -> str | None:
        """Raise :class:`InputError` (401/403/415) if the request may not proceed.

        Returns the request's cross-site ``Origin`` when it was allowed (the response then
        carries CORS headers for it), else None.
        """
        host = origin = referer = authorization = content_type = None
        for key, value in scope["headers"]:
            if key == b"host":
                host = value
            elif key == b"origin":
                origin = value
            elif key == b"referer":
                referer = value
            elif key == b"authorization":
                authorization = value
            elif key == b"content-type":
                content_type = value
        if self.check_host:
            self._check_host(host)
        allowed = None
        if method not in ("GET", "HEAD"):
            allowed = self._check_origin(scope, host, origin, referer)
        if method == "OPTIONS":
            return allowed  # a CORS preflight carries no token; the real request will
        if self.needs_token(path):
            self._check_token(authorization, path, method)
        if path in MUTATING and method == "POST":
            media = (content_type or b"").split(b";", 1)[0].strip().lower()
            if media != b"application/json":
                shown = media.decode("latin-1") if media else "none"
                raise InputError(f"{method} {path} takes JSON: send 'Content-Type: "
                                 f"application/json' (got {shown}).", 415,
                                 "UNSUPPORTED_MEDIA_TYPE")
        return allowed

    def _check_host(self, host: bytes | None) -> None:
        if host is None or host in self._good_hosts:
            return  # no Host (HTTP/1.0): not a browser, so not a rebinding page
        name = _split_host(host.decode("latin-1"), None)[0]
        if is_loopback(name) or name in self.allow_hosts:
            if len(self._good_hosts) < 64:
                self._good_hosts.add(host)
            return
        raise InputError(
            f"Refused a request for host {name or '(none)'!r}: this server listens on "
            "loopback and answers only localhost names (a web page reaching it through "
            "its own DNS name is a rebinding attack). Start it with --allow-host NAME to "
            "accept that name.", 403, "HOST_NOT_ALLOWED")

    def _check_origin(self, scope, host: bytes | None, origin: bytes | None,
                      referer: bytes | None) -> str | None:
        if origin is None and referer is None:
            return None  # not a browser (curl, requests, a gateway): nothing cross-site
        raw = (origin if origin is not None else referer).decode("latin-1")
        seen = normalise_origin(raw) if raw != "null" else None
        if seen is not None and host is not None:
            scheme = scope.get("scheme") or "http"
            name, port = _split_host(host.decode("latin-1"), _DEFAULT_PORTS.get(scheme, 80))
            shown = f"[{name}]" if ":" in name else name
            own = f"{scheme}://{shown}" + ("" if port == _DEFAULT_PORTS.get(scheme)
                                           else f":{port}")
            if seen == own:
                return None  # same origin
        if seen is not None and (self.any_origin or seen in self.allow_origins):
            return seen
        what = "Origin" if origin is not None else "Referer"
        raise InputError(
            f"Refused a cross-site request ({what}: {raw[:200]!r}): browsers may not post to "
            "this server from another site. Start it with --allow-origin ORIGIN to allow "
            "one.", 403, "CROSS_SITE_REQUEST")

    def _check_token(self, authorization: bytes | None, path: str, method: str) -> None:
        if authorization is None:
            raise InputError(
                f"{method} {path} needs the server's token: send 'Authorization: Bearer "
                "TOKEN' (printed when the server started and stored in its token file; set "
                f"it yourself with --token or {TOKEN_ENV}).", 401, "UNAUTHENTICATED")
        scheme, _, given = authorization.strip().partition(b" ")
        given = given.strip()
        if scheme.lower() not in (b"bearer", b"token") or not given:
            raise InputError("Malformed Authorization header: use 'Bearer TOKEN'.", 401,
                             "UNAUTHENTICATED")
        if not hmac.compare_digest(given, self._token):
            raise InputError("The token is not this server's.", 401, "UNAUTHENTICATED")

    # ------------------------------------------------------------------ CORS
    def preflight_headers(self, scope) -> list[tuple[bytes, bytes]] | None:
        """CORS preflight (``OPTIONS``) from an allowed origin: the headers to answer with."""
        origin = next((v for k, v in scope["headers"] if k == b"origin"), None)
        seen = normalise_origin(origin.decode("latin-1")) if origin else None
        if seen is None or not (self.any_origin or seen in self.allow_origins):
            return None
        return [*cors_headers(seen),
                (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
                (b"access-control-allow-headers", b"authorization, content-type"),
                (b"access-control-max-age", b"600")]


def cors_headers(origin: str) -> list[tuple[bytes, bytes]]:
    return [(b"access-control-allow-origin", origin.encode("latin-1")),
            (b"vary", b"Origin")]


def unauthorized_headers(message: str) -> list[tuple[bytes, bytes]]:
    error = b', error="invalid_token"' if "not this server's" in message else b""
    return [(b"www-authenticate", b'Bearer realm="jupyter-mlops"' + error)]


# ---------------------------------------------------------------------- the token file
def default_token_file(port: int) -> Path:
    """``<MLOPS_HOME or ~/.mlops>/runtime/serve-<port>.json``."""
    from jupyter_mlops.config import default_home

    return default_home() / "runtime" / f"serve-{port}.json"


def write_token_file(path: str | os.PathLike[str], info: dict) -> Path:
    """Write ``info`` (url, token, pid…) as JSON readable by this user only (0600), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            os.fchmod(f.fileno(), 0o600)  # whatever the umask
            json.dump(info, f, indent=1)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def remove_token_file(path: str | os.PathLike[str], pid: int) -> None:
    """Remove the token file if it is still this process's (another server may reuse it)."""
    path = Path(path)
    try:
        if json.loads(path.read_text()).get("pid") == pid:
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass
