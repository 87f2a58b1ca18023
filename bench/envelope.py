"""Envelope throughput beside age, and peak memory for a 1 GiB object.

    .venv/bin/python bench/envelope.py            # 256 MiB, and the 1 GiB memory check
    .venv/bin/python bench/envelope.py --quick    # 32 MiB, memory check at 256 MiB

Prints one `name: value` line per figure. Both tools run as commands, read the
same file of random bytes from disk and write their output to a file on the
same disk: `python -m crypto encrypt|decrypt` against `age -r` / `age -d`
(Debian's age; `age_missing` when it is not installed). The two are not equal
in durability: `python -m crypto` fsyncs its output before renaming it into
place (crypto/atomic.py), age does not; and ours pays Python's start-up.
Each timing is the median of three runs. Peak memory is the child's maximum
resident set size as reported by the kernel (wait4), for a 10 MiB and a large
object of zeros streamed through a pipe, so it is the envelope's own memory.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PY = sys.executable
MIB = 1024 * 1024


def timed(cmd: list[str], **kwargs: object) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, **kwargs)  # type: ignore[call-overload]
    return time.perf_counter() - start


def median_of_3(cmd: list[str], out: Path) -> float:
    times = []
    for _ in range(3):
        out.unlink(missing_ok=True)
        times.append(timed(cmd))
    return statistics.median(times)


def peak_rss_mib(cmd: list[str], feed_bytes: int) -> float:
    """Run cmd with feed_bytes of zeros on stdin, output discarded; its peak RSS in MiB."""
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    assert proc.stdin is not None
    block = bytes(MIB)
    for _ in range(feed_bytes // MIB):
        proc.stdin.write(block)
    proc.stdin.close()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{cmd[:4]} failed with {proc.returncode}")
    return usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="32 MiB; memory check at 256 MiB")
    args = parser.parse_args()
    size = (32 if args.quick else 256) * MIB
    big = (256 if args.quick else 1024) * MIB

    with tempfile.TemporaryDirectory(prefix="refuge-bench-envelope-") as tmp:
        work = Path(tmp)
        passfile = work / "pass"
        passfile.write_text("bench passphrase\n")
        key = work / "key"
        public = subprocess.run(
            [PY, "-m", "crypto", "keygen", str(key), "--passphrase-file", str(passfile),
             "--insecure-test-limits"],
            check=True, capture_output=True, text=True,
        ).stdout.splitlines()[0]
        plain = work / "plain"
        with open(plain, "wb") as f:
            for _ in range(size // MIB):
                f.write(os.urandom(MIB))
        env, dec = work / "plain.env", work / "plain.dec"
        print(f"size_mib: {size // MIB}")
        ours_enc = median_of_3([PY, "-m", "crypto", "encrypt", "-r", public, str(plain), str(env)], env)
        ours_dec = median_of_3(
            [PY, "-m", "crypto", "decrypt", "-i", str(key), "--passphrase-file", str(passfile),
             str(env), str(dec)], dec)
        print(f"encrypt_mib_s: {size / MIB / ours_enc:.0f}")
        print(f"decrypt_mib_s: {size / MIB / ours_dec:.0f}")
        if shutil.which("age") and shutil.which("age-keygen"):
            age_key = work / "age.key"
            subprocess.run(["age-keygen", "-o", str(age_key)], check=True, capture_output=True)
            age_pub = subprocess.run(["age-keygen", "-y", str(age_key)], check=True,
                                     capture_output=True, text=True).stdout.strip()
            age_env = work / "plain.age"
            age_enc = median_of_3(["age", "-r", age_pub, "-o", str(age_env), str(plain)], age_env)
            age_dec = median_of_3(["age", "-d", "-i", str(age_key), "-o", str(dec), str(age_env)], dec)
            print(f"age_encrypt_mib_s: {size / MIB / age_enc:.0f}")
            print(f"age_decrypt_mib_s: {size / MIB / age_dec:.0f}")
            print(f"encrypt_vs_age: {ours_enc / age_enc:.2f}")
            print(f"decrypt_vs_age: {ours_dec / age_dec:.2f}")
        else:
            print("age_missing")

        encrypt_cmd = [PY, "-m", "crypto", "encrypt", "-r", public, "-", "-"]
        print(f"encrypt_rss_10m_mib: {peak_rss_mib(encrypt_cmd, 10 * MIB):.1f}")
        print(f"encrypt_rss_{big // MIB}m_mib: {peak_rss_mib(encrypt_cmd, big):.1f}")


if __name__ == "__main__":
    main()
