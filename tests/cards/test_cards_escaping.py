"""cards.environment.clean and md escape in one str.translate pass each; they must read exactly as the
definitions they replace: strip controls, bidi overrides, line separators and lone surrogates (after CRLF/CR to LF
and tabs to spaces), then entities for & < >, then a backslash before every markdown special."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from cards.environment import clean, md

CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029\ufeff\ud800-\udfff]")
MD_SPECIAL = re.compile(r"([\\`*_~\[\]()#|])")


def clean_by_definition(s: str) -> str:
    return CONTROL.sub("", s.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " "))


def md_by_definition(s: str) -> str:
    s = clean_by_definition(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return MD_SPECIAL.sub(r"\\\1", s)


TRICKY = st.sampled_from(list("\r\n\t&<>\\`*_~[]()#|\x00\x1f\x7f\x9f\u202e\u2066\u2028\ufeff\ud800\udfffa中"))
TEXT = st.one_of(st.text(), st.lists(TRICKY).map("".join), st.text(alphabet=st.characters(max_codepoint=0x2100)))


@given(TEXT)
def test_clean_reads_as_its_definition(text: str) -> None:
    assert clean(text) == clean_by_definition(text)


@given(TEXT)
def test_md_reads_as_its_definition(text: str) -> None:
    assert md(text) == md_by_definition(text)


def test_the_specials_each_way() -> None:
    assert md("a\r\nb\rc\td") == "a\nb\nc d"
    assert md("<b>&x*y*</b>") == "&lt;b&gt;&amp;x\\*y\\*&lt;/b&gt;"
    assert clean("gpj\u202eexe.\ud800jpg\x00") == "gpjexe.jpg"
    assert md(None) == "" and clean(7) == "7"
