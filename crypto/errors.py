"""Error classes for everything that can go wrong when reading keys and envelopes.

Each class carries the sentence a person sees. The outside world gets a small
number of messages ("not an envelope", "not addressed to your key", "damaged or
tampered with"); the finer classes exist so that tests can tell which check
fired, and so that a parsing bug cannot hide behind a MAC failure.
"""

from __future__ import annotations


class CryptoError(Exception):
    """Base class: every expected failure in `crypto` is one of these."""

    message = "cryptographic operation failed"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(self.message if detail is None else detail)

    @property
    def public_message(self) -> str:
        """The sentence to show outside the package."""
        return str(self)


# --- public keys --------------------------------------------------------------


class InvalidPublicKey(CryptoError):
    message = "not a valid refuge-intake public key"


# --- key files ----------------------------------------------------------------


class KeyFileError(CryptoError):
    message = "not a refuge-intake key file, or the file is damaged"


class UnsupportedKeyFile(KeyFileError):
    message = "this key file uses a format or Argon2 limits this version does not support"


class WrongPassphrase(KeyFileError):
    message = "wrong passphrase (or the key file is damaged)"


# --- codenames ----------------------------------------------------------------


class InvalidCodename(CryptoError):
    message = "that is not a valid codename"


# --- envelopes ----------------------------------------------------------------


class DecryptError(CryptoError):
    """Any failure to open an envelope. Callers outside `crypto` catch this."""

    message = "cannot decrypt: the envelope is damaged or has been tampered with"

    @property
    def public_message(self) -> str:
        # One opaque sentence per outcome; the detail (which check) stays inside.
        return type(self).message


class NotAnEnvelope(DecryptError):
    message = "cannot decrypt: this is not a refuge-intake envelope"


class UnsupportedVersion(DecryptError):
    message = "cannot decrypt: this envelope was made by a newer, unknown format version"


class HeaderError(DecryptError):
    """The header is malformed: counts, lengths or duplicate stanzas."""


class NoMatch(DecryptError):
    message = "cannot decrypt: this envelope is not addressed to any of your keys"


class StanzaError(HeaderError):
    """A stanza names one of our keys but its sealed file key does not open."""


class HeaderMacError(HeaderError):
    """The header MAC does not verify: a stanza was added, removed, swapped or altered."""


class PayloadError(DecryptError):
    """A payload chunk failed authentication or broke a framing rule."""


class ChunkAuthError(PayloadError):
    """A payload chunk failed authentication (Poly1305 tag, order or key)."""


class TruncatedError(PayloadError):
    """The payload ended before its final chunk."""


class TrailingDataError(PayloadError):
    """Bytes follow the final chunk."""


class PaddingError(PayloadError):
    """The padding after the content is not all zero bytes, or is framed wrongly."""


class NonZeroPaddingError(PaddingError):
    """A padding chunk after the end-of-content chunk holds a byte that is not zero."""


class PaddingLengthError(PaddingError):
    """The content, marker and padding add up to another length than padded_size gives."""


class EncryptError(CryptoError):
    message = "cannot encrypt"


# --- the documents inside envelopes --------------------------------------------


class DocumentError(CryptoError):
    """A decrypted answers or reply document breaks a rule of docs/format.md."""

    message = "the document inside this envelope is malformed"


class UnsupportedDocumentVersion(DocumentError):
    message = "the document inside this envelope was made by a newer, unknown version"


# --- team records and key announcements (docs/team.md) -------------------------


class TeamRecordError(CryptoError):
    """A team record is malformed: its frame, its JSON or a field breaks a rule."""

    message = "this team record is malformed"


class NotATeamRecord(TeamRecordError):
    message = "this is not a refuge-intake team record"


class UnsupportedTeamRecord(TeamRecordError):
    message = "this team record was made by a newer, unknown version"


class BadSignature(TeamRecordError):
    """The signature does not verify under the author it names, nor under any known key."""

    message = "this team record has been altered: its signature does not verify"


class ForgedAuthor(TeamRecordError):
    """The signature verifies under a known key that is not the author the record names."""

    message = "this team record names another author than the colleague who signed it"


class RecordKeptAside(TeamRecordError):
    """A valid record this home cannot apply yet: kept, and applied later."""

    message = "this team record is kept aside"


class UnknownAuthor(RecordKeptAside):
    message = "this team record is signed by a key that is not (yet) confirmed"


class UnknownCase(RecordKeptAside):
    message = "this team record is about a case this home does not have (yet)"


class RemovedAuthor(TeamRecordError):
    message = "this team record is from a colleague whose key was removed"


class AnnouncementError(CryptoError):
    """A signing key announcement is malformed, altered, or its binding does not verify."""

    message = "this signing key announcement is damaged or has been tampered with"


class AnnouncementNoMatch(AnnouncementError):
    message = "this signing key announcement is not addressed to any of your keys"


# --- referral dossiers and their answers (docs/dossier.md) ---------------------


class DossierError(CryptoError):
    """A dossier or a dossier answer is malformed: its frame, its JSON or a field."""

    message = "this dossier is malformed"


class NotADossier(DossierError):
    message = "this is not a refuge-intake dossier (or dossier answer)"


class UnsupportedDossier(DossierError):
    message = "this dossier was made by a newer, unknown version"


class DossierBadSignature(DossierError):
    """The signature does not verify, or a file is not the one the signed document names."""

    message = "this dossier has been altered: its signature does not verify"


class UnknownSigner(DossierError):
    """Well formed and signed, but by a key this reader has not confirmed."""

    message = "this dossier is signed by a key you have not confirmed"
