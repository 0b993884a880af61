"""The playground in a real headless Chromium (Debian's, driven by Playwright): what a person sees and clicks.

Skips only when chromium or playwright is missing; CI installs both (.ci/chromium.sh, pip install playwright).
Assertions are on the DOM (data-* attributes the page sets from the real card JSON), never on pixels.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

import cards
from sandbox import data

LOCALE = "zh_cn"
TIMEOUT_MS = 8000
TOKEN_LIKE = re.compile(r"\b(t-g|a-g|c-)[0-9a-f]{12,}")


@pytest.fixture
def page(browser: Any, demo: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    opened.on("pageerror", lambda err: errors.append(str(err)))
    opened.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    opened.errors = errors
    opened.goto(demo.playground_url + "#user=manager&chat=p2p")
    opened.wait_for_selector("body[data-ready='1']")
    try:
        yield opened
    finally:
        context.close()


def say(page: Any, text: str) -> Any:
    """Type a message, press Enter, and return the bot's card that answers it."""
    before = page.locator(".msg-bot").count()
    page.fill("#composer-input", text)
    page.press("#composer-input", "Enter")
    page.locator(".msg-bot").nth(before).wait_for()
    return page.locator(".msg-bot").nth(before)


def wait_template(message: Any, template: str) -> None:
    message.locator(f".fc-card[data-template='{template}']").wait_for()


def test_manager_approves_rejects_with_confirm_and_stranger_is_refused(page, demo, tmp_path):
    expect = pytest.importorskip("playwright.sync_api").expect
    started = time.monotonic()
    assert page.locator("[data-user]").count() == 5
    assert page.locator("[data-user='manager'][aria-checked='true']").count() == 1

    # /approval <id> as the manager: the card, orange, with Approve and Reject
    card = say(page, f"/approval {data.INSTANCES['remedy_pending']}")
    wait_template(card, "orange")
    message_id = card.get_attribute("data-message-id")
    expect(card.locator(".fc-header .fc-title")).to_have_text("补卡申请")
    expect(card.locator(".msg-quote")).to_contain_text(f"/approval {data.INSTANCES['remedy_pending']}")
    approve = card.locator("button[data-action='approve']")
    expect(approve).to_have_text(cards.text("button.approve", LOCALE))
    expect(card.locator("button[data-action='reject']")).to_have_class(re.compile("fc-button-danger"))

    # Approve (confirming if the card asks), then the toast and the same message turned green, naming the manager
    approve.click()
    if page.locator("#modal").is_visible():
        page.click("#modal-ok")
    expect(page.locator(".toast[data-type='success']")).to_contain_text(cards.text("toast.approved", LOCALE))
    approved = page.locator(f".msg[data-message-id='{message_id}']")
    wait_template(approved, "green")
    # the callback's answer, and perhaps the bot's PATCH after the sandbox's approval_instance event: version ≥ 2
    assert int(approved.get_attribute("data-version")) >= 2
    expect(approved.locator(".fc-body")).to_contain_text("王经理")
    expect(approved.locator("button[data-action]")).to_have_count(0)
    assert page.locator(".msg-bot").count() == 1, "updated in place, not a new message"

    # Reject with a reason: the confirm dialog; Cancel sends nothing, Confirm rejects
    card = say(page, f"/approval {data.INSTANCES['remedy_pending_3']}")
    wait_template(card, "orange")
    card.locator("input[data-name='reason']").fill("Badge log shows no entry")
    card.locator("button[data-action='reject']").click()
    expect(page.locator("#modal")).to_be_visible()
    expect(page.locator("#modal-title")).to_have_text(cards.text("confirm.reject.title", LOCALE))
    page.click("#modal-cancel")
    expect(page.locator("#modal")).to_be_hidden()
    assert len(demo.state.action_calls()) == 1
    card.locator("button[data-action='reject']").click()
    page.click("#modal-ok")
    wait_template(card, "red")
    expect(card.locator(".fc-body")).to_contain_text("Badge log shows no entry")
    assert [c.endpoint for c in demo.state.action_calls()] == ["task_approve", "task_reject"]
    assert demo.state.action_calls()[1].json["comment"] == "Badge log shows no entry"  # the reason, to Feishu

    # the side panel lists the Open API calls, secrets masked
    expect(page.locator(".call[data-endpoint='task_reject']")).to_have_count(1)
    page.locator(".call[data-endpoint='task_reject'] .call-line").first.click()
    expect(page.locator(".call[data-endpoint='task_reject'] .call-details").first).to_contain_text(
        "Badge log shows no entry")
    assert not TOKEN_LIKE.search(page.content()) and data.APP_SECRET not in page.content()

    page.screenshot(path=str(tmp_path / "manager.png"))

    # the stranger, in their own chat: a refusal and no buttons
    page.click("[data-user='stranger']")
    expect(page.locator("#chat-subtitle")).to_contain_text("Stranger Sun")
    expect(page.locator(".msg")).to_have_count(0)
    refusal = say(page, f"/approval {data.INSTANCES['remedy_pending_2']}")
    not_found = cards.text("refusal.not_found", LOCALE, id=data.INSTANCES["remedy_pending_2"])
    expect(refusal.locator(".fc-body")).to_contain_text(not_found)
    expect(refusal.locator("button[data-action]")).to_have_count(0)
    assert len(demo.state.action_calls()) == 2

    shot = tmp_path / "playground.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    assert page.errors == []
    assert time.monotonic() - started < 45


