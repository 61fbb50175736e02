"""The server's re-check of the mirror (server/cobrowse/scrub.py): nothing secret or dangerous
reaches an agent, whatever a modified client sends."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from server.cobrowse.scrub import MASK, MirrorScrubber, NodeInfo

Node = dict[str, Any]
Event = dict[str, Any]

# -- building rrweb events -----------------------------------------------------------------


def el(node_id: int, tag: str, attributes: dict[str, Any] | None = None, *children: Node) -> Node:
    return {
        "type": 2,
        "id": node_id,
        "tagName": tag,
        "attributes": attributes or {},
        "childNodes": list(children),
    }


def text(node_id: int, content: str, **extra: Any) -> Node:
    return {"type": 3, "id": node_id, "textContent": content, **extra}


def full(*body: Node) -> Event:
    """A full snapshot: document 1 > html 2 > body 3 > ``body``."""
    html = el(2, "html", {}, el(3, "body", {}, *body))
    document = {"type": 0, "id": 1, "childNodes": [{"type": 1, "id": 9, "name": "html"}, html]}
    return {
        "type": 2,
        "data": {"node": document, "initialOffset": {"left": 0, "top": 0}},
        "timestamp": 1,
    }


def mutation(
    adds: list[Any] | None = None,
    texts: list[Any] | None = None,
    attributes: list[Any] | None = None,
    removes: list[Any] | None = None,
) -> Event:
    data = {
        "source": 0,
        "adds": adds or [],
        "texts": texts or [],
        "attributes": attributes or [],
        "removes": removes or [],
    }
    return {"type": 3, "data": data, "timestamp": 2}


def add(parent_id: int, node: Node) -> dict[str, Any]:
    return {"parentId": parent_id, "nextId": None, "node": node}


def typed(node_id: int, value: Any, checked: bool = False) -> Event:
    return {
        "type": 3,
        "data": {"source": 5, "id": node_id, "text": value, "isChecked": checked},
        "timestamp": 3,
    }


def body_of(event: Event) -> list[Node]:
    """The children of <body> in a scrubbed full snapshot."""
    html = event["data"]["node"]["childNodes"][1]
    return list(html["childNodes"][0]["childNodes"])


def scrubbed_one(*body: Node) -> tuple[Node, int]:
    """The only body child of a scrubbed snapshot, and the count."""
    out, count = MirrorScrubber().scrub([full(*body)])
    (node,) = body_of(out[0])
    return node, count


# -- event types ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "kept"),
    [
        ({"type": 0, "data": {}, "timestamp": 1}, True),
        ({"type": 1, "data": {}, "timestamp": 1}, True),
        ({"type": 5, "data": {"tag": "x", "payload": "CANARY"}, "timestamp": 1}, False),
        ({"type": 6, "data": {"plugin": "rrweb/console@1", "payload": {}}, "timestamp": 1}, False),
        ({"type": 99, "data": {}, "timestamp": 1}, False),
        ({"type": "2", "data": {}, "timestamp": 1}, False),
        ({"type": True, "data": {}, "timestamp": 1}, False),
        ({"type": 3, "data": "not a dict", "timestamp": 1}, False),
        ("not an event", False),
    ],
)
def test_event_types(event: Any, kept: bool) -> None:
    out, count = MirrorScrubber().scrub([event])
    assert out == ([event] if kept else [])
    assert count == (0 if kept else 1)


@pytest.mark.parametrize("source", [1, 2, 3, 4, 7, 8, 12])
def test_other_incremental_sources_pass_unchanged(source: int) -> None:
    event = {"type": 3, "data": {"source": source, "id": 5, "x": 1, "y": 2}, "timestamp": 4}
    assert MirrorScrubber().scrub([event]) == ([event], 0)


@pytest.mark.parametrize(
    ("href", "expected", "count"),
    [
        ("https://shop.test/cart?item=3", "https://shop.test/cart?item=3", 0),
        (
            "https://shop.test/reset?token=CANARY-1&x=2",
            "https://shop.test/reset?token=redacted&x=2",
            1,
        ),
        ("https://user:CANARY-2@shop.test/", "https://shop.test/", 1),
        ("http://[::1", "", 1),  # cannot be parsed: nothing of it is relayed
    ],
)
def test_meta_href_is_redacted(href: str, expected: str, count: int) -> None:
    meta: Event = {"type": 4, "data": {"href": href, "width": 800, "height": 600}, "timestamp": 1}
    out, removed = MirrorScrubber().scrub([meta])
    assert out == [{**meta, "data": {**meta["data"], "href": expected}}]
    assert removed == count


# -- element attributes (rule 3) -----------------------------------------------------------

ATTRIBUTE_CASES = [
    # (tag, attributes, what is relayed)
    ("div", {"onclick": "steal()", "OnMouseOver": "x()", "id": "a"}, {"id": "a"}),
    ("a", {"href": "javascript:alert(1)"}, {}),
    ("a", {"href": " \tJaVa\nScRiPt:alert(1)"}, {}),
    ("a", {"href": "java\x00script:alert(1)"}, {}),
    ("a", {"href": "vbscript:msgbox(1)"}, {}),
    ("iframe", {"src": "data:text/html,<script>x()</script>"}, {}),
    ("iframe", {"srcdoc": "<script>x()</script>", "src": "/frame"}, {"src": "/frame"}),
    ("object", {"data": "javascript:x()"}, {}),
    ("svg:a", {"xlink:href": "javascript:x()"}, {}),
    ("video", {"poster": "javascript:x()"}, {}),
    ("img", {"src": "data:image/png;base64,AAAA"}, {"src": "data:image/png;base64,AAAA"}),
    ("a", {"href": "/reset?token=CANARY&page=2"}, {"href": "/reset?token=redacted&page=2"}),
    (
        "form",
        {"action": "https://x.test/login?password=CANARY"},
        {"action": "https://x.test/login?password=redacted"},
    ),
    ("button", {"formaction": "/go?session=CANARY"}, {"formaction": "/go?session=redacted"}),
    ("a", {"href": "http://[::1"}, {}),  # cannot be parsed
    ("a", {"href": 5}, {"href": 5}),  # not a string: nothing to redact
    ("base", {"href": "https://evil.test/", "target": "_top", "id": "b"}, {"id": "b"}),
    ("meta", {"http-equiv": "Refresh", "content": "0;url=https://evil.test"}, {}),
    (
        "meta",
        {"name": "description", "content": "A shop"},
        {"name": "description", "content": "A shop"},
    ),
    (
        "input",
        {
            "value": "typed",
            "placeholder": "p",
            "title": "t",
            "aria-label": "l",
            "checked": True,
            "name": "n",
        },
        {"value": MASK, "checked": True, "name": "n"},
    ),
    (
        "input",
        {
            "aria-description": "d",
            "aria-valuetext": "v",
            "aria-placeholder": "p",
            "aria-roledescription": "r",
        },
        {},
    ),
    ("input", {"value": ""}, {"value": ""}),
    ("input", {"value": "***"}, {"value": "***"}),
    ("input", {"value": 1234}, {"value": MASK}),
    ("input", {"type": "hidden", "value": "csrf"}, {"type": "hidden"}),
    ("INPUT", {"TYPE": "HIDDEN", "value": "csrf"}, {"TYPE": "HIDDEN"}),
    ("option", {"value": "gold", "selected": True}, {"value": MASK, "selected": True}),
    ("select", {"title": "plan", "name": "plan"}, {"name": "plan"}),
    ("textarea", {"value": "note", "placeholder": "p"}, {"value": MASK}),
    (
        "div",
        {"data-tandem-mask": "", "title": "t", "aria-label": "l", "id": "m"},
        {"data-tandem-mask": "", "id": "m"},
    ),
    ("div", {"title": "t", "aria-label": "l"}, {"title": "t", "aria-label": "l"}),  # not masked
]


@pytest.mark.parametrize(("tag", "attributes", "expected"), ATTRIBUTE_CASES)
def test_element_attributes(tag: str, attributes: dict[str, Any], expected: dict[str, Any]) -> None:
    node, count = scrubbed_one(el(10, tag, attributes))
    assert node["attributes"] == expected
    assert count == sum(
        1 for name, value in attributes.items() if expected.get(name, object()) != value
    )


PRIVATE_CASES = [
    # (tag, attributes): each private; what is relayed: class, rr_width, rr_height, type unless hidden
    ("input", {"type": "password", "value": "hunter2", "class": "pw", "name": "pw"}),
    ("input", {"type": "PASSWORD", "value": "hunter2"}),
    ("input", {"autocomplete": "cc-number", "value": "4111"}),
    ("input", {"autocomplete": "shipping cc-exp", "value": "12/30"}),
    ("input", {"autocomplete": "one-time-code", "value": "123456"}),
    ("input", {"autocomplete": "new-password", "value": "s3cret"}),
    ("input", {"autocomplete": "current-password", "value": "s3cret"}),
    ("div", {"data-tandem-private": "", "title": "account", "class": "box"}),
    ("div", {"rr_width": "120px", "rr_height": "40px", "class": "blocked", "id": "x"}),
    ("input", {"data-tandem-private": "", "type": "hidden", "value": "csrf"}),
]


@pytest.mark.parametrize(("tag", "attributes"), PRIVATE_CASES)
def test_private_elements_keep_only_their_box(tag: str, attributes: dict[str, Any]) -> None:
    node, _ = scrubbed_one(el(10, tag, attributes, text(11, "CANARY-INSIDE")))
    keep = {"class", "rr_width", "rr_height"}
    if str(attributes.get("type", "")).lower() != "hidden":
        keep.add("type")
    assert node["attributes"] == {k: v for k, v in attributes.items() if k in keep}
    assert node["childNodes"] == []


def test_autocomplete_tokens_that_are_not_private() -> None:
    node, _ = scrubbed_one(el(10, "input", {"autocomplete": "email", "value": "a@b.c"}))
    assert node["attributes"] == {"autocomplete": "email", "value": MASK}


def test_script_becomes_an_inert_noscript() -> None:
    script = el(
        10, "script", {"src": "https://cdn.test/x.js", "type": "module"}, text(11, "steal()")
    )
    svg_script = {**el(12, "script", {"href": "/x.js"}, text(13, "steal()")), "isSVG": True}
    out, count = MirrorScrubber().scrub([full(script, svg_script)])
    first, second = body_of(out[0])
    assert first == {
        **script,
        "tagName": "noscript",
        "attributes": {"type": "module"},
        "childNodes": [],
    }
    assert second["tagName"] == "noscript"
    assert second["childNodes"] == []
    assert count == 3  # src, and a text child each


# -- text (rule 4) -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("CANARY-TEXT-LONG", "********"),
        ("abc", "***"),
        ("  \n ", "  \n "),
        ("****", "****"),
        ("* * *", "* * *"),
    ],
)
def test_text_inside_a_masked_element(content: str, expected: str) -> None:
    node, count = scrubbed_one(
        el(10, "div", {"data-tandem-mask": ""}, el(11, "p", {}, text(12, content)))
    )
    assert node["childNodes"][0]["childNodes"][0]["textContent"] == expected
    assert count == (expected != content)


def test_text_outside_masked_elements_is_relayed() -> None:
    node, count = scrubbed_one(el(10, "p", {}, text(11, "Hello")))
    assert node["childNodes"][0]["textContent"] == "Hello"
    assert count == 0


def test_style_text_is_not_masked_but_a_forged_style_flag_is_ignored() -> None:
    style = el(11, "style", {}, text(12, "body { color: red }", isStyle=True))
    forged = el(13, "p", {}, text(14, "CANARY-FORGED", isStyle=True))
    node, _ = scrubbed_one(el(10, "div", {"data-tandem-mask": ""}, style, forged))
    assert node["childNodes"][0]["childNodes"][0]["textContent"] == "body { color: red }"
    assert node["childNodes"][1]["childNodes"][0]["textContent"] == "********"


def test_comments_inside_a_masked_element_are_masked() -> None:
    comment = {"type": 5, "id": 11, "textContent": "CANARY-COMMENT"}
    node, _ = scrubbed_one(el(10, "div", {"data-tandem-mask": ""}, comment))
    assert node["childNodes"][0]["textContent"] == "********"


def test_no_canary_reaches_an_agent() -> None:
    page = full(
        el(
            10,
            "input",
            {
                "value": "CANARY-VALUE-1",
                "placeholder": "CANARY-PLACEHOLDER",
                "title": "CANARY-TITLE",
            },
        ),
        el(11, "input", {"aria-label": "CANARY-ARIA", "aria-valuetext": "CANARY-ARIA-VALUE"}),
        el(12, "input", {"type": "hidden", "value": "CANARY-HIDDEN"}),
        el(
            13,
            "input",
            {"data-tandem-private": "", "value": "CANARY-PRIVATE", "name": "CANARY-NAME"},
        ),
        el(
            14,
            "div",
            {"data-tandem-mask": ""},
            el(15, "span", {"title": "CANARY-MASKED-TITLE"}, text(16, "CANARY-MASKED-TEXT")),
        ),
        el(17, "textarea", {"value": "CANARY-TEXTAREA"}, text(18, "CANARY-TEXTAREA-TEXT")),
        el(
            19,
            "input",
            {"type": "password", "value": "CANARY-PASSWORD"},
            el(20, "span", {}, text(21, "CANARY-PW-CHILD")),
        ),
        el(
            22,
            "div",
            {"data-tandem-private": ""},
            el(23, "p", {"data-x": "CANARY-DEEP"}, text(24, "CANARY-DEEP-TEXT")),
        ),
        el(
            25,
            "select",
            {},
            el(26, "option", {"value": "CANARY-OPTION"}, text(27, "CANARY-OPTION-TEXT")),
        ),
        el(28, "a", {"href": "/x?token=CANARY-URL", "onclick": "CANARY-HANDLER()"}),
    )
    meta = {
        "type": 4,
        "data": {"href": "https://x.test/?secret=CANARY-META", "width": 1, "height": 1},
        "timestamp": 0,
    }
    custom = {"type": 5, "data": {"tag": "t", "payload": "CANARY-CUSTOM"}, "timestamp": 1}
    out, count = MirrorScrubber().scrub([meta, page, custom])
    assert "CANARY" not in repr(out)
    assert count > 0


# -- the registry --------------------------------------------------------------------------


def test_the_registry_after_a_full_snapshot() -> None:
    scrubber = MirrorScrubber()
    scrubber.scrub(
        [
            full(
                el(10, "input", {"type": "text"}),
                el(11, "div", {"data-tandem-mask": ""}, el(12, "span", {}, text(13, "x"))),
                el(14, "input", {"type": "password"}),
                el(15, "p", {}, text(16, "plain")),
                el(17, "textarea", {}, text(18, "note")),
            )
        ]
    )
    assert scrubber.node(10) == NodeInfo("input", field=True, masked=True, private=False)
    assert scrubber.node(12) == NodeInfo("span", field=False, masked=True, private=False)
    assert scrubber.node(13) == NodeInfo("#text", field=False, masked=True, private=False)
    assert scrubber.node(14) == NodeInfo("input", field=True, masked=True, private=True)
    assert scrubber.node(15) == NodeInfo("p", field=False, masked=False, private=False)
    assert scrubber.node(16) == NodeInfo("#text", field=False, masked=False, private=False)
    assert scrubber.node(18) == NodeInfo("#text", field=False, masked=True, private=False)
    assert scrubber.node(1) is not None
    assert scrubber.node(999) is None


def test_reset_and_a_new_full_snapshot_forget_every_node() -> None:
    scrubber = MirrorScrubber()
    scrubber.scrub([full(el(10, "input", {}))])
    assert scrubber.node(10) is not None
    scrubber.reset()
    assert scrubber.node(10) is None
    assert scrubber.scrub([typed(10, "x")]) == ([], 1)
    scrubber.scrub([full(el(10, "input", {}))])
    scrubber.scrub([full(el(11, "p", {}))])
    assert scrubber.node(10) is None
    assert scrubber.node(11) is not None


def test_removes_forget_a_node_and_its_descendants() -> None:
    scrubber = MirrorScrubber()
    scrubber.scrub(
        [
            full(
                el(10, "form", {}, el(11, "input", {}), el(12, "p", {}, text(13, "x"))),
                el(14, "p", {}),
            )
        ]
    )
    removal = mutation(removes=[{"parentId": 3, "id": 10}])
    out, count = scrubber.scrub([removal])
    assert out == [removal]
    assert count == 0
    assert [scrubber.node(i) for i in (10, 11, 12, 13)] == [None] * 4
    assert scrubber.node(14) is not None


# -- input events (rule 6) -----------------------------------------------------------------


def test_a_forged_clear_value_for_a_masked_field_is_masked() -> None:
    scrubber = MirrorScrubber()
    scrubber.scrub([full(el(10, "input", {"type": "email"}))])
    out, count = scrubber.scrub([typed(10, "CANARY-TYPED", checked=True)])
    assert out == [typed(10, MASK, checked=True)]
    assert count == 1


def test_input_into_a_masked_area_is_masked() -> None:
    scrubber = MirrorScrubber()
    scrubber.scrub([full(el(10, "div", {"data-tandem-mask": "", "contenteditable": "true"}))])
    assert scrubber.scrub([typed(10, "secret")]) == ([typed(10, MASK)], 1)


@pytest.mark.parametrize("value", ["", "********", "***", None])
def test_input_already_masked_or_empty_is_kept(value: Any) -> None:
    scrubber = MirrorScrubber()
    scrubber.scrub([full(el(10, "input", {}))])
    assert scrubber.scrub([typed(10, value)]) == ([typed(10, value)], 0)


@pytest.mark.parametrize("node_id", [11, 12, 999, "10"])
def test_input_for_a_private_or_unknown_node_is_dropped(node_id: Any) -> None:
    scrubber = MirrorScrubber()
    scrubber.scrub(
        [
            full(
                el(10, "input", {}),
                el(11, "input", {"type": "password"}),
                el(12, "input", {"autocomplete": "one-time-code"}),
            )
        ]
    )
    assert scrubber.scrub([typed(node_id, "CANARY")]) == ([], 1)


def test_input_for_an_ordinary_element_passes() -> None:
    scrubber = MirrorScrubber()
    scrubber.scrub([full(el(10, "div", {}))])
    assert scrubber.scrub([typed(10, "x")]) == ([typed(10, "x")], 0)


# -- mutations (rule 5) --------------------------------------------------------------------


def page_scrubber() -> MirrorScrubber:
    """A scrubber that has seen a page with a masked area, a private box, a field and a paragraph."""
    scrubber = MirrorScrubber()
    scrubber.scrub(
        [
            full(
                el(10, "div", {"data-tandem-mask": ""}, text(11, "masked")),
                el(12, "div", {"data-tandem-private": ""}),
                el(13, "input", {"name": "q"}),
                el(14, "p", {}, text(15, "plain"), el(16, "span", {}, text(17, "inner"))),
                el(18, "meta", {"name": "x"}),
            )
        ]
    )
    return scrubber


@pytest.mark.parametrize(
    ("node_id", "value", "relayed"),
    [
        (11, "CANARY-NEW", "********"),  # masked text node
        (10, "abc", "***"),  # masked element
        (15, "plain again", "plain again"),
        (15, None, None),
        (999, "CANARY-UNKNOWN", "********"),  # unknown: it may be anyone's
    ],
)
def test_mutation_texts(node_id: int, value: Any, relayed: Any) -> None:
    out, count = page_scrubber().scrub([mutation(texts=[{"id": node_id, "value": value}])])
    assert out[0]["data"]["texts"] == [{"id": node_id, "value": relayed}]
    assert count == (relayed != value)


def test_mutation_text_of_a_private_node_is_dropped() -> None:
    out, count = page_scrubber().scrub([mutation(texts=[{"id": 12, "value": "CANARY"}])])
    assert out[0]["data"]["texts"] == []
    assert count == 1


@pytest.mark.parametrize(
    ("node_id", "change", "relayed"),
    [
        (13, {"value": "CANARY", "placeholder": "p", "class": "c"}, {"value": MASK, "class": "c"}),
        (13, {"value": None, "placeholder": None}, {"value": None, "placeholder": None}),
        (14, {"onclick": "x()", "title": "t"}, {"title": "t"}),
        (14, {"onclick": None}, {"onclick": None}),  # a handler removed: harmless
        (10, {"title": "CANARY", "aria-label": "CANARY", "class": "c"}, {"class": "c"}),
        (
            12,
            {"title": "t", "class": "c", "rr_width": "9px", "style": "x"},
            {"class": "c", "rr_width": "9px"},
        ),
        (18, {"http-equiv": "refresh", "content": "0;url=x"}, {}),
        (16, {"href": "javascript:x()", "src": "/a?token=CANARY"}, {"src": "/a?token=redacted"}),
        (
            999,
            {
                "onclick": "x()",
                "href": "javascript:x()",
                "value": "CANARY",
                "placeholder": "p",
                "title": "t",
                "aria-label": "l",
                "class": "c",
                "value2": "kept",
            },
            {"class": "c", "value2": "kept"},
        ),
    ],
)
def test_mutation_attributes(node_id: int, change: dict[str, Any], relayed: dict[str, Any]) -> None:
    out, count = page_scrubber().scrub(
        [mutation(attributes=[{"id": node_id, "attributes": change}])]
    )
    assert out[0]["data"]["attributes"] == [{"id": node_id, "attributes": relayed}]
    assert count == sum(1 for name, value in change.items() if relayed.get(name, object()) != value)


def test_a_mutation_can_make_a_node_private() -> None:
    scrubber = page_scrubber()
    change = mutation(
        attributes=[{"id": 14, "attributes": {"data-tandem-private": "", "title": "t"}}]
    )
    out, count = scrubber.scrub([change])
    info = scrubber.node(14)
    assert info is not None
    assert info.private
    assert out[0]["data"]["attributes"] == [{"id": 14, "attributes": {}}]
    # What the agent already has of it goes too.
    assert out[1]["data"]["removes"] == [{"parentId": 14, "id": 15}, {"parentId": 14, "id": 16}]
    assert out[1]["timestamp"] == change["timestamp"]
    assert count == 4
    assert scrubber.node(15) is None
    assert scrubber.node(17) is None
    # Nothing more of it reaches an agent.
    later, _ = scrubber.scrub(
        [
            mutation(
                adds=[add(14, text(30, "CANARY-ADDED"))], texts=[{"id": 14, "value": "CANARY-T"}]
            ),
            typed(14, "CANARY-TYPED"),
        ]
    )
    assert "CANARY" not in repr(later)
    assert later[0]["data"]["adds"] == []
    assert later[0]["data"]["texts"] == []
    assert len(later) == 1
    # Taking the mark away again does not make it public.
    scrubber.scrub([mutation(attributes=[{"id": 14, "attributes": {"data-tandem-private": None}}])])
    assert scrubber.node(14) == info


def test_an_input_turned_password_becomes_private() -> None:
    scrubber = page_scrubber()
    out, _ = scrubber.scrub(
        [
            mutation(
                attributes=[{"id": 13, "attributes": {"type": "password", "value": "CANARY"}}]
            ),
            typed(13, "CANARY-TYPED"),
        ]
    )
    assert out == [mutation(attributes=[{"id": 13, "attributes": {"type": "password"}}])]
    # A "show password" button turning it back into text does not make it public.
    out, _ = scrubber.scrub(
        [
            mutation(attributes=[{"id": 13, "attributes": {"type": "text"}}]),
            typed(13, "CANARY-SHOWN"),
        ]
    )
    assert out == [mutation(attributes=[{"id": 13, "attributes": {"type": "text"}}])]


def test_a_mutation_can_mask_a_node_and_what_is_inside() -> None:
    scrubber = page_scrubber()
    scrubber.scrub([mutation(attributes=[{"id": 14, "attributes": {"data-tandem-mask": ""}}])])
    out, _ = scrubber.scrub([mutation(texts=[{"id": 17, "value": "CANARY-LONGER"}])])
    assert out[0]["data"]["texts"] == [{"id": 17, "value": "********"}]


def test_the_same_mutation_making_a_parent_private_and_adding_under_it() -> None:
    scrubber = page_scrubber()
    event = mutation(
        adds=[add(14, text(30, "CANARY-ADDED"))],
        attributes=[{"id": 14, "attributes": {"data-tandem-private": ""}}],
    )
    out, _ = scrubber.scrub([event])
    assert "CANARY" not in repr(out)
    assert scrubber.node(30) is None


def test_adds_under_a_masked_parent_are_masked() -> None:
    scrubber = page_scrubber()
    span = el(30, "span", {"title": "CANARY-TITLE", "class": "c"})
    out, count = scrubber.scrub([mutation(adds=[add(10, span), add(30, text(31, "CANARY-TEXT"))])])
    adds = out[0]["data"]["adds"]
    assert [a["node"] for a in adds] == [
        el(30, "span", {"class": "c"}),
        text(31, "********"),
    ]
    assert count == 2
    assert scrubber.node(30) == NodeInfo("span", field=False, masked=True, private=False)
    assert scrubber.node(31) == NodeInfo("#text", field=False, masked=True, private=False)


def test_adds_whose_parent_comes_later_in_the_list() -> None:
    scrubber = page_scrubber()
    out, count = scrubber.scrub(
        [mutation(adds=[add(30, text(31, "CANARY")), add(10, el(30, "b", {}))])]
    )
    assert [a["node"]["id"] for a in out[0]["data"]["adds"]] == [31, 30]  # the order sent
    assert out[0]["data"]["adds"][0]["node"]["textContent"] == "******"
    assert count == 1


@pytest.mark.parametrize(
    ("parent_id", "node"),
    [
        (12, el(30, "p", {}, text(31, "CANARY"))),  # under a private element
        (999, text(30, "CANARY")),  # under a node never relayed
        ("3", text(30, "CANARY")),  # not an id
        (3, "not a node"),
        (3, {"type": 3, "id": "30", "textContent": "CANARY"}),
    ],
)
def test_adds_that_are_dropped(parent_id: Any, node: Any) -> None:
    out, count = page_scrubber().scrub([mutation(adds=[add(parent_id, node)])])
    assert out[0]["data"]["adds"] == []
    assert count == 1


def test_adds_are_scrubbed_like_a_snapshot() -> None:
    scrubber = page_scrubber()
    added = [
        add(14, el(30, "a", {"href": "javascript:x()", "onclick": "x()"})),
        add(14, el(31, "script", {"src": "/x.js"}, text(32, "x()"))),
        add(31, text(33, "more()")),
        add(14, el(34, "input", {"type": "password", "value": "CANARY"})),
    ]
    out, count = scrubber.scrub([mutation(adds=added)])
    nodes = [a["node"] for a in out[0]["data"]["adds"]]
    assert nodes == [
        el(30, "a", {}),
        {**el(31, "noscript", {}), "tagName": "noscript"},
        el(34, "input", {"type": "password"}),
    ]
    assert (
        count == 2 + 2 + 1 + 1
    )  # handlers; src and the text child; the add under script; the value
    assert scrubber.node(34) == NodeInfo("input", field=True, masked=True, private=True)


def test_a_moved_node_keeps_what_it_became() -> None:
    scrubber = page_scrubber()
    scrubber.scrub([mutation(attributes=[{"id": 16, "attributes": {"data-tandem-private": ""}}])])
    out, _ = scrubber.scrub([mutation(adds=[add(3, el(16, "span", {"title": "CANARY"}))])])
    assert out[0]["data"]["adds"][0]["node"]["attributes"] == {}
    info = scrubber.node(16)
    assert info is not None
    assert info.private


def test_malformed_mutation_entries_are_dropped() -> None:
    event = mutation(
        texts=["x"], attributes=[{"id": 13, "attributes": "x"}, 5], removes=[None], adds=[7]
    )
    out, count = page_scrubber().scrub([event])
    assert out[0]["data"] == {"source": 0, "adds": [], "texts": [], "attributes": [], "removes": []}
    assert count == 5


def test_a_deeply_nested_page_does_not_exhaust_the_stack() -> None:
    node = text(100_000, "CANARY")
    for depth in range(5000):
        node = el(10 + depth, "div", {}, node)
    scrubber = MirrorScrubber()
    out, _ = scrubber.scrub([full(el(9000, "div", {"data-tandem-mask": ""}, node))])
    deepest = body_of(out[0])[0]
    while deepest.get("childNodes"):
        deepest = deepest["childNodes"][0]
    assert deepest == text(100_000, "******")
    assert scrubber.node(100_000) == NodeInfo("#text", field=False, masked=True, private=False)


# -- the caller's events -------------------------------------------------------------------


def test_the_callers_events_are_never_changed() -> None:
    events = [
        {
            "type": 4,
            "data": {"href": "https://x.test/?token=CANARY", "width": 1, "height": 1},
            "timestamp": 0,
        },
        full(
            el(10, "input", {"value": "CANARY", "onclick": "x()"}),
            el(11, "div", {"data-tandem-mask": ""}, text(12, "CANARY")),
            el(13, "script", {"src": "/x.js"}, text(14, "x()")),
            el(15, "p", {}, text(16, "plain")),
        ),
        mutation(
            adds=[add(11, el(20, "span", {"title": "CANARY"}, text(21, "CANARY")))],
            texts=[{"id": 12, "value": "CANARY"}],
            attributes=[
                {"id": 10, "attributes": {"value": "CANARY"}},
                {"id": 15, "attributes": {"data-tandem-private": ""}},
            ],
            removes=[{"parentId": 3, "id": 13}],
        ),
        typed(10, "CANARY"),
        {"type": 5, "data": {"payload": "CANARY"}, "timestamp": 9},
    ]
    before = copy.deepcopy(events)
    out, _ = MirrorScrubber().scrub(events)
    assert events == before
    assert "CANARY" not in repr(out)


def test_the_count_adds_up() -> None:
    events = [
        full(
            el(10, "input", {"value": "v", "placeholder": "p"}),  # 2
            el(11, "div", {"data-tandem-mask": ""}, text(12, "secret")),  # 1
            el(13, "div", {"data-tandem-private": "", "id": "x"}, text(14, "t")),  # 3
        ),
        typed(10, "typed"),  # 1
        typed(13, "x"),  # 1
        {"type": 6, "data": {}, "timestamp": 1},  # 1
    ]
    _, count = MirrorScrubber().scrub(events)
    assert count == 9


def test_rich_text_editors_are_masked_and_srcset_and_style_urls_redacted() -> None:
    scrubber = MirrorScrubber()
    events = [
        {"type": 4, "data": {"href": "https://a.test/"}, "timestamp": 1},
        {"type": 2, "data": {"node": {"type": 0, "id": 1, "childNodes": [
            {"type": 2, "id": 2, "tagName": "div", "attributes": {"contenteditable": ""},
             "childNodes": [{"type": 3, "id": 3, "textContent": "CANARY-TYPED"}]},
            {"type": 2, "id": 4, "tagName": "p", "attributes": {"contenteditable": "false"},
             "childNodes": [{"type": 3, "id": 5, "textContent": "plain text"}]},
            {"type": 2, "id": 6, "tagName": "img", "childNodes": [], "attributes": {
                "srcset": "/a.png?token=CANARY-1 1x, https://x.test/b.png?session=CANARY-2 2x",
                "style": "background: url('/bg.png?token=CANARY-3'); color: red"}},
        ]}}, "timestamp": 2},
        {"type": 3, "data": {"source": 0, "texts": [{"id": 3, "value": "CANARY-MORE"}],
                             "attributes": [], "removes": [], "adds": []}, "timestamp": 3},
    ]  # fmt: skip
    out, _ = scrubber.scrub(events)
    shown = repr(out)
    assert "CANARY" not in shown and "plain text" in shown
    image = out[1]["data"]["node"]["childNodes"][2]["attributes"]
    assert image["srcset"] == "/a.png?token=redacted 1x, https://x.test/b.png?session=redacted 2x"
    assert image["style"] == "background: url('/bg.png?token=redacted'); color: red"
