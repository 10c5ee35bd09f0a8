#!/usr/bin/env bash
# The one test command (README "Two commands", and what .ci/run runs): provides what the tests
# need when it is missing, saying so, sets up .venv, then the linters, the type checker and pytest.
# Arguments go to pytest: scripts/test.sh tests/persistence -k store
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'test.sh: %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Graphviz: the diagram tests render SVG and PNG through `dot`.
if ! command -v dot >/dev/null 2>&1; then
    say "installing Graphviz with apt-get (the diagram tests need dot)"
    as_root apt-get update -qq
    as_root apt-get install -y -qq graphviz >/dev/null
fi

# Chromium: the dashboard's tests drive Debian's browser through Playwright (which cannot fetch its own here).
if [ ! -x /usr/bin/chromium ]; then
    say "installing Chromium with apt-get (the dashboard tests drive it with Playwright)"
    as_root apt-get update -qq
    as_root apt-get install -y -qq chromium >/dev/null
fi

# PostgreSQL on 127.0.0.1:5432, database `test`: the persistence tests run the schema there too.
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
        say "PostgreSQL is not installed: the tests need a server on 127.0.0.1:5432 with a database 'test'" >&2
        exit 1
    fi
    version="$(ls /etc/postgresql | sort -V | tail -n 1)"
    say "starting PostgreSQL $version (nothing answers on 127.0.0.1:5432)"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
fi
if ! psql -h 127.0.0.1 -U postgres -d test -Atqc 'select 1' >/dev/null 2>&1; then
    say "creating the PostgreSQL database 'test'"
    createdb -h 127.0.0.1 -U postgres test
fi

if [ ! -x .venv/bin/python ]; then
    say "creating the virtual environment .venv"
    python3 -m venv .venv
fi
say "installing the project and its dev tools into .venv (pip install -e '.[dev]')"
.venv/bin/pip install -q -e '.[dev]'

# Every check runs, so one run lists every problem; pytest runs only when all of them pass.
failed=()
check() {
    say "$*"
    if ! ".venv/bin/$1" "${@:2}"; then failed+=("$*"); fi
}
check ruff check .
check ruff format --check .
check lint-imports
check mypy
if [ "${#failed[@]}" -gt 0 ]; then
    say "failed: $(printf '%s; ' "${failed[@]}")pytest not run" >&2
    exit 1
fi

say "pytest -q $*"
exec .venv/bin/python -m pytest -q "$@"
