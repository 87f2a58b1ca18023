"""`python -m crypto`: the envelope tool (see crypto/cli.py)."""

from crypto.cli import main

main()
