"""Languages: the explicit choice an applicant makes, and nothing guessed.

Tor Browser tells every site it prefers English (so as not to stand out), so
the Accept-Language header says nothing about the person. The language is
whatever the applicant picked from the list of links on every page, kept in
a cookie of its own (`intake_lang`, the code and nothing else); until they
pick, pages are in English.

Not in the session cookie: a link from another site arrives without the
session cookie (SameSite=Strict), and a response that set the session then
would replace the applicant's real session in the browser. The language
cookie is all `/language/<code>` ever sets, so following such a link can
change the language and nothing else. It is not signed: any value other
than a known code is ignored.

`GET /language/<code>` stores the choice and sends the browser back to the
page it came from, named by a `next` parameter that must be a local path: an
absolute or protocol-relative URL there would turn the site into an open
redirect, which is refused (the browser goes to the home page instead).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from babel import Locale
from flask import Blueprint, Flask, abort, current_app, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import Babel, get_locale

# Code in URLs and catalogs -> the language's own name, in the picker's order.
LANGUAGES: dict[str, str] = {
    "en": "English",
    "fr": "Français",
    "es": "Español",
    "ar": "العربية",
    "fa": "فارسی",
    "ru": "Русский",
    "tr": "Türkçe",
    "zh_Hans": "简体中文",
}
DEFAULT = "en"

bp = Blueprint("language", __name__)


def chosen_language() -> str:
    """The code the applicant chose (their language cookie), or English."""
    code = request.cookies.get(current_app.config["LANGUAGE_COOKIE_NAME"])
    return code if code in LANGUAGES else DEFAULT


def html_lang(code: str) -> str:
    """The BCP 47 tag for `lang` and `hreflang` attributes ("zh_Hans" -> "zh-Hans")."""
    return code.replace("_", "-")


def text_direction(code: str) -> str:
    """"rtl" for Arabic and Persian, "ltr" otherwise, as the CLDR data says."""
    return "rtl" if Locale.parse(code).text_direction == "rtl" else "ltr"


def safe_next(target: str | None) -> str:
    """`target` if it is a plain local path, else "/"."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    # Browsers treat "\" like "/" ("/\evil.example" is protocol-relative to them),
    # and strip tabs and newlines before parsing: refuse them all.
    if any(c == "\\" or ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


@bp.route("/language/<code>")
def choose(code: str) -> ResponseReturnValue:
    if code not in LANGUAGES:
        abort(404)
    response = redirect(safe_next(request.args.get("next")), code=303)
    app = current_app
    # Like the session cookie: for this browser session only, HttpOnly, Secure
    # over HTTPS. Lax, not Strict: a link from elsewhere may show the page in
    # the chosen language; the code is no secret and sets nothing else.
    response.set_cookie(
        app.config["LANGUAGE_COOKIE_NAME"], code, path="/", httponly=True, samesite="Lax",
        secure=bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure,
    )
    return response


def _template_context() -> dict[str, object]:
    current = str(get_locale() or DEFAULT)
    if current not in LANGUAGES:
        current = DEFAULT
    next_path = safe_next(request.path) if request else "/"
    return {
        "page_lang": html_lang(current),
        "page_dir": text_direction(current),
        "languages": [
            {
                "code": code,
                "tag": html_lang(code),
                "name": name,
                "current": code == current,
                "href": url_for("language.choose", code=code, next=next_path),
            }
            for code, name in LANGUAGES.items()
        ],
    }


def init_app(app: Flask) -> None:
    # Catalogs live in intake/translations (Flask-Babel's default, beside the package).
    Babel(app, locale_selector=chosen_language)
    # Collapse whitespace in {% trans %} blocks, as `pybabel extract` does (babel.cfg).
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.context_processor(_template_context)
    app.register_blueprint(bp)
