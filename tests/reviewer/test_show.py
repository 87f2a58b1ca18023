"""`reviewer show`: answers labelled by question, empty ones left out, wrapped to the terminal."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import Result

from bench.server_sim import APPLICATION, Applicant, submit, write_bundle
from reviewer.cli import cli
from reviewer.columns import display_width
from reviewer.showtext import wrap, wrap_line

from .test_cli import ESCAPES, Env, make_env

CHINESE = "我是一名记者，因为报道腐败而被起诉。" * 40
LONG = ("I have written about the ministry for eleven years, and every article was "
        "followed by a visit. ") * 20  # some 1,900 characters on one line


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return make_env(tmp_path)


def show(env: Env, case: str, columns: int) -> Result:
    result = env.runner.invoke(
        cli, ["show", "--home", str(env.home), "--passphrase-file", str(env.pass_file), case],
        env={"COLUMNS": str(columns)},
    )
    assert result.exit_code == 0, result.output
    return result


def one_case(env: Env, tmp_path: Path, **answers: object) -> Applicant:
    a = Applicant()
    submit(a, [env.public], answers={**APPLICATION, **answers},
           files=[("cv.pdf", "application/pdf", b"MZ\x90\x00 a program"),
                  ("简历" * 30 + ".txt", "text/plain", "文字\n".encode())])
    path = write_bundle(tmp_path / "b.bundle", [(a, a.submissions)], [env.public])
    assert env.run("import", str(path)).exit_code == 0
    return a


@pytest.mark.parametrize("columns", [60, 80, 132])
def test_every_line_fits_the_terminal(env: Env, tmp_path: Path, columns: int) -> None:
    a = one_case(env, tmp_path, threat=LONG, work=CHINESE, name="Ayşe " + ESCAPES)
    lines = show(env, a.case, columns).output.splitlines()
    too_wide = [line for line in lines if display_width(line) > columns]
    assert too_wide == []
    # Nothing lost in the wrapping: the words and the characters are all there, in order.
    text = "".join(lines)
    assert "".join(CHINESE.split()) in text.replace(" ", "")
    assert " ".join(LONG.split()) in " ".join(" ".join(lines).split())


def test_answers_are_labelled_by_question_and_empty_ones_left_out(env: Env,
                                                                  tmp_path: Path) -> None:
    a = one_case(env, tmp_path, family="", profession="other",
                 profession_other="Playwright", urgency="immediate", extra_field="kept")
    out = show(env, a.case, 100).output
    assert "Your work: Other (say which below)" in out
    assert "If other: what you do: Playwright" in out
    assert "How urgent is it? I am in danger now (days)" in out
    assert "Family who would come with you" not in out  # empty: left out
    assert "extra_field: kept" in out  # a name the form does not know: after the known ones
    assert out.index("I understand that the network") < out.index("extra_field: kept")
    for raw_key in ("profession_other:", "acknowledge:", "urgency:", "threat:"):
        assert raw_key not in out


def test_files_with_claimed_and_detected_type_and_warnings(env: Env, tmp_path: Path) -> None:
    a = one_case(env, tmp_path)
    out = show(env, a.case, 200).output
    assert "Files: 2" in out
    assert ("  1. cv.pdf  (14 bytes; claimed application/pdf; detected"
            " application/x-msdownload)") in out
    assert "     WARNING: this is a program; do not run it" in out
    assert "claimed text/plain; detected text/plain)" in out


def test_a_narrow_terminal_wraps_at_forty_columns(env: Env, tmp_path: Path) -> None:
    a = one_case(env, tmp_path)
    lines = show(env, a.case, 10).output.splitlines()
    assert max(display_width(line) for line in lines) <= 40
    assert max(display_width(line) for line in lines) > 30


def test_wrap_by_display_width() -> None:
    assert wrap_line("a b c", 3) == ["a b", "c"]
    assert wrap_line("  indented text here", 12) == ["  indented", "text here"]
    assert wrap_line("word " * 3, 20, "    ") == ["    word word word"]
    assert wrap_line("一二三四五", 4) == ["一二", "三四", "五"]  # two columns each
    # A combining accent stays with its letter; a piece never exceeds the room.
    assert wrap_line("e\u0301e\u0301e\u0301", 2) == ["e\u0301e\u0301", "e\u0301"]
    assert wrap_line("first second", 10, "  ", "    ") == ["  first", "    second"]
    assert wrap_line("first second", 8, "  ", "    ") == ["  first", "    seco", "    nd"]
    assert wrap("one\n\ntwo", 10, "  ") == ["  one", "", "  two"]
    assert wrap_line("", 10) == [""]


def test_wrap_never_exceeds_the_width() -> None:
    samples = ["x" * 50, "一" * 30, "a " * 40, "  lead " + "y" * 30, "e\u0301" * 30, "مرحبا بكم " * 9,
               "word\tword\tword", "\\u202e" * 12]
    for width in range(5, 30):
        for sample in samples:
            for indent, hanging in (("", None), ("  ", "     "), ("      ", "  ")):
                lines = wrap_line(sample, width, indent, hanging)
                # (an indent as wide as the line leaves room for one character a line)
                assert all(display_width(line) <= width or display_width(line.strip()) <= 2
                           for line in lines), (sample, width, lines)
                assert "".join(line.strip() for line in lines).replace(" ", "") == \
                    sample.replace("\t", "").replace(" ", ""), (sample, width)
