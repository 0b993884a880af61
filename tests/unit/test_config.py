"""Configuration: one clear line for every bad value, secrets never shown."""

import re
from pathlib import Path

import pytest

from bot.config import ConfigError, Secret, load_config
from tests.cli import run_cli

GOOD = {
    "FEISHU_APP_ID": "cli_a1",
    "FEISHU_APP_SECRET": "s3cr3t-app",
    "FEISHU_VERIFICATION_TOKEN": "vt-canary",
    "FEISHU_ENCRYPT_KEY": "ek-canary",
}


def test_defaults():
    config = load_config(GOOD)
    assert config.base_url == "https://open.feishu.cn"
    assert config.locale == "zh_cn"
    assert config.max_clock_skew_s == 300
    assert config.attendance_id_field == "attendance_approval_id"
    assert config.database_url.startswith("sqlite:///")
    assert config.admins == frozenset()


def test_defaults_of_the_deployment_variables():
    config = load_config(GOOD)
    assert (config.host, config.port, config.health_port) == ("0.0.0.0", 8000, 8001)
    assert (config.web_concurrency, config.threads, config.worker_timeout_s) == (2, 32, 20)
    assert config.approval_codes == () and config.attendance_lookback_days == 30
    assert config.log_level == "info" and not config.metrics_token and config.metrics_dir == ""


def test_deployment_variables(tmp_path):
    config = load_config({**GOOD, "HOST": "127.0.0.1", "PORT": "9000", "BOT_HEALTH_PORT": "9001",
                          "WEB_CONCURRENCY": "4", "BOT_THREADS": "8", "BOT_WORKER_TIMEOUT_S": "30",
                          "LOG_LEVEL": "WARNING", "BOT_ATTENDANCE_LOOKBACK_DAYS": "14",
                          "BOT_METRICS_TOKEN": "m" * 24, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
                          "BOT_APPROVAL_CODES": " 7c468a54-8745-2245-9675-08b7c63e7a85,7C468A54-8745-2245-"
                                                "9675-08B7C63E7A85, 6A1B3C5D-7E8F-4A0B-9C1D-2E3F4A5B6C01"})
    assert (config.host, config.port, config.health_port, config.web_concurrency, config.threads) == \
        ("127.0.0.1", 9000, 9001, 4, 8)
    assert config.log_level == "warning" and config.attendance_lookback_days == 14
    assert config.approval_codes == ("7C468A54-8745-2245-9675-08B7C63E7A85", "6A1B3C5D-7E8F-4A0B-9C1D-2E3F4A5B6C01")
    assert config.metrics_token.reveal() == "m" * 24 and "m" * 24 not in repr(config)


def test_every_problem_is_listed_one_line_each():
    """`serve` used to crash on WEB_CONCURRENCY=abc with a traceback, and check-config named only one problem."""
    with pytest.raises(ConfigError) as info:
        load_config({"FEISHU_APP_ID": "cli_a1", "FEISHU_VERIFICATION_TOKEN": "vt", "FEISHU_ENCRYPT_KEY": "ek",
                     "WEB_CONCURRENCY": "abc", "PORT": "99999", "BOT_THREADS": "0", "BOT_LOCALE": "fr"})
    problems = info.value.problems
    assert [p.split("=")[0].split(" ")[0] for p in problems] == [
        "FEISHU_APP_SECRET", "BOT_LOCALE", "PORT", "WEB_CONCURRENCY", "BOT_THREADS"]
    assert str(info.value) == "\n".join(problems)
    assert all("\n" not in p for p in problems)


def test_all_variables():
    config = load_config({**GOOD, "FEISHU_BASE_URL": "http://127.0.0.1:8089", "BOT_ADMINS": "ou_a, u_b",
                          "DATABASE_URL": "postgresql://bot@db/bot", "BOT_LOCALE": "en_us",
                          "BOT_MAX_CLOCK_SKEW_S": "60", "BOT_ATTENDANCE_ID_FIELD": "att_id"})
    assert config.admins == {"ou_a", "u_b"}
    assert config.locale == "en_us" and config.max_clock_skew_s == 60 and config.attendance_id_field == "att_id"


