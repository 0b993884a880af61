"""Configuration: read once from the environment (and `.env`), validated into one frozen object.

A missing or malformed value raises `ConfigError` with one line naming the variable and what is expected.
Secrets are wrapped in `Secret`, whose repr and str never show the value.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LOCALES = ("zh_cn", "en_us")
DEFAULT_BASE_URL = "https://open.feishu.cn"
DEFAULT_DATABASE_URL = "sqlite:///approval-bot.sqlite3"
MAX_SKEW_LIMIT_S = 3600


class ConfigError(ValueError):
    """One line that names the variable and what is expected."""


class Secret:
    """A string that never shows itself in logs, reprs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))


@dataclass(frozen=True, slots=True)
class Config:
    app_id: str
    app_secret: Secret
    verification_token: Secret
    encrypt_key: Secret
    base_url: str = DEFAULT_BASE_URL
    admins: frozenset[str] = frozenset()
    database_url: str = DEFAULT_DATABASE_URL
    locale: str = "zh_cn"
    max_clock_skew_s: int = 300
    attendance_id_field: str = "attendance_approval_id"
    timezone: str = "Asia/Shanghai"
    api_timeout_s: float = 2.0
    answer_budget_s: float = 2.5
    insecure_demo: bool = False
    digest_time: str = ""  # "HH:MM" in `timezone`; empty = no daily digest
    health_port: int = 8001  # `approval-bot connect` serves /healthz and /metrics here
    metrics_token: Secret = field(default_factory=lambda: Secret(""))  # when set, /metrics wants it as a Bearer
    extra: Mapping[str, str] = field(default_factory=dict)


_REQUIRED_HELP = {
    "FEISHU_APP_ID": "the App ID from the Feishu developer console (Credentials), e.g. cli_a1b2c3",
    "FEISHU_APP_SECRET": "the App Secret from the Feishu developer console (Credentials)",
    "FEISHU_VERIFICATION_TOKEN": "the Verification Token (Events & Callbacks → Encryption strategy)",
    "FEISHU_ENCRYPT_KEY": "the Encrypt Key (Events & Callbacks → Encryption strategy); "
    "set BOT_INSECURE_DEMO=1 only for a loopback demo",
}


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is missing: expected {_REQUIRED_HELP[name]}")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name}={raw!r} is not a switch: expected 1 or 0")


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not re.fullmatch(r"[0-9]{1,9}|-[0-9]{1,9}", raw):
        raise ConfigError(f"{name}={raw!r} is not a whole number: expected seconds between {low} and {high}")
    value = int(raw)
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is out of range: expected seconds between {low} and {high}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not re.fullmatch(r"[0-9]{1,4}(\.[0-9]{1,3})?", raw):
        raise ConfigError(f"{name}={raw!r} is not a number of seconds: expected {low} to {high}")
    value = float(raw)
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is out of range: expected {low} to {high} seconds")
    return value


def _is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _base_url(env: Mapping[str, str]) -> str:
    raw = env.get("FEISHU_BASE_URL", "").strip() or DEFAULT_BASE_URL
    parts = urlsplit(raw)
    ok_scheme = parts.scheme == "https" or (parts.scheme == "http" and _is_loopback_host(parts.hostname or ""))
    if not ok_scheme or not parts.hostname or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(
            f"FEISHU_BASE_URL={raw!r} is not an origin: expected https://open.feishu.cn, "
            "https://open.larksuite.com, or http://127.0.0.1:PORT for the sandbox"
        )
    return raw.rstrip("/")


def _admins(env: Mapping[str, str]) -> frozenset[str]:
    raw = env.get("BOT_ADMINS", "")
    ids = [part.strip() for part in raw.split(",") if part.strip()]
    for item in ids:
        if not re.fullmatch(r"[A-Za-z0-9_\-]{1,64}", item):
            raise ConfigError(f"BOT_ADMINS has {item!r}: expected comma-separated open_ids (ou_…) or user_ids")
    return frozenset(ids)


