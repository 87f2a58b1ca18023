"""The database schema: ids, days, sizes and public keys, nothing else.

What a seized database reveals is exactly what is here: how many applicants
and submissions exist, the day each arrived, ciphertext sizes, and each
applicant's reply public key (and a random value that ends their sessions
when they sign out); and how many team records the reviewers sent through
the server, on which days, linked to nothing. Days, never times. No name, no text, no
filename, no content type: those live only inside envelopes.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from crypto.ids import new_id

ID_LENGTH = 32  # 16 random bytes as lowercase hex


class Base(DeclarativeBase):
    pass


class RecipientKey(Base):
    """A reviewer public key; new submissions are sealed to every active one."""

    __tablename__ = "recipient_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    public_key: Mapped[str] = mapped_column(String(80), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(30))
    added_day: Mapped[dt.date] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Applicant(Base):
    """One case. Found only through the lookup id derived from the codename."""

    __tablename__ = "applicants"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)  # the case id
    lookup_id: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    reply_public_key: Mapped[str] = mapped_column(String(80))
    created_day: Mapped[dt.date] = mapped_column(Date)
    last_active_day: Mapped[dt.date] = mapped_column(Date)
    # Every session cookie of this applicant carries this random value; signing out
    # replaces it, which ends them all (intake/sessions.py). A value, never a time.
    # "" (applicants from before revision 0004) matches no session: sign-in sets one.
    session_epoch: Mapped[str] = mapped_column(
        String(ID_LENGTH), default=new_id, server_default=""
    )

    submissions: Mapped[list[Submission]] = relationship(
        back_populates="applicant", order_by="Submission.day"
    )


class Submission(Base):
    """One application or follow-up: an answers envelope plus attachment envelopes."""

    __tablename__ = "submissions"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    applicant_id: Mapped[str] = mapped_column(ForeignKey("applicants.id"), index=True)
    day: Mapped[dt.date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(20))  # "application" | "followup"
    answers_blob_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    exported_day: Mapped[dt.date | None] = mapped_column(Date, nullable=True, default=None)

    applicant: Mapped[Applicant] = relationship(back_populates="submissions")
    blobs: Mapped[list[Blob]] = relationship(back_populates="submission")


class Blob(Base):
    """One stored envelope: `store/<id>` in the data directory."""

    __tablename__ = "blobs"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), index=True)
    size: Mapped[int] = mapped_column(Integer)  # ciphertext bytes (content is padded)
    role: Mapped[str] = mapped_column(String(20))  # "answers" | "attachment"

    submission: Mapped[Submission] = relationship(back_populates="blobs")


class Reply(Base):
    """A reply from the Secretariat: `store/<blob_id>`, sealed to the applicant's reply key.

    `id` is the reviewer's reply id (from the replies bundle); `day` the day the
    reviewer wrote it; `read_day` the first day the applicant's page showed it.
    Deleting a reply removes this row and the file.
    """

    __tablename__ = "replies"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    applicant_id: Mapped[str] = mapped_column(ForeignKey("applicants.id"), index=True)
    day: Mapped[dt.date] = mapped_column(Date)
    blob_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    size: Mapped[int] = mapped_column(Integer)
    read_day: Mapped[dt.date | None] = mapped_column(Date, nullable=True, default=None)


class DeletedReply(Base):
    """The id of a reply the applicant deleted, and nothing else.

    Kept so that importing the same replies bundle again (or a reviewer's
    `export-replies --all`) does not bring a deleted reply back. A random id
    with no case, day or size: it says only that some reply was deleted.
    """

    __tablename__ = "deleted_replies"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)


class TeamBlob(Base):
    """A team member of a replies bundle: `store/<id>`, an envelope this server cannot open.

    A reviewer's record or announcement for colleagues (docs/team.md), carried
    blind: a random id, the day it arrived and the day it was first exported,
    and nothing else. No case, no reply, no size, no author: nothing joins it
    to an applicant or to anything else in this database.
    """

    __tablename__ = "team_blobs"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, index=True)
    exported_day: Mapped[dt.date | None] = mapped_column(Date, nullable=True, default=None,
                                                         index=True)


# Indexes for the retention purge (migration 0003), declared apart from the
# columns so that the columns above stay as revision 0001 made them.
Index("ix_submissions_exported_day", Submission.exported_day)
Index("ix_replies_read_day", Reply.read_day)
Index("ix_applicants_last_active_day", Applicant.last_active_day)
