#!/usr/bin/env bash
# Space rehearsal (issue 11): what a Hugging Face Space does on a fresh build, on this machine.
# A clean clone of the committed tree (no ../shared beside it), a fresh virtual environment from
# requirements.txt only, `python app.py`, then every method through gradio_client must return a
# real x4 image. Prints the install time, start-up time, per-method seconds and the server's peak RSS.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/sr-arena-rehearsal-XXXXXX")"
server=""
cleanup() {  # keeps the rehearsal's own exit status (the server's SIGTERM status is not a failure)
    local status=$?
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT

git clone -q --no-hardlinks "$repo" "$work/space"          # committed files only; $work/shared does not exist
began=$(date +%s)
python -m venv "$work/venv"                                # no --system-site-packages
"$work/venv/bin/python" -m pip install -q --disable-pip-version-check -r "$work/space/requirements.txt" 2>&1 \
    | { grep -v "^WARNING: Location .* is ignored" || true; }      # this machine's pip config names absent indexes
echo "rehearsal: fresh venv installed from requirements.txt in $(( $(date +%s) - began )) s"

port=$("$work/venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cd "$work/space"
GRADIO_SERVER_PORT=$port GRADIO_ANALYTICS_ENABLED=False PYTHONUNBUFFERED=1 \
    "$work/venv/bin/python" app.py >"$work/server.log" 2>&1 &
server=$!
if ! PYTHONPATH="$work/space" "$work/venv/bin/python" .ci/space_rehearsal.py "http://127.0.0.1:$port/" "$server"; then
    echo "rehearsal failed; server log:"; tail -n 60 "$work/server.log"; exit 1
fi
