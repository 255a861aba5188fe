"""Fetching an article's page by URL: a security boundary.

The service fetches what a caller names, from inside the newsroom's network, so a URL must not
reach what the caller could not: the host itself, the private network, the cloud metadata
address. Only http and https; every address the name resolves to is checked, and so is every
redirect (each one a new name, checked the same way). The connection then goes to the address
that was checked, never to a second lookup of the name, which a hostile DNS server could answer
differently (DNS rebinding): the request is sent to the IP, with the name in the ``Host``
header and as the TLS server name, so the certificate is still checked against the name.
A host listed in ``SUMMARIZER_FETCH_ALLOW_HOSTS`` (an intranet CMS) may resolve to any address.

Refusals are ``url_not_allowed`` (422: the URL itself may not be fetched) or ``fetch_failed``
(502: the page could not be had: an error status, too big, too slow, not HTML).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from service.config import Settings
from service.errors import FetchFailed, UrlNotAllowed

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# name, port -> the addresses the name resolves to
Resolver = Callable[[str, int], Awaitable[list[str]]]

HTML_TYPES = ("text/html", "application/xhtml+xml")
REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class Page:
    url: str  # as asked
    final_url: str  # after redirects
    content: bytes
    charset: str | None  # from the Content-Type header, when it names one


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def refused_because(address: Address) -> str | None:
    """Why an address may not be fetched from, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    checks = [
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local (cloud metadata)"),
        (address.is_multicast, "multicast"),
        (address.is_unspecified, "unspecified"),
        (address.is_reserved, "reserved"),
        (address.is_private, "private"),
        (not address.is_global, "not globally routable"),
    ]
    return next((reason for refused, reason in checks if refused), None)


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # lower case, without a trailing dot
    port: int

    @property
    def default_port(self) -> bool:
        return self.port == (443 if self.scheme == "https" else 80)


def target_of(url: str) -> Target:
    """Where ``url`` points, or ``UrlNotAllowed``: only http(s), no credentials, a host."""
    try:
        httpx.URL(url)  # control characters, a malformed host: refused before any look-up
    except (httpx.InvalidURL, ValueError, UnicodeError):
        raise UrlNotAllowed(f"{url!r} is not a valid URL") from None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UrlNotAllowed(f"only http and https URLs are allowed, not {url!r}")
    if parts.username is not None or parts.password is not None:
        raise UrlNotAllowed("a URL with a user name or password is not allowed")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise UrlNotAllowed(f"{url!r} names no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UrlNotAllowed(f"{url!r} has an invalid port") from None
    return Target(parts.scheme, host, port)


async def checked_address(
    host: str, port: int, *, resolve: Resolver, allowed: frozenset[str], allow_setting: str
) -> Address:
    """The address to connect to: every address of ``host`` passed the checks (or the host
    is listed in ``allowed``, the setting named ``allow_setting``)."""
    try:
        literal: Address | None = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            found = await resolve(host, port)
        except (OSError, UnicodeError, ValueError) as exc:
            raise FetchFailed(f"the name {host} could not be resolved: {exc}") from None
        addresses = [ipaddress.ip_address(a.split("%")[0]) for a in found]
        if not addresses:
            raise FetchFailed(f"the name {host} resolves to no address")
    if host in allowed:
        return addresses[0]
    for address in addresses:
        reason = refused_because(address)
        if reason is not None:
            raise UrlNotAllowed(
                f"{host} resolves to {address}, a {reason} address; "
                f"list the host in {allow_setting} to allow it"
            )
    return addresses[0]


def pinned_request(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    target: Target,
    address: Address,
    **kwargs: object,
) -> httpx.Request:
    """A request to ``url`` sent to the checked ``address``, never to a second look-up of the
    name; the name is still the ``Host`` header and the TLS server name."""
    host = target.host
    host_header = host if target.default_port else f"{host}:{target.port}"
    if ":" in host and not target.default_port:
        host_header = f"[{host}]:{target.port}"
    elif ":" in host:
        host_header = f"[{host}]"
    headers = {"Host": host_header, **dict(kwargs.pop("headers", None) or {})}  # type: ignore[call-overload]
    return client.build_request(
        method,
        httpx.URL(url).copy_with(host=str(address)),
        headers=headers,
        extensions={"sni_hostname": host} if target.scheme == "https" else {},
        **kwargs,  # type: ignore[arg-type]
    )


class Fetcher:
    def __init__(self, settings: Settings, *, resolver: Resolver | None = None) -> None:
        self._settings = settings
        self._resolve = resolver or system_resolver
        self._allowed = settings.fetch_allow_host_set
        # trust_env=False: a proxy from the environment would look the name up itself.
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(settings.fetch_timeout_s),
            headers={
                "User-Agent": settings.fetch_user_agent,
                "Accept": "text/html,application/xhtml+xml;q=0.9",
            },
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def fetch(self, url: str) -> Page:
        limit = self._settings.fetch_timeout_s
        try:
            async with asyncio.timeout(limit):
                return await self._follow(url)
        except TimeoutError:
            raise FetchFailed(f"fetching {url} took longer than {limit:g} s") from None

    async def _follow(self, url: str) -> Page:
        current = url
        for _ in range(self._settings.fetch_max_redirects + 1):
            response = await self._open(current)
            try:
                location = response.headers.get("location")
                if response.status_code in REDIRECTS and location:
                    current = urljoin(current, location)
                    continue
                if response.status_code in REDIRECTS:
                    raise FetchFailed(f"{current} redirects without saying where")
                if response.status_code >= 400:
                    raise FetchFailed(f"{current} answered HTTP {response.status_code}")
                content = await self._body(response, current)
                return Page(url=url, final_url=current, content=content, charset=_charset(response))
            finally:
                await response.aclose()
        raise FetchFailed(f"{url} redirects more than {self._settings.fetch_max_redirects} times")

    async def _open(self, url: str) -> httpx.Response:
        target = target_of(url)
        address = await checked_address(
            target.host,
            target.port,
            resolve=self._resolve,
            allowed=self._allowed,
            allow_setting="SUMMARIZER_FETCH_ALLOW_HOSTS",
        )
        request = pinned_request(self._client, "GET", url, target, address)
        try:
            return await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise FetchFailed(f"could not fetch {url}: {_reason(exc)}") from None

    async def _body(self, response: httpx.Response, url: str) -> bytes:
        media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type not in HTML_TYPES:
            raise FetchFailed(f"{url} is {media_type or 'of no content type'}, not an HTML page")
        cap = self._settings.fetch_max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise FetchFailed(f"{url} is {int(declared):,} bytes; the limit is {cap:,}")
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > cap:
                    raise FetchFailed(f"{url} is over the limit of {cap:,} bytes")
                chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise FetchFailed(f"could not read {url}: {_reason(exc)}") from None
        return b"".join(chunks)


def _charset(response: httpx.Response) -> str | None:
    for param in response.headers.get("content-type", "").split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"')
    return None


def _reason(exc: httpx.HTTPError) -> str:
    return str(exc) or type(exc).__name__
