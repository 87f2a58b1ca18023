"""How fast the reviewer's desk answers with many cases (bench/run.py reports these).

- `desk_list_10k_s`: the first page of the case list, from the moment the keys are
  unlocked (the desk made, its Casebook read, page 1 rendered);
- `desk_search_10k_s`: a text search over every answer of every case, the list loaded;
- `desk_case_s`: one case page (median of several).

Through Flask's test client, so the figures are the desk's own work, not the
browser's or the socket's. The key file uses the cheap test Argon2 limits: its
unlock is measured on its own (`keyfile_unlock_s`). Run alone:
`python -m bench.desk [N]` (default 10,000 cases).
"""

from __future__ import annotations

import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from click.testing import CliRunner

from bench.server_sim import APPLICATION, Applicant, submit, write_bundle
from crypto.keys import PublicKey
from reviewer.cli import cli

PASSPHRASE = "correct horse battery staple"
NEEDLE = "Needle-Scrivener"
PORT = 8765


def measure(work: Path, cases: int) -> dict[str, float]:
    from reviewer.desk import Desk, create_app
    from reviewer.home import Home

    home_dir = work / "desk-home"
    passfile = work / "desk-pass"
    passfile.write_text(PASSPHRASE + "\n")
    base = ["--home", str(home_dir), "--passphrase-file", str(passfile)]
    runner = CliRunner()
    out = runner.invoke(cli, ["init", *base, "--insecure-test-limits"]).output
    key = PublicKey.from_text(out.splitlines()[2])
    people = []
    for i in range(cases):
        a = Applicant()
        answers = {**APPLICATION, "name": f"Applicant {i}",
                   "threat": f"{NEEDLE} of the south" if i == cases // 2 else APPLICATION["threat"]}
        submit(a, [key], answers=answers)
        people.append((a, a.submissions))
    bundle = write_bundle(work / "desk.bundle", people, [key])
    result = runner.invoke(cli, ["import", *base, str(bundle)])
    assert result.exit_code == 0, result.output
    one = people[cases // 2][0].case

    home = Home(home_dir)
    keys = home.unlock(PASSPHRASE)
    url = f"http://127.0.0.1:{PORT}"
    start = time.perf_counter()
    desk = Desk(home, keys, port=PORT)
    app = create_app(desk)
    client = app.test_client()
    first = client.get(f"/cases?token={desk.token}", base_url=url, follow_redirects=True)
    listed = time.perf_counter() - start
    html = first.get_data(as_text=True)
    assert first.status_code == 200 and "case" in html, first.status_code
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert token is not None

    start = time.perf_counter()
    found = client.post("/cases/search", data={"csrf": token.group(1), "text": NEEDLE.lower()},
                        base_url=url)
    searched = time.perf_counter() - start
    assert found.status_code == 200 and one in found.get_data(as_text=True)

    times = []
    for _ in range(5):
        start = time.perf_counter()
        r = client.get(f"/cases/{one}", base_url=url)
        times.append(time.perf_counter() - start)
        assert r.status_code == 200
    return {"desk_list_10k_s": listed, "desk_search_10k_s": searched,
            "desk_case_s": statistics.median(times)}


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for name, value in measure(Path(tmp), n).items():
            print(f"{name}: {value:.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
