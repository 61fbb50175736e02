"""Site and process configuration: ``walkthroughs/<site>/site.yaml`` and ``processes.yaml``.

A *site* is one customer web site: its key, the origins allowed to embed the
client, and the ids of the keys that sign visitor tokens (the secrets
themselves come from the environment, never from these files). A *process* is
a user-actionable task on the site: the URL patterns where it happens, the
condition that says the visitor reached its goal, and the effectiveness
threshold below which a support session for it counts as a failure.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from server.knowledge.common import Slug, Strict
from server.knowledge.support_content import (
    FaqEntry,
    FaqFile,
    Persona,
    PersonaeFile,
    Role,
    RolesFile,
    Skill,
    SkillsFile,
)
from server.knowledge.urls import UrlPatternSpec, compile_pattern
from server.knowledge.walkthrough import WalkthroughFile
from server.support.handoff import HandoffPacket


def _check_origin(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("an origin is scheme://host[:port], with scheme http or https")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError("an origin has no path, query, fragment or credentials")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("the port is not a number between 0 and 65535") from None
    host = parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


Origin = Annotated[str, AfterValidator(_check_origin)]


class SigningKey(Strict):
    """A key the site's backend signs visitor tokens with; the secret is read from ``secret_env``."""

    kid: str = Field(
        pattern=r"^[A-Za-z0-9._-]{1,64}$", description="key id, sent in the token header"
    )
    secret_env: str = Field(
        pattern=r"^[A-Z_][A-Z0-9_]*$",
        description="name of the environment variable that holds the secret",
    )


SignalName = Literal[
    "rage_click", "dead_click", "error_click", "quick_back", "step_retried", "step_reversed",
    "slow_step", "repeated_help", "asked_for_human",
]  # fmt: skip


class FrustrationSettings(Strict):
    """The frustration indicator's rules (docs/support.md); every default is the published one."""

    threshold: float = Field(default=8.0, gt=0, description="the level that refers the visitor")
    half_life_ms: int = Field(
        default=120_000, ge=1000, description="a signal's weight halves in this time"
    )
    rage_clicks: int = Field(default=3, ge=2, le=20)
    rage_window_ms: int = Field(default=1000, ge=100, le=10_000)
    rage_radius_px: float = Field(default=30.0, gt=0, le=500)
    dead_click_window_ms: int = Field(default=1000, ge=100, le=10_000)
    error_click_window_ms: int = Field(default=1000, ge=100, le=10_000)
    quick_back_ms: int = Field(default=5000, ge=500, le=60_000)
    slow_step_factor: float = Field(default=3.0, gt=1, le=20)
    weights: dict[SignalName, Annotated[float, Field(ge=0, le=100)]] = Field(
        default_factory=dict, description="signal → weight, replacing the published default"
    )
    cooldown_ms: int = Field(
        default=600_000, ge=0, description="after a referral, how long before another one"
    )


class HistorySettings(Strict):
    """How a help request reads the visitor's history (docs/support.md); the published defaults."""

    abandoned_after_ms: int = Field(
        default=1_800_000, ge=60_000, description="a run without progress this long is abandoned"
    )
    repeated_failures: int = Field(
        default=2, ge=1, le=10, description="this many failures at one place: a person at once"
    )
    failure_window_ms: int = Field(
        default=30 * 86_400_000, ge=3_600_000, description="failures older than this are forgotten"
    )


EffectivenessComponent = Literal[
    "goal_reached", "visitor_confirmation", "no_return", "low_frustration"
]


class EffectivenessSettings(Strict):
    """How support sessions are scored (docs/support.md); the published defaults."""

    weights: dict[EffectivenessComponent, float] = Field(
        default_factory=dict, description="component → weight, replacing the published default"
    )
    return_window_ms: int = Field(
        default=86_400_000,
        ge=60_000,
        description="asking again at the same place within this counts",
    )
    default_threshold: float = Field(
        default=0.6, ge=0, le=1, description="for sessions at no process (processes set their own)"
    )

    @field_validator("weights")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        if any(w < 0 for w in value.values()):
            raise ValueError("a weight is not negative")
        return value


class WebhookChannel(Strict):
    """Referrals are POSTed here, signed with HMAC-SHA256 (docs/support.md#webhook)."""

    url: str = Field(pattern=r"^https?://", max_length=2000)
    secret_env: str = Field(
        pattern=r"^[A-Z_][A-Z0-9_]*$",
        description="name of the environment variable that holds the signing secret",
    )
    max_attempts: int = Field(default=5, ge=1, le=10)


class EmailChannel(Strict):
    """Referrals are emailed here, with the handoff packet, when no agent is online (the SMTP server is the deployment's: TANDEM_SMTP_*)."""

    to: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$", max_length=254)]] = Field(
        min_length=1
    )


class Channels(Strict):
    """Where referred support sessions go besides the agent console."""

    webhook: WebhookChannel | None = None
    email: EmailChannel | None = None


class CobrowseSettings(Strict):
    """Live agents on the visitor's page: consent before they see it, how long questions wait."""

    ask_before_viewing: bool = Field(
        default=True,
        description="ask the visitor before an agent sees their page (a banner shows either way)",
    )
    answer_within_ms: int = Field(
        default=30_000, ge=5_000, le=300_000,
        description="a consent question not answered within this time counts as declined",
    )  # fmt: skip
    control_for_ms: int = Field(
        default=15 * 60_000, ge=60_000, le=4 * 3600_000,
        description="control granted to an agent lapses after this long without an action",
    )  # fmt: skip


