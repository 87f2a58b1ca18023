"""Keys, key derivation and the envelope format shared by the server and the reviewer.

This package is the only place where cryptographic decisions are made. It knows
nothing of Flask, databases or terminals: it takes bytes and file objects.
Everything here is built on libsodium through PyNaCl; the byte layout is
specified in docs/format.md.
"""

#: The project's version, defined here once: pyproject.toml reads it
#: (`[tool.setuptools.dynamic]`) and every command's `--version` prints it.
__version__ = "0.1.0"
