"""The bundle: committed vectors, round trips through the writer, and random damage."""

import contextlib
import functools
import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crypto import bundle
from crypto.bundle import (
    BundleError,
    BundleWriteError,
    BundleWriter,
    ManifestDigestError,
    ManifestError,
    Member,
    MemberError,
    NotABundle,
    SubmissionRecord,
    TrailingBundleData,
    TruncatedBundle,
    UnsupportedBundleVersion,
    WrongBundleKind,
    read_bundle,
    speed,
)
from crypto.bundle import manifest as bundle_manifest
from crypto.envelope import encrypt_bytes
from crypto.keys import PrivateKey

VECTORS = Path(__file__).parents[1] / "vectors" / "bundle"
EXPECT = {
    "not a bundle": NotABundle,
    "unsupported version": UnsupportedBundleVersion,
    "wrong kind": WrongBundleKind,
    "truncated": TruncatedBundle,
    "trailing data": TrailingBundleData,
    "manifest digest failure": ManifestDigestError,
    "manifest failure": ManifestError,
    "member failure": MemberError,
}
REVIEWER = PrivateKey.generate()
APPLICANT = PrivateKey.generate()


def load_vector(path: Path) -> tuple[dict[str, str], bytes]:
    data = path.read_bytes()
    head, _, body = data.partition(b"\n\n")
    fields = dict(line.split(": ", 1) for line in head.decode().splitlines())
    return fields, body


def vector_paths() -> list[Path]:
    return sorted(VECTORS.glob("*.bundle-vector"))


def test_vectors_exist() -> None:
    names = {p.stem for p in vector_paths()}
    assert {"success_submissions", "trailing_byte", "swapped_members", "magic_v2"} <= names
    assert len(names) >= 40


@pytest.mark.parametrize("path", vector_paths(), ids=lambda p: p.stem)
def test_vector(path: Path) -> None:
    fields, body = load_vector(path)
    staged: dict[str, bytes] = {}

    @contextlib.contextmanager
    def sink(member: Member) -> Iterator[BinaryIO]:
        out = io.BytesIO()
        yield out
        staged[member.id] = out.getvalue()

    if fields["expect"] == "success":
        manifest = read_bundle(io.BytesIO(body), kind=fields["kind"], sink=sink)
        assert len(manifest.members) == int(fields["members"])
        assert [m.id for m in manifest.members] == list(staged)
        assert sum(len(v) for v in staged.values()) == sum(m.length for m in manifest.members)
    else:
        with pytest.raises(EXPECT[fields["expect"]]) as info:
            read_bundle(io.BytesIO(body), kind=fields["kind"], sink=sink)
        # The exact class, not a parent: a parsing bug cannot hide behind another check.
        assert type(info.value) is EXPECT[fields["expect"]]
        assert type(info.value).__name__ == fields["error"]
        assert str(info.value)  # a sentence for a person


def test_vectors_are_up_to_date() -> None:
    from tests.vectors import gen_bundle

    generated = gen_bundle.cases()
    assert {p.stem for p in vector_paths()} == set(generated)
    for name, (_fields, data) in generated.items():
        _, body = load_vector(VECTORS / f"{name}.bundle-vector")
        assert body == data, name


def make_submissions(n_cases: int = 2, attach: int = 2) -> tuple[bytes, dict[str, bytes]]:
    members: dict[str, bytes] = {}
    out = io.BytesIO()
    w = BundleWriter(out, "submissions", created="2026-11-23", recipients=[REVIEWER.public_key])
    for c in range(n_cases):
        answers = encrypt_bytes(b'{"case": %d}' % c, [REVIEWER.public_key])
        aid = f"{c + 500:032x}"
        members[aid] = answers
        w.add_member(aid, functools.partial(io.BytesIO, answers))
        att_ids = []
        for a in range(attach):
            data = encrypt_bytes(bytes([a]) * (a * 70000), [REVIEWER.public_key])
            bid = f"{c:016x}{a + 1:016x}"
            members[bid] = data
            w.add_member(bid, functools.partial(io.BytesIO, data))
            att_ids.append(bid)
        w.add_case(
            f"{c + 1000:032x}",
            APPLICANT.public_key,
            [SubmissionRecord(f"{c + 2000:032x}", "2026-11-20", "application", aid,
                              tuple(att_ids))],
        )
    w.close()
    return out.getvalue(), members