def test_an_injected_error_shows_in_the_toast_and_the_call_log(page, demo, tmp_path):
    expect = pytest.importorskip("playwright.sync_api").expect
    page.click("[data-user='manager2']")
    page.select_option("#fault-endpoint", "task_approve")
    page.fill("#fault-code", "1390001")
    page.fill("#fault-times", "1")
    page.click("#fault-add")
    expect(page.locator("#faults")).to_contain_text("code 1390001")

    card = say(page, f"/approval {data.INSTANCES['remedy_pending_2']}")
    card.locator("button[data-action='approve']").click()
    if page.locator("#modal").is_visible():
        page.click("#modal-ok")
    expect(page.locator(".toast[data-type='error']")).to_be_visible()
    expect(page.locator(".call[data-endpoint='task_approve'] .call-status")).to_contain_text("1390001")
    assert demo.state.snapshot(data.INSTANCES["remedy_pending_2"])["instance"]["status"] == "PENDING"

    page.click("#fault-clear")
    expect(page.locator("#faults")).to_contain_text("无故障")  # the page speaks the bot's locale (zh_cn here)
    assert demo.state.faults == []
    page.screenshot(path=str(tmp_path / "fault.png"))
    assert page.errors == []


HOSTILE = {
    "schema": "2.0",
    "header": {"title": {"tag": "plain_text", "content": "<img src=x onerror=alert(1)>"}, "template": "evil",
               "text_tag_list": [{"tag": "text_tag", "text": {"tag": "plain_text", "content": f"t{i}"},
                                  "color": "green"} for i in range(5)]},
    "body": {"elements": [
        {"tag": "markdown", "content": "**<img src=x onerror=alert(1)>** [bad](javascript:alert(1)) "
                                       "[ok](https://example.com/a?b=1&c=2) \\*not italic\\* &lt;b&gt; "
                                       "*it* ~~gone~~ <font color='red'>red</font> <at id=ou_manager></at>\nline2"},
        {"tag": "button", "type": "<script>", "text": {"tag": "plain_text", "content": "x"},
         "behaviors": [{"type": "open_url", "default_url": "javascript:alert(1)"}]},
        {"tag": "mystery"},
    ]},
}


