"""One case as the reviewer reads it (reviewer/casefile.py): what `show` prints and the desk renders."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.server_sim import APPLICATION, Applicant, jpeg_with_exif, submit, write_bundle
from crypto import answersform
from crypto.keys import PrivateKey, PublicKey
from reviewer import casefile
from reviewer.casefile import Answer, case_file
from reviewer.errors import NotFound
from reviewer.home import Home
from tests.reviewer.test_metadata import jpeg, photo_exif

from .test_cli import PASSPHRASE, Env, make_env


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return make_env(tmp_path)


def imported(env: Env, tmp_path: Path, *applicants: Applicant,
             recipients: list[PublicKey] | None = None) -> None:
    path = write_bundle(tmp_path / "b.bundle", [(a, a.submissions) for a in applicants],
                        recipients or [env.public])
    result = env.run("import", str(path))
    assert result.exit_code == 0, result.output


def opened(env: Env, case_id: str) -> casefile.CaseFile:
    home = Home(env.home)
    keys = home.unlock(PASSPHRASE)
    return case_file(home, home.load_state(), keys, case_id)


def test_answers_under_the_forms_questions_in_its_order(env: Env, tmp_path: Path) -> None:
    a = Applicant()
    answers = {**APPLICATION, "urgency": "immediate", "family": "", "contact": "  \n ",
               "zeta_extra": "later key", "alpha_extra": "earlier key", "empty_extra": "",
               "languages": ["Persian", "Kurdish"]}
    submit(a, [env.public], answers=dict(reversed(list(answers.items()))))  # order of the doc
    submit(a, [env.public], kind="followup", day="2026-11-21", answers={"message": "More."})
    imported(env, tmp_path, a)
    case = opened(env, a.case)
    application, followup = case.submissions
    assert application.kind == "application" and application.readable
    keys = [x.key for x in application.answers]
    empty = ("family", "contact", "profession_other", "country_other", "share")  # share: not asked
    form_keys = [k for k in answersform.form("application").keys if k not in empty]
    assert keys == [*form_keys, "alpha_extra", "zeta_extra"]  # empty answers left out
    by_key = {x.key: x for x in application.answers}
    assert by_key["urgency"] == Answer("urgency", "How urgent is it?", "I am in danger now (days)")
    assert by_key["profession"].value == "Journalist"
    assert by_key["languages"].value == "Persian, Kurdish"
    assert by_key["name"].question == "Your name or the pseudonym you publish under"
    assert by_key["acknowledge"].value == "yes"
    assert by_key["zeta_extra"] == Answer("zeta_extra", "zeta_extra", "later key")
    assert followup.answers == (Answer("message", "Your message", "More."),)
    assert case.received == "2026-11-20" and case.verifications == () and case.replies == ()


def test_the_country_of_both_document_versions(env: Env, tmp_path: Path) -> None:
    """Version 1: the applicant's text, as written (even "IR"); version 2: a code by its
    English name, or "another place" with the applicant's words beside it."""
    v1, v2, v2_other = Applicant(), Applicant(), Applicant()
    submit(v1, [env.public], answers={**APPLICATION, "country": "IR"})
    submit(v2, [env.public], answers={**APPLICATION, "country": "SY", "country_other": ""},
           doc_override={"version": 2})
    submit(v2_other, [env.public], answers={**APPLICATION, "country": "other",
                                            "country_other": "Kurdistan"},
           doc_override={"version": 2})
    imported(env, tmp_path, v1, v2, v2_other)

    def shown(a: Applicant) -> dict[str, str]:
        return {x.key: x.value for x in opened(env, a.case).submissions[0].answers}

    assert shown(v1)["country"] == "IR"
    assert shown(v2)["country"] == "Syria" and "country_other" not in shown(v2)
    assert shown(v2_other)["country"] == "Another place / I prefer to write it"
    assert shown(v2_other)["country_other"] == "Kurdistan"


def test_a_value_that_is_not_a_choice_is_shown_as_it_is(env: Env, tmp_path: Path) -> None:
    a = Applicant()
    submit(a, [env.public], answers={**APPLICATION, "urgency": "high"})
    imported(env, tmp_path, a)
    answers = {x.key: x for x in opened(env, a.case).submissions[0].answers}
    assert answers["urgency"].value == "high"


