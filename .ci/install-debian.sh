#!/usr/bin/env bash
# Install the Debian packages the full test suite runs for real:
#   tor                          tor --verify-config checks deploy/torrc
#   postgresql                   initdb/pg_ctl for the throwaway test server
#                                (tests/harness/postgres_server.py); contrib is part of
#                                the server package since PostgreSQL 10
#   chromium chromium-driver     browser tests of the applicant pages
#   systemd                      systemd-analyze verifies deploy/*.service
# With --bench (`make bench-deps`), also what bench/run.py measures against:
#   age gnupg                    the reference tools beside the envelope
# Idempotent: packages already present are left alone and apt is not even
# asked. Needs root or sudo; without either it says what is missing and
# exits 0, so `make test` still runs (the tests for missing programs skip
# locally, and fail when CI is set).
set -euo pipefail

packages=(tor postgresql chromium chromium-driver systemd)
if [ "${1:-}" = "--bench" ]; then
    packages+=(age gnupg)
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-debian: not a Debian system (no apt-get); install by hand: ${packages[*]}" >&2
    exit 0
fi

wanted=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        wanted+=("$p")
    fi
done

if [ "${#wanted[@]}" -eq 0 ]; then
    echo "install-debian: already installed: ${packages[*]}"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    echo "install-debian: need root or password-less sudo to install: ${wanted[*]}" >&2
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
# postgresql's postinst creates and starts a "main" cluster; the tests make
# their own throwaway one, so tell the package not to start services
# (policy-rc.d answers 101 = "action not allowed") for the install only.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${as_root[@]}" tee "$policy" >/dev/null
    "${as_root[@]}" chmod 755 "$policy"
    made_policy=1
fi
cleanup() { if [ "$made_policy" -eq 1 ]; then "${as_root[@]}" rm -f "$policy"; fi; }
trap cleanup EXIT

"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${wanted[@]}" >/dev/null

echo "install-debian: installed: ${wanted[*]}"
for p in "${packages[@]}"; do
    dpkg-query -W -f='  ${Package} ${Version}\n' "$p"
done
