"""Configuration: read once from the environment (and `.env`), validated into one frozen object.

Every missing or malformed value is reported, one line each naming the variable and what is expected:
`ConfigError.problems` (its str is those lines). Secrets are wrapped in `Secret`, whose repr and str never
show the value. `.env.example` lists every variable with its default.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LOCALES = ("zh_cn", "en_us")
DEFAULT_BASE_URL = "https://open.feishu.cn"
DEFAULT_DATABASE_URL = "sqlite:///approval-bot.sqlite3"
MAX_SKEW_LIMIT_S = 3600
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
# An approval definition code as Feishu shows it (approval v4: a UUID such as 7C468A54-8745-2245-9675-08B7C63E7A85).
_APPROVAL_CODE = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*")
MIN_METRICS_TOKEN = 16


class ConfigError(ValueError):
    """Every problem found, one line each naming the variable and what is expected."""

    def __init__(self, problems: str | Sequence[str]) -> None:
        self.problems: tuple[str, ...] = (problems,) if isinstance(problems, str) else tuple(problems)
        super().__init__("\n".join(self.problems))


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
    settle_window_s: int = 600  # how long the bot keeps looking for an action whose answer was lost
    approval_codes: tuple[str, ...] = ()  # approval definitions whose events the bot subscribes
    attendance_lookback_days: int = 30
    # approval v4 task calls a minute, each endpoint, per process: Feishu's documented limit; only an emulator
    # with another limit (the bench's sandbox) is a reason to change it
    task_calls_per_minute: int = 100
    metrics_token: Secret = field(default_factory=lambda: Secret(""))  # when set, /metrics needs it as Bearer
    health_port: int = 8001  # `approval-bot connect` serves /healthz and /metrics here
    host: str = "0.0.0.0"
    port: int = 8000
    web_concurrency: int = 2  # gunicorn workers
    threads: int = 32  # gunicorn threads per worker
    worker_timeout_s: int = 20
    log_level: str = "info"
    metrics_dir: str = ""  # PROMETHEUS_MULTIPROC_DIR; empty: gunicorn_conf makes a temporary one
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


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int, what: str = "seconds") -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not re.fullmatch(r"[0-9]{1,9}|-[0-9]{1,9}", raw):
        raise ConfigError(f"{name}={raw!r} is not a whole number: expected {what} between {low} and {high}")
    value = int(raw)
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is out of range: expected {what} between {low} and {high}")
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


def _approval_codes(env: Mapping[str, str]) -> tuple[str, ...]:
    codes = [part.strip() for part in env.get("BOT_APPROVAL_CODES", "").split(",") if part.strip()]
    bad = [c for c in codes if not _APPROVAL_CODE.fullmatch(c)]
    if bad:
        raise ConfigError(f"BOT_APPROVAL_CODES has {bad[0][:80]!r}: expected comma-separated approval definition "
                          "codes like 7C468A54-8745-2245-9675-08B7C63E7A85 (in the definition's admin URL)")
    return tuple(dict.fromkeys(c.upper() for c in codes))


def _metrics_token(env: Mapping[str, str]) -> Secret:
    raw = env.get("BOT_METRICS_TOKEN", "").strip()
    if raw and (len(raw) < MIN_METRICS_TOKEN or not re.fullmatch(r"[\x21-\x7e]+", raw)):
        raise ConfigError(f"BOT_METRICS_TOKEN is too weak or malformed: expected at least {MIN_METRICS_TOKEN} "
                          "printable characters without spaces (e.g. from `openssl rand -hex 24`), or unset")
    return Secret(raw)


def _host(env: Mapping[str, str]) -> str:
    raw = env.get("HOST", "").strip() or "0.0.0.0"
    try:
        ipaddress.ip_address(raw)
        return raw
    except ValueError:
        pass
    if not _HOSTNAME.fullmatch(raw):
        raise ConfigError(f"HOST={raw[:80]!r} is not an address: expected an IP such as 0.0.0.0 or 127.0.0.1, "
                          "or a host name")
    return raw


def _metrics_dir(env: Mapping[str, str]) -> str:
    raw = env.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    if raw and not (os.path.isdir(raw) and os.access(raw, os.W_OK)):
        raise ConfigError(f"PROMETHEUS_MULTIPROC_DIR={raw[:200]!r} is not a writable directory: create it, "
                          "or leave it unset for a temporary one")
    return raw


def _log_level(env: Mapping[str, str]) -> str:
    raw = env.get("LOG_LEVEL", "").strip().lower() or "info"
    if raw not in LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL={raw[:40]!r} is not a level: expected one of {', '.join(LOG_LEVELS)}")
    return raw


class _Collect:
    """Runs each field's check and keeps every problem, so one run reports them all."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def __call__(self, check: Callable[..., object], *args: object, default: object = None) -> object:
        try:
            return check(*args)
        except ConfigError as err:
            self.problems.extend(err.problems)
            return default