def test_files_with_types_warnings_and_inert_names(env: Env, tmp_path: Path) -> None:
    a = Applicant()
    docx_like = b"PK\x03\x04" + b"\0" * 26 + b"mimetypeapplication/vnd.oasis.opendocument.text"
    submit(a, [env.public], files=[
        ("photo.jpg", "image/jpeg", jpeg_with_exif()),
        ("cv.pdf", "application/pdf", b"MZ\x90\x00 this is a program"),
        ("\u202egnp.exe", "text/plain", b"%PDF-1.4\n"),
        ("essay.odt", "application/vnd.oasis.opendocument.text", docx_like),
        ("camera.jpg", "image/jpeg", jpeg(exif=photo_exif("Casefile Artist"))),
    ])
    imported(env, tmp_path, a)
    sub = opened(env, a.case).submissions[0]
    photo, cv, pdf, odt, camera = sub.files
    assert (photo.submission, photo.number, photo.name) == (sub.id, 1, "photo.jpg")
    assert photo.size == len(jpeg_with_exif())
    assert (photo.claimed_type, photo.detected_type) == ("image/jpeg", "image/jpeg")
    assert photo.warnings == () and photo.strippable
    assert cv.detected_type == "application/x-msdownload"
    assert cv.warnings == (casefile.PROGRAM,) and not cv.strippable
    assert pdf.name == "\\u202egnp.exe" and pdf.detected_type == "application/pdf"
    assert pdf.warnings == (casefile.MISMATCH,)
    assert odt.detected_type == "application/vnd.oasis.opendocument.text" and odt.warnings == ()
    # The values reviewer.metadata reads, the same as `extract` prints.
    assert ("Artist", "Casefile Artist") in camera.metadata
    assert ("GPS position", "present") in camera.metadata
    assert cv.metadata == () and odt.metadata == ()


def test_what_is_not_for_this_key(env: Env, tmp_path: Path) -> None:
    other = PrivateKey.generate().public_key
    a = Applicant()
    submit(a, [env.public, other], files=[("a.txt", "text/plain", b"hello")])
    b = Applicant()
    submit(b, [other], files=[("b.txt", "text/plain", b"hello")])
    imported(env, tmp_path, a, b, recipients=[env.public, other])
    unreadable = opened(env, b.case).submissions[0]
    assert not unreadable.readable and unreadable.answers == () and unreadable.files == ()
    readable = opened(env, a.case).submissions[0]
    assert readable.readable and readable.files[0].detected_type == "text/plain"


def test_records_and_replies(env: Env, tmp_path: Path) -> None:
    a = Applicant()
    submit(a, [env.public])
    imported(env, tmp_path, a)
    assert env.run("verify", a.case, "--identity", "passport", "--work", "bylines",
                   "--persecution", "CPJ", "--risk", "high", "--recommendation", "proceed",
                   "--notes", "").exit_code == 0
    assert env.run("reply", a.case, input="Dear applicant,\n\nWe read it.").exit_code == 0
    case = opened(env, a.case)
    (v,) = case.verifications
    assert (v.identity, v.work, v.persecution, v.risk, v.recommendation, v.notes) == (
        "passport", "bylines", "CPJ", "high", "proceed", "")
    assert v.readable and v.reviewer == env.public.fingerprint
    (r,) = case.replies
    assert r.text == "Dear applicant,\n\nWe read it." and r.readable and not r.exported


def test_an_unknown_case(env: Env) -> None:
    home = Home(env.home)
    with pytest.raises(NotFound):
        case_file(home, home.load_state(), home.unlock(PASSPHRASE), "0" * 32)


def test_nothing_decrypted_touches_a_file(env: Env, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # The type is detected in memory: no file is opened for writing, no temporary file made.
    a = Applicant()
    submit(a, [env.public], files=[("photo.jpg", "image/jpeg", jpeg_with_exif())])
    imported(env, tmp_path, a)
    import builtins
    import tempfile

    real_open = builtins.open

    def guarded_open(file, mode="r", *args, **kwargs):
        assert not any(m in mode for m in "wax+"), (file, mode)
        return real_open(file, mode, *args, **kwargs)

    def no_temp(*args: object, **kwargs: object) -> None:
        raise AssertionError("a temporary file")

    monkeypatch.setattr(builtins, "open", guarded_open)
    for name in ("mkstemp", "NamedTemporaryFile", "TemporaryFile", "SpooledTemporaryFile"):
        monkeypatch.setattr(tempfile, name, no_temp)
    assert opened(env, a.case).submissions[0].files[0].detected_type == "image/jpeg"
