"""Applicant sessions that end: on sign-out, after a while idle, and after a few hours.

The session is Flask's signed cookie, and a signed cookie alone cannot be
revoked: clearing the browser's copy at sign-out leaves any other copy valid,
and re-signing it at every request kept a copy alive for as long as someone
used it (with the sealed reply key in it, the server would open the replies
for whoever held it). So a signed-in session carries, inside the signature:

- the case id and the applicant's *session epoch*, a random value also kept in
  the applicant's row (`applicants.session_epoch`). Signing out replaces the
  row's value, which ends every copy of every session of that applicant, on
  every worker and host, since it lives in the database;
- the time it was issued (at sign-in, or when the application was stored)
  and the time of its last request, in seconds since the Unix epoch. These
  live only in the cookie: the server stores days, never times.

Every request checks all three (`session_problem`, a pure function): the
epoch must equal the row's, the session must be younger than
`INTAKE_SESSION_MAX_HOURS` and its last request newer than
`INTAKE_SESSION_MINUTES`. A session that fails is cleared before the view
runs, so the view sees a visitor who is not signed in. The clock is
`config["CLOCK"]`, so tests move time instead of sleeping.
"""

from __future__ import annotations

import enum
import hmac
from collections.abc import Callable, Mapping
from typing import Any, cast

from flask import current_app, g, session
from sqlalchemy.orm import Session

from crypto.ids import new_id
from intake import db
from intake.models import Applicant

CASE = "case"
EPOCH = "epoch"
ISSUED = "issued"
SEEN = "seen"


class Ended(enum.Enum):
    """Why a session cookie no longer opens its case."""

    NO_CASE = "the case no longer exists"
    SIGNED_OUT = "signed out"  # or from before sessions could end on the server
    TOO_OLD = "older than the absolute lifetime"
    IDLE = "idle for too long"
    MALFORMED = "missing or malformed fields"


def new_epoch() -> str:
    """A fresh epoch: as random as an id, and the same shape (models.Applicant)."""
    return new_id()


def now() -> int:
    clock = cast(Callable[[], float], current_app.config["CLOCK"])
    return int(clock())


def session_problem(
    cookie: Mapping[str, Any], epoch: str | None, at: int, *, idle: int, lifetime: int
) -> Ended | None:
    """None if a signed-in session's fields still hold at time `at`, else why not.

    `epoch` is the applicant row's current value (None: no such case); `idle`
    and `lifetime` are in seconds.
    """
    if epoch is None:
        return Ended.NO_CASE
    carried, issued, seen = cookie.get(EPOCH), cookie.get(ISSUED), cookie.get(SEEN)
    if not (isinstance(carried, str) and type(issued) is int and type(seen) is int):
        return Ended.MALFORMED
    if not epoch or not hmac.compare_digest(carried.encode(), epoch.encode()):
        return Ended.SIGNED_OUT
    if not issued <= seen <= at:  # a cookie from the future: a clock moved back
        return Ended.MALFORMED
    if at - issued >= lifetime:
        return Ended.TOO_OLD
    if at - seen >= idle:
        return Ended.IDLE
    return None


def begin(applicant: Applicant) -> None:
    """Start a signed-in session for `applicant` (whose epoch must be set and committed)."""
    if not applicant.session_epoch:
        # A session without an epoch could never be ended by sign-out: refuse it.
        raise ValueError("set the applicant's session epoch before beginning a session")
    session.clear()
    at = now()
    session[CASE] = applicant.id
    session[EPOCH] = applicant.session_epoch
    session[ISSUED] = at
    session[SEEN] = at


def ensure_epoch(applicant: Applicant) -> None:
    """Give an applicant from before revision 0004 an epoch (the caller commits)."""
    if not applicant.session_epoch:
        applicant.session_epoch = new_epoch()


def end_everywhere(dbs: Session, applicant: Applicant) -> None:
    """Sign out: every session cookie of this applicant, wherever it is, stops working."""
    applicant.session_epoch = new_epoch()
    dbs.commit()
    session.clear()


def check_session() -> None:
    """Before each request: clear a session that has ended; else note this request's time.

    Sets `g.applicant` to the signed-in applicant (or None) for the views, and
    `g.session_ended` when a session was cleared here.
    """
    g.applicant = None
    g.session_ended = None
    if CASE not in session:
        return
    case = session.get(CASE)
    applicant = db.session().get(Applicant, case) if isinstance(case, str) else None
    at = now()
    config = current_app.config
    problem = session_problem(
        session,
        applicant.session_epoch if applicant is not None else None,
        at,
        idle=int(config["PERMANENT_SESSION_LIFETIME"].total_seconds()),
        lifetime=int(config["SESSION_MAX_AGE"].total_seconds()),
    )
    if problem is not None:
        session.clear()
        g.session_ended = problem
        return
    # The new time re-signs the cookie, which makes the idle limit slide.
    session[SEEN] = at
    g.applicant = applicant


def signed_in_applicant() -> Applicant | None:
    return cast(Applicant | None, g.get("applicant"))
