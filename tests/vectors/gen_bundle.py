"""Generate tests/vectors/bundle/: one bundle scenario a file, age-style.

Run `python -m tests.vectors.gen_bundle` from the repository root. Output is
deterministic: members are stand-in envelopes (a well-formed envelope header
whose stanzas name the listed recipients' key ids, then fixed bytes), which is
all the bundle layer checks; the envelope layer has its own vectors. Each file
is `key: value` lines, a blank line, then the bundle:

    expect: success | not a bundle | unsupported version | wrong kind |
            truncated | trailing data | manifest digest failure |
            manifest failure | member failure
    error: (failures only) the class of crypto/bundle/format.py raised
    kind: the kind the reader is told to expect
    members: (success only) the number of members
    comment: what the case exercises
"""

from __future__ import annotations

import copy
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import nacl.hashlib

from crypto import bundle
from crypto.envelope import MAGIC as ENV_MAGIC
from crypto.keys import FIELD_PRIME, PrivateKey, PublicKey

OUT = Path(__file__).parent / "bundle"

REVIEWER = PrivateKey(bytes(range(1, 33))).public_key
APPLICANT = PrivateKey(bytes(range(33, 65))).public_key
OTHER = PrivateKey(bytes(range(65, 97))).public_key

#: The class each `expect:` names (crypto/bundle/format.py); one class per outcome.
ERRORS = {
    "not a bundle": bundle.NotABundle,
    "unsupported version": bundle.UnsupportedBundleVersion,
    "wrong kind": bundle.WrongBundleKind,
    "truncated": bundle.TruncatedBundle,
    "trailing data": bundle.TrailingBundleData,
    "manifest digest failure": bundle.ManifestDigestError,
    "manifest failure": bundle.ManifestError,
    "member failure": bundle.MemberError,
}


def key_text(raw: bytes) -> str:
    """The text form of any 32 bytes, canonical or not (PublicKey.to_text refuses nothing)."""
    return PublicKey(raw).to_text()


def bit_255(key: PublicKey) -> str:
    """The same X25519 key with bit 255 set: another text libsodium reads as the same point."""
    return key_text(key.raw[:31] + bytes([key.raw[31] | 0x80]))


def hexid(n: int) -> str:
    return hashlib.sha256(b"id%d" % n).hexdigest()[:32]