def _database_url(env: Mapping[str, str]) -> str:
    raw = env.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL
    if not re.match(r"^(sqlite|postgresql|postgres)(\+\w+)?://", raw):
        raise ConfigError(
            "DATABASE_URL is not a supported database: expected sqlite:///path.sqlite3 or postgresql://user@host/db"
        )
    return raw


def _locale(env: Mapping[str, str]) -> str:
    raw = env.get("BOT_LOCALE", "").strip().lower().replace("-", "_") or "zh_cn"
    if raw not in LOCALES:
        raise ConfigError(f"BOT_LOCALE={raw!r} is not supported: expected one of {', '.join(LOCALES)}")
    return raw


def _timezone(env: Mapping[str, str]) -> str:
    raw = env.get("BOT_TIMEZONE", "").strip() or "Asia/Shanghai"
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"BOT_TIMEZONE={raw!r} is not a time zone: expected an IANA name like Asia/Shanghai") \
            from None
    return raw


def _digest_time(env: Mapping[str, str]) -> str:
    raw = env.get("BOT_DIGEST_TIME", "").strip()
    if raw and not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", raw):
        raise ConfigError(f"BOT_DIGEST_TIME={raw!r} is not a time: expected HH:MM (24 h), or empty for no digest")
    return raw


def load_config(environ: Mapping[str, str], *, long_connection: bool = False) -> Config:
    """Validate `environ` into a Config, or raise ConfigError with one line.

    The long connection (`approval-bot connect`) needs neither the verification token nor the encrypt key:
    Feishu authenticates the connection itself and sends plaintext over it."""
    insecure = _flag(environ, "BOT_INSECURE_DEMO")
    app_id = _required(environ, "FEISHU_APP_ID")
    app_secret = _required(environ, "FEISHU_APP_SECRET")
    # Demo mode may skip the encrypt key (plaintext, unsigned events), never the token: without both,
    # anyone who can reach the port could post events.
    if long_connection:
        token = environ.get("FEISHU_VERIFICATION_TOKEN", "").strip()
        key = environ.get("FEISHU_ENCRYPT_KEY", "").strip()
    else:
        token = _required(environ, "FEISHU_VERIFICATION_TOKEN")
        key = environ.get("FEISHU_ENCRYPT_KEY", "").strip() if insecure else _required(environ, "FEISHU_ENCRYPT_KEY")
    field_id = environ.get("BOT_ATTENDANCE_ID_FIELD", "").strip() or "attendance_approval_id"
    if not re.fullmatch(r"[A-Za-z0-9_\-]{1,64}", field_id):
        raise ConfigError(
            f"BOT_ATTENDANCE_ID_FIELD={field_id!r}: expected a widget custom_id (letters, digits, _ or -)"
        )
    api_timeout = _float(environ, "FEISHU_TIMEOUT_S", 2.0, 0.1, 30.0)
    return Config(
        app_id=app_id,
        app_secret=Secret(app_secret),
        verification_token=Secret(token),
        encrypt_key=Secret(key),
        base_url=_base_url(environ),
        admins=_admins(environ),
        database_url=_database_url(environ),
        locale=_locale(environ),
        max_clock_skew_s=_int(environ, "BOT_MAX_CLOCK_SKEW_S", 300, 1, MAX_SKEW_LIMIT_S),
        attendance_id_field=field_id,
        timezone=_timezone(environ),
        api_timeout_s=api_timeout,
        answer_budget_s=_float(environ, "BOT_ANSWER_BUDGET_S", 2.5, 0.2, 2.9),
        insecure_demo=insecure,
        digest_time=_digest_time(environ),
        health_port=_int(environ, "BOT_HEALTH_PORT", 8001, 1, 65535),
        metrics_token=Secret(environ.get("BOT_METRICS_TOKEN", "").strip()),
    )


def environment(dotenv_path: str | os.PathLike[str] = ".env") -> dict[str, str]:
    """The process environment over the `.env` file (the environment wins)."""
    merged: dict[str, str] = {}
    path = Path(dotenv_path)
    if path.is_file():
        from dotenv import dotenv_values

        merged.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    merged.update(os.environ)
    return merged
