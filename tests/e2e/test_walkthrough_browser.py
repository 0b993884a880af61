"""Issue 15's walkthrough in a real headless Chromium, in each language of the page's 中文/EN switch: a manager
reads a card (names, durations, one language), is asked for a reason before rejecting, approves from /pending
and the list stays a list; the requester sees no button for others; a stranger gets what an unknown id gets;
then at phone width the controls read in the reader's language, nothing scrolls sideways and a bad fault value
is refused in the reader's words. Skips as test_playground_browser.py does (no chromium or playwright).

Approvals are fresh submissions through the playground's API, people found by role: no sample ids."""

from __future__ import annotations

import re
from typing import Any

import pytest

import cards
from tests.e2e.test_playground_browser import TIMEOUT_MS
from tests.e2e.walkthrough import LOCALES, name_of, other, submission, user_with_role

PHONE = {"width": 390, "height": 844}
PAGE_WORDS = {"zh_cn": {"send": "发送", "submit_new": "收到一条新提交", "lang": "EN"},
              "en_us": {"send": "Send", "submit_new": "New submission arrives", "lang": "中文"}}


class Walk:
    """One browser page on the playground, read in `locale`."""

    def __init__(self, browser: Any, demo: Any, locale: str, viewport: dict[str, int], user: str) -> None:
        mobile = viewport["width"] < 500
        self.context = browser.new_context(viewport=viewport, is_mobile=mobile, has_touch=mobile)
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.errors: list[str] = []
        self.page.on("pageerror", lambda err: self.errors.append(str(err)))
        self.page.goto(demo.playground_url + f"#user={user}&chat=p2p")
        self.page.wait_for_selector("body[data-ready='1']")
        if self.page.locator("#lang").text_content() != PAGE_WORDS[locale]["lang"]:
            self.page.click("#lang")
        self.expect = pytest.importorskip("playwright.sync_api").expect
        self.expect(self.page.locator("#lang")).to_have_text(PAGE_WORDS[locale]["lang"])
        self.locale = locale

    def as_user(self, key: str) -> None:
        self.page.click(f"[data-user='{key}']")
        self.expect(self.page.locator(f"[data-user='{key}'][aria-checked='true']")).to_have_count(1)

    def say(self, text: str) -> Any:
        before = self.page.locator(".msg-bot").count()
        self.page.fill("#composer-input", text)
        self.page.press("#composer-input", "Enter")
        self.page.locator(".msg-bot").nth(before).wait_for()
        card = self.page.locator(".msg-bot").nth(before)
        card.locator(".fc-card").wait_for()
        return card

    def text(self, card: Any) -> str:
        return card.locator(".fc-card").inner_text()

    def close(self) -> None:
        self.context.close()


def _labels_of(locale: str) -> list[str]:
    return [cards.text(k, locale) for k in ("label.requester", "label.submitted", "label.status", "button.approve")]