class PrivacySettings(Strict):
    """How long the site's visitors' data is kept."""

    event_retention_days: int | None = Field(
        default=None, ge=1, le=3650,
        description="delete events older than this many days (checked hourly); unset: keep them",
    )  # fmt: skip


class SiteConfig(Strict):
    """``site.yaml``: one customer web site."""

    key: Slug = Field(description="the site key, as in the script tag's data-site")
    name: str = Field(min_length=1, max_length=200)
    allowed_origins: list[Origin] = Field(
        min_length=1,
        description="origins allowed to open WebSockets and call the HTTP API (exact match)",
    )
    signing_keys: list[SigningKey] = Field(default_factory=list)
    strict_identity: bool = Field(
        default=True,
        description="refuse visitors without a verified token (turn off only for demos)",
    )
    frustration: FrustrationSettings = Field(default_factory=FrustrationSettings)
    history: HistorySettings = Field(default_factory=HistorySettings)
    effectiveness: EffectivenessSettings = Field(default_factory=EffectivenessSettings)
    channels: Channels = Field(default_factory=Channels)
    cobrowse: CobrowseSettings = Field(default_factory=CobrowseSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, values: list[str]) -> list[str]:
        if len(set(values)) != len(values):
            raise ValueError("an origin is listed twice")
        return values

    @field_validator("signing_keys")
    @classmethod
    def _unique_kids(cls, values: list[SigningKey]) -> list[SigningKey]:
        kids = [k.kid for k in values]
        if len(set(kids)) != len(kids):
            raise ValueError("two signing keys share a kid")
        return values

    @model_validator(mode="after")
    def _strict_needs_keys(self) -> Self:
        if self.strict_identity and not self.signing_keys:
            raise ValueError("strict_identity needs at least one signing key")
        return self


class GoalCondition(Strict):
    """How Tandem knows the visitor finished the process: exactly one of the three."""

    url: UrlPatternSpec | None = Field(
        default=None, description="a URL pattern the visitor reaches"
    )
    element: str | None = Field(
        default=None, min_length=1, description="a CSS selector that becomes visible"
    )
    event: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9_.:-]{0,63}$",
        description="a named event the site reports with Tandem.track(name)",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: UrlPatternSpec | None) -> UrlPatternSpec | None:
        if value is not None:
            compile_pattern(value)
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        given = [name for name in ("url", "element", "event") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("a goal has exactly one of url, element or event")
        return self


class ProcessConfig(Strict):
    """One user-actionable process on the site."""

    id: Slug
    title: str = Field(min_length=1, max_length=200)
    description: str = ""
    url_patterns: list[UrlPatternSpec] = Field(min_length=1)
    goal: GoalCondition
    effectiveness_threshold: float = Field(
        default=0.6,
        ge=0.0,
        le=1.0,
        description="support sessions scoring below this are recorded as failures",
    )

    @field_validator("url_patterns")
    @classmethod
    def _patterns(cls, values: list[UrlPatternSpec]) -> list[UrlPatternSpec]:
        for value in values:
            compile_pattern(value)
        return values


class ProcessesFile(Strict):
    """``processes.yaml``: the site's processes."""

    processes: list[ProcessConfig] = Field(default_factory=list)

    @field_validator("processes")
    @classmethod
    def _unique_ids(cls, values: list[ProcessConfig]) -> list[ProcessConfig]:
        seen: set[str] = set()
        for process in values:
            if process.id in seen:
                raise ValueError(f"process id {process.id!r} is used twice")
            seen.add(process.id)
        return values


SCHEMAS: dict[str, type[BaseModel]] = {
    "site": SiteConfig,
    "processes": ProcessesFile,
    "walkthrough": WalkthroughFile,
    "personae": PersonaeFile,
    "roles": RolesFile,
    "skills": SkillsFile,
    "faq": FaqFile,
    # Not a content file: what referral channels receive (a webhook's body).
    "handoff": HandoffPacket,
}


def json_schema(name: str) -> dict[str, Any]:
    """The published JSON Schema of a content file kind or of the handoff packet (``tandem schema NAME``)."""
    model = SCHEMAS[name]
    schema = model.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"urn:tandem:schema:{name}"
    return schema


class Site(BaseModel):
    """A site with its processes, as loaded from its content folder."""

    model_config = ConfigDict(frozen=True)

    config: SiteConfig
    processes: tuple[ProcessConfig, ...] = ()
    walkthroughs: tuple[WalkthroughFile, ...] = ()  # in file-name order
    personae: tuple[Persona, ...] = ()  # in the site's order: selection tries them in turn
    roles: tuple[Role, ...] = ()
    skills: tuple[Skill, ...] = ()
    faq: tuple[FaqEntry, ...] = ()

    @property
    def key(self) -> str:
        return self.config.key

    def process(self, process_id: str) -> ProcessConfig | None:
        """The process with this id, if the site has one."""
        return next((p for p in self.processes if p.id == process_id), None)

    def walkthroughs_for(self, process_id: str) -> list[WalkthroughFile]:
        """The walkthroughs of a process, in the site's order."""
        return [w for w in self.walkthroughs if w.process == process_id]
