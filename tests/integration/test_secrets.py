"""Canary secrets never reach logs, answers, metrics, cards or the store (docs/security.md T12)."""

from __future__ import annotations

import base64
import logging
import sqlite3
import urllib.parse

import requests

from bot.app import shutdown
from sandbox.data import INSTANCES
from tests.integration.harness import card_text, start_bot


def forms(secret: str) -> list[str]:
    raw = secret.encode()
    return [secret, base64.b64encode(raw).decode().rstrip("="), raw.hex(), urllib.parse.quote(secret)]


def test_canaries_stay_hidden(sandbox, tmp_path, caplog):
    encrypt_key, token = "canary-ek-7d1f0c", "canary-vt-93ab41"
    caplog.set_level(logging.DEBUG)
    bot = start_bot(sandbox, tmp_path, FEISHU_ENCRYPT_KEY=encrypt_key, FEISHU_VERIFICATION_TOKEN=token)
    app, server, config, sender = bot.app, bot.server, bot.config, bot.sender
    seen: list[str] = []
    try:
        reply = bot.say("manager", f"/approval {INSTANCES['remedy_pending']}")
        click = bot.click("manager", reply, "reject", reason="no badge")
        card_token = click.token
        seen += [card_text(reply["content"]), click.text]
        bad = sender.post({"X-Lark-Signature": "x"}, b"{}")
        seen.append(bad.text)
        seen.append(requests.get(server.url + "/metrics", timeout=5).text)
        seen.append(sender.url_verification(encrypted=True).text)
        seen.append(caplog.text)
    finally:
        server.stop()
        shutdown(app)
    with sqlite3.connect(tmp_path / "bot.sqlite3") as db:
        seen.append("\n".join(str(row) for row in db.iterdump()))
    tenant_tokens = list(sandbox.state.tenant_tokens)
    secrets = [encrypt_key, token, config.app_secret.reveal(), card_token, *tenant_tokens]
    everything = "\n".join(seen)
    for secret in secrets:
        assert secret
        for form in forms(secret):
            assert form not in everything, f"a secret leaked ({secret[:6]}…)"
    assert "no badge" in everything  # the capture did see the flow
