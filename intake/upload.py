"""The request class that encrypts file parts as they stream in.

Werkzeug's default stream factory spools any file part over 500 KB to a
plaintext temporary file. Here the factory returns a `StagedEnvelope` instead:
each chunk is encrypted to the active reviewer keys before it touches the
disk. A view that accepts files must name the recipients first
(`accept_uploads`); anywhere else file parts are dropped unread, so a form
parsed by accident can never store anything, let alone in the clear.

The filename and content type Werkzeug hands the factory are not used here:
they reach the answers envelope through the `FileStorage`, and nowhere else.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO, Any, cast

from flask import Request

from crypto.keys import PublicKey
from intake import appstate
from intake.multipart import BlockFormDataParser
from intake.storage import NullSink, StagedEnvelope


class IntakeRequest(Request):
    # Werkzeug's parser fed from 1 MiB reads: the same parse, without gunicorn
    # copying the body over and over (intake/multipart.py).
    form_data_parser_class = BlockFormDataParser

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.upload_recipients: Sequence[PublicKey] | None = None
        self.staged: list[StagedEnvelope] = []

    def accept_uploads(self, recipients: Sequence[PublicKey]) -> None:
        """Let file parts of this request be encrypted to `recipients` (before parsing)."""
        self.upload_recipients = list(recipients)

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        if not filename or not self.upload_recipients:
            # An empty file input (browsers send filename="") or a route that
            # takes no files: drop the bytes.
            return NullSink().as_io()
        staging = appstate.STAGING.get()
        store = appstate.STORE.get()
        staged = StagedEnvelope(staging.new_path(), self.upload_recipients, ahead=store.ahead,
                                durable=store.staging_must_be_durable())
        self.staged.append(staged)
        return cast(IO[bytes], staged)

    def discard_staged(self) -> None:
        """Remove every staged file of this request that was not moved into the store."""
        for staged in self.staged:
            staged.discard()
        self.staged.clear()
