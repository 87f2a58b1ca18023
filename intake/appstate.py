"""The intake app's long-lived state, each piece behind one typed key.

Flask keeps what an app holds for its whole life (the database engine, the
codename salt, the staging area, ...) in `app.extensions`, a dict of `Any`.
Read there by string, every caller needs a cast and a misspelt key fails only
when a request reaches it. Here each piece is a `Key` naming its string and
its type once (aiohttp's `web.AppKey` does the same): `create_app` and
`db.init_app` `set` it, everyone else `get`s it, already typed. A value of the
wrong type, or one never set, is an error, not something used on trust.

The string names stay as they were, so a test may still put a stand-in (a busy
limiter) straight into `app.extensions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from flask import Flask, current_app
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from intake.security import DerivationLimiter
from intake.storage import StagingArea
from intake.store import Store

T = TypeVar("T")


class NotSetUp(RuntimeError):
    """The app lacks a piece `create_app` sets up: a programming error, never the visitor's."""


@dataclass(frozen=True)
class Key(Generic[T]):
    name: str
    kind: type[T]

    def get(self, app: Flask | None = None) -> T:
        """This key's value in `app` (the current app if None)."""
        value = (current_app if app is None else app).extensions.get(self.name)
        if not isinstance(value, self.kind):
            raise NotSetUp(f"{self.name} is not set up: build the app with intake.create_app")
        return value

    def set(self, app: Flask, value: T) -> None:
        app.extensions[self.name] = value


# The codename salt (config.codename_salt): one per installation, in the data directory.
SALT = Key("intake_salt", bytes)
# Caps concurrent Argon2 derivations; sign-in and apply take a slot or say "busy".
LIMITER = Key("intake_limiter", DerivationLimiter)
# Where a request's uploads are encrypted before their submission is stored.
STAGING = Key("intake_staging", StagingArea)
# Where envelopes are kept once their rows are committed (intake.store).
STORE: Key[Store] = Key("intake_store", Store)  # type: ignore[type-abstract]  # isinstance of the base
ENGINE = Key("intake_engine", Engine)
SESSIONMAKER: Key[sessionmaker[Session]] = Key("intake_sessionmaker", sessionmaker)
# True once a request has found the schema at the newest revision: never asked again.
SCHEMA_READY = Key("intake_schema_ready", bool)
# True once the missing schema has been logged, so it is logged once, not per request.
SCHEMA_WARNED = Key("intake_schema_warned", bool)