def test_round_trip_through_writer(tmp_path: Path) -> None:
    data, members = make_submissions()
    staged: dict[str, bytes] = {}
    seen: list[int] = []

    @contextlib.contextmanager
    def sink(member: Member) -> Iterator[BinaryIO]:
        out = io.BytesIO()
        yield out
        staged[member.id] = out.getvalue()

    manifest = read_bundle(io.BytesIO(data), kind="submissions", sink=sink, progress=seen.append)
    assert staged == members
    assert sum(seen) == len(data)
    expected = (f"{1:016x}{1:016x}", f"{1:016x}{2:016x}")
    assert manifest.cases[1].submissions[0].attachments == expected
    assert manifest.cases[0].reply_key == APPLICANT.public_key


def test_writer_from_paths(tmp_path: Path) -> None:
    env = encrypt_bytes(b"reply", [REVIEWER.public_key])
    (tmp_path / "blob").write_bytes(env)
    out = io.BytesIO()
    w = BundleWriter(out, "replies", created="2026-11-23", recipients=[REVIEWER.public_key])
    w.add_member("ab" * 16, tmp_path / "blob")
    w.add_reply("cd" * 16, "ef" * 16, "2026-11-23", "ab" * 16)
    w.close()
    manifest = read_bundle(io.BytesIO(out.getvalue()), kind="replies")
    assert manifest.replies[0].blob == "ab" * 16


def test_writer_refuses_what_the_reader_would() -> None:
    out = io.BytesIO()
    w = BundleWriter(out, "replies", created="2026-11-23", recipients=[REVIEWER.public_key])
    env = encrypt_bytes(b"x", [REVIEWER.public_key])
    w.add_member("ab" * 16, lambda: io.BytesIO(env))  # no reply names it
    with pytest.raises(BundleWriteError, match="do not match"):
        w.close()
    assert out.getvalue() == b""
    with pytest.raises(BundleWriteError):
        w.add_case("ab" * 16, APPLICANT.public_key, [])


def test_writer_refuses_a_member_that_changes() -> None:
    env = bytearray(encrypt_bytes(b"x", [REVIEWER.public_key]))
    out = io.BytesIO()
    w = BundleWriter(out, "replies", created="2026-11-23", recipients=[REVIEWER.public_key])
    w.add_member("ab" * 16, lambda: io.BytesIO(bytes(env)))
    w.add_reply("cd" * 16, "ef" * 16, "2026-11-23", "ab" * 16)
    env[-1] ^= 1
    with pytest.raises(BundleWriteError, match="changed"):
        w.close()


def test_writer_refuses_non_envelope() -> None:
    out = io.BytesIO()
    w = BundleWriter(out, "replies", created="2026-11-23", recipients=[REVIEWER.public_key])
    w.add_member("ab" * 16, lambda: io.BytesIO(b"plaintext, oops"))
    w.add_reply("cd" * 16, "ef" * 16, "2026-11-23", "ab" * 16)
    with pytest.raises(BundleWriteError, match="not an envelope"):
        w.close()
    # The copy loop checks the magic before a chunk is written: no plaintext
    # goes into the bundle.
    assert b"plaintext" not in out.getvalue()


def test_reader_hands_no_byte_of_a_non_envelope_member_to_its_sink() -> None:
    # The same copy loop in the reader: the magic is checked before a chunk
    # reaches the sink.
    member = encrypt_bytes(b"a reply", [REVIEWER.public_key])
    out = io.BytesIO()
    w = BundleWriter(out, "replies", created="2026-11-23", recipients=[REVIEWER.public_key])
    w.add_member("ab" * 16, functools.partial(io.BytesIO, member))
    w.add_reply("cd" * 16, "ef" * 16, "2026-11-23", "ab" * 16)
    w.close()
    plain = b"plaintext, oops".ljust(len(member), b".")
    data = out.getvalue()[: -len(member)] + plain
    received = io.BytesIO()

    @contextlib.contextmanager
    def sink(_: Member) -> Iterator[BinaryIO]:
        yield received

    with pytest.raises(MemberError, match="not an envelope"):
        read_bundle(io.BytesIO(data), kind="replies", sink=sink)
    assert received.getvalue() == b""


def test_errors_are_bundle_errors() -> None:
    for cls in EXPECT.values():
        assert issubclass(cls, BundleError)
        assert "bundle" in cls.message