def test_the_renderer_builds_safe_dom_from_hostile_cards(page):
    result = page.evaluate("""card => {
        const node = FeishuCard.render(card, {locale: "zh_cn", userName: id => id === "ou_manager" ? "王经理" : null});
        document.body.appendChild(node);
        const md = node.querySelector(".fc-markdown");
        return {
            imgs: node.querySelectorAll("img, script").length,
            links: [...node.querySelectorAll("a")].map(a => a.href),
            strong: md.querySelector("strong").textContent,
            em: [...md.querySelectorAll("em")].map(e => e.textContent),
            strike: md.querySelector("s").textContent,
            font: md.querySelector(".fc-font").style.color,
            at: md.querySelector(".fc-at").textContent,
            text: md.textContent,
            breaks: md.querySelectorAll("br").length,
            title: node.querySelector(".fc-title").textContent,
            template: node.dataset.template,
            tags: node.querySelectorAll(".fc-header .fc-tag").length,
            button: node.querySelector(".fc-button").className,
            buttonUrl: node.querySelector(".fc-button").dataset.url || null,
            unsupported: node.querySelector(".fc-unsupported").textContent,
        };
    }""", HOSTILE)
    assert result["imgs"] == 0
    assert result["links"] == ["https://example.com/a?b=1&c=2"]
    assert result["strong"] == "<img src=x onerror=alert(1)>"
    assert result["em"] == ["it"] and result["strike"] == "gone"
    for literal in ("*not italic*", "<b>", "[bad](javascript:alert(1))"):
        assert literal in result["text"]
    assert result["font"] == "rgb(245, 74, 69)" and result["at"] == "@王经理" and result["breaks"] == 1
    assert result["title"] == "<img src=x onerror=alert(1)>" and result["template"] == "default"
    assert result["tags"] == 3
    assert result["button"] == "fc-button fc-button-default" and result["buttonUrl"] is None
    assert result["unsupported"] == "[mystery]"


def test_at_phone_width_in_english_a_new_submission_a_decision_elsewhere_and_the_digest(browser, demo, tmp_path):
    """A phone (390 px): nothing wider than the screen; the controls switch to English; a submission arrives
    in the manager's chat, is approved elsewhere in Feishu and the card follows; the digest goes out now."""
    expect = pytest.importorskip("playwright.sync_api").expect
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    try:
        page.goto(demo.playground_url + "#user=manager&chat=p2p")
        page.wait_for_selector("body[data-ready='1']")
        expect(page.locator("#submit-new")).to_have_text("收到一条新提交")
        page.click("#lang")
        expect(page.locator("#submit-new")).to_have_text("New submission arrives")
        expect(page.locator("#send")).to_have_text("Send")

        before = page.locator(".msg-bot").count()
        page.select_option("#submit-definition", "native_remedy")
        page.select_option("#submit-requester", "employee")
        page.click("#submit-new")
        expect(page.locator("#sim-result")).to_contain_text("Submitted: ")
        card = page.locator(".msg-bot").nth(before)
        card.locator("button[data-action='approve']").wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling

        page.click("#decide-approve")
        expect(page.locator("#sim-result")).to_contain_text("APPROVED")
        expect(card.locator("button[data-action='approve']")).to_have_count(0)  # the copy followed

        page.click("#digest-now")
        expect(page.locator("#sim-result")).to_contain_text("Daily digest sent")

        page.fill("#fault-status", "99999")  # out of range: answered with what is wrong, never dropped
        page.click("#fault-add")
        expect(page.locator("#fault-error")).to_contain_text("http_status must be between 400 and 599")
        page.fill("#fault-status", "")
        page.locator("#fault-latency").focus()
        page.keyboard.type("1e")  # a number the browser cannot read (its value is ""): said so, not dropped
        page.click("#fault-add")
        expect(page.locator("#fault-error")).to_contain_text("Latency (s) is not a number")
        page.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
        assert errors == []
    finally:
        context.close()
