"""Whose signing key is whose: announcements and rotations (reviewer.team.build_book)."""

from __future__ import annotations

import itertools

from crypto import team
from crypto.keys import PrivateKey
from crypto.signing import SigningKey
from reviewer.team import Colleague, build_book

DAY = "2026-12-01"
ME = PrivateKey.generate()
ME_S = SigningKey.generate()
ALICE, BOB = PrivateKey.generate(), PrivateKey.generate()
ALICE_S, BOB_S = SigningKey.generate(), SigningKey.generate()


def announced(sender: PrivateKey, signing: SigningKey) -> team.Announcement:
    return team.open_announcement(team.seal_announcement(sender, signing, ME.public_key), [ME])


def rotation(old: SigningKey, new: SigningKey, new_key: PrivateKey) -> team.UnverifiedRecord:
    body = {"new_author": new.public_key.to_text(), "new_key": new_key.public_key.to_text(),
            "binding": team.rotation_binding(new, new_key.public_key).hex()}
    doc = team.new_record(kind="rotation", case=None, author=old.public_key, parents=(),
                          body=body, time="2026-12-01T00:00:00Z")
    return team.read_record(team.sign_record(doc, old, [ME.public_key]))


def test_an_announcement_from_a_confirmed_key_binds_and_one_from_another_waits() -> None:
    anns = [announced(ALICE, ALICE_S), announced(BOB, BOB_S)]
    book = build_book([ME_S.public_key], [Colleague("alice", ALICE.public_key)], anns, [],
                      day=DAY)
    assert book.name_of(ALICE_S.public_key) == "alice"
    assert book.name_of(ME_S.public_key) == "(this home)"
    assert book.name_of(BOB_S.public_key) is None
    assert book.aside == (
        f"a signing key announced by {BOB.public_key.fingerprint}, a key that is not confirmed:"
        " compare its fingerprint, then `keys add` it",)
    # Once bob's key is confirmed, the same announcement binds.
    book = build_book([ME_S.public_key], [Colleague("alice", ALICE.public_key),
                                          Colleague("bob", BOB.public_key)], anns, [], day=DAY)
    assert book.name_of(BOB_S.public_key) == "bob" and book.aside == ()


def test_a_signing_key_claimed_by_two_colleagues_is_refused_for_both() -> None:
    # Opened announcements as a reader would hold them; the second cannot be made
    # without the signing key's secret (crypto.team checks the binding), but a
    # reader must not depend on which it saw first.
    anns = [team.Announcement(ALICE.public_key, ALICE_S.public_key),
            team.Announcement(BOB.public_key, ALICE_S.public_key)]
    colleagues = [Colleague("alice", ALICE.public_key), Colleague("bob", BOB.public_key)]
    for order in itertools.permutations(anns):
        book = build_book([ME_S.public_key], colleagues, order, [], day=DAY)
        assert book.name_of(ALICE_S.public_key) is None
        assert book.refused == (f"{ALICE_S.public_key.fingerprint}: one signing key announced "
                                "by alice, bob",)


def test_a_chain_of_rotations_binds_in_any_order_and_keeps_the_removal_day() -> None:
    s2, s3 = SigningKey.generate(), SigningKey.generate()
    k2, k3 = PrivateKey.generate(), PrivateKey.generate()
    rotations = [rotation(ALICE_S, s2, k2), rotation(s2, s3, k3)]
    colleagues = [Colleague("alice", ALICE.public_key, removed="2027-01-01")]
    for order in itertools.permutations(rotations):
        book = build_book([], colleagues, [announced(ALICE, ALICE_S)], order, day=DAY)
        assert {k.key: (k.name, k.removed) for k in book.known} == {
            ALICE_S.public_key: ("alice", "2027-01-01"), s2.public_key: ("alice", "2027-01-01"),
            s3.public_key: ("alice", "2027-01-01")}


def test_a_rotation_signed_by_a_key_not_bound_binds_nothing() -> None:
    s2 = SigningKey.generate()
    book = build_book([], [Colleague("alice", ALICE.public_key)], [],
                      [rotation(ALICE_S, s2, PrivateKey.generate())], day=DAY)
    assert book.known == ()


def test_a_rotation_to_a_key_already_anothers_is_refused() -> None:
    book = build_book([], [Colleague("alice", ALICE.public_key), Colleague("bob", BOB.public_key)],
                      [announced(ALICE, ALICE_S), announced(BOB, BOB_S)],
                      [rotation(ALICE_S, BOB_S, BOB)], day=DAY)
    assert book.name_of(BOB_S.public_key) == "bob"
    assert len(book.refused) == 1 and "alice rotated to a key already bob's" in book.refused[0]
