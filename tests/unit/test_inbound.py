"""Command parsing and mention rules."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.inbound import (
    CommandLine,
    Mention,
    MessageIn,
    approval_ref,
    command_text,
    instance_code_in_link,
    split_command,
    split_ids,
    valid_approval_id,
)
from core.rules import Actor
from tests.properties import examples


def message(text, chat_type="p2p", mentions=(), message_type="text"):
    return MessageIn("ev1", "om_1", "oc_1", chat_type, message_type, json.dumps({"text": text}),
                     Actor("ou_manager"), "user", tuple(mentions))


BOT = Mention("@_user_1", "ou_bot", "Approval Bot", "bot")


def test_command_words_are_normalised():
    assert split_command("/approve 123") == CommandLine("approve", ("123",))
    assert split_command("/APPROVE 1").word == "approve"
    assert split_command("／审批　123") == CommandLine("审批", ("123",))  # full-width slash and space
    assert split_command("/拒绝 123 太晚了 提交").args == ("123", "太晚了", "提交")


def test_non_commands():
    assert split_command("hello") is None
    assert split_command("/") == CommandLine("", ())
    assert split_command("  /pending  ").word == "pending"


def test_reason_text_is_kept_as_typed():
    assert split_command("/reject 1 迟到，请补充说明").args[1] == "迟到，请补充说明"


def test_p2p_always_answers():
    assert command_text(message("/help"), "ou_bot") == "/help"


def test_group_needs_the_bot_mention_and_strips_it():
    assert command_text(message("/approve 1", chat_type="group"), "ou_bot") is None
    text = command_text(message("@_user_1 /approve 1", "group", [BOT]), "ou_bot")
    assert text == "/approve 1"


def test_the_bot_id_is_asked_for_only_when_someone_is_mentioned():
    """The gateway's bot_open_id asks Feishu the first time: a message that mentions nobody never needs it."""
    asked = []

    def bot_id():
        asked.append(1)
        return "ou_bot"

    assert command_text(message("lunch at noon?", chat_type="group"), bot_id) is None
    assert command_text(message("/help"), bot_id) == "/help"
    assert asked == []
    assert command_text(message("@_user_1 /approve 1", "group", [BOT]), bot_id) == "/approve 1"
    assert asked == [1]


def test_group_mention_of_someone_else_is_not_enough():
    other = Mention("@_user_1", "ou_manager2", "Approval Bot", "user")  # same display name, other id
    assert command_text(message("@_user_1 /approve 1", "group", [other]), "ou_bot") is None


def test_mention_placeholder_prefix_is_not_confused():
    text = command_text(message("@_user_1 /reject 1 ask @_user_12", "group",
                                [BOT, Mention("@_user_12", "ou_x")]), "ou_bot")
    assert text == "/reject 1 ask @_user_12"


def test_post_messages_are_read():
    content = json.dumps({"title": "", "content": [[{"tag": "at", "user_id": "@_user_1"},
                                                    {"tag": "text", "text": " /pending"}]]})
    msg = MessageIn("e", "om", "oc", "group", "post", content, Actor("ou_m"), "user", (BOT,))
    assert command_text(msg, "ou_bot") == "/pending"


def test_ids_are_validated():
    assert valid_approval_id("6737202939523236113")
    assert valid_approval_id("81D31358-93AF-92D6-7425-01A5D67C4E71")
    for bad in ["", "../etc", "1 OR 1=1", "a" * 65, "１２３", "-1"]:
        assert not valid_approval_id(bad)


@settings(max_examples=examples(500))
@given(st.text(max_size=300))
def test_split_never_raises_and_keeps_every_word(text):
    line = split_command(text)
    if line is None:
        assert not text.strip().startswith(("/", "／"))
    else:
        assert len(line.args) == max(0, len(text.strip()[1:].split()) - 1)


@settings(max_examples=examples(300))
@given(st.text(max_size=200), st.sampled_from(["p2p", "group"]), st.sampled_from(["text", "post", "image"]))
def test_command_text_of_unreadable_content(text, chat_type, message_type):
    """Content that is not the JSON Feishu sends: silence in groups, an empty command (help) one-to-one."""
    msg = MessageIn("e", "om", "oc", chat_type, message_type, text, Actor("ou_m"), "user", (BOT,))
    result = command_text(msg, "ou_bot")
    assert result is None or isinstance(result, str)
    if message_type == "image":
        assert result == ("" if chat_type == "p2p" else None)


# -- which id a command word names ---------------------------------------------------------------------------

APPLINK = "https://applink.feishu.cn/client/mini_program/open?appId=cli_9cb844403dbb9108"
CODE = "81D31358-93AF-92D6-7425-01A5D67C4E71"


@pytest.mark.parametrize("link", [
    f"{APPLINK}&mode=appCenter&path=pc/pages/in-process/index?instanceId={CODE}",  # tasks/query's pc url
    f"{APPLINK}&path=pages/detail/index?instanceId={CODE}",  # its mobile url
    f"{APPLINK}&path=pages%2Fdetail%2Findex%3FinstanceId%3D{CODE}",  # the same, percent-encoded
    f"https://www.feishu.cn/approval/openapp/instance?instance_code={CODE}&from=bot",
    f"<https://www.feishu.cn/approval/newinstance/{CODE}>",
])
def test_a_pasted_approval_link_names_its_instance(link: str) -> None:
    assert instance_code_in_link(link) == CODE
    assert approval_ref(link) == CODE


@pytest.mark.parametrize("text", ["7300491536801234561", "https://www.feishu.cn/docx/abc?x=1", "ftp://x?instanceId=1",
                                  f"https://x.cn/?instanceId={CODE}{'0' * 40}"])
def test_other_words_are_no_link(text: str) -> None:
    assert instance_code_in_link(text) is None


def test_leading_ids_then_the_comment() -> None:
    assert split_ids(["7300491536801234561", "202411180001", "looks", "good", "7300491536801234562"]) == (
        ("7300491536801234561", "202411180001"), "looks good 7300491536801234562")
    assert split_ids(["1", "ok"]) == (("1",), "ok")  # the first word is the id, whatever it looks like
    assert split_ids(["1", "2nd", "warning"]) == (("1",), "2nd warning")  # short words belong to the comment
    assert split_ids([f"{APPLINK}&path=p?instanceId={CODE}", "fine"]) == ((CODE,), "fine")
    assert split_ids([]) == ((), "")