def member_bytes(n: int, size: int = 300, to: tuple[PublicKey, ...] = (REVIEWER,),
                 count: int | None = None) -> bytes:
    """A stand-in envelope: magic, recipient count, one stanza per key in `to`
    (its key id, then 80 fixed bytes where the sealed file key would be), 56
    fixed bytes of stream header and MAC, then `size` fixed bytes."""
    filler = hashlib.sha256(b"member%d" % n).digest() * ((size + 200) // 32 + 1)
    stanzas = b"".join(k.key_id + filler[:80] for k in to)
    count = len(to) if count is None else count
    return ENV_MAGIC + bytes([count]) + stanzas + filler[:56] + filler[56 : 56 + size]


def digest(data: bytes) -> str:
    h = nacl.hashlib.blake2b(data, digest_size=32, person=b"refuge-bndl-mb1")
    return str(h.hexdigest())


def raw(manifest: bytes, members: list[bytes], *, magic: bytes = bundle.MAGIC) -> bytes:
    """Assemble bytes as a writer would, but from a manifest given verbatim."""
    prefix = magic + bundle.LENGTH.pack(len(manifest)) + manifest
    mdigest = nacl.hashlib.blake2b(prefix, digest_size=32, person=b"refuge-bndl-mf1").digest()
    return prefix + mdigest + b"".join(members)


def submissions() -> tuple[dict[str, Any], list[bytes]]:
    members = [member_bytes(i) for i in range(4)]
    ids = [hexid(i) for i in range(4)]
    manifest = {
        "format": "refuge-intake bundle",
        "version": 1,
        "kind": "submissions",
        "created": "2026-11-23",
        "recipients": [REVIEWER.to_text()],
        "members": [
            {"id": ids[i], "length": len(m), "blake2b": digest(m)} for i, m in enumerate(members)
        ],
        "cases": [
            {
                "case": hexid(100),
                "reply_key": APPLICANT.to_text(),
                "submissions": [
                    {
                        "submission": hexid(200),
                        "day": "2026-11-20",
                        "kind": "application",
                        "answers": ids[0],
                        "attachments": [ids[1], ids[2]],
                    },
                    {
                        "submission": hexid(201),
                        "day": "2026-11-22",
                        "kind": "followup",
                        "answers": ids[3],
                        "attachments": [],
                    },
                ],
            }
        ],
    }
    return manifest, members


def replies() -> tuple[dict[str, Any], list[bytes]]:
    members = [member_bytes(10 + i) for i in range(2)]
    ids = [hexid(10 + i) for i in range(2)]
    manifest = {
        "format": "refuge-intake bundle",
        "version": 1,
        "kind": "replies",
        "created": "2026-11-23",
        "recipients": [REVIEWER.to_text()],
        "members": [
            {"id": ids[i], "length": len(m), "blake2b": digest(m)} for i, m in enumerate(members)
        ],
        "replies": [
            {"reply": hexid(300 + i), "case": hexid(100), "day": "2026-11-23", "blob": ids[i]}
            for i in range(2)
        ],
    }
    return manifest, members


def canon(obj: Any) -> bytes:
    return bundle.canonical_json(obj)


def cases() -> dict[str, tuple[dict[str, str], bytes]]:
    out: dict[str, tuple[dict[str, str], bytes]] = {}

    def add(name: str, expect: str, kind: str, comment: str, data: bytes, **extra: str) -> None:
        fields = {"expect": expect}
        if expect != "success":
            fields["error"] = ERRORS[expect].__name__
        out[name] = ({**fields, "kind": kind, **extra, "comment": comment}, data)

    man, mem = submissions()
    good = raw(canon(man), mem)
    rman, rmem = replies()
    rgood = raw(canon(rman), rmem)
    mstart = len(good) - sum(len(m) for m in mem)  # offset of the first member

    add("success_submissions", "success", "submissions", "one case, two submissions",
        good, members="4")
    add("success_replies", "success", "replies", "two replies", rgood, members="2")
    empty = copy.deepcopy(man)
    empty["members"], empty["cases"] = [], []
    add("success_empty", "success", "submissions", "nothing to carry", raw(canon(empty), []),
        members="0")

    add_recipient_cases(add, man, mem, rman, rmem)
    add_team_cases(add, man, mem, rman, rmem)

    add("empty_file", "not a bundle", "submissions", "zero bytes", b"")
    add("envelope_not_bundle", "not a bundle", "submissions", "an envelope given as a bundle",
        mem[0])
    add("text_file", "not a bundle", "submissions", "a text file", b"hello world\n" * 4)
    add("magic_v2", "unsupported version", "submissions", "magic line names version 2",
        raw(canon(man), mem, magic=b"refuge-intake bundle v2\n"))
    v2 = copy.deepcopy(man)
    v2["version"] = 2
    add("manifest_version_2", "unsupported version", "submissions",
        "manifest says version 2", raw(canon(v2), mem))
    add("wrong_kind", "wrong kind", "submissions", "a replies bundle where submissions expected",
        rgood)
    add("wrong_kind_replies", "wrong kind", "replies",
        "a submissions bundle where replies expected", good)

    add("truncated_magic", "truncated", "submissions", "cut inside the magic line", good[:10])
    add("truncated_length", "truncated", "submissions", "cut inside the length", good[:26])
    add("truncated_manifest", "truncated", "submissions", "cut inside the manifest",
        good[:100])
    add("truncated_digest", "truncated", "submissions", "cut inside the manifest digest",
        good[: mstart - 5])
    add("truncated_member", "truncated", "submissions", "cut inside the last member",
        good[:-1])
    add("missing_member", "truncated", "submissions", "the last member is missing",
        good[: -len(mem[-1])])
    add("trailing_byte", "trailing data", "submissions", "one byte after the last member",
        good + b"\0")
    add("trailing_bundle", "trailing data", "submissions", "two bundles concatenated",
        good + good)

    flipped = bytearray(good)
    flipped[40] ^= 0x01
    add("flipped_manifest_byte", "manifest digest failure", "submissions",
        "one bit of the manifest flipped", bytes(flipped))
    flipped = bytearray(good)
    flipped[mstart - 1] ^= 0x80
    add("flipped_digest_byte", "manifest digest failure", "submissions",
        "one bit of the manifest digest flipped", bytes(flipped))
    flipped = bytearray(good)
    flipped[mstart + 100] ^= 0x01
    add("flipped_member_byte", "member failure", "submissions",
        "one bit of the first member flipped", bytes(flipped))
    add("swapped_members", "member failure", "submissions",
        "first two members swapped (same lengths)", raw(canon(man), [mem[1], mem[0], *mem[2:]]))
    notenv = copy.deepcopy(man)
    fake = b"NOTENV\x00\x01" + mem[0][8:]
    notenv["members"][0]["blake2b"] = digest(fake)
    add("member_not_envelope", "member failure", "submissions",
        "a member with a matching digest that is not an envelope",
        raw(canon(notenv), [fake, *mem[1:]]))
    longer = copy.deepcopy(man)
    longer["members"][0]["length"] += 1
    add("member_length_off", "member failure", "submissions",
        "the first member listed one byte longer (digest then fails)",
        raw(canon(longer), mem))

    def bad(name: str, comment: str, data: bytes) -> None:
        add(name, "manifest failure", "submissions", comment, raw(data, mem))

    bad("noncanonical_spaces", "manifest with spaces after separators",
        json.dumps(man, sort_keys=True).encode())
    bad("noncanonical_order", "manifest keys not sorted",
        json.dumps(man, separators=(",", ":")).encode())
    bad("not_json", "manifest is not JSON", b"{not json}")
    bad("json_array", "manifest is a list", b"[]")
    bad("duplicate_key", "a field given twice",
        canon(man)[:-1] + b',"version":1}')
    bad("non_ascii", "a non-ASCII byte in the manifest", canon(man).replace(b"2026-11-23",
        "2026-11-2\u0663".encode()))

    bad("control_char", "a DEL byte inside a string",
        canon(man).replace(b'"2026-11-23"', b'"2026-11-23\x7f"'))

    def mutate(name: str, comment: str, fn: Any) -> None:
        m = copy.deepcopy(man)
        fn(m)
        bad(name, comment, canon(m))

    def set_(path: list[Any], value: Any) -> Any:
        def fn(m: Any) -> None:
            target = m
            for p in path[:-1]:
                target = target[p]
            target[path[-1]] = value
        return fn

    mutate("uppercase_id", "a member id in uppercase hex",
           set_(["members", 0, "id"], hexid(0).upper()))
    mutate("short_id", "a case id of 31 hex digits", set_(["cases", 0, "case"], hexid(100)[:31]))
    mutate("float_length", "a member length written as a float",
           set_(["members", 0, "length"], 308.0))
    mutate("bool_length", "a member length written as true", set_(["members", 0, "length"], True))
    mutate("tiny_length", "a member length below the envelope magic",
           set_(["members", 0, "length"], 7))
    mutate("bad_day", "a day that does not exist",
           set_(["cases", 0, "submissions", 0, "day"], "2026-02-30"))
    mutate("bad_submission_kind", "submission kind 'reply'",
           set_(["cases", 0, "submissions", 0, "kind"], "reply"))
    mutate("bad_reply_key", "the reply key is not a public key",
           set_(["cases", 0, "reply_key"], "refuge-pk1-xyz"))
    mutate("no_recipients", "no reviewer keys listed", set_(["recipients"], []))
    mutate("duplicate_recipient", "a reviewer key listed twice",
           set_(["recipients"], [REVIEWER.to_text()] * 2))
    mutate("unknown_field", "an unknown top-level field", set_(["extra"], 1))
    mutate("format_name", "a different format name", set_(["format"], "something else"))
    mutate("unknown_kind", "kind 'letters'", set_(["kind"], "letters"))

    def drop_created(m: Any) -> None:
        del m["created"]
    mutate("missing_field", "no created day", drop_created)

    def dup_member(m: Any) -> None:
        m["members"][1]["id"] = m["members"][0]["id"]
    mutate("duplicate_member_id", "two members with one id", dup_member)

    def unreferenced(m: Any) -> None:
        m["cases"][0]["submissions"][0]["attachments"] = [m["members"][1]["id"]]
    mutate("unreferenced_member", "a member no record names", unreferenced)

    def twice(m: Any) -> None:
        m["cases"][0]["submissions"][1]["answers"] = m["members"][0]["id"]
    mutate("member_named_twice", "one member named by two records", twice)

    def dup_sub(m: Any) -> None:
        m["cases"][0]["submissions"][1]["submission"] = hexid(200)
    mutate("duplicate_submission", "a submission id listed twice", dup_sub)

    def dup_case(m: Any) -> None:
        c = copy.deepcopy(m["cases"][0])
        c["submissions"] = [c["submissions"].pop()]
        m["cases"][0]["submissions"] = m["cases"][0]["submissions"][:1]
        m["cases"].append(c)
    mutate("duplicate_case", "a case listed twice", dup_case)

    def replies_in_subs(m: Any) -> None:
        m["replies"] = []
    mutate("replies_field_in_submissions", "a submissions manifest with a replies field",
           replies_in_subs)

    add("missing_version", "unsupported version", "submissions",
        "no version field: the version check comes before the exact-fields rule",
        raw(canon(drop_version_copy(man)), mem))
    mutate("day_year_zero", "a day in year 0000, before the range 0001-01-01..9999-12-31",
           set_(["cases", 0, "submissions", 0, "day"], "0000-12-31"))
    extreme = copy.deepcopy(man)
    extreme["created"] = "0001-01-01"
    extreme["cases"][0]["submissions"][0]["day"] = "9999-12-31"
    extreme["cases"][0]["submissions"][1]["day"] = "2024-02-29"
    add("success_day_range", "success", "submissions",
        "days at both ends of the range and on a leap day", raw(canon(extreme), mem),
        members="4")

    zero = bundle.MAGIC + bundle.LENGTH.pack(0) + bytes(32)
    add("manifest_length_zero", "manifest failure", "submissions", "manifest length 0", zero)
    huge = bundle.MAGIC + bundle.LENGTH.pack(0xFFFFFFFF) + b"{}"
    add("manifest_length_huge", "manifest failure", "submissions",
        "manifest length 4 GiB, refused before reading", huge)
    return out


def drop_version_copy(man: dict[str, Any]) -> dict[str, Any]:
    m = copy.deepcopy(man)
    del m["version"]
    return m


def add_recipient_cases(add: Any, man: dict[str, Any], mem: list[bytes],
                        rman: dict[str, Any], rmem: list[bytes]) -> None:
    """Public keys in the manifest: canonical text only; recipients match the stanzas."""

    def variant(name: str, comment: str, fn: Any, kind: str = "submissions",
                base: tuple[dict[str, Any], list[bytes]] | None = None,
                expect: str = "manifest failure", members: list[bytes] | None = None,
                count: str | None = None) -> None:
        m0, mm = base or (man, mem)
        m = copy.deepcopy(m0)
        fn(m)
        mm = members if members is not None else mm
        extra = {} if count is None else {"members": count}
        if members is not None:
            m["members"] = [
                {"id": e["id"], "length": len(b), "blake2b": digest(b)}
                for e, b in zip(m["members"], mm, strict=True)
            ]
        add(name, expect, kind, comment, raw(canon(m), mm), **extra)

    def recipients(*texts: str) -> Any:
        def fn(m: Any) -> None:
            m["recipients"] = list(texts)
        return fn

    def reply_key(text: str) -> Any:
        def fn(m: Any) -> None:
            m["cases"][0]["reply_key"] = text
        return fn

    above = (FIELD_PRIME + 9).to_bytes(32, "little")  # the base point 9, plus p
    variant("noncanonical_recipient",
            "a recipient key with bit 255 set (the same X25519 key, another text)",
            recipients(bit_255(REVIEWER)))
    variant("noncanonical_recipient_above_prime",
            "a recipient key whose number is 2^255 - 19 + 9, the base point written a second way",
            recipients(key_text(above)))
    variant("noncanonical_reply_key", "a reply key with bit 255 set",
            reply_key(bit_255(APPLICANT)))
    variant("noncanonical_reply_key_above_prime",
            "a reply key whose number is 2^255 - 19 + 9", reply_key(key_text(above)))
    variant("low_order_recipient", "a second recipient key that is a low-order point (all zero)",
            recipients(REVIEWER.to_text(), key_text(bytes(32))))
    variant("unrelated_recipient",
            "a second recipient key that no member envelope is sealed to",
            recipients(REVIEWER.to_text(), OTHER.to_text()))
    variant("replies_reply_case_uppercase", "a reply's case id in uppercase hex",
            lambda m: m["replies"][0].update(case=m["replies"][0]["case"].upper()),
            kind="replies", base=(rman, rmem))
    variant("success_replies_recipients_not_checked",
            "a replies bundle's recipients are not compared with its envelopes",
            recipients(REVIEWER.to_text(), OTHER.to_text()), kind="replies",
            base=(rman, rmem), expect="success", count="2")
    variant("success_recipients_union",
            "two recipients; one envelope sealed to both, the others to one (a key added later)",
            recipients(REVIEWER.to_text(), OTHER.to_text()), expect="success",
            members=[member_bytes(0, to=(REVIEWER, OTHER)), *mem[1:3],
                     member_bytes(3, to=(OTHER,))], count="4")
    variant("member_sealed_to_unlisted_key",
            "a member envelope with a stanza for a key the manifest does not list",
            lambda m: None, expect="member failure",
            members=[member_bytes(0, to=(REVIEWER, OTHER)), *mem[1:]])
    variant("member_no_stanza", "a member envelope header with a recipient count of 0",
            lambda m: None, expect="member failure",
            members=[member_bytes(0, count=0), *mem[1:]])
    variant("member_header_cut",
            "a member that ends inside its envelope header (the magic and two bytes)",
            lambda m: None, expect="member failure",
            members=[member_bytes(0)[:10], *mem[1:]])
    variant("member_duplicate_stanza", "a member envelope header naming one key id twice",
            lambda m: None, expect="member failure",
            members=[member_bytes(0, to=(REVIEWER, REVIEWER)), *mem[1:]])


def with_team(base: tuple[dict[str, Any], list[bytes]], team: list[bytes]
              ) -> tuple[dict[str, Any], list[bytes]]:
    """The bundle `base` with `team` appended as team members (ids hexid(400 + i))."""
    m0, mm = base
    m = copy.deepcopy(m0)
    ids = [hexid(400 + i) for i in range(len(team))]
    m["members"] += [
        {"id": i, "length": len(b), "blake2b": digest(b)} for i, b in zip(ids, team, strict=True)
    ]
    m["team"] = ids
    return m, [*mm, *team]


def add_team_cases(add: Any, man: dict[str, Any], mem: list[bytes],
                   rman: dict[str, Any], rmem: list[bytes]) -> None:
    """The optional `team` field: member ids of envelopes for colleagues (docs/team.md)."""
    team = [member_bytes(40, to=(REVIEWER, OTHER)), member_bytes(41, to=(OTHER,))]
    sman, smem = with_team((man, mem), team)
    add("success_submissions_team", "success", "submissions",
        "one case and two team members, one sealed to a key the manifest does not list",
        raw(canon(sman), smem), members="6")
    tman, tmem = with_team((rman, rmem), team[:1])
    add("success_replies_team", "success", "replies", "two replies and a team member",
        raw(canon(tman), tmem), members="3")
    only = copy.deepcopy(man)
    only["members"], only["cases"] = [], []
    oman, omem = with_team((only, []), team)
    add("success_team_only", "success", "submissions",
        "no submission, two team members: recipients are compared with nothing",
        raw(canon(oman), omem), members="2")

    def bad(name: str, comment: str, fn: Any, kind: str = "submissions") -> None:
        m = copy.deepcopy(sman if kind == "submissions" else tman)
        fn(m)
        add(name, "manifest failure", kind, comment,
            raw(canon(m), smem if kind == "submissions" else tmem))

    def drop_team(m: Any) -> None:
        del m["team"]

    def set_team(value: Any) -> Any:
        def fn(m: Any) -> None:
            m["team"] = value
        return fn

    empty = copy.deepcopy(man)
    empty["team"] = []
    add("team_empty", "manifest failure", "submissions",
        "team present but empty: a manifest without team members omits it",
        raw(canon(empty), mem))
    bad("team_not_a_list", "team is a string, not a list", set_team(hexid(400)))
    bad("team_uppercase_id", "a team entry in uppercase hex",
        lambda m: m["team"].__setitem__(0, hexid(400).upper()))
    bad("team_unknown_member", "a team entry that is not a member",
        lambda m: m["team"].__setitem__(1, hexid(499)))
    bad("team_listed_twice", "one team member listed twice",
        set_team([hexid(400), hexid(401), hexid(400)]))
    bad("team_also_answers", "a team entry that is also a submission's answers",
        set_team([hexid(400), hexid(401), hexid(0)]))
    bad("team_also_reply", "a team entry that is also a reply's blob",
        set_team([hexid(400), hexid(10)]), kind="replies")
    bad("team_member_unnamed", "team members not listed in team: named by no record",
        drop_team)
    odd = [member_bytes(40, count=0)]
    cman, cmem = with_team((rman, rmem), odd)
    add("team_member_header_malformed", "member failure", "replies",
        "a team member whose envelope header has a recipient count of 0 (in a replies bundle)",
        raw(canon(cman), cmem))


def check(name: str, fields: dict[str, str], data: bytes) -> None:
    """Refuse to write a case the reference reader does not decide as labelled."""
    import io

    try:
        bundle.read_bundle(io.BytesIO(data), kind=fields["kind"])
    except bundle.BundleError as e:
        assert type(e).__name__ == fields.get("error"), (name, e)
        return
    assert fields["expect"] == "success", name


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.bundle-vector"):
        old.unlink()
    for name, (fields, data) in sorted(cases().items()):
        check(name, fields, data)
        head = "".join(f"{k}: {v}\n" for k, v in fields.items()) + "\n"
        (OUT / f"{name}.bundle-vector").write_bytes(head.encode() + data)
    print(f"wrote {len(cases())} vectors to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
