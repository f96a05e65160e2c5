"""The lexer and the multi-word name table."""

from __future__ import annotations

from legato.feel.lexer import Kind, tokenize
from legato.feel.names import NameTable


def _texts(source: str) -> list[tuple[Kind, str]]:
    return [(token.kind, token.text) for token in tokenize(source)]


def test_tokens_and_spans() -> None:
    tokens = tokenize('a.b[1..2] >= "x"')

    assert [t.text for t in tokens] == ["a", ".", "b", "[", "1", "..", "2", "]", ">=", "x", ""]
    assert tokens[-2].kind is Kind.STRING
    assert (tokens[8].start, tokens[8].end) == (10, 12)
    assert tokens[-1].kind is Kind.END


def test_numbers() -> None:
    assert _texts("1 .5 2.25 1e3 1.5E-2")[:-1] == [
        (Kind.NUMBER, "1"),
        (Kind.NUMBER, ".5"),
        (Kind.NUMBER, "2.25"),
        (Kind.NUMBER, "1e3"),
        (Kind.NUMBER, "1.5E-2"),
    ]


def test_names_may_contain_apostrophes_question_marks_and_unicode() -> None:
    assert _texts("Applicant's age? é🐎")[:-1] == [
        (Kind.NAME, "Applicant's"),
        (Kind.NAME, "age?"),
        (Kind.NAME, "é🐎"),
    ]


def test_comments_are_skipped() -> None:
    assert _texts("1 // one\n/* two */ 2")[:-1] == [(Kind.NUMBER, "1"), (Kind.NUMBER, "2")]


def test_unknown_escape_is_kept() -> None:
    assert tokenize(r'"\d+"')[0].text == "\\d+"


def test_name_table_prefers_longest_match() -> None:
    table = NameTable(["date and time", "date and"])
    tokens = tokenize("date and time(x)")

    assert table.match(tokens, 0) == ("date and time", 3)


def test_name_table_matches_names_with_operators() -> None:
    table = NameTable(["Date-Time", "Loan  Amount"])

    assert table.match(tokenize("Date-Time + 1"), 0) == ("Date-Time", 3)
    assert table.match(tokenize("Loan Amount"), 0) == ("Loan Amount", 2)
    assert table.match(tokenize("Date - 1"), 0) is None


def test_name_table_copy_is_independent() -> None:
    table = NameTable(["a b"])
    copy = table.copy()
    copy.add("c d")

    assert table.match(tokenize("c d"), 0) is None
    assert copy.match(tokenize("c d"), 0) == ("c d", 2)
