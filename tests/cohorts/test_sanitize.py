"""The one sanitizer: hostile Markdown comes out inert, ordinary Markdown still renders."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbcohort.cohorts.sanitize import render_markdown

ALLOWED_TAGS = {
    "a", "p", "br", "hr", "em", "strong", "del", "s", "code", "pre", "blockquote",
    "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
    "table", "thead", "tbody", "tr", "th", "td", "span",
}  # fmt: skip
ALLOWED_ATTRS = {
    "a": {"href", "title"},
    "code": {"class"},
    "th": {"style"},
    "td": {"style"},
    "ol": {"start"},
    "span": {"class", "data-member"},
}
URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "background", "poster"}
SAFE_SCHEMES = {"http", "https", "mailto"}
_CONTROL = re.compile(r"[\x00-\x20\x7f]+")


class Collector(HTMLParser):
    """Every start tag with its attributes, entity-decoded as a browser would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def parse(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    collector = Collector()
    collector.feed(html)
    collector.close()
    return collector.tags


def url_scheme(value: str) -> str | None:
    """The scheme a browser would use for ``value`` (it ignores controls and whitespace)."""
    squeezed = _CONTROL.sub("", value).lower()
    match = re.match(r"^([a-z][a-z0-9+.\-]*):", squeezed)
    return match.group(1) if match else None


def assert_inert(html: str) -> None:
    """No script, no image, no event handler, no dangerous URL, no tag outside the allowed set."""
    lowered = html.lower()
    assert "<script" not in lowered
    assert "<img" not in lowered  # a remote image would tell its host who read the post
    assert "<style" not in lowered
    assert "<iframe" not in lowered
    assert "<svg" not in lowered
    for tag, attrs in parse(html):
        assert tag in ALLOWED_TAGS, tag
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name)
            assert name in ALLOWED_ATTRS.get(tag, set()) | {"rel"}, (tag, name)
            assert name not in ("srcdoc", "formaction", "xmlns"), (tag, name)
            if name in URL_ATTRS and value is not None:
                scheme = url_scheme(value)
                # no scheme is a relative URL (e.g. "%3Cjavascript:x" is a path): inert
                assert scheme is None or scheme in SAFE_SCHEMES, (tag, name, value)
            if name == "style":
                assert tag in ("th", "td"), tag
                assert re.fullmatch(r"text-align:\s*(left|right|center)", value or ""), value
            if tag == "a" and name == "href":
                rel = dict(attrs).get("rel") or ""
                assert {"nofollow", "noopener", "noreferrer"} <= set(rel.split())


# --- hostile input ----------------------------------------------------------------------------