SMALL, SMALL_MEMBERS = make_submissions(n_cases=1, attach=1)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_bundle_is_rejected_or_identical(data: st.DataObject) -> None:
    """Any damage is refused; if accepted, what comes out is exactly what went in."""
    buf = bytearray(SMALL)
    op = data.draw(st.sampled_from(["flip", "truncate", "insert", "delete", "swap"]))
    pos = data.draw(st.integers(0, len(buf) - 1))
    if op == "flip":
        buf[pos] ^= data.draw(st.integers(1, 255))
    elif op == "truncate":
        del buf[pos:]
    elif op == "insert":
        buf[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
    elif op == "delete":
        del buf[pos : pos + data.draw(st.integers(1, 64))]
    else:
        other = data.draw(st.integers(0, len(buf) - 1))
        buf[pos], buf[other] = buf[other], buf[pos]
    staged: dict[str, bytes] = {}

    @contextlib.contextmanager
    def sink(member: Member) -> Iterator[BinaryIO]:
        out = io.BytesIO()
        yield out
        staged[member.id] = out.getvalue()

    try:
        read_bundle(io.BytesIO(bytes(buf)), kind="submissions", sink=sink)
    except BundleError:
        return
    assert bytes(buf) == SMALL
    assert staged == SMALL_MEMBERS


def test_constants_match_spec() -> None:
    assert len(bundle.MAGIC) == 24
    assert bundle.LENGTH.size == 4
    assert bundle.DIGEST_BYTES == 32


@given(st.lists(st.binary(max_size=3000), max_size=5))
def test_member_hash_is_blake2b_with_the_member_person(parts: list[bytes]) -> None:
    # The reader and writer start each member from a copy of one initialised
    # state; the result must be PyNaCl's BLAKE2b-256 with the spec's person.
    import nacl.hashlib

    ours = speed.member_hash()
    for part in parts:
        ours.update(part)
    expected = nacl.hashlib.blake2b(b"".join(parts), digest_size=32, person=b"refuge-bndl-mb1")
    assert ours.hexdigest() == expected.hexdigest()
    other = speed.member_hash()  # the shared initial state was not advanced
    other.update(b"x")
    assert other.digest() == nacl.hashlib.blake2b(b"x", digest_size=32,
                                                  person=b"refuge-bndl-mb1").digest()



@given(st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32),
       st.integers(min_value=0, max_value=255))
def test_member_digest_matches_as_sodium_memcmp_does(a: bytes, b: bytes, flip: int) -> None:
    import nacl.bindings

    near = bytearray(a)
    near[flip % 32] ^= 1 + flip % 255  # one byte differs
    for listed in (a, b, bytes(near)):
        assert speed.member_digest_matches(a, listed.hex()) == nacl.bindings.sodium_memcmp(
            a, listed)
    assert speed.member_digest_matches(a, a.hex())
    assert not speed.member_digest_matches(a, bytes(near).hex())

def test_public_key_with_spaces_is_not_canonical() -> None:
    key = PrivateKey.generate().public_key.to_text()
    assert bundle_manifest._public_key(key, "k").to_text() == key
    for bad in (" " + key, key + " "):
        with pytest.raises(ManifestError, match="canonical"):
            bundle_manifest._public_key(bad, "k")


def _manifest_of(data: bytes) -> bytes:
    (length,) = bundle.LENGTH.unpack(data[len(bundle.MAGIC) : len(bundle.MAGIC) + 4])
    start = len(bundle.MAGIC) + 4
    return data[start : start + length]


def test_low_order_reply_key_is_refused_after_the_rest_of_the_manifest() -> None:
    import json

    from crypto.keys import PublicKey

    manifest = _manifest_of(make_submissions(n_cases=3, attach=0)[0])
    obj = json.loads(manifest)
    obj["cases"][1]["reply_key"] = PublicKey(bytes(32)).to_text()
    with pytest.raises(ManifestError, match="case 1 reply key is not a valid public key"):
        bundle.parse_manifest(bundle.canonical_json(obj))
    # Every other rule of step 5 is reported before it.
    obj["members"][0]["length"] = 0
    with pytest.raises(ManifestError, match="member 0 length"):
        bundle.parse_manifest(bundle.canonical_json(obj))


def test_a_field_given_twice_is_named() -> None:
    manifest = _manifest_of(make_submissions(n_cases=1, attach=0)[0])
    twice = manifest.replace(b'"created":', b'"created":"2026-11-23","created":', 1)
    with pytest.raises(ManifestError, match="the field 'created' appears twice"):
        bundle.parse_manifest(twice)
    as_list = b"[" + twice + b"]"
    with pytest.raises(ManifestError, match="appears twice"):
        bundle.parse_manifest(as_list)
    with pytest.raises(ManifestError, match="not a JSON object"):
        bundle.parse_manifest(b"[" + manifest + b"]")


