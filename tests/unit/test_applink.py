"""The refusal of a native revoke opens the request in Feishu Approval (the page "Open Feishu Approval" of the
applink protocol: the approval app's id per brand, the detail page's path, every value URL-encoded)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from core.approval import detail_links
from core.rules import Action, Actor
from handlers.workflow import ActionRequest, act
from tests import samples
from tests.fakes import FakeGateway, make_context

CODE = "63FB6915-FA36-5C94-998C-95FC077A95B7"


def query(url: str) -> dict[str, list[str]]:
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "applink.feishu.cn", "/client/mini_program/open")
    return parse_qs(parts.query)


def test_the_detail_page_of_an_instance_per_device_and_brand():
    links = detail_links(CODE, "https://open.feishu.cn")
    assert query(links["mobile"]) == {"appId": ["cli_9cb844403dbb9108"],
                                      "path": [f"pages/detail/index?instanceId={CODE}"]}
    assert query(links["pc"])["path"] == [f"pc/pages/in-process/index?instanceId={CODE}"]
    assert "%3FinstanceId%3D" in links["pc"]  # the path's own query is encoded, not read as the link's
    assert query(detail_links(CODE, "https://open.larksuite.com")["pc"])["appId"] == ["cli_9c7cc8a9a9edd105"]
    assert detail_links("", "https://open.feishu.cn") is None


def test_a_refused_native_revoke_says_who_can_withdraw_it_and_links_to_it():
    data = samples.remedy_approved()
    ctx = make_context(FakeGateway(instances={data["instance_code"]: data}))
    reply = act(ctx, ActionRequest(Action.REVOKE, data["instance_code"], Actor("ou_admin", "u_admin")),
                as_message=True)
    text = json.dumps(reply.card, ensure_ascii=False)
    assert "submitter can withdraw it in Feishu Approval" in reply.toast.text
    assert detail_links(data["instance_code"], "https://open.feishu.cn")["pc"] in text
    assert "Open in Feishu" in text
