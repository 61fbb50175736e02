"""Server settings: environment variables (``TANDEM_*``), overridden by command-line flags.

Every setting is documented in ``docs/configuration.md``; a test keeps the two in step.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    host: str = field(default="127.0.0.1", metadata={"env": "TANDEM_HOST"})
    port: int = field(default=8000, metadata={"env": "TANDEM_PORT"})
    store_url: str = field(default="sqlite:///var/tandem.db", metadata={"env": "TANDEM_STORE_URL"})
    broker_url: str = field(default="memory://", metadata={"env": "TANDEM_BROKER_URL"})
    secret: str | None = field(default=None, metadata={"env": "TANDEM_SECRET"})
    content_dir: Path = field(default=Path("walkthroughs"), metadata={"env": "TANDEM_CONTENT_DIR"})
    client_dist: Path = field(
        default=REPO_ROOT / "client_js" / "dist", metadata={"env": "TANDEM_CLIENT_DIST"}
    )
    public_url: str | None = field(default=None, metadata={"env": "TANDEM_PUBLIC_URL"})
    admin_token: str | None = field(default=None, metadata={"env": "TANDEM_ADMIN_TOKEN"})
    log_level: str = field(default="info", metadata={"env": "TANDEM_LOG_LEVEL"})
    log_format: str = field(default="text", metadata={"env": "TANDEM_LOG_FORMAT"})
    smtp_host: str | None = field(default=None, metadata={"env": "TANDEM_SMTP_HOST"})
    smtp_port: int = field(default=587, metadata={"env": "TANDEM_SMTP_PORT"})
    smtp_tls: str = field(default="starttls", metadata={"env": "TANDEM_SMTP_TLS"})
    smtp_user: str | None = field(default=None, metadata={"env": "TANDEM_SMTP_USER"})
    smtp_password: str | None = field(default=None, metadata={"env": "TANDEM_SMTP_PASSWORD"})
    smtp_from: str = field(default="tandem@localhost", metadata={"env": "TANDEM_SMTP_FROM"})

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read ``TANDEM_*`` variables, then apply non-None ``overrides`` (from flags)."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = f.metadata["env"]
            raw = env.get(name)
            if raw is None or raw == "":
                continue
            values[f.name] = _convert(f.name, name, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @property
    def base_url(self) -> str:
        """The URL browsers reach this server at."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def client_bundle(self) -> Path:
        return self.client_dist / "tandem.js"


def env_names() -> list[str]:
    """Every environment variable the server reads."""
    return [f.metadata["env"] for f in fields(Settings)]


def _convert(attr: str, env_name: str, raw: str) -> Any:
    if attr == "log_format":
        if raw not in ("text", "json"):
            raise SettingsError(f"{env_name} is text or json, not {raw!r}")
        return raw
    if attr == "smtp_tls":
        if raw not in ("starttls", "tls", "none"):
            raise SettingsError(f"{env_name} is starttls, tls or none, not {raw!r}")
        return raw
    if attr in ("port", "smtp_port"):
        try:
            port = int(raw)
        except ValueError:
            raise SettingsError(f"{env_name} must be a port number, not {raw!r}") from None
        if not 0 < port < 65536:
            raise SettingsError(f"{env_name} must be between 1 and 65535, not {port}")
        return port
    if attr in ("content_dir", "client_dist"):
        return Path(raw)
    return raw
