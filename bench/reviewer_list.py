"""How long `reviewer import` and `reviewer list` take with many cases.

Run: `python -m bench.reviewer_list [N]` (default 10,000 cases). Uses the
cheap test Argon2 limits, so add about half a second per command for a real
key file. Not a test: timings depend on the machine.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from click.testing import CliRunner

from bench.server_sim import Applicant, submit, write_bundle
from crypto.keys import PublicKey
from reviewer.cli import cli


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "pass").write_text("correct horse battery staple\n")
        runner = CliRunner()
        base = ["--home", str(d / "home"), "--passphrase-file", str(d / "pass")]
        out = runner.invoke(cli, ["init", *base, "--insecure-test-limits"]).output
        key = PublicKey.from_text(out.splitlines()[2])
        start = time.perf_counter()
        cases = []
        for _ in range(n):
            a = Applicant()
            submit(a, [key])
            cases.append((a, a.submissions))
        write_bundle(d / "b.bundle", cases, [key])
        print(f"build bundle of {n} cases: {time.perf_counter() - start:.1f} s")
        for label, args in [
            ("import", ["import", *base, str(d / "b.bundle")]),
            ("list (index fresh)", ["list", *base]),
            ("list --json", ["list", "--json", *base]),
        ]:
            start = time.perf_counter()
            result = runner.invoke(cli, args)
            assert result.exit_code == 0, result.output
            print(f"{label}: {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
