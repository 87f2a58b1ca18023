"""A tiny WSGI app for testing deploy/gunicorn.conf.py without the intake server.

It answers every request with the parts of the WSGI environ that the gunicorn
configuration is meant to control (scheme, script name, remote address), and
fails on purpose at /boom with a message standing in for applicant data, so a
test can check that the message never reaches gunicorn's log.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

StartResponse = Callable[[str, list[tuple[str, str]]], Any]

# What a test looks for in the logs: it must never appear there.
CANARY = "CANARY-deploy-7f3a1c"


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    if environ.get("PATH_INFO") == "/boom":
        raise RuntimeError(f"failed while holding {CANARY}")
    body = json.dumps(
        {
            "scheme": environ["wsgi.url_scheme"],
            "script_name": environ.get("SCRIPT_NAME", ""),
            "path_info": environ.get("PATH_INFO", ""),
            "remote_addr": environ.get("REMOTE_ADDR", ""),
        }
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
