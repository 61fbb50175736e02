"""Golden msgpack vectors of the wire protocol, shared by the Python and JavaScript tests.

``python -m tests.golden.vectors`` rewrites ``protocol_vectors.json``; a unit
test fails when the file is not what this module produces.
"""

from __future__ import annotations

import json
from pathlib import Path

from server.protocol import encode
from server.protocol.messages import (
    Ack,
    AnonymousIdentity,
    Chat,
    ChatLine,
    Chunk,
    Cobrowse,
    Consent,
    Error,
    Feedback,
    Focus,
    Goal,
    Hello,
    Help,
    HelpAnswer,
    Identified,
    Identify,
    Launcher,
    Location,
    Message,
    Mirror,
    MirrorEvent,
    Offer,
    Offers,
    Rating,
    Remote,
    RemoteDone,
    Resume,
    RunMessage,
    Signal,
    Start,
    Step,
    TokenIdentity,
    Typed,
    Typing,
    Welcome,
    kind_of,
)

FILE = Path(__file__).with_name("protocol_vectors.json")
TAB = "t3Kq9vXbLw2mZp8R"

VECTORS: list[tuple[str, Message]] = [
    ("hello-anonymous-first-visit", Hello(v=1, site="demo", tab=TAB, client="0.1.0")),
    (
        "hello-with-token",
        Hello(
            v=1,
            site="demo",
            tab=TAB,
            client="0.1.0",
            identity=TokenIdentity(user="u-ada", token="eyJhbGciOiJIUzI1NiJ9.e30.sig"),
        ),
    ),
    (
        "hello-returning-anonymous",
        Hello(
            v=1,
            site="demo",
            tab=TAB,
            anonymous=AnonymousIdentity(
                anon="anon-Q2x8mN4pR7sT1vW3", sig="c2lnbmF0dXJlLW9mLXRoZS1zZXJ2ZXI"
            ),
        ),
    ),
    (
        "identify",
        Identify(
            user="u-ada",
            token="eyJ.x.y",
            traits={"first_name": "Ada", "seats": 12, "trial": False, "score": 0.75, "team": None},
        ),
    ),
    (
        "location-load",
        Location(
            cseq=1,
            at=1_795_000_000_123,
            url="http://127.0.0.1:8001/home",
            title="Welcome back · Acme Billing",
        ),
    ),
    (
        "location-spa-push-with-markers",
        Location(
            cseq=4_294_967_296,
            at=1_795_000_000_999,
            url="http://127.0.0.1:8001/invoices/INV-1007?token=redacted",
            title="INV-1007 · Acme Billing",
            nav="push",
            markers=["find-invoice"],
            referrer="http://127.0.0.1:8001/home",
        ),
    ),
    ("focus", Focus(cseq=300, at=1_795_000_001_000, focused=False, visible=True)),
    ("chunk", Chunk(id="snap1", index=1, total=3, data=bytes(range(256)) * 2)),
    ("welcome-identified", Welcome(v=1, tab=TAB, ack=41, user="u-ada", max_frame=66560)),
    (
        "welcome-anonymous",
        Welcome(
            v=1,
            tab=TAB,
            ack=0,
            anonymous=AnonymousIdentity(
                anon="anon-Q2x8mN4pR7sT1vW3", sig="c2lnbmF0dXJlLW9mLXRoZS1zZXJ2ZXI"
            ),
        ),
    ),
    ("welcome-needs-identity", Welcome(v=1, tab=TAB, ack=7, needs_identity=True)),
    ("ack", Ack(upto=65_536)),
    ("identified", Identified(user="u-ada")),
    (
        "error-invalid-field",
        Error(code="invalid", message="Expected `str`, got `int`", field="url", cseq=12),
    ),
    (
        "error-unicode",
        Error(code="identity_refused", message="le jeton a expiré — token expired ✓"),
    ),
    ("launcher", Launcher(req=7)),
    ("start", Start(req=8, walkthrough="invite-teammate")),
    ("resume", Resume(req=9, run="run-Zq3xK8mN4pR7sT1v")),
    (
        "step-shown-by-fingerprint",
        Step(
            cseq=12,
            at=1_795_000_002_000,
            run="run-Zq3xK8mN4pR7sT1v",
            step="open-form",
            event="shown",
            strategy="fingerprint",
            similarity=0.875,
        ),
    ),
    (
        "step-completed-branch",
        Step(
            cseq=13,
            at=1_795_000_003_000,
            run="run-Zq3xK8mN4pR7sT1v",
            step="open-form",
            event="completed",
            goto="send",
        ),
    ),
    (
        "step-failed",
        Step(
            cseq=14,
            at=1_795_000_004_000,
            run="run-Zq3xK8mN4pR7sT1v",
            step="email",
            event="failed",
            reason="target_missing",
        ),
    ),
    (
        "step-abandoned",
        Step(
            cseq=15,
            at=1_795_000_005_000,
            run="run-Zq3xK8mN4pR7sT1v",
            step="email",
            event="abandoned",
            reason="closed",
        ),
    ),
    (
        "signal-click-with-effect",
        Signal(
            cseq=16,
            at=1_795_000_006_000,
            signal="click",
            x=412,
            y=96,
            target="button",
            selector="[data-testid=invite-open]",
            effect_ms=42,
        ),
    ),
    (
        "signal-dead-click",
        Signal(
            cseq=17,
            at=1_795_000_007_000,
            signal="click",
            x=120,
            y=300,
            target="button",
            selector="[data-testid=dead-button]",
        ),
    ),
    (
        "signal-error",
        Signal(cseq=18, at=1_795_000_007_400, signal="error", message="TypeError: x is undefined"),
    ),
    (
        "goal-element",
        Goal(
            cseq=19,
            at=1_795_000_008_000,
            run="run-Zq3xK8mN4pR7sT1v",
            process="invite-teammate",
            how="element",
            detail="[data-testid=invite-sent]",
        ),
    ),
    (
        "feedback",
        Feedback(cseq=20, at=1_795_000_009_000, session="sess-Q2x8mN4pR7sT1vW3", helped=True),
    ),
    (
        "chat",
        Chat(
            cseq=22,
            at=1_795_000_011_000,
            session="sess-Q2x8mN4pR7sT1vW3",
            text="It says my card expired — ça marche pas",
        ),
    ),
    ("typing", Typing(session="sess-Q2x8mN4pR7sT1vW3")),
    (
        "chat-line",
        ChatLine(
            session="sess-Q2x8mN4pR7sT1vW3",
            sender="agent",
            name="Ada Agent",
            text="Let me look.",
            at=1_795_000_012_000,
        ),
    ),
    ("typed", Typed(session="sess-Q2x8mN4pR7sT1vW3", name="Ada Agent")),
    (
        "mirror-full",
        Mirror(
            session="sess-Q2x8mN4pR7sT1vW3",
            page=1,
            full=True,
            events=[
                MirrorEvent(
                    type=4,
                    data={"href": "https://acme.test/team/invite", "width": 1280, "height": 720},
                    timestamp=1_795_000_013_000.5,
                )
            ],
        ),
    ),
    ("consent-view", Consent(session="sess-Q2x8mN4pR7sT1vW3", what="view", granted=True)),
    (
        "remote-done",
        RemoteDone(session="sess-Q2x8mN4pR7sT1vW3", id=3, ok=False, reason="private"),
    ),
    (
        "cobrowse-ask-control",
        Cobrowse(
            session="sess-Q2x8mN4pR7sT1vW3",
            agents=["Ada Agent"],
            ask="control",
            asker="Ada Agent",
            answer_within_ms=30_000,
            record=True,
        ),
    ),
    (
        "remote-fill",
        Remote(
            session="sess-Q2x8mN4pR7sT1vW3",
            id=4,
            action="fill",
            node=61,
            page=1,
            value="Linus",
            name="Ada Agent",
        ),
    ),
    ("rating", Rating(cseq=21, at=1_795_000_010_000, session="sess-Q2x8mN4pR7sT1vW3", score=4)),
    (
        "offers",
        Offers(
            req=7,
            walkthroughs=[
                Offer(walkthrough="invite-teammate", title="Invite a teammate", version=2)
            ],
            resume="run-Zq3xK8mN4pR7sT1v",
        ),
    ),
    ("help-with-question", Help(req=10, question="How do I export my invoices?")),
    ("help-person", Help(req=11, person=True)),
    (
        "help-answer",
        HelpAnswer(
            req=10,
            session="sess-Q2x8mN4pR7sT1vW3",
            offer="walkthrough",
            persona={"id": "guide", "name": "Robin", "avatar": "🧭"},
            text="I can show you how to **Invite a teammate**.",
            walkthrough="invite-teammate",
            title="Invite a teammate",
            faq=[
                {
                    "id": "invite",
                    "question": "How do I invite a colleague?",
                    "answer": "Open **Team**.",
                }
            ],
        ),
    ),
    (
        "run",
        RunMessage(
            req=8,
            run="run-Zq3xK8mN4pR7sT1v",
            walkthrough="invite-teammate",
            version=2,
            title="Invite a teammate",
            step="open-form",
            status="active",
            steps=[
                {
                    "id": "open-form",
                    "text": "Click **Invite**.",
                    "action": {"kind": "click"},
                    "timeout_ms": 10000,
                }
            ],
        ),
    ),
]


def build() -> list[dict[str, str]]:
    return [
        {"name": name, "kind": kind_of(message), "hex": encode(message).hex()}
        for name, message in VECTORS
    ]


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    FILE.write_text(render(), encoding="utf-8")
    print(f"wrote {len(VECTORS)} vectors to {FILE}")
