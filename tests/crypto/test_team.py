"""Team records and signing key announcements (crypto/team.py, docs/team.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import team
from crypto.errors import (
    AnnouncementError,
    AnnouncementNoMatch,
    BadSignature,
    ForgedAuthor,
    NoMatch,
    NotATeamRecord,
    RemovedAuthor,
    TeamRecordError,
    UnknownAuthor,
    UnknownCase,
    UnsupportedTeamRecord,
)
from crypto.keys import PrivateKey
from crypto.signing import SigningKey

CASE = "c" * 32
OTHER_CASE = "d" * 32
TIME = "2026-12-01T18:00:00Z"
COORDINATOR = PrivateKey.generate().public_key.to_text()


class Reviewer:
    def __init__(self, name: str) -> None:
        self.name = name
        self.key = PrivateKey.generate()
        self.signing = SigningKey.generate()

    @property
    def known(self) -> team.KnownAuthor:
        return team.KnownAuthor(self.name, self.signing.public_key)


@pytest.fixture(scope="module")
def alice() -> Reviewer:
    return Reviewer("alice")


@pytest.fixture(scope="module")
def bob() -> Reviewer:
    return Reviewer("bob")


BODIES: dict[str, dict[str, Any]] = {
    "verification": {"identity": "passport seen", "work": "three articles", "persecution": "PEN",
                     "risk": "high", "recommendation": "proceed", "notes": ""},
    "note": {"text": "Called the PEN centre.\nThey know her."},
    "state": {"state": "more-info", "reason": "need the court papers"},
    "assignment": {"assignee": None},
    "reply": {"reply": "e" * 32, "text": "Thank you; we are reading your application."},
    "file-saved": {"blob": "f" * 32, "name": "article.pdf"},
    "link": {"other": OTHER_CASE, "relation": "same-person", "reason": "same passport"},
    "referral": {"dossier": "1" * 32, "city": "Oslo", "coordinator": COORDINATOR,
                 "answers": ["work"], "files": [{"number": 1, "blob": "f" * 32}], "note": False,
                 "verification": True, "consent": "yes"},
    "consent": {"how": "by phone"},
    "dossier-answer": {"dossier": "1" * 32, "answer": "2" * 32, "city": "Oslo",
                       "day": "2026-12-01", "text": "We can host her."},
}
CITY = {"action": "add", "name": "Oslo", "country": "NO", "key": COORDINATOR}


def record(author: Reviewer, kind: str = "note", *, body: dict[str, Any] | None = None,
           parents: tuple[str, ...] = (), case: str | None = CASE) -> dict[str, Any]:
    return team.new_record(kind=kind, case=case, author=author.signing.public_key,
                           parents=parents, body=body or BODIES[kind], time=TIME)


def sealed(author: Reviewer, doc: dict[str, Any], to: list[Reviewer]) -> bytes:
    recipients = [r.key.public_key for r in to]
    return team.seal_record(team.sign_record(doc, author.signing, recipients), recipients)


@pytest.mark.parametrize("kind", list(BODIES))
def test_every_kind_round_trips(alice: Reviewer, bob: Reviewer, kind: str) -> None:
    doc = record(alice, kind)
    if kind == "assignment":
        doc["body"] = {"assignee": bob.signing.public_key.to_text()}
    data = sealed(alice, doc, [alice, bob])
    got = team.open_record(data, [bob.key], [alice.known, bob.known], day="2026-12-01",
                           cases={CASE})
    assert (got.id, got.case, got.kind, got.time) == (doc["id"], CASE, kind, TIME)
    assert got.author == alice.signing.public_key
    assert dict(got.body) == doc["body"]
    assert got.addressed_to(bob.key.public_key)
    assert not got.addressed_to(PrivateKey.generate().public_key)


def test_the_signed_message_is_laid_out_as_the_spec_says(alice: Reviewer, bob: Reviewer) -> None:
    keys = team.sorted_recipients([alice.key.public_key, bob.key.public_key])
    parents = ["1" * 32, "2" * 32]
    data = b'{"x":1}'
    expected = (b"refuge-intake team record v1\x00" + b"\x00\x00\x00\x07" + data
                + b"\x10" + bytes.fromhex(CASE) + b"\x00\x02" + bytes.fromhex("1" * 32)
                + bytes.fromhex("2" * 32) + b"\x02" + keys[0].raw + keys[1].raw)
    assert team.signed_message(data, CASE, parents, keys) == expected
    assert keys[0].raw < keys[1].raw
    # A rotation has no case: a zero length, no bytes.
    assert team.signed_message(data, None, [], keys[:1]) == (
        b"refuge-intake team record v1\x00\x00\x00\x00\x07" + data + b"\x00\x00\x00\x01"
        + keys[0].raw)


def test_the_frame_is_laid_out_as_the_spec_says(alice: Reviewer, bob: Reviewer) -> None:
    doc = record(alice)
    frame = team.sign_record(doc, alice.signing, [bob.key.public_key, alice.key.public_key])
    keys = team.sorted_recipients([alice.key.public_key, bob.key.public_key])
    data = team.encode_record(doc)
    assert frame[:8] == b"RFGREC\x00\x01" and frame[8] == 2
    assert frame[9:73] == keys[0].raw + keys[1].raw
    assert int.from_bytes(frame[73:77], "big") == len(data)
    assert frame[77:77 + len(data)] == data
    signature = frame[77 + len(data):]
    assert len(signature) == 64
    assert alice.signing.public_key.verify(
        team.signed_message(data, CASE, [], keys), signature)


def frame_with(frame: bytes, old: bytes, new: bytes) -> bytes:
    assert frame.count(old) == 1
    return frame.replace(old, new)


def test_an_altered_record_fails_its_signature(alice: Reviewer, bob: Reviewer) -> None:
    frame = team.sign_record(record(alice), alice.signing, [bob.key.public_key])
    altered = frame_with(frame, b"They know her.", b"They know him.")
    unverified = team.read_record(altered)  # still a well-formed record
    with pytest.raises(BadSignature):
        team.verify_record(unverified, [alice.known, bob.known], day="2026-12-01")
    # and the untouched frame verifies
    team.verify_record(team.read_record(frame), [alice.known], day="2026-12-01")


def test_readdressing_a_record_fails_its_signature(alice: Reviewer, bob: Reviewer) -> None:
    carol = Reviewer("carol")
    frame = team.sign_record(record(alice), alice.signing, [bob.key.public_key])
    readdressed = frame_with(frame, bob.key.public_key.raw, carol.key.public_key.raw)
    with pytest.raises(BadSignature):
        team.verify_record(team.read_record(readdressed), [alice.known], day="2026-12-01")


def test_a_record_signed_by_one_colleague_claiming_another_is_named_as_forged(
    alice: Reviewer, bob: Reviewer,
) -> None:
    doc = record(alice)  # claims alice
    data = team.encode_record(doc)
    keys = team.sorted_recipients([alice.key.public_key])
    signature = bob.signing.sign(team.signed_message(data, CASE, [], keys))
    frame = (b"RFGREC\x00\x01\x01" + keys[0].raw + len(data).to_bytes(4, "big") + data
             + signature)
    unverified = team.read_record(frame)
    with pytest.raises(ForgedAuthor, match="signed by bob"):
        team.verify_record(unverified, [alice.known, bob.known], day="2026-12-01")
    # A signer the reader does not know cannot be named: the record is just altered.
    with pytest.raises(BadSignature):
        team.verify_record(unverified, [alice.known], day="2026-12-01")


def test_an_unknown_author_is_kept_aside(alice: Reviewer, bob: Reviewer) -> None:
    frame = team.sign_record(record(alice), alice.signing, [bob.key.public_key])
    with pytest.raises(UnknownAuthor, match=alice.signing.public_key.fingerprint):
        team.verify_record(team.read_record(frame), [bob.known], day="2026-12-01")


def test_a_removed_colleague_is_refused_from_the_removal_day(alice: Reviewer, bob: Reviewer) -> None:
    frame = team.sign_record(record(alice), alice.signing, [bob.key.public_key])
    removed = team.KnownAuthor("alice", alice.signing.public_key, removed="2026-12-01")
    unverified = team.read_record(frame)
    team.verify_record(unverified, [removed], day="2026-11-30")
    for day in ("2026-12-01", "2027-01-01"):
        with pytest.raises(RemovedAuthor):
            team.verify_record(unverified, [removed], day=day)


def test_a_record_about_an_unknown_case_is_kept_aside(alice: Reviewer, bob: Reviewer) -> None:
    frame = team.sign_record(record(alice), alice.signing, [bob.key.public_key])
    with pytest.raises(UnknownCase):
        team.verify_record(team.read_record(frame), [alice.known], day="2026-12-01",
                           cases={OTHER_CASE})


def test_a_rotation_is_signed_by_the_old_key_and_vouched_for_by_the_new(alice: Reviewer) -> None:
    new_signing = SigningKey.generate()
    new_key = PrivateKey.generate().public_key
    body = {"new_author": new_signing.public_key.to_text(), "new_key": new_key.to_text(),
            "binding": team.rotation_binding(new_signing, new_key).hex()}
    doc = record(alice, "rotation", body=body, case=None)
    frame = team.sign_record(doc, alice.signing, [alice.key.public_key])
    got = team.verify_record(team.read_record(frame), [alice.known], day="2026-12-01",
                             cases=set())
    assert got.case is None and got.kind == "rotation"
    # The new key's text exactly, with no white space around it.
    spaced = dict(doc, body={**body, "new_key": " " + new_key.to_text()})
    with pytest.raises(TeamRecordError, match="new key"):
        team.read_record(raw_frame(alice, spaced))
    # A binding by another key than the new one: refused.
    body["binding"] = team.rotation_binding(SigningKey.generate(), new_key).hex()
    bad = team.sign_record(record(alice, "rotation", body=body, case=None), alice.signing,
                           [alice.key.public_key])
    with pytest.raises(BadSignature, match="binding"):
        team.verify_record(team.read_record(bad), [alice.known], day="2026-12-01")


def raw_frame(alice: Reviewer, doc: Any, *, raw: bytes | None = None) -> bytes:
    data = raw if raw is not None else json.dumps(doc).encode()
    key = alice.key.public_key
    signature = alice.signing.sign(team.signed_message(data, CASE, [], [key]))
    return b"RFGREC\x00\x01\x01" + key.raw + len(data).to_bytes(4, "big") + data + signature


@pytest.mark.parametrize("change, match", [
    ({"kind": "gossip"}, "its kind"),
    ({"parents": ["2" * 32, "1" * 32]}, "ascending"),
    ({"parents": ["1" * 32, "1" * 32]}, "ascending"),
    ({"time": "2026-12-01 18:00:00"}, "its time"),
    ({"time": "2026-02-30T18:00:00Z"}, "its time"),
    ({"case": None}, "its case"),
    ({"author": "refuge-pk1-" + "a" * 52}, "author"),
    ({"extra": 1}, "exactly the fields"),
    ({"body": {"text": "  "}}, "its text is empty"),
    ({"body": {"text": "x", "more": "y"}}, "its body"),
])
def test_a_malformed_record_is_refused_before_any_key_is_used(
    alice: Reviewer, change: dict[str, Any], match: str,
) -> None:
    doc = {**record(alice), **change}
    with pytest.raises(TeamRecordError, match=match):
        team.read_record(raw_frame(alice, doc))
    with pytest.raises(TeamRecordError):  # and a writer cannot sign it
        team.sign_record(doc, alice.signing, [alice.key.public_key])


@pytest.mark.parametrize("kind, change, match", [
    ("referral", {"city": "Oslo\nBergen"}, "not one line"),
    ("referral", {"coordinator": "refuge-pk1-" + "a" * 52}, "coordinator"),
    ("referral", {"answers": ["work", "work"]}, "its answers"),
    ("referral", {"files": [{"number": 0, "blob": "f" * 32}]}, "its files"),
    ("referral", {"files": [{"number": 1, "blob": "f" * 32}, {"number": 1, "blob": "e" * 32}]},
     "one number twice"),
    ("referral", {"note": 1}, "true or false"),
    ("referral", {"consent": "maybe"}, "its consent"),
    ("consent", {"how": " "}, "its how is empty"),
    ("dossier-answer", {"day": "2026-13-01"}, "its day"),
    ("dossier-answer", {"answer": "X" * 32}, "dossier or answer"),
    ("city", {"action": "rename"}, "its action"),
    ("city", {"country": "no"}, "its country"),
    ("city", {"key": COORDINATOR + " "}, "its key"),
])
def test_the_member_city_kinds_check_their_bodies(
    alice: Reviewer, kind: str, change: dict[str, Any], match: str,
) -> None:
    case = None if kind == "city" else CASE
    body = {**(CITY if kind == "city" else BODIES[kind]), **change}
    doc = record(alice, kind, body=body, case=case)
    with pytest.raises(TeamRecordError, match=match):
        team.sign_record(doc, alice.signing, [alice.key.public_key])


def test_a_city_record_has_no_case_and_may_have_parents(alice: Reviewer) -> None:
    doc = record(alice, "city", body=CITY, case=None, parents=("1" * 32,))
    got = team.verify_record(team.read_record(team.sign_record(
        doc, alice.signing, [alice.key.public_key])), [alice.known], day="2026-12-01",
        cases={CASE})
    assert (got.case, got.parents, got.kind) == (None, ("1" * 32,), "city")
    with pytest.raises(TeamRecordError, match="case is not null"):
        team.sign_record(record(alice, "city", body=CITY), alice.signing,
                         [alice.key.public_key])


def test_frame_checks(alice: Reviewer) -> None:
    good = raw_frame(alice, record(alice))
    team.read_record(good)
    with pytest.raises(NotATeamRecord):
        team.read_record(b"RFGENV\x00\x01" + good[8:])
    with pytest.raises(UnsupportedTeamRecord):
        team.read_record(good[:7] + b"\x02" + good[8:])
    with pytest.raises(UnsupportedTeamRecord):
        team.read_record(raw_frame(alice, {**record(alice), "version": 2}))
    for bad in (good[:8] + b"\x00" + good[9:], good[:-1], good + b"\x00", good[:40]):
        with pytest.raises(TeamRecordError) as info:
            team.read_record(bad)
        assert type(info.value) is TeamRecordError
    with pytest.raises(TeamRecordError, match="not JSON"):
        team.read_record(raw_frame(alice, None, raw=b"{not json}"))


def test_a_record_in_an_envelope_to_someone_else_does_not_open(alice: Reviewer, bob: Reviewer) -> None:
    data = sealed(alice, record(alice), [alice])
    with pytest.raises(NoMatch):
        team.open_record(data, [bob.key], [alice.known], day="2026-12-01")


def test_the_state_values_are_the_reviewer_tools() -> None:
    from reviewer import home, index
    assert team.RISKS == home.RISKS
    assert team.RECOMMENDATIONS == home.RECOMMENDATIONS
    assert team.UNVERIFIED == index.UNVERIFIED


# --- announcements --------------------------------------------------------------


def test_an_announcement_binds_the_signing_key_to_the_confirmed_key(
    alice: Reviewer, bob: Reviewer,
) -> None:
    box = team.seal_announcement(alice.key, alice.signing, bob.key.public_key)
    assert len(box) == team.ANNOUNCEMENT_BYTES == 208
    got = team.open_announcement(box, [PrivateKey.generate(), bob.key])
    assert got.sender == alice.key.public_key and got.signing == alice.signing.public_key
    with pytest.raises(AnnouncementNoMatch):
        team.open_announcement(box, [alice.key])
    for offset in (0, 8, 100, 150, 207):
        flipped = bytearray(box)
        flipped[offset] ^= 1
        with pytest.raises(AnnouncementError):
            team.open_announcement(bytes(flipped), [bob.key])


def test_a_colleague_cannot_announce_another_colleagues_signing_key(
    alice: Reviewer, bob: Reviewer,
) -> None:
    # Mallory holds a confirmed X25519 key and knows alice's signing public key,
    # but not its secret: the binding signature she needs is over *her* key.
    mallory = Reviewer("mallory")
    binding = mallory.signing.sign(team.BINDING_DOMAIN + mallory.key.public_key.raw
                                   + alice.signing.public_key.raw)
    import nacl.bindings
    nonce = bytes(24)
    boxed = nacl.bindings.crypto_box(alice.signing.public_key.raw + binding, nonce,
                                     bob.key.public_key.raw, mallory.key.raw())
    box = (team.ANNOUNCEMENT_MAGIC + mallory.key.public_key.raw + bob.key.public_key.raw
           + nonce + boxed)
    with pytest.raises(AnnouncementError, match="does not vouch"):
        team.open_announcement(box, [bob.key])
    # Nor can anyone announce a signing key for alice's X25519 key without her secret key.
    forged = team.seal_announcement(mallory.key, mallory.signing, bob.key.public_key)
    forged = forged[:8] + alice.key.public_key.raw + forged[40:]
    with pytest.raises(AnnouncementError):
        team.open_announcement(forged, [bob.key])


# --- any change to a signed frame is refused ---------------------------------------

_FUZZ_AUTHOR = Reviewer("fuzz")
_FUZZ_OTHER = Reviewer("other")
_FUZZ_FRAME = team.sign_record(
    record(_FUZZ_AUTHOR, "state", parents=("1" * 32,)), _FUZZ_AUTHOR.signing,
    [_FUZZ_AUTHOR.key.public_key, _FUZZ_OTHER.key.public_key])


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_a_mutated_frame_is_refused_or_is_the_same_record(data: st.DataObject) -> None:
    frame = bytearray(_FUZZ_FRAME)
    for _ in range(data.draw(st.integers(1, 3))):
        action = data.draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        at = data.draw(st.integers(0, max(len(frame) - 1, 0)))
        if action == "flip" and frame:
            frame[at] ^= 1 << data.draw(st.integers(0, 7))
        elif action == "cut":
            del frame[at:]
        elif action == "insert":
            frame[at:at] = data.draw(st.binary(min_size=1, max_size=4))
        elif frame:
            del frame[at:at + data.draw(st.integers(1, 8))]
    book = [_FUZZ_AUTHOR.known, _FUZZ_OTHER.known]
    try:
        got = team.verify_record(team.read_record(bytes(frame)), book, day="2026-12-01")
    except TeamRecordError as e:
        assert type(e) in {TeamRecordError, NotATeamRecord, UnsupportedTeamRecord, BadSignature,
                           ForgedAuthor}
        return
    # Only a mutation that gave back the very bytes signed can verify.
    assert bytes(frame) == _FUZZ_FRAME
    assert got.author == _FUZZ_AUTHOR.signing.public_key
