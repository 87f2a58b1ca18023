"""A tiny stand-in Flask app that proves the browser harness before the real server exists.

It imitates what the applicant pages will do -- a form with text and two file inputs, an
Arabic right-to-left page, a strict Content-Security-Policy, a readable page for uploads
over the size limit -- so tests/system/test_browser_harness.py can show that the harness fills
forms, attaches files, reads results and scans for accessibility with JavaScript off.

Two pages exist only to test the harness and must never be copied into real templates:
``/script-check`` carries an inline script (to prove scripts do not run) and
``/unlabelled`` an input without a label (to prove axe catches it).
"""

from __future__ import annotations

import hashlib
from typing import Final

from flask import Flask, Response, render_template_string, request
from werkzeug.exceptions import RequestEntityTooLarge

# What the real app will send: nothing from anywhere, styles only from itself.
CSP: Final = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)

STYLE: Final = """
body { font-family: sans-serif; max-width: 40rem; margin: 1rem auto; padding: 0 1rem; }
label { display: block; margin-top: 1rem; font-weight: bold; }
input, textarea { width: 100%; box-sizing: border-box; }
:focus { outline: 3px solid #1a5fb4; }
"""

PAGE: Final = """<!doctype html>
<html lang="{{ lang }}" dir="{{ dir }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/style.css">
</head>
<body>
<main>
<h1>{{ title }}</h1>
{{ body | safe }}
</main>
</body>
</html>
"""

FORM: Final = """
<form method="post" action="/submit" enctype="multipart/form-data">
  <input type="hidden" name="lang" value="{{ lang }}">
  <label for="name">{{ t.name }}</label>
  <input id="name" name="name" type="text" required>
  <label for="work">{{ t.work }}</label>
  <textarea id="work" name="work" rows="4"></textarea>
  <label for="sample">{{ t.sample }}</label>
  <input id="sample" name="sample" type="file">
  <label for="evidence">{{ t.evidence }}</label>
  <input id="evidence" name="evidence" type="file">
  {% if unlabelled %}<input id="nolabel" name="nolabel" type="text">{% endif %}
  <p><button type="submit">{{ t.send }}</button></p>
</form>
"""

TEXTS: Final = {
    "en": {
        "title": "Apply",
        "name": "Name or pseudonym",
        "work": "About your work",
        "sample": "A sample of your work",
        "evidence": "Evidence of the threat",
        "send": "Send",
        "received": "Received",
        "too_large_title": "Too large",
        "too_large": "What you sent is larger than this service accepts. Nothing was kept.",
    },
    "ar": {
        "title": "تقديم طلب",
        "name": "الاسم أو الاسم المستعار",
        "work": "عن عملك",
        "sample": "نموذج من عملك",
        "evidence": "دليل على التهديد",
        "send": "إرسال",
        "received": "تم الاستلام",
        "too_large_title": "كبير جدًا",
        "too_large": "ما أرسلته أكبر مما تقبله هذه الخدمة. لم يُحفظ شيء.",
    },
}

RESULT: Final = """
<p id="received">{{ t.received }}</p>
<dl>
  <dt>name</dt><dd id="result-name">{{ name }}</dd>
  <dt>work</dt><dd id="result-work">{{ work }}</dd>
</dl>
<ul id="files">
{% for field, file_name, size, digest in files %}
  <li data-field="{{ field }}" data-name="{{ file_name }}" data-size="{{ size }}" data-sha256="{{ digest }}">
    {{ field }}: {{ file_name }} ({{ size }} bytes)</li>
{% endfor %}
</ul>
"""

SCRIPT_CHECK: Final = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>scripts did not run</title>
<script>document.title = "scripts ran";</script>
</head>
<body>
<main>
<h1>Script check</h1>
<noscript><p id="noscript">JavaScript is off.</p></noscript>
</main>
</body>
</html>
"""

# Never drain more than this from a refused upload; past it the connection is dropped.
DRAIN_LIMIT: Final = 128 * 1024 * 1024


def _page(lang: str, title: str, body: str) -> str:
    direction = "rtl" if lang == "ar" else "ltr"
    return render_template_string(PAGE, lang=lang, dir=direction, title=title, body=body)


def _drain_request_body() -> None:
    """Read and discard the rest of a refused request body.

    A server that answers before reading the whole upload and then closes the socket
    makes the kernel reset the connection; the browser then shows its own "connection
    reset" error instead of the answer. Reading the body to its end (discarding every
    byte, keeping none) lets the browser finish sending and read the page.
    """
    remaining = min(request.content_length or 0, DRAIN_LIMIT)
    stream = request.environ["wsgi.input"]
    while remaining > 0:
        chunk = stream.read(min(remaining, 64 * 1024))
        if not chunk:
            break
        remaining -= len(chunk)


def create_demo_app(*, max_content_length: int = 64 * 1024, drain: bool = True) -> Flask:
    """The stand-in app; ``drain=False`` shows what happens without draining a 413."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = max_content_length

    @app.after_request
    def security_headers(response: Response) -> Response:
        if request.path != "/script-check":  # that page must be able to run a script
            response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    @app.get("/style.css")
    def style() -> Response:
        return Response(STYLE, mimetype="text/css")

    def form_page(lang: str, *, unlabelled: bool = False) -> str:
        t = TEXTS[lang]
        return _page(lang, t["title"], render_template_string(FORM, t=t, lang=lang, unlabelled=unlabelled))

    @app.get("/")
    def english() -> str:
        return form_page("en")

    @app.get("/ar")
    def arabic() -> str:
        return form_page("ar")

    @app.get("/unlabelled")
    def unlabelled() -> str:
        return form_page("en", unlabelled=True)

    @app.get("/script-check")
    def script_check() -> str:
        return SCRIPT_CHECK

    @app.post("/submit")
    def submit() -> str:
        lang = "ar" if request.form.get("lang") == "ar" else "en"
        files = []
        for field in ("sample", "evidence"):
            upload = request.files.get(field)
            if upload is not None and upload.filename:
                data = upload.read()
                files.append((field, upload.filename, len(data), hashlib.sha256(data).hexdigest()))
        t = TEXTS[lang]
        body = render_template_string(
            RESULT, t=t, name=request.form.get("name", ""), work=request.form.get("work", ""), files=files
        )
        return _page(lang, t["received"], body)

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(error: RequestEntityTooLarge) -> tuple[str, int]:
        if drain:
            _drain_request_body()
        t = TEXTS["en"]
        return _page("en", t["too_large_title"], f'<p id="too-large">{t["too_large"]}</p>'), 413

    return app
