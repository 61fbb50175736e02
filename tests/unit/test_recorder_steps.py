"""The recorder's pure logic: events from the page (and navigations) become walkthrough steps."""

from __future__ import annotations

from typing import Any

from recorder.addresses import clean_url, markup, path_pattern, site_path
from recorder.steps import Composer
from recorder.walkthrough_file import to_yaml
from server.knowledge.sources import parse_yaml, validate
from server.knowledge.walkthrough import WalkthroughFile

BASE = "https://app.example.com"


def target(testid: str) -> dict[str, Any]:
    return {
        "candidates": [{"kind": "testid", "value": testid}],
        "fingerprint": {"tag": "input", "attributes": {"data-testid": testid}},
    }


def event(kind: str, ref: int | None = None, testid: str = "field", **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind, "frame": "top", "label": extra.pop("label", testid)}
    if ref is not None:
        out.update(ref=ref, target=target(testid))
    return {**out, **extra}


def composer() -> Composer:
    c = Composer("sample", process="billing")
    c.start(f"{BASE}/start")
    return c


def valid(c: Composer) -> WalkthroughFile:
    return validate(WalkthroughFile, parse_yaml(to_yaml(c.walkthrough()), "sample.yaml"))


def test_consecutive_typing_in_one_field_is_one_step_with_the_last_value() -> None:
    c = composer()
    for value in ("G", "Gr", "Grace"):
        c.event(event("input", 1, "name", value=value, label="Full name"))
    c.event(event("input", 2, "email", value="g@example.com", label="Work email"))
    steps = c.steps()
    assert [s["id"] for s in steps] == ["enter-full-name", "enter-work-email"]
    assert steps[0]["action"] == {"kind": "fill", "value": "Grace"}
    assert steps[0]["advance"] == {"after": "input"}
    assert steps[0]["text"] == "Type in **Full name**."
    valid(c)


def test_a_private_field_never_keeps_a_value_and_asks_the_visitor_to_type_it() -> None:
    c = composer()
    c.event(event("input", 1, "pw", private="password", value=None, label="Password"))
    c.event(
        event("input", 1, "pw", value="leaked-if-kept", label="Password")
    )  # once private, always
    (step,) = c.steps()
    assert "action" not in step and step["advance"] == {"after": "input"}
    assert step["text"] == "Enter your password in **Password**."
    assert "leaked-if-kept" not in to_yaml(c.walkthrough())


def test_a_field_marked_private_later_loses_the_value_already_recorded() -> None:
    c = composer()
    c.event(event("input", 7, "maiden", value="Smith", label="Maiden name"))
    c.event(
        {"type": "pick", "purpose": "private", "frame": "top", "ref": 7, "label": "Maiden name"}
    )
    (step,) = c.steps()
    assert "action" not in step
    assert "Smith" not in to_yaml(c.walkthrough())


def test_tab_after_typing_moves_on_but_enter_and_escape_are_steps() -> None:
    c = composer()
    c.event(event("input", 1, "q", value="refunds", label="Search"))
    c.event(event("press", 1, "q", key="Tab", label="Search"))
    c.event(event("press", 2, "next", key="Enter", label="Next"))
    c.event(event("press", None, key="Escape"))
    c.event(event("press", None, key="F5"))  # not a key that is recorded: skipped, said
    ids = [s["id"] for s in c.steps()]
    assert ids == ["enter-search", "press-enter", "press-escape"]
    assert c.steps()[2]["action"] == {"kind": "press", "key": "Escape"}
    assert "target" not in c.steps()[2]
    assert c.skipped == ["press event: key 'F5' is not recorded"]


def test_a_navigation_the_page_made_is_where_the_click_leads_and_a_redirect_moves_it() -> None:
    c = composer()
    c.event(event("click", 1, "open", label="Invite a teammate"))
    c.navigated(f"{BASE}/team/invite")
    c.navigated(f"{BASE}/team/invite/form")  # a redirect after it: the last URL counts
    (step,) = c.steps()
    assert step["advance"] == {"after": "url", "url": "/team/invite/form"}
    assert step["expect"] == {"url": "/team/invite/form"}


def test_an_address_the_author_typed_is_a_navigate_step_in_its_place() -> None:
    c = composer()
    c.event(event("click", 1, "a", label="A"))
    c.event(
        event("input", 2, "b", value="x", label="B")
    )  # arrived before the navigation was judged
    c.navigated(f"{BASE}/billing?tab=cards&token=s3cret", by_page=False, position=1)
    steps = c.steps()
    assert [s["id"] for s in steps] == ["click-a", "go-to-billing", "enter-b"]
    assert steps[1]["action"] == {"kind": "navigate", "url": "/billing?tab=cards&token=redacted"}
    assert "target" not in steps[1]
    assert steps[0]["advance"] == {"after": "click"}  # not credited with the author's navigation
    valid(c)


