"""Fetching a URL is a security boundary: every check against a real server on 127.0.0.1.

The pages are served on loopback, so the tests name them "news.test", which a resolver hook
maps to 127.0.0.1 and which the allow list admits; every other name (and 127.0.0.1 itself,
and ``localhost`` through the system resolver) must be refused.
"""

from __future__ import annotations

import ipaddress

import pytest

from service.errors import FetchFailed, UrlNotAllowed
from service.fetch import Fetcher, refused_because
from tests.page_server import Route, page, page_server, redirect


class Resolver:
    """Names to addresses, counting the look-ups (the system's resolver is never asked)."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        if host not in self.table:
            raise OSError(f"unknown name {host}")
        return self.table[host]


def fetcher(make_settings, resolver=None, **settings) -> Fetcher:
    values = {"fetch_allow_hosts": "news.test", **settings}
    return Fetcher(make_settings(**values), resolver=resolver)


async def refused(f: Fetcher, url: str, error: type[Exception]) -> str:
    with pytest.raises(error) as caught:
        await f.fetch(url)
    await f.aclose()
    return str(caught.value)


async def test_an_allowed_host_is_fetched_at_the_checked_address_with_its_name(make_settings):
    resolver = Resolver({"news.test": ["127.0.0.1"]})
    with page_server({"/story": page("news-bridge-collapse.html")}) as server:
        f = fetcher(make_settings, resolver)
        got = await f.fetch(server.url("/story", host="news.test"))
        await f.aclose()
    assert b"footbridge collapsed" in got.content
    assert got.charset == "utf-8"
    # One look-up, by the service's resolver; the server was asked with the name as Host.
    assert resolver.lookups == ["news.test"]
    assert server.seen == [("/story", f"news.test:{server.port}")]


async def test_loopback_names_and_addresses_are_refused(make_settings):
    with page_server({"/": page("news-bridge-collapse.html")}) as server:
        # The system resolver: localhost is loopback.
        message = await refused(
            fetcher(make_settings), server.url("/", host="localhost"), UrlNotAllowed
        )
        assert "loopback" in message and "SUMMARIZER_FETCH_ALLOW_HOSTS" in message
        # A name of the outside world that resolves to 127.0.0.1 (DNS pointing inwards).
        inward = Resolver({"evil.example": ["93.184.215.14", "127.0.0.1"]})
        message = await refused(
            fetcher(make_settings, inward), server.url("/", host="evil.example"), UrlNotAllowed
        )
        assert "127.0.0.1" in message
        await refused(fetcher(make_settings), server.url("/"), UrlNotAllowed)
        await refused(fetcher(make_settings), f"http://[::1]:{server.port}/", UrlNotAllowed)
    assert server.seen == []  # nothing reached the server


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("169.254.169.254", "link-local"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("172.16.5.4", "private"),
        ("100.64.0.1", "not globally routable"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("::ffff:127.0.0.1", "loopback"),
        ("fe80::1", "link-local"),
        ("fd00::1", "private"),
    ],
)
async def test_inner_addresses_are_refused(make_settings, address, reason):
    assert reason in (refused_because(ipaddress.ip_address(address)) or "")
    resolver = Resolver({"inner.example": [address]})
    message = await refused(
        fetcher(make_settings, resolver), "https://inner.example/news", UrlNotAllowed
    )
    assert str(ipaddress.ip_address(address)) in message


async def test_public_addresses_pass_the_check():
    for address in ("93.184.215.14", "2606:4700::6810:84e5", "8.8.8.8"):
        assert refused_because(ipaddress.ip_address(address)) is None


async def test_only_http_and_https_without_credentials(make_settings):
    f = fetcher(make_settings)
    for url in ("file:///etc/passwd", "ftp://news.test/a", "gopher://news.test/", "javascript:1"):
        with pytest.raises(UrlNotAllowed, match="only http and https"):
            await f.fetch(url)
    with pytest.raises(UrlNotAllowed, match="user name or password"):
        await f.fetch("http://admin:secret@news.test/")
    await f.aclose()


async def test_a_url_with_control_characters_is_refused_not_an_error(make_settings):
    f = fetcher(make_settings)
    for url in ("HTTps://P\x1aX\x06]\U000f0000*", "http://news\x00.test/", "https://[::1/"):
        with pytest.raises((UrlNotAllowed, FetchFailed)):
            await f.fetch(url)
    await f.aclose()


async def test_a_redirect_to_a_private_address_is_refused(make_settings):
    resolver = Resolver({"news.test": ["127.0.0.1"], "intranet.test": ["127.0.0.1"]})
    with page_server({}) as server:
        server.routes.update(
            {
                "/to-metadata": redirect("http://169.254.169.254/latest/meta-data/"),
                "/to-intranet": redirect(server.url("/secret", host="intranet.test")),
                "/to-loopback": redirect(server.url("/secret"), status=307),
                "/secret": Route(body=b"<html><body><p>internal</p></body></html>"),
            }
        )
        for path, shown in [
            ("/to-metadata", "169.254.169.254"),
            ("/to-intranet", "intranet.test"),
            ("/to-loopback", "127.0.0.1"),
        ]:
            message = await refused(
                fetcher(make_settings, resolver),
                server.url(path, host="news.test"),
                UrlNotAllowed,
            )
            assert shown in message
    assert "/secret" not in [path for path, _ in server.seen]


async def test_redirects_are_followed_up_to_five(make_settings):
    resolver = Resolver({"news.test": ["127.0.0.1"]})
    with page_server({"/story": page("news-bridge-collapse.html")}) as server:
        for hop in range(6):
            server.routes[f"/r{hop}"] = redirect(f"/r{hop + 1}" if hop < 5 else "/story")
        server.routes["/loop"] = redirect("/loop")
        f = fetcher(make_settings, resolver)
        got = await f.fetch(server.url("/r1", host="news.test"))  # five redirects
        assert got.final_url == server.url("/story", host="news.test")
        with pytest.raises(FetchFailed, match="more than 5 times"):
            await f.fetch(server.url("/r0", host="news.test"))  # six
        with pytest.raises(FetchFailed, match="more than 5 times"):
            await f.fetch(server.url("/loop", host="news.test"))
        await f.aclose()


async def test_size_time_type_and_status_limits(make_settings):
    resolver = Resolver({"news.test": ["127.0.0.1"]})
    big = b"<html><body>" + b"<p>word</p>" * 2000 + b"</body></html>"
    with page_server(
        {
            "/big": Route(body=big),
            "/big-chunked": Route(body=big, chunked=True),
            "/slow": Route(body=b"<html></html>", delay_s=3.0),
            "/pdf": Route(body=b"%PDF-1.7", headers={"Content-Type": "application/pdf"}),
            "/untyped": Route(body=b"<html></html>", headers={}),
        }
    ) as server:
        f = fetcher(make_settings, resolver, fetch_max_bytes=4096, fetch_timeout_s=0.5)

        async def fails(path: str, match: str) -> None:
            with pytest.raises(FetchFailed, match=match):
                await f.fetch(server.url(path, host="news.test"))

        await fails("/big", "the limit is 4,096")
        await fails("/big-chunked", "over the limit of 4,096 bytes")
        await fails("/slow", "longer than 0.5 s")
        await fails("/pdf", "application/pdf, not an HTML page")
        await fails("/untyped", "not an HTML page")
        await fails("/missing", "answered HTTP 404")
        await f.aclose()


async def test_an_unknown_name_and_a_closed_port_are_fetch_failures(make_settings):
    resolver = Resolver({"news.test": ["127.0.0.1"]})
    f = fetcher(make_settings, resolver)
    with pytest.raises(FetchFailed, match="could not be resolved"):
        await f.fetch("https://nowhere.test/story")
    with page_server({}) as server:
        port = server.port
    with pytest.raises(FetchFailed, match="could not fetch"):
        await f.fetch(f"http://news.test:{port}/story")  # nothing listens there any more
    await f.aclose()