def load_config(environ: Mapping[str, str], *, long_connection: bool = False) -> Config:
    """Validate `environ` into a Config, or raise ConfigError listing every problem.

    The long connection (`approval-bot connect`) needs neither the verification token nor the encrypt key:
    Feishu authenticates the connection itself and sends plaintext over it."""
    take = _Collect()
    values = _values(environ, take, long_connection)
    budget, timeout = values["answer_budget_s"], values["worker_timeout_s"]
    if isinstance(budget, float) and isinstance(timeout, int) and timeout <= budget + 1:
        take.problems.append(f"BOT_WORKER_TIMEOUT_S={timeout} is too short: expected more than the answer budget "
                             f"(BOT_ANSWER_BUDGET_S={budget}) plus a second")
    if take.problems:
        raise ConfigError(take.problems)
    return Config(**values)  # type: ignore[arg-type]


def _values(environ: Mapping[str, str], take: _Collect, long_connection: bool = False) -> dict[str, object]:
    insecure = bool(take(_flag, environ, "BOT_INSECURE_DEMO", default=False))
    optional = lambda name: environ.get(name, "").strip()  # noqa: E731
    return {
        "app_id": take(_required, environ, "FEISHU_APP_ID"),
        "app_secret": Secret(str(take(_required, environ, "FEISHU_APP_SECRET") or "")),
        # Demo mode may skip the encrypt key (plaintext, unsigned events), never the token: without both,
        # anyone who can reach the port could post events. The long connection needs neither.
        "verification_token": Secret(str((optional("FEISHU_VERIFICATION_TOKEN") if long_connection
                                          else take(_required, environ, "FEISHU_VERIFICATION_TOKEN")) or "")),
        "encrypt_key": Secret(str((optional("FEISHU_ENCRYPT_KEY") if insecure or long_connection
                                   else take(_required, environ, "FEISHU_ENCRYPT_KEY")) or "")),
        "base_url": take(_base_url, environ),
        "admins": take(_admins, environ),
        "database_url": take(_database_url, environ),
        "locale": take(_locale, environ),
        "max_clock_skew_s": take(_int, environ, "BOT_MAX_CLOCK_SKEW_S", 300, 1, MAX_SKEW_LIMIT_S),
        "attendance_id_field": take(_attendance_id_field, environ),
        "timezone": take(_timezone, environ),
        "api_timeout_s": take(_float, environ, "FEISHU_TIMEOUT_S", 2.0, 0.1, 30.0),
        "answer_budget_s": take(_float, environ, "BOT_ANSWER_BUDGET_S", 2.5, 0.2, 2.9),
        "insecure_demo": insecure,
        "digest_time": take(_digest_time, environ),
        "settle_window_s": take(_int, environ, "BOT_SETTLE_WINDOW_S", 600, 60, 86400),
        "approval_codes": take(_approval_codes, environ),
        "attendance_lookback_days": take(_int, environ, "BOT_ATTENDANCE_LOOKBACK_DAYS", 30, 1, 365, "days"),
        "task_calls_per_minute": take(_int, environ, "BOT_TASK_CALLS_PER_MINUTE", 100, 1, 1_000_000, "calls"),
        "metrics_token": take(_metrics_token, environ),
        "health_port": take(_int, environ, "BOT_HEALTH_PORT", 8001, 1, 65535, "a port"),
        "host": take(_host, environ),
        "port": take(_int, environ, "PORT", 8000, 1, 65535, "a port"),
        "web_concurrency": take(_int, environ, "WEB_CONCURRENCY", 2, 1, 64, "gunicorn workers"),
        "threads": take(_int, environ, "BOT_THREADS", 32, 1, 256, "threads per worker"),
        "worker_timeout_s": take(_int, environ, "BOT_WORKER_TIMEOUT_S", 20, 5, 300),
        "log_level": take(_log_level, environ),
        "metrics_dir": take(_metrics_dir, environ),
    }


def _attendance_id_field(env: Mapping[str, str]) -> str:
    field_id = env.get("BOT_ATTENDANCE_ID_FIELD", "").strip() or "attendance_approval_id"
    if not re.fullmatch(r"[A-Za-z0-9_\-]{1,64}", field_id):
        raise ConfigError(
            f"BOT_ATTENDANCE_ID_FIELD={field_id!r}: expected a widget custom_id (letters, digits, _ or -)"
        )
    return field_id


def environment(dotenv_path: str | os.PathLike[str] = ".env") -> dict[str, str]:
    """The process environment over the `.env` file (the environment wins)."""
    merged: dict[str, str] = {}
    path = Path(dotenv_path)
    if path.is_file():
        from dotenv import dotenv_values

        merged.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    merged.update(os.environ)
    return merged
