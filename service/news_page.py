"""News web pages made around an article's text, for evaluation: the HTML path is measured
against the text path on the same articles (``incident-summarizer eval --as-html``).

Three layouts as newsrooms publish them: a news site (cookie banner, navigation, a figure with
its caption, an advertisement between paragraphs, related links, comments, JSON-LD and meta
dates), a wire service's plain story page, and a live page with timestamps and a sidebar.
Nothing here is served by the service; the pages exist only while an evaluation runs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from html import escape

LAYOUTS = ("news_site", "wire", "live")
# A first line this short, without a full stop at its end, is the article's headline.
HEADLINE_MAX = 160


@dataclass(frozen=True)
class WrappedPage:
    html: str
    body: str  # the text the page's article holds, as an extractor should find it
    headline: str | None  # None: the article has no headline line, and the page no title


def split_headline(text: str) -> tuple[str | None, str]:
    """The article's first line when it reads as a headline, and the rest."""
    first, _, rest = text.strip().partition("\n")
    first = first.strip()
    if rest.strip() and len(first) <= HEADLINE_MAX and not first.endswith((".", "。", "।")):
        return first, rest.strip()
    return None, text.strip()


def wrap(
    text: str, *, key: str, published: str | None = None, layout: str | None = None
) -> WrappedPage:
    """``text`` as the article of a news page; ``key`` picks the layout (stable per article)."""
    headline, body = split_headline(text)
    # An article without a headline line gets a page without a title or an <h1>: a made-up
    # one ("Latest news", or its own first words) would reach the model as the article's
    # title, which the text path never shows it.
    paragraphs = [line.strip() for line in body.splitlines() if line.strip()]
    chosen = layout or LAYOUTS[int(hashlib.sha256(key.encode()).hexdigest(), 16) % len(LAYOUTS)]
    render = {"news_site": _news_site, "wire": _wire, "live": _live}[chosen]
    return WrappedPage(
        html=render(headline, paragraphs, published),
        body="\n".join(paragraphs),
        headline=headline,
    )


def _p(paragraphs: list[str]) -> list[str]:
    return [f"<p>{escape(p)}</p>" for p in paragraphs]


def _dates(published: str | None) -> tuple[str, str]:
    """Meta tags and JSON-LD naming the publication date (none when it is unknown)."""
    if not published:
        return "", ""
    meta = (
        f'<meta property="article:published_time" content="{published}T08:30:00+00:00">\n'
        f'<meta property="article:modified_time" content="{published}T17:05:00+00:00">'
    )
    ld = json.dumps(
        {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "datePublished": f"{published}T08:30:00+00:00",
            "dateModified": f"{published}T17:05:00+00:00",
        }
    )
    return meta, f'<script type="application/ld+json">{ld}</script>'


def _tag(template: str, headline: str | None) -> str:
    """``template`` with the escaped headline in it; nothing for a page without one."""
    return template.format(escape(headline)) if headline else ""


def _news_site(headline: str | None, paragraphs: list[str], published: str | None) -> str:
    meta, ld = _dates(published)
    body = _p(paragraphs)
    middle = max(1, len(body) // 2)
    body.insert(
        middle,
        '<div class="ad ad-inline">Advertisement: Subscribe today, first month free. '
        "Cancel at any time.</div>",
    )
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8">{_tag("<title>{} | The Evening Courier</title>", headline)}
{meta}
{_tag('<meta property="og:title" content="{}">', headline)}
{ld}
</head><body>
<div class="cookie-banner"><p>We and our partners use cookies to personalise content and ads,
and to analyse our traffic. By clicking accept you agree to this.</p>
<button>Accept</button><button>Reject</button></div>
<header><a class="logo" href="/">The Evening Courier</a>
<nav><ul><li><a href="/world">World</a></li><li><a href="/politics">Politics</a></li>
<li><a href="/business">Business</a></li><li><a href="/sport">Sport</a></li>
<li><a href="/culture">Culture</a></li></ul></nav></header>
<main><article>
{_tag("<h1>{}</h1>", headline)}
<p class="byline">By Courier staff</p>
<figure><img src="/images/lead.jpg" alt=""><figcaption>The scene on the day. Photograph:
Courier picture desk</figcaption></figure>
<div class="article-body">
{chr(10).join(body)}
</div>
<aside class="related"><h2>Related</h2><ul>
<li><a href="/r/1">Markets close higher after a quiet week of trading</a></li>
<li><a href="/r/2">Ten things to do this weekend</a></li>
<li><a href="/r/3">Weather: a dry and bright start to the week ahead</a></li></ul></aside>
</article>
<section class="comments"><h2>Comments</h2>
<div class="comment"><p>Reader_512</p><p>Why is nobody talking about the real causes here?</p></div>
<div class="comment"><p>hilltop_joe</p><p>Thoughts with the families. Terrible day.</p></div>
</section></main>
<footer><p>© The Evening Courier. All rights reserved.</p>
<a href="/privacy">Privacy policy</a> <a href="/terms">Terms of use</a></footer>
</body></html>"""


def _wire(headline: str | None, paragraphs: list[str], published: str | None) -> str:
    meta, _ = _dates(published)
    dated = f'<meta name="date" content="{published}">' if published else ""
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8">{_tag("<title>{}</title>", headline)}
{meta}{dated}
</head><body>
<div id="top-bar"><a href="/">Global Wire Service</a> · <a href="/login">Client login</a></div>
<div class="story">
{_tag('<h1 class="headline">{}</h1>', headline)}
<div class="story-text">
{chr(10).join(_p(paragraphs))}
</div>
<p class="copyright">Reporting by wire staff; editing by the news desk. Our standards:
the trust principles.</p>
</div>
<div class="more"><h3>More from the wire</h3><a href="/m/1">Oil prices steady</a>
<a href="/m/2">Central bank holds rates</a></div>
</body></html>"""


def _live(headline: str | None, paragraphs: list[str], published: str | None) -> str:
    _, ld = _dates(published)
    times = [f"{8 + i // 6:02d}:{(i * 10) % 60:02d}" for i in range(len(paragraphs))]
    entries = "\n".join(
        f'<div class="entry"><span class="time">{t}</span>{p}</div>'
        for t, p in zip(times, _p(paragraphs), strict=True)
    )
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8">{_tag("<title>Live: {}</title>", headline)}
{ld}
</head><body>
<nav class="top"><a href="/">Home</a> <a href="/live">Live</a> <a href="/video">Video</a>
<a href="/newsletters">Newsletters</a></nav>
<div class="layout"><main>
{_tag("<h1>{}</h1>", headline)}
<div class="live-feed">
{entries}
</div></main>
<aside class="sidebar"><h2>Most popular</h2><ol><li><a href="/p/1">A recipe for the
perfect loaf</a></li><li><a href="/p/2">The best phones of the year, tested</a></li></ol>
<div class="newsletter">Sign up to our morning briefing. <input placeholder="Email">
<button>Sign up</button></div></aside></div>
<footer>Live coverage · Contact the newsroom · Cookie settings</footer>
</body></html>"""
