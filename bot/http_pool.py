"""Kept-alive HTTP/1.1 connections to Feishu's Open API, shared by a process's threads: the stand-in for the
`requests` module inside lark-oapi's transport (bot/feishu.py installs it).

The transport's one call is `requests.request(method, url, headers=, params=, data=, timeout=)`. With the real
module that is a new session, TCP connection and TLS handshake for every call, plus requests' reading of the
environment, netrc and cookies each time. Here each origin (scheme, host, port) keeps up to POOL_CONNECTIONS idle
connections of the standard library's `http.client`, taken most recently used first; one the server has closed
meanwhile is noticed (the socket reads as ready) and replaced before anything is sent on it. Proxy and CA bundle
come from the environment as requests reads them, once per origin. Nothing is retried or redirected here: the
gateway decides what may be sent again. Failures are raised as requests' exceptions, which the gateway maps.

urllib3 did this before, at about 160 Python calls of its own per request (docs/serving.md, "The click's CPU").
"""

from __future__ import annotations

import base64
import http.client
import select
import ssl
import threading
import zlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

import requests

POOL_CONNECTIONS = 64  # idle connections kept per origin: more than the threads that call at once
_DEFAULT_HEADERS = {"Accept": "*/*", "Accept-Encoding": "gzip, deflate"}  # what requests sends unasked


class Answer:
    """What lark-oapi's transport reads of a `requests.Response`: status_code, headers, content."""

    __slots__ = ("status_code", "headers", "content")

    def __init__(self, status_code: int, headers: Mapping[str, str], content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content


class _Origin:
    """How to reach one origin (directly or through the environment's proxy), and its idle connections."""

    def __init__(self, scheme: str, host: str, port: int) -> None:
        settings = requests.Session().merge_environment_settings(f"{scheme}://{host}:{port}/", {}, None, None, None)
        self._scheme, self._host, self._port = scheme, host, port
        self._tls = _tls_context(settings.get("verify")) if scheme == "https" else None
        proxies = settings.get("proxies") or {}
        proxy = proxies.get(scheme) or proxies.get("all")
        self._proxy = urlsplit(proxy if "://" in proxy else f"http://{proxy}") if proxy else None
        self._proxy_auth = _basic_auth(self._proxy) if self._proxy is not None else {}
        # a plain-HTTP target through a proxy is asked for by its absolute URL; HTTPS goes through a CONNECT tunnel
        self.absolute_urls = self._proxy is not None and scheme == "http"
        self.extra_headers = self._proxy_auth if self.absolute_urls else {}
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def checkout(self, timeout: float | None) -> http.client.HTTPConnection:
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                return self._connect(timeout)
            if not _closed_by_peer(conn):
                conn.sock.settimeout(timeout)  # type: ignore[union-attr]
                return conn
            conn.close()

    def checkin(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < POOL_CONNECTIONS:
                self._idle.append(conn)
                return
        conn.close()

    def _connect(self, timeout: float | None) -> http.client.HTTPConnection:
        if self._proxy is None:
            host, port = self._host, self._port
        else:
            host, port = self._proxy.hostname or "", self._proxy.port or 80
        if self._tls is None:
            return http.client.HTTPConnection(host, port, timeout=timeout)
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=self._tls)
        if self._proxy is not None:
            conn.set_tunnel(self._host, self._port, headers=self._proxy_auth)
        return conn


class HttpPool:
    """`request` as lark-oapi's transport calls it; thread-safe. One instance per process."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self._origins: dict[tuple[str, str, int], _Origin] = {}

    def request(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
                params: Any = None, data: bytes | None = None, timeout: float | None = None,
                **unexpected: Any) -> Answer:
        if unexpected:  # a newer SDK sending more (files, json): fail loudly rather than drop it
            raise TypeError(f"lark-oapi's transport passed {sorted(unexpected)}, which this stand-in does not send")
        self._local.last = None
        if params:
            url = f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise requests.exceptions.InvalidURL(f"not an http(s) URL: {url[:100]}")
        origin = self._origin(parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        target = url if origin.absolute_urls else (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        sent = {**_DEFAULT_HEADERS, **origin.extra_headers, **(headers or {})}
        conn = None
        try:
            conn = origin.checkout(timeout)
            conn.request(method, target, body=data, headers=sent)
            raw = conn.getresponse()
            content = _decoded(raw.read(), raw.getheader("Content-Encoding", ""))
        except TimeoutError as exc:
            _close(conn)
            raise requests.Timeout(str(exc) or "timed out") from None
        except (OSError, http.client.HTTPException, zlib.error) as exc:
            _close(conn)
            raise requests.ConnectionError(str(exc) or type(exc).__name__) from None
        if raw.will_close:
            conn.close()
        else:
            origin.checkin(conn)
        answer = Answer(raw.status, raw.headers, content)
        self._local.last = answer
        return answer

    def last_response(self) -> Answer | None:
        """This thread's newest answer: its status and headers when the SDK could not read the body."""
        return getattr(self._local, "last", None)

    def _origin(self, scheme: str, host: str, port: int) -> _Origin:
        key = (scheme, host, port)
        origin = self._origins.get(key)
        if origin is None:
            with self._lock:
                origin = self._origins.get(key) or _Origin(scheme, host, port)
                self._origins[key] = origin
        return origin


def _tls_context(verify: Any) -> ssl.SSLContext:
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    bundle = verify if isinstance(verify, str) else requests.certs.where()
    return ssl.create_default_context(cafile=bundle)


def _basic_auth(proxy: Any) -> dict[str, str]:
    if not proxy.username:
        return {}
    pair = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}".encode()
    return {"Proxy-Authorization": "Basic " + base64.b64encode(pair).decode()}


def _closed_by_peer(conn: http.client.HTTPConnection) -> bool:
    """An idle kept-alive connection has nothing to read: readable means the server closed it (or broke the
    protocol); either way nothing may be sent on it."""
    if conn.sock is None:
        return True
    poller = select.poll()  # not select(): a worker's descriptors may be numbered past 1024
    poller.register(conn.sock, select.POLLIN)
    return bool(poller.poll(0))


def _decoded(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding == "gzip":
        return zlib.decompress(body, 16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        try:
            return zlib.decompress(body)
        except zlib.error:  # some servers send raw deflate, without the zlib wrapper
            return zlib.decompress(body, -zlib.MAX_WBITS)
    return body


def _close(conn: http.client.HTTPConnection | None) -> None:
    if conn is not None:
        conn.close()
