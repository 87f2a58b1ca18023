"""The applicant's case page shows a reply exactly as the shared rule does (crypto/replytext.py).

The reviewer's desk previews a reply with the same function; this test renders
the same inputs through the real case page (a replies bundle imported, the
applicant signed in) and through `reply_html`, and compares.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from crypto.keys import PrivateKey
from crypto.replytext import reply_html
from intake.db import new_id
from tests.crypto.test_replytext import SAMPLES

from .helpers import apply, codename_of
from .transfer_helpers import case_of, replies_bundle, reply_key, sealed_reply

SHOWN = re.compile(r'<div class="reply-text" dir="auto">(.*?)</div>', re.S)


def test_the_case_page_shows_replies_by_the_shared_rule(app: Any, client: FlaskClient,
                                                        reviewer_key: PrivateKey,
                                                        tmp_path: Path) -> None:
    codename = codename_of(apply(client))
    case = case_of(client)
    applicant = reply_key(app, codename).public_key
    replies = [(rid, case, sealed_reply(case, rid, text, applicant, [reviewer_key.public_key]))
               for rid, text in ((new_id(), text) for text in SAMPLES)]
    bundle = replies_bundle(tmp_path / "replies.bundle", replies, [reviewer_key.public_key])
    result = app.test_cli_runner().invoke(args=["import-replies", str(bundle)])
    assert result.exit_code == 0, result.output
    html = client.get("/case").get_data(as_text=True)
    shown = SHOWN.findall(html)
    assert sorted(shown) == sorted(reply_html(text) for text in SAMPLES)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<p dir="auto">مرحباً،<br>لقد قرأنا طلبك.</p>' in html