@pytest.mark.parametrize("locale", LOCALES)
def test_walkthrough_as_manager_requester_and_stranger(browser, demo, client, locale):
    employee = user_with_role(client, "Employee")
    stranger = user_with_role(client, "Stranger")
    code, manager = submission(client, "native_leave", employee)
    listed_code, _ = submission(client, "native_remedy", employee)
    walk = Walk(browser, demo, locale, {"width": 1440, "height": 900}, manager["key"])
    page, expect = walk.page, walk.expect
    try:
        card = walk.say(f"/approval {code}")
        text = walk.text(card)
        assert name_of(employee, locale) in text and "ou_" not in text and "od-" not in text
        for label in _labels_of(locale):
            assert label in text
        for label in _labels_of(other(locale)):
            assert label not in text  # one language per card
        assert {"zh_cn": "1 天", "en_us": "1 day"}[locale] in text
        expect(card.locator("button[data-action='revoke']")).to_have_count(0)

        # reject needs a reason: asked for in the reader's language, nothing sent
        card.locator("button[data-action='reject']").click()
        if page.locator("#modal").is_visible():
            page.click("#modal-ok")
        expect(page.locator(".toast[data-type='warning']")).to_contain_text(
            cards.text("refusal.reason_required", locale))
        assert demo.state.action_calls() == []
        reason = {"zh_cn": "与排班冲突", "en_us": "Clashes with the rota"}[locale]
        card.locator("input[data-name='reason']").fill(reason)
        card.locator("button[data-action='reject']").click()
        expect(page.locator("#modal-title")).to_have_text(cards.text("confirm.reject.title", locale))
        page.click("#modal-ok")
        card.locator(".fc-card[data-template='red']").wait_for()
        expect(card.locator(".fc-body")).to_contain_text(reason)
        assert demo.state.action_calls()[-1].json["comment"] == reason

        # /pending: approving one item keeps the list, that item done
        listed = walk.say("/pending")
        title = cards.text("title.pending", locale)
        expect(listed.locator(".fc-header .fc-title")).to_have_text(title)
        assert name_of(employee, other(locale)) not in walk.text(listed) or employee["name"] == employee["en_name"]
        approvals = listed.locator("button[data-action='approve']")
        count = approvals.count()
        assert count >= 1
        message_id = listed.get_attribute("data-message-id")
        button = listed.locator(f"button[data-action='approve'][data-approval-id='{listed_code}']")
        (button if button.count() else approvals.first).click()
        if page.locator("#modal").is_visible():
            page.click("#modal-ok")
        expect(page.locator(".toast[data-type='success']")).to_be_visible()
        again = page.locator(f".msg[data-message-id='{message_id}']")
        expect(again.locator(".fc-header .fc-title")).to_have_text(title)
        expect(again.locator("button[data-action='approve']")).to_have_count(count - 1 if count > 1 else 0)

        # the requester: their own request, nothing for others to do
        walk.as_user(employee["key"])
        own = walk.say(f"/approval {code}")
        expect(own.locator("button[data-action]")).to_have_count(0)

        # the stranger: the answer an unknown id gets, no card, no buttons
        walk.as_user(stranger["key"])
        refused = walk.say(f"/approve {code}")
        expect(refused.locator("button[data-action]")).to_have_count(0)
        unknown = walk.say("/approve 00000000-0000-4000-8000-000000000000")
        assert walk.text(refused).replace(code, "<id>") == walk.text(unknown).replace(
            "00000000-0000-4000-8000-000000000000", "<id>")
        assert name_of(employee, locale) not in walk.text(refused)
        assert walk.errors == []
    finally:
        walk.close()


@pytest.mark.parametrize("locale", LOCALES)
def test_at_phone_width_the_controls_read_in_the_readers_language(browser, demo, client, locale, tmp_path):
    employee = user_with_role(client, "Employee")
    code, manager = submission(client, "native_leave", employee)
    walk = Walk(browser, demo, locale, PHONE, manager["key"])
    page, expect = walk.page, walk.expect
    try:
        expect(page.locator("#send")).to_have_text(PAGE_WORDS[locale]["send"])
        expect(page.locator("#submit-new")).to_have_text(PAGE_WORDS[locale]["submit_new"])
        expect(page.locator("#chat-subtitle")).to_contain_text(name_of(manager, locale))
        no_faults = {"zh_cn": "无故障", "en_us": "No faults"}[locale]
        expect(page.locator("#faults")).to_contain_text(no_faults)
        signed = {"zh_cn": "每个事件都已签名", "en_us": "every event signed"}[locale]
        expect(page.locator("#bot-line")).to_contain_text(signed)
        options = page.locator("#samples select option").first.text_content()
        assert bool(re.search(r"[\u4e00-\u9fff]", options or "")) == (locale == "zh_cn")  # "more samples…"
        walk.say(f"/approval {code}")
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= PHONE["width"], overflow  # one column, nothing wider than the phone
        # nothing past the screen's edge but inside a strip that scrolls on its own (the people, the chips)
        wide = page.evaluate("""w => {
            const clips = p => ['auto', 'scroll', 'hidden'].includes(getComputedStyle(p).overflowX);
            const scrolls = n => { for (let p = n.parentElement; p; p = p.parentElement) if (clips(p)) return true;
                                   return false; };
            return [...document.querySelectorAll('body *')].filter(n => !n.closest('[hidden]'))
                .filter(n => n.getBoundingClientRect().right > w + 1 && !scrolls(n))
                .map(n => n.id || n.className).slice(0, 5); }""", PHONE["width"])
        page.screenshot(path=str(tmp_path / f"phone-{locale}.png"), full_page=True)
        assert wide == []

        page.fill("#fault-status", "99999")
        page.click("#fault-add")
        said = {"zh_cn": "必须在 400 到 599 之间", "en_us": "must be between 400 and 599"}[locale]
        expect(page.locator("#fault-error")).to_contain_text(said)
        page.fill("#fault-status", "")
        page.fill("#fault-times", "0")
        page.fill("#fault-code", "1390001")
        page.click("#fault-add")
        expect(page.locator("#fault-error")).not_to_have_text("")
        assert client.get("faults")[1]["faults"] == []  # nothing injected from a refused value
        assert walk.errors == []
    finally:
        walk.close()