def _with_manifest(data: bytes, change: Callable[[dict[str, object]], None]) -> bytes:
    """The bundle with its manifest changed and its digest recomputed."""
    import json

    old = _manifest_of(data)
    obj = json.loads(old)
    change(obj)
    new = bundle.canonical_json(obj)
    prefix = bundle.MAGIC + bundle.LENGTH.pack(len(new)) + new
    members = data[len(bundle.MAGIC) + 4 + len(old) + bundle.DIGEST_BYTES :]
    return prefix + bundle.manifest_digest(prefix) + members


@pytest.mark.parametrize("damage_member", [False, True])
def test_low_order_reply_key_is_reported_before_member_damage(damage_member: bool) -> None:
    from crypto.keys import PublicKey

    data, _ = make_submissions(n_cases=2, attach=1)

    def low(obj: dict[str, Any]) -> None:
        obj["cases"][1]["reply_key"] = PublicKey(bytes(32)).to_text()

    bad = bytearray(_with_manifest(data, low))
    if damage_member:
        bad[-30] ^= 1  # inside the last member: its digest no longer matches
    with pytest.raises(ManifestError, match="case 1 reply key is not a valid public key"):
        read_bundle(io.BytesIO(bytes(bad)), kind="submissions")
    # the same damage with a good key is the member's
    if damage_member:
        good = bytearray(data)
        good[-30] ^= 1
        with pytest.raises(MemberError):
            read_bundle(io.BytesIO(bytes(good)), kind="submissions")


def test_writer_refuses_recipients_the_envelopes_do_not_name() -> None:
    other = PrivateKey.generate().public_key
    blob = encrypt_bytes(b"{}", [REVIEWER.public_key])
    record = SubmissionRecord("1" * 32, "2026-11-20", "application", "a" * 32)
    # A listed key no envelope is sealed to: refused at close, nothing written.
    out = io.BytesIO()
    w = BundleWriter(out, "submissions", created="2026-11-23",
                     recipients=[REVIEWER.public_key, other])
    w.add_member("a" * 32, functools.partial(io.BytesIO, blob))
    w.add_case("c" * 32, APPLICANT.public_key, [record])
    with pytest.raises(BundleWriteError, match="no envelope in it is sealed to"):
        w.close()
    assert out.getvalue() == b""
    # An envelope sealed to a key the manifest does not list: refused when added.
    w = BundleWriter(io.BytesIO(), "submissions", created="2026-11-23", recipients=[other])
    with pytest.raises(BundleWriteError, match="sealed to a key the manifest does not list"):
        w.add_member("a" * 32, functools.partial(io.BytesIO, blob))



# --- team members: the optional `team` field ---------------------------------------

COLLEAGUE = PrivateKey.generate()


def _team_envelope(text: bytes) -> bytes:
    # Sealed to a colleague the manifest's recipients do not list, as team records may be.
    return encrypt_bytes(text, [COLLEAGUE.public_key, REVIEWER.public_key])


def _read_with_members(data: bytes, kind: str) -> tuple[bundle.Manifest, dict[str, bytes]]:
    staged: dict[str, bytes] = {}

    @contextlib.contextmanager
    def sink(member: Member) -> Iterator[BinaryIO]:
        out = io.BytesIO()
        yield out
        staged[member.id] = out.getvalue()

    return read_bundle(io.BytesIO(data), kind=kind, sink=sink), staged


@pytest.mark.parametrize("kind", ["submissions", "replies"])
def test_team_members_round_trip_in_both_kinds(kind: str) -> None:
    out = io.BytesIO()
    w = BundleWriter(out, kind, created="2026-11-23", recipients=[REVIEWER.public_key])
    first, second = _team_envelope(b"record one"), _team_envelope(b"record two")
    given = w.add_team(functools.partial(io.BytesIO, first), member_id="ab" * 16)
    drawn = w.add_team(functools.partial(io.BytesIO, second))
    assert given == "ab" * 16
    assert bundle.is_id(drawn) and drawn != given
    written = w.close()
    assert written.team == (given, drawn)
    manifest, staged = _read_with_members(out.getvalue(), kind)
    assert manifest.team == (given, drawn)
    assert staged == {given: first, drawn: second}
    # member_digest gives what the manifest lists (the server recognises a stored copy by it).
    listed = {m.id: m.digest for m in manifest.members}
    assert bundle.member_digest(io.BytesIO(first)) == listed[given]
    assert bundle.member_digest(io.BytesIO(second)) == listed[drawn] != listed[given]
    assert b'"team":["' + given.encode() in out.getvalue()