HOSTILE = {
    "script tag": "<script>alert(1)</script>",
    "script mixed case": "<ScRiPt src=//evil.example/x.js></sCrIpT>",
    "style tag": "<style>body { display: none }</style>",
    "iframe": '<iframe src="https://evil.example"></iframe>',
    "object": '<object data="https://evil.example/x.swf"></object>',
    "img onerror": "<img src=x onerror=alert(1)>",
    "svg onload": "<svg onload=alert(1)>",
    "svg script": "<svg><script>alert(1)</script></svg>",
    "div onclick": '<div onclick="alert(1)">click</div>',
    "raw a javascript": '<a href="javascript:alert(1)">x</a>',
    "raw html block": "<details open ontoggle=alert(1)>\n\n*x*\n\n</details>",
    "md link javascript": "[x](javascript:alert(1))",
    "md link JaVaScRiPt": "[x](JaVaScRiPt:alert(1))",
    "md link entity": "[x](javas&#99;ript:alert(1))",
    "md link entity first": "[x](&#106;avascript:alert(1))",
    "md link hex entity": "[x](&#x6A;avascript:alert(1))",
    "md link tab": "[x](java\tscript:alert(1))",
    "md link newline": "[x](java\nscript:alert(1))",
    "md link angle": "[x](<javascript:alert(1)>)",
    "md link space": "[x]( javascript:alert(1))",
    "md link vbscript": "[x](vbscript:msgbox(1))",
    "md link data html": "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "md link file": "[x](file:///etc/passwd)",
    "md reference javascript": "[x]: javascript:alert(1)\n\n[link][x]",
    "md image javascript": "![x](javascript:alert(1))",
    "md image data png": "![x](data:image/png;base64,iVBORw0KGgo=)",
    "md image data svg": "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "autolink javascript": "<javascript:alert(1)>",
    "autolink data": "<data:text/html,<script>alert(1)</script>>",
    "link title breakout": '[t](https://example.org "a\\" onclick=\\"alert(1)")',
    "image alt breakout": '![x" onerror="alert(1)](https://example.org/a.png)',
    "fence info breakout": '```python" onmouseover="alert(1)\nprint(1)\n```',
    "html comment": "<!-- <script>alert(1)</script> -->",
    "cdata": "<![CDATA[<script>alert(1)</script>]]>",
    "nested markdown in html": '<a href="javascript:alert(1)">[x](https://ok.example)</a>',
    "table cell style": '| a |\n|---|\n| <span style="position:fixed">x</span> |',
    "null byte": "[x](java\x00script:alert(1))",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_markdown_is_inert(name: str) -> None:
    html = render_markdown(HOSTILE[name])
    assert_inert(html)


def test_quotes_stay_inside_attribute_values() -> None:
    link = parse(render_markdown(HOSTILE["link title breakout"]))[1]
    assert link == (
        "a",
        [
            ("href", "https://example.org"),
            ("title", 'a" onclick="alert(1)'),
            ("rel", "nofollow noopener noreferrer"),
        ],
    )
    html = render_markdown(HOSTILE["image alt breakout"])
    image_link = parse(html)[1]
    assert image_link == (
        "a",
        [("href", "https://example.org/a.png"), ("rel", "nofollow noopener noreferrer")],
    )
    assert html == (  # the alt text is the link's text, not an attribute
        '<p><a href="https://example.org/a.png" rel="nofollow noopener noreferrer">'
        '🖼 x" onerror="alert(1)</a></p>\n'
    )


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "<svg onload=alert(1)>",
        '<a href="javascript:alert(1)">x</a>',
        "<b>bold</b>",
    ],
)
def test_raw_html_is_shown_as_text(source: str) -> None:
    html = render_markdown(source)
    assert parse(html) == [("p", [])]  # no element came from the member's HTML
    assert "&lt;" in html


def test_javascript_link_is_not_a_link() -> None:
    html = render_markdown("[click me](javascript:alert(1))")
    assert not [t for t, _ in parse(html) if t == "a"]


def test_data_image_loses_its_source() -> None:
    tags = parse(render_markdown("![x](data:image/png;base64,iVBORw0KGgo=)"))
    assert [tag for tag, _ in tags] == ["p", "a"]
    assert "href" not in dict(tags[1][1])


@pytest.mark.parametrize(
    "source",
    [
        "![x](javascript:alert(1))",
        "![x](JaVaScRiPt:alert(1))",
        "![x](vbscript:msgbox(1))",
        "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
        "![x](file:///etc/passwd)",
    ],
)
def test_image_with_an_unsafe_source_links_nowhere(source: str) -> None:
    html = render_markdown(source)
    assert [dict(attrs).get("href") for tag, attrs in parse(html) if tag == "a"] in ([], [None])
    assert "<img" not in html
    assert_inert(html)


# --- ordinary Markdown still renders ---------------------------------------------------------


def test_emphasis_and_strikethrough() -> None:
    assert render_markdown("*em* **strong** ~~gone~~") == (
        "<p><em>em</em> <strong>strong</strong> <s>gone</s></p>\n"
    )


def test_code_block_keeps_its_language_class() -> None:
    html = render_markdown("```python\nprint('<b>')\n```")
    assert html == ("<pre><code class=\"language-python\">print('&lt;b&gt;')\n</code></pre>\n")


def test_inline_code_is_escaped() -> None:
    assert render_markdown("use `<script>` tags") == (
        "<p>use <code>&lt;script&gt;</code> tags</p>\n"
    )


def test_table_with_alignment() -> None:
    html = render_markdown("| a | b |\n|:-|-:|\n| 1 | 2 |")
    tags = parse(html)
    assert [t for t, _ in tags] == ["table", "thead", "tr", "th", "th", "tbody", "tr", "td", "td"]
    styles = [dict(a).get("style") for t, a in tags if t in ("th", "td")]
    assert styles == ["text-align:left", "text-align:right"] * 2
    assert_inert(html)


def test_links_get_rel_nofollow() -> None:
    html = render_markdown('[site](https://example.org/a?b=1&c=2 "The site")')
    assert html == (
        '<p><a href="https://example.org/a?b=1&amp;c=2" title="The site" '
        'rel="nofollow noopener noreferrer">site</a></p>\n'
    )