def test_a_redirect_before_the_first_step_moves_where_the_walkthrough_starts() -> None:
    c = composer()
    c.navigated(f"{BASE}/signin?next=/start")
    assert c.walkthrough()["applies"] == {"urls": ["/signin"]}


def test_choosing_and_ticking_again_change_their_step() -> None:
    c = composer()
    c.event(event("select", 1, "role", value="admin", option="Admin", label="Role"))
    c.event(event("select", 1, "role", value="member", option="Member", label="Role"))
    c.event(event("check", 2, "news", checked=True, label="Newsletter"))
    c.event(event("check", 2, "news", checked=False, label="Newsletter"))
    c.event(event("check", 3, "pro", checked=True, radio=True, label="Pro"))
    steps = c.steps()
    assert [s["id"] for s in steps] == ["choose-role", "tick-newsletter", "tick-pro"]
    assert steps[0]["action"] == {"kind": "select", "value": "member"}
    assert steps[0]["expect"] == {"value": "member"}
    assert steps[0]["text"] == "Choose **Member** in **Role**."
    assert steps[1]["action"] == {"kind": "check", "checked": False}
    assert steps[1]["text"] == "Untick **Newsletter**."
    assert steps[2]["text"] == "Choose **Pro**."
    valid(c)


def test_uploads_and_captchas_are_steps_the_visitor_does() -> None:
    c = composer()
    c.event(event("upload", 1, "doc", label="Your ID"))
    c.event(event("captcha", 2, "captcha", label="I am not a robot"))
    upload, captcha = c.steps()
    assert "action" not in upload and upload["advance"] == {"after": "input"}
    assert "You do this yourself" in upload["text"] and "action" not in captcha
    valid(c)


def test_a_hover_step_waits_for_what_it_opens() -> None:
    c = composer()
    c.event(event("hover", 1, "account", label="Account", appears="#account-menu"))
    c.event(event("click", 2, "signout", label="Sign out"))
    hover, _click = c.steps()
    assert hover["action"] == {"kind": "hover"}
    assert hover["advance"] == {"after": "appears", "selector": "#account-menu"}
    assert hover["text"] == "Point at **Account** to open it."
    valid(c)


def test_the_authors_commands_edit_the_last_step_and_undo_takes_it_back() -> None:
    c = composer()
    c.event({"type": "command", "command": "undo", "frame": "top"})
    assert c.message == "Nothing to undo."
    c.event(event("click", 1, "delete", label="Delete"))
    c.event({"type": "command", "command": "text", "text": "Delete the **draft**.", "frame": "top"})
    c.event({"type": "command", "command": "destructive", "on": True, "frame": "top"})
    c.event({"type": "pick", "purpose": "expect", "selector": "[data-testid=gone]", "frame": "top"})
    c.event(event("click", 2, "other", label="Other"))
    c.event({"type": "command", "command": "undo", "frame": "top"})
    (step,) = c.steps()
    assert step["text"] == "Delete the **draft**."
    assert step["destructive"] is True
    assert step["expect"] == {"appears": "[data-testid=gone]"}
    state = c.state()
    assert state["count"] == 1 and state["last"]["destructive"] is True
    c.event({"type": "command", "command": "finish", "frame": "top"})
    assert c.finished and c.state()["finished"]
    valid(c)


def test_step_ids_stay_unique_and_labels_cannot_inject_markup() -> None:
    c = composer()
    c.event(event("click", 1, "a", label="Save"))
    c.event(event("click", 2, "b", label="Save"))
    c.event(event("click", 3, "c", label="<b>**Save**</b> [x](javascript:y)"))
    steps = c.steps()
    assert [s["id"] for s in steps] == [
        "click-save",
        "click-save-2",
        "click-b-save-b-x-javascript-y",
    ]
    assert steps[2]["text"] == "Click **bSave/b x(javascript:y)**."
    valid(c)


def test_malformed_events_are_skipped_with_a_reason() -> None:
    c = composer()
    c.event({"type": "click", "frame": "top", "ref": 1})  # no target
    c.event({"type": "click", "frame": "top", "ref": 1, "target": {"candidates": []}})
    c.event({"type": "select", "frame": "top", "ref": 1, "target": target("x"), "value": 5})
    c.event({"type": "??"})
    c.event({"type": "command", "command": "launch"})
    assert c.drafts == []
    assert len(c.skipped) == 5
    assert "no candidate matches the element alone" in c.skipped[1]


