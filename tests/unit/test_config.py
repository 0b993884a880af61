"""Configuration: one clear line for every bad value, secrets never shown."""

import subprocess
import sys

import pytest

from bot.config import ConfigError, Secret, load_config

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


def test_check_config_prints_one_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "FEISHU_APP_ID": "cli_a1"}
    result = subprocess.run([sys.executable, "-m", "bot.cli", "check-config"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "FEISHU_APP_SECRET is missing" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_config_reads_dotenv(tmp_path):
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in GOOD.items()))
    result = subprocess.run([sys.executable, "-m", "bot.cli", "check-config"], env={"PATH": "/usr/bin:/bin"},
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "configuration OK" in result.stdout
    assert "ek-canary" not in result.stdout
