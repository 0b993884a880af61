"""The one table: names, aliases, argument counts and texts are checked at start-up, not at first use."""

from __future__ import annotations

import pytest

from handlers import commands, registry
from handlers.registry import RegistryError, build_registry, button, command

TABLE = registry()


def test_names_and_chinese_aliases_name_the_same_command():
    for word, name in [("approve", "approve"), ("通过", "approve"), ("拒绝", "reject"), ("审批", "approval"),
                       ("撤销", "revoke"), ("待办", "pending"), ("历史", "history"), ("帮助", "help")]:
        assert TABLE.command_for(word).name == name
    assert TABLE.command_for("frobnicate") is None


def test_argument_counts_come_from_the_registration():
    assert TABLE.commands["approval"].accepts(1) and not TABLE.commands["approval"].accepts(2)
    assert TABLE.commands["revoke"].accepts(2) and not TABLE.commands["revoke"].accepts(3)
    assert TABLE.commands["approve"].accepts(20) and not TABLE.commands["approve"].accepts(0)
    assert TABLE.commands["pending"].accepts(0) and not TABLE.commands["pending"].accepts(1)


def test_a_command_without_its_texts_stops_start_up():
    remind = command("remind", commands.show_help, args=(1, 1))
    with pytest.raises(RegistryError, match=r"'remind' needs the text 'command.remind.usage' in cards/locales/"):
        build_registry(events=[], commands=[remind], buttons=[])


def test_a_text_missing_in_one_locale_is_named():
    def has_text(key: str, locale: str) -> bool:
        return locale != "en_us" or key != "command.help.summary"

    with pytest.raises(RegistryError, match="en_us"):
        build_registry(events=[], commands=[command("help", commands.show_help)], buttons=[], has_text=has_text)


def test_duplicates_and_shadowing_aliases_are_refused():
    with pytest.raises(RegistryError, match="registered twice"):
        build_registry(events=[], commands=[command("help", commands.show_help)] * 2, buttons=[])
    with pytest.raises(RegistryError, match="names both"):
        build_registry(events=[], buttons=[], commands=[command("help", commands.show_help),
                                                         command("approval", commands.show_help, aliases=["HELP"])])
    with pytest.raises(RegistryError, match="registered twice"):
        build_registry(events=[], commands=[], buttons=[button("show", commands.show_help)] * 2)


def test_every_registered_command_is_in_the_help_card():
    from tests.fakes import make_context

    card = str(commands.show_help(make_context(), None).card)
    for name in TABLE.commands:
        assert f"/{name}" in card