def test_urls_lose_credentials_sensitive_values_and_private_fields() -> None:
    url = "https://ada:pw@app.example.com/login?user=ada&pass=hunter2&secret_code=9&page=2"
    assert (
        clean_url(url)
        == "https://app.example.com/login?user=ada&pass=redacted&secret_code=redacted&page=2"
    )
    assert clean_url(f"{BASE}/f?nick=x&maiden=Smith", frozenset({"maiden"})).endswith(
        "nick=x&maiden=redacted"
    )
    assert site_path(f"{BASE}/a/b?x=1#frag") == "/a/b?x=1"
    assert path_pattern(f"{BASE}/files/(draft):v1*?q=1") == r"/files/\(draft\)\:v1\*"
    assert markup("**bold** `code`") == "bold code"


def test_a_get_form_that_carries_a_private_field_never_leaks_it_into_a_navigate_step() -> None:
    c = composer()
    # "memo" is no sensitive-looking name: only the page's word that the field is private hides it.
    c.event({"type": "submit", "frame": "top", "method": "get", "private_names": ["memo"]})
    c.event(event("click", 1, "x", label="X"))
    c.navigated(f"{BASE}/done?memo=my-secret&ok=1", by_page=False)
    assert c.steps()[1]["action"]["url"] == "/done?memo=redacted&ok=1"


def test_a_private_choice_keeps_neither_its_value_nor_its_option() -> None:
    c = composer()
    c.event(event("select", 1, "month", private="card", value=None, option=None, label="Month"))
    c.event(event("check", 2, "consent", private="marked", checked=True, label="Consent"))
    month, consent = c.steps()
    assert "action" not in month and "expect" not in month
    assert month["text"] == "Choose your option in **Month**."
    assert month["advance"] == {"after": "input"}
    assert "action" not in consent
    valid(c)


def test_a_card_number_typed_in_two_goes_loses_the_first_part_too() -> None:
    c = composer()
    c.event(event("input", 4, "ref", value="4242 4242", label="Reference"))
    c.event(event("click", 5, "elsewhere", label="Elsewhere"))
    c.event(event("input", 4, "ref", private="card", value=None, label="Reference"))
    assert "4242" not in to_yaml(c.walkthrough())
    assert all("action" not in s for s in c.steps() if s["id"].startswith("enter"))


def test_a_field_marked_private_stays_private_on_the_next_page() -> None:
    c = composer()
    mark = {"kind": "testid", "value": "maiden"}
    c.event({"type": "pick", "purpose": "private", "frame": "p1", "ref": 3, "candidates": [mark]})
    assert c.state()["private_targets"] == [mark]  # sent to every page, which withholds it
    c.event({**event("input", 1, "maiden", value="Smith", label="Maiden"), "frame": "p2"})
    (step,) = c.steps()
    assert "action" not in step and "Smith" not in to_yaml(c.walkthrough())
    c.event({"type": "pick", "purpose": "private", "frame": "p2", "not_field": True})
    assert c.message.startswith("That is not a field")


def test_typed_template_syntax_stays_literal_and_bad_sentences_are_refused() -> None:
    c = composer()
    c.event(event("input", 1, "note", value="{{ 7 * 7 }} {% if x %}", label="Note"))
    (step,) = c.steps()
    assert step["action"]["value"] == "{% raw %}{{ 7 * 7 }} {% if x %}{% endraw %}"
    valid(c)
    c.say("<img src=x onerror=alert(1)>")
    assert c.message.startswith("Not saved") and c.steps()[0]["text"] == "Type in **Note**."


def test_a_step_that_would_not_validate_is_dropped_at_once_and_said() -> None:
    c = composer()
    bad = event("click", 1, "x", label="X")
    bad["target"]["candidates"] = [{"kind": "rocket", "value": "x"}]
    c.event(bad)
    assert c.drafts == [] and c.message.startswith("Not recorded")
    for n in range(100):
        c.event(event("click", n + 10, f"b{n}", label=f"B{n}"))
    c.event(event("click", 500, "one-too-many", label="More"))
    assert len(c.drafts) == 100 and "at most 100 steps" in c.skipped[-1]


def test_ids_and_tokens_in_paths_become_wildcards_and_are_not_navigated_to() -> None:
    assert path_pattern(f"{BASE}/invoices/INV-1001") == "/invoices/*"
    assert path_pattern(f"{BASE}/reset/3f2504e04f8911d39a0c0305e82c3301") == "/reset/*"
    assert path_pattern(f"{BASE}/team/invite") == "/team/invite"
    c = composer()
    c.event(event("click", 1, "a", label="A"))
    c.navigated(f"{BASE}/reset/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", by_page=False)
    reset = c.steps()[1]
    assert "action" not in reset and reset["advance"] == {"after": "url", "url": "/reset/*"}
    assert "eyJ" not in to_yaml(c.walkthrough())
    valid(c)


