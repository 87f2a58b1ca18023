"""Keys, key derivation and the envelope format shared by the server and the reviewer.

This package is the only place where cryptographic decisions are made.
Everything here is built on libsodium through PyNaCl; the byte layouts are
specified in docs/format.md and docs/bundle.md.

The format code (every module but two) knows nothing of Flask, databases or
terminals: it takes bytes and file objects and raises the plain exceptions of
crypto/errors.py. The two exceptions are the command-line tool,
`python -m crypto`: crypto/cli.py (click; its one error dispatcher and its
exit statuses) and crypto/__main__.py, which runs it. No other module here
imports them, so the server and the reviewer tool load no terminal code
from this package.
"""

#: The project's version, defined here once: pyproject.toml reads it
#: (`[tool.setuptools.dynamic]`) and every command's `--version` prints it.
__version__ = "0.1.0"