@pytest.mark.parametrize(
    "change,names",
    [
        ({"FEISHU_APP_ID": ""}, "FEISHU_APP_ID"),
        ({"FEISHU_APP_SECRET": " "}, "FEISHU_APP_SECRET"),
        ({"FEISHU_ENCRYPT_KEY": ""}, "FEISHU_ENCRYPT_KEY"),
        ({"FEISHU_VERIFICATION_TOKEN": ""}, "FEISHU_VERIFICATION_TOKEN"),
        ({"BOT_MAX_CLOCK_SKEW_S": "0"}, "BOT_MAX_CLOCK_SKEW_S"),
        ({"BOT_MAX_CLOCK_SKEW_S": "-5"}, "BOT_MAX_CLOCK_SKEW_S"),
        ({"BOT_MAX_CLOCK_SKEW_S": "five"}, "BOT_MAX_CLOCK_SKEW_S"),
        ({"BOT_MAX_CLOCK_SKEW_S": "1_000"}, "BOT_MAX_CLOCK_SKEW_S"),
        ({"BOT_LOCALE": "fr"}, "BOT_LOCALE"),
        ({"FEISHU_BASE_URL": "http://open.feishu.cn"}, "FEISHU_BASE_URL"),
        ({"FEISHU_BASE_URL": "https://open.feishu.cn/open-apis"}, "FEISHU_BASE_URL"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"BOT_ADMINS": "ou_a,<script>"}, "BOT_ADMINS"),
        ({"BOT_INSECURE_DEMO": "maybe"}, "BOT_INSECURE_DEMO"),
        ({"WEB_CONCURRENCY": "abc"}, "WEB_CONCURRENCY"),
        ({"WEB_CONCURRENCY": "0"}, "WEB_CONCURRENCY"),
        ({"PORT": "99999"}, "PORT"),
        ({"PORT": "http"}, "PORT"),
        ({"BOT_THREADS": "0"}, "BOT_THREADS"),
        ({"BOT_THREADS": "1000"}, "BOT_THREADS"),
        ({"BOT_HEALTH_PORT": "70000"}, "BOT_HEALTH_PORT"),
        ({"BOT_WORKER_TIMEOUT_S": "3"}, "BOT_WORKER_TIMEOUT_S"),
        ({"BOT_ATTENDANCE_LOOKBACK_DAYS": "0"}, "BOT_ATTENDANCE_LOOKBACK_DAYS"),
        ({"BOT_ATTENDANCE_LOOKBACK_DAYS": "1y"}, "BOT_ATTENDANCE_LOOKBACK_DAYS"),
        ({"BOT_APPROVAL_CODES": "7C468A54-8745-2245-9675-08B7C63E7A85,leave"}, "BOT_APPROVAL_CODES"),
        ({"BOT_METRICS_TOKEN": "short"}, "BOT_METRICS_TOKEN"),
        ({"BOT_METRICS_TOKEN": "has a space in it, sixteen+"}, "BOT_METRICS_TOKEN"),
        ({"LOG_LEVEL": "verbose"}, "LOG_LEVEL"),
        ({"HOST": "bad host"}, "HOST"),
        ({"PROMETHEUS_MULTIPROC_DIR": "/nonexistent/metrics"}, "PROMETHEUS_MULTIPROC_DIR"),
    ],
)
def test_bad_values_name_the_variable(change, names):
    with pytest.raises(ConfigError) as info:
        load_config({**GOOD, **change})
    message = str(info.value)
    assert message.startswith(names) and "\n" not in message
    assert "s3cr3t-app" not in message


def test_insecure_demo_may_omit_keys():
    config = load_config({"FEISHU_APP_ID": "cli", "FEISHU_APP_SECRET": "s", "BOT_INSECURE_DEMO": "1",
                          "FEISHU_VERIFICATION_TOKEN": "t"})
    assert config.insecure_demo and not config.encrypt_key
    with pytest.raises(ConfigError, match="FEISHU_VERIFICATION_TOKEN"):
        load_config({"FEISHU_APP_ID": "cli", "FEISHU_APP_SECRET": "s", "BOT_INSECURE_DEMO": "1"})


def test_secrets_never_show():
    config = load_config(GOOD)
    text = repr(config) + str(config)
    for secret in ("s3cr3t-app", "vt-canary", "ek-canary"):
        assert secret not in text
    assert Secret("x").reveal() == "x"


def _check_config(tmp_path, env, *args):
    return run_cli(["check-config", *args], {"PATH": "/usr/bin:/bin", **env}, tmp_path)


def test_check_config_lists_every_problem_one_line_each(tmp_path):
    result = _check_config(tmp_path, {"FEISHU_APP_ID": "cli_a1", "WEB_CONCURRENCY": "abc", "PORT": "99999"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert [line.split(":")[1].split()[0].split("=")[0] for line in lines[:-1]] == [
        "FEISHU_APP_SECRET", "FEISHU_VERIFICATION_TOKEN", "FEISHU_ENCRYPT_KEY", "PORT", "WEB_CONCURRENCY"]
    assert lines[-1] == "approval-bot: configuration error: 5 problems"
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_check_config_reads_dotenv(tmp_path):
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in GOOD.items()))
    result = run_cli(["check-config"], {"PATH": "/usr/bin:/bin"}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "configuration OK" in result.stdout
    assert "ek-canary" not in result.stdout


class _Recording(dict):
    """An environment that remembers every variable asked for."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.asked = set()

    def get(self, key, default=None):
        self.asked.add(key)
        return super().get(key, default)


def _example():
    text = (Path(__file__).resolve().parents[2] / ".env.example").read_text(encoding="utf-8")
    pairs = {}
    for line in text.splitlines():
        body = line[1:] if line.startswith("#") and "=" in line and " " not in line.split("=")[0] else line
        if body and not body.startswith("#") and "=" in body:
            name, _, value = body.partition("=")
            pairs[name.strip()] = value.strip()
    return pairs


def test_env_example_lists_every_variable_with_its_real_default():
    example = _example()
    env = _Recording(GOOD)
    load_config(env)
    gunicorn = (Path(__file__).resolve().parents[2] / "bot" / "gunicorn_conf.py").read_text(encoding="utf-8")
    read_by_gunicorn = set(re.findall(r"environ\.get\(\"([A-Z_]+)\"", gunicorn))
    assert env.asked | read_by_gunicorn <= set(example), (env.asked | read_by_gunicorn) - set(example)
    # the commented defaults are the defaults: setting them all changes nothing
    defaults = {k: v for k, v in example.items() if v and not k.startswith("FEISHU_APP")}
    assert load_config({**GOOD, **defaults, "FEISHU_VERIFICATION_TOKEN": GOOD["FEISHU_VERIFICATION_TOKEN"],
                        "FEISHU_ENCRYPT_KEY": GOOD["FEISHU_ENCRYPT_KEY"]}) == load_config(GOOD)