def test_a_step_in_an_iframe_of_another_origin_is_one_the_visitor_does() -> None:
    c = composer()
    c.event({**event("click", 1, "pay", label="Pay"), "cross_origin": True})
    (step,) = c.steps()
    assert "target" not in step and "action" not in step and "advance" not in step
    assert step["text"] == "Click **Pay**, in the embedded frame. You do this yourself."
    valid(c)


def test_a_navigation_after_a_choice_is_where_the_choice_leads() -> None:
    c = composer()
    c.event(event("select", 1, "view", value="cards", option="Cards", label="View"))
    c.navigated(f"{BASE}/billing/cards")
    (step,) = c.steps()
    assert step["advance"] == {"after": "url", "url": "/billing/cards"}


def test_link_queries_never_reach_a_candidate_or_the_fingerprint() -> None:
    c = composer()
    forged = event("click", 1, "reset", label="Reset")
    forged["target"]["candidates"].append({"kind": "css", "value": 'a[href="/r?token=abc"]'})
    forged["target"]["fingerprint"]["attributes"]["href"] = "/r?token=abc&lang=en"
    c.event(forged)
    (step,) = c.steps()
    assert "abc" not in to_yaml(c.walkthrough())
    assert step["target"]["fingerprint"]["attributes"]["href"] == "/r?token=redacted&lang=en"


def test_start_here_forgets_the_steps_and_takes_this_pages_process_and_title() -> None:
    c = Composer("invite")
    c.start(f"{BASE}/team")
    c.event({"type": "hello", "frame": "a", "process": "sign-in", "title": "Sign in"})
    c.event(event("input", 1, "email", value="ada@example.com", label="Email"))
    c.navigated(f"{BASE}/team", by_page=False)
    c.event({"type": "hello", "frame": "b", "process": "invite-teammate", "title": "Team"})
    c.event({"type": "command", "command": "restart", "url": f"{BASE}/team", "frame": "b"})
    assert c.drafts == [] and c.process == "invite-teammate" and c.title == "Team"
    c.event(event("click", 1, "open", label="Invite"))
    assert c.walkthrough()["applies"] == {"urls": ["/team"]}
    named = Composer("x", process="billing", title="Mine")
    named.event({"type": "hello", "frame": "a", "process": "other", "title": "Other"})
    named.event({"type": "command", "command": "restart", "url": f"{BASE}/x", "frame": "a"})
    assert (named.process, named.title) == ("billing", "Mine")


def test_a_click_in_a_frame_that_arrives_after_the_next_navigation_stays_before_it() -> None:
    """Each frame's events travel on their own: a click in an iframe can reach the recorder after
    the top frame already went on (the author typed the next address). When it happened decides
    the order, not when it arrived."""
    c = composer()
    c.event(event("click", 1, "save-address", label="Save", at=1_000))
    position = len(c.drafts)  # the top frame commits /team at 2,000 ...
    c.event({**event("click", 2, "iframe-save", label="Save settings", at=1_500), "frame": "sub"})
    c.navigated(f"{BASE}/team", by_page=False, position=position, at_ms=2_000)  # ... said now
    c.event(event("click", 3, "invite-open", label="Invite", at=2_500))
    assert [d.kind for d in c.drafts] == ["click", "click", "navigate", "click"]
    assert [d.label for d in c.drafts][1:3] == ["Save settings", "/team"]

    late = composer()  # a step made after the navigation stays after it
    late.event(event("click", 1, "save-address", label="Save", at=1_000))
    late.event(event("click", 2, "next", label="Next", at=3_000))
    late.navigated(f"{BASE}/team", by_page=False, position=1, at_ms=2_000)
    assert [d.kind for d in late.drafts] == ["click", "navigate", "click"]


def test_a_navigation_from_before_start_here_that_is_said_late_does_not_move_the_start() -> None:
    """Signing in lands on /home; the author goes to /team and presses Start here: the /home
    navigation, told to the recorder only after that, must not make /home the start."""
    c = composer()
    c.event({"type": "command", "command": "restart", "url": f"{BASE}/team", "at": 3_000})
    c.event(event("click", 1, "invite-open", label="Invite", at=3_500))
    c.navigated(f"{BASE}/home", position=0, at_ms=1_000)  # committed before Start here
    assert c.start_url == "/team" and [d.kind for d in c.drafts] == ["click"]