@pytest.mark.parametrize(
    ("source", "href"),
    [
        ("<https://example.org/x>", "https://example.org/x"),
        ("<mailto:ana@example.org>", "mailto:ana@example.org"),
        ("<ana@example.org>", "mailto:ana@example.org"),
        ("[rel](/course/module-1)", "/course/module-1"),
        ("[frag](#section-2)", "#section-2"),
    ],
)
def test_safe_links_and_autolinks_render(source: str, href: str) -> None:
    html = render_markdown(source)
    links = [dict(attrs) for tag, attrs in parse(html) if tag == "a"]
    assert [link["href"] for link in links] == [href]
    assert links[0]["rel"] == "nofollow noopener noreferrer"


def test_images_render_as_links_not_images() -> None:
    """A remote image would tell its host who read the post and when: only a link is shown."""
    html = render_markdown('![chart](https://example.org/c.png "Sales")')
    assert html == (
        '<p><a href="https://example.org/c.png" rel="nofollow noopener noreferrer">'
        "🖼 chart</a></p>\n"
    )


def test_image_link_text_is_escaped() -> None:
    html = render_markdown("![a <b> & *c*](https://example.org/c.png?x=1&y=2)")
    assert html == (
        '<p><a href="https://example.org/c.png?x=1&amp;y=2" rel="nofollow noopener noreferrer">'
        "🖼 a &lt;b&gt; &amp; c</a></p>\n"
    )
    assert_inert(html)


def test_lists_quotes_and_headings() -> None:
    html = render_markdown("# Title\n\n> quoted\n\n1. one\n2. two\n\n- a\n- b\n\n---\n")
    assert [t for t, _ in parse(html)] == [
        "h1", "blockquote", "p", "ol", "li", "li", "ul", "li", "li", "hr",
    ]  # fmt: skip


def test_ordered_list_start_is_kept() -> None:
    assert parse(render_markdown("3. three\n4. four"))[0] == ("ol", [("start", "3")])


def test_mentions_render_as_member_spans() -> None:
    html = render_markdown("hi @ana and @nobody, see `@ana`", {"ana": 7})
    assert html == (
        '<p>hi <span class="nbc-mention" data-member="7">@ana</span> and @nobody, '
        "see <code>@ana</code></p>\n"
    )
    assert_inert(html)


def test_member_cannot_forge_a_mention_span() -> None:
    html = render_markdown('<span class="nbc-mention" data-member="1">@ivo</span>')
    assert parse(html) == [("p", [])]


# --- property: whatever a member types, the output is inert ---------------------------------

FRAGMENTS = [
    "<script>", "</script>", "<img src=x ", "onerror=", "onload=", "<svg ", "<a href=",
    "javascript:", "JaVaScRiPt:", "java\tscript:", "vbscript:", "data:text/html,",
    "data:image/svg+xml,", "&#106;", "&#x6A;", "&colon;", "alert(1)", "[", "]", "(", ")",
    "![", "](", "<", ">", '"', "'", "`", "```", "\n", "\n\n", "|", "|---|", "*", "_", "~~",
    "#", "> ", "- ", "1. ", "\\", "&", ";", "=", " ", "\t", "\x00", "\u202e", "@ana ",
    "https://example.org/", "mailto:", "<https://", "<javascript:", "style=", "<style>",
    "<iframe ", "[x]: ", "\"title\"", "<!--", "-->", "<![CDATA[", "%0a",
]  # fmt: skip

member_text = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8)), max_size=40).map(
    "".join
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=member_text)
def test_any_text_renders_inert(source: str) -> None:
    assert_inert(render_markdown(source))


@settings(max_examples=200, deadline=None)
@given(source=st.text())
def test_any_unicode_text_renders_inert(source: str) -> None:
    assert_inert(render_markdown(source, {"ana": 1}))


@settings(max_examples=300, deadline=None)
@given(payload=member_text, label=st.text(alphabet="abc xyz", max_size=5))
def test_any_link_target_is_inert(payload: str, label: str) -> None:
    for source in (f"[{label}]({payload})", f"![{label}]({payload})", f"<{payload}>"):
        assert_inert(render_markdown(source))


def test_linked_image_keeps_its_link():
    html = render_markdown("[![logo](https://img.example/l.png)](https://site.example)")
    assert html.count("<a ") == 1
    assert 'href="https://site.example"' in html
    assert "img.example" not in html