def test_team_members_beside_submissions_are_not_compared_with_recipients() -> None:
    data, members = make_submissions(n_cases=1, attach=1)
    manifest, _ = _read_with_members(data, "submissions")
    out = io.BytesIO()
    w = BundleWriter(out, "submissions", created="2026-11-23", recipients=[REVIEWER.public_key])
    for member_id, envelope in members.items():
        w.add_member(member_id, functools.partial(io.BytesIO, envelope))
    for case in manifest.cases:
        w.add_case(case.case, case.reply_key, case.submissions)
    only_colleague = encrypt_bytes(b"announcement", [COLLEAGUE.public_key])
    team_id = w.add_team(functools.partial(io.BytesIO, only_colleague))
    w.close()
    read, staged = _read_with_members(out.getvalue(), "submissions")
    assert read.team == (team_id,)
    assert staged[team_id] == only_colleague
    assert read.cases == manifest.cases


def test_a_bundle_without_team_members_has_no_team_field() -> None:
    # Byte-identical to before the field: the writer leaves it out when empty.
    data, _ = make_submissions(n_cases=1, attach=0)
    assert b'"team"' not in data
    manifest, _ = _read_with_members(data, "submissions")
    assert manifest.team == ()
    assert "team" not in manifest.to_json()


@pytest.mark.parametrize(
    "member",
    [b"RFGENV\x00\x01" + bytes(200), b"not an envelope at all, a note in plaintext" * 5],
    ids=["no-stanza", "plaintext"],
)
def test_writer_refuses_a_team_member_that_is_not_a_well_formed_envelope(member: bytes) -> None:
    out = io.BytesIO()
    w = BundleWriter(out, "replies", created="2026-11-23", recipients=[REVIEWER.public_key])
    with pytest.raises(BundleWriteError, match=r"team member .* well-formed envelope header"):
        w.add_team(lambda: io.BytesIO(member))
    assert w.manifest().team == ()


def test_writer_refuses_a_team_member_id_given_twice() -> None:
    out = io.BytesIO()
    w = BundleWriter(out, "replies", created="2026-11-23", recipients=[REVIEWER.public_key])
    env = _team_envelope(b"x")
    w.add_team(lambda: io.BytesIO(env), member_id="ab" * 16)
    with pytest.raises(BundleWriteError, match="added twice"):
        w.add_team(lambda: io.BytesIO(env), member_id="ab" * 16)


@pytest.mark.parametrize(
    ("team", "detail"),
    [
        ([], "team is an empty list"),
        ("x", "team is not a list"),
        (["AB" * 16], "team entry 0 is not 32 lowercase hex"),
        (["cd" * 16], "team entry 0 is not a member"),
        (["ab" * 16, "ab" * 16], "a team member is listed twice"),
    ],
)
def test_team_field_rules_are_named(team: object, detail: str) -> None:
    out = io.BytesIO()
    w = BundleWriter(out, "replies", created="2026-11-23", recipients=[REVIEWER.public_key])
    env = _team_envelope(b"x")
    w.add_team(lambda: io.BytesIO(env), member_id="ab" * 16)
    w.close()

    def change(m: dict[str, object]) -> None:
        m["team"] = team

    with pytest.raises(ManifestError, match=detail):
        read_bundle(io.BytesIO(_with_manifest(out.getvalue(), change)), kind="replies")


def test_a_team_member_named_as_a_reply_too_is_refused() -> None:
    out = io.BytesIO()
    w = BundleWriter(out, "replies", created="2026-11-23", recipients=[REVIEWER.public_key])
    env = _team_envelope(b"x")
    w.add_member("ab" * 16, lambda: io.BytesIO(env))
    w.add_reply("cd" * 16, "ef" * 16, "2026-11-23", "ab" * 16)
    w.close()

    def change(m: dict[str, object]) -> None:
        m["team"] = ["ab" * 16]

    with pytest.raises(ManifestError, match="also named by a submission or reply"):
        read_bundle(io.BytesIO(_with_manifest(out.getvalue(), change)), kind="replies")


@pytest.mark.parametrize("sizes", [[], [0], [1], [4300], [bundle.COPY_CHUNK], [4300, 0],
                                   [bundle.COPY_CHUNK, 1], [10, 20, 30]])
def test_a_member_of_one_chunk_hashes_as_one_of_many(sizes: list[int]) -> None:
    # One chunk is hashed in one libsodium call (speed._one_shot), more through the
    # streaming state: both must be PyNaCl's BLAKE2b-256 with the member person.
    import nacl.hashlib

    parts = [os.urandom(n) for n in sizes]
    ours = speed.member_hash()
    for part in parts:
        ours.update(part)
    expected = nacl.hashlib.blake2b(b"".join(parts), digest_size=32, person=b"refuge-bndl-mb1")
    assert ours.digest() == expected.digest()
