#!/usr/bin/env bash
# check-lab.sh: what a reviewer runs on a fresh clone to see that `make lab` works.
#
# Starts `make lab` in the background (no browser, demo data in a temporary folder), waits until
# JupyterLab and the development server answer, checks that JupyterLab serves the app notebook,
# runs the app notebook through nbclient against that server (scripts/run_app_notebook.py:
# create a vault, connect, submit a report with a file), checks the report arrived on the
# server, then stops both. Exit status 0 only if every step passed. Not part of `make test`.
#
#   scripts/check-lab.sh            (the first run installs .venv: allow several minutes)
#
# Environment: CHECK_LAB_TIMEOUT (seconds to wait for `make lab` to come up, default 1200),
# CHECK_LAB_KEEP=1 keeps the temporary folder (logs, demo data) for a look afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"

work="$(mktemp -d "${TMPDIR:-/tmp}/tellakit-check-lab.XXXXXX")"
log="$work/make-lab.log"
export TELLAKIT_LAB_HOME="$work/lab-home"
timeout="${CHECK_LAB_TIMEOUT:-1200}"
pgid=""

say() { printf 'check-lab: %s\n' "$*" >&2; }

stop_lab() {
  # What Ctrl-C in the terminal does: SIGINT to make and tellakit; tellakit stops JupyterLab
  # (its kernels shut down) and the dev server, which takes a few seconds.
  if [ -n "$pgid" ] && kill -0 -- "-$pgid" 2>/dev/null; then
    kill -INT -- "-$pgid" 2>/dev/null || true
    for _ in $(seq 1 300); do
      kill -0 -- "-$pgid" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL -- "-$pgid" 2>/dev/null || true
  fi
}

finish() {
  status=$?
  stop_lab
  if [ "$status" -ne 0 ]; then
    say "FAILED (exit $status). Last lines of the make lab output:"
    tail -n 30 "$log" >&2 2>/dev/null || true
  fi
  if [ "${CHECK_LAB_KEEP:-0}" = 1 ]; then
    say "kept $work"
  else
    rm -rf "$work"
  fi
  exit "$status"
}
trap finish EXIT
trap 'exit 130' INT TERM

# A free port for JupyterLab (JupyterLab itself moves on if it gets taken meanwhile; the URL it
# prints is what counts). LAB_ARGS reaches `tellakit lab` when the Makefile passes it on;
# BROWSER=true makes any browser opening a no-op either way.
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
say "starting make lab (log: $log)"
BROWSER=true setsid make lab LAB_ARGS="--no-browser --port $port" >"$log" 2>&1 < /dev/null &
lab_pid=$!
sleep 0.5
pgid="$(ps -o pgid= -p "$lab_pid" | tr -d ' ')"
[ -n "$pgid" ] || { say "make lab exited at once"; exit 1; }

# Wait for both addresses in the output: the dev server's, then JupyterLab's.
dev_url=""
lab_url=""
deadline=$((SECONDS + timeout))
while [ "$SECONDS" -lt "$deadline" ]; do
  if ! kill -0 "$lab_pid" 2>/dev/null; then
    say "make lab stopped before JupyterLab came up"
    exit 1
  fi
  dev_url="$(sed -n 's/^Development server (Nextcloud-compatible): \(http[^ ]*\).*/\1/p' "$log" | tail -n 1)"
  lab_url="$(grep -o 'http://127\.0\.0\.1:[0-9]*/lab/tree/[^ ?]*?token=[A-Za-z0-9]*' "$log" | tail -n 1 || true)"
  if [ -n "$dev_url" ] && [ -n "$lab_url" ]; then
    break
  fi
  sleep 1
done
[ -n "$dev_url" ] && [ -n "$lab_url" ] || { say "timed out after ${timeout}s"; exit 1; }
say "dev server: $dev_url"
say "JupyterLab: ${lab_url%%\?*}"

py="$repo/.venv/bin/python"
# Both answer: status.php as Nextcloud's, JupyterLab's API, and the app notebook it opens.
"$py" - "$dev_url" "$lab_url" <<'PY'
import json, sys, time, urllib.error, urllib.parse, urllib.request
dev_url, lab_url = sys.argv[1], sys.argv[2]
parts = urllib.parse.urlsplit(lab_url)
base = f"{parts.scheme}://{parts.netloc}"
token = urllib.parse.parse_qs(parts.query)["token"][0]
headers = {"Authorization": f"token {token}"}

def get(url, auth=False):
    last = None
    for _ in range(60):
        try:
            req = urllib.request.Request(url, headers=headers if auth else {})
            with urllib.request.urlopen(req, timeout=5) as resp:
                return json.load(resp)
        except urllib.error.HTTPError as exc:  # it answers: no point waiting
            sys.exit(f"check-lab: {url.split('?')[0]} answered {exc.code}")
        except OSError as exc:
            last = exc
            time.sleep(0.5)
    sys.exit(f"check-lab: no answer from {url.split('?')[0]}: {last}")

status = get(dev_url + "/status.php")
assert status.get("installed") is True and status.get("productname"), status
print("check-lab: dev server answers as", status.get("productname"), status.get("versionstring"),
      file=sys.stderr)
get(base + "/api/status", auth=True)
# The printed address opens the app notebook: JupyterLab serves the file it names.
path = parts.path.removeprefix("/lab/tree/")
notebook = get(base + "/api/contents/" + path, auth=True)
assert notebook["type"] == "notebook", f"{path} is not a notebook JupyterLab serves"
assert path.endswith("01-field-reports.ipynb"), f"the address opens {path}, not the app"
print(f"check-lab: JupyterLab answers; the printed address opens {path}", file=sys.stderr)
PY

# Run the app notebook against that server, with the variables tellakit lab gives its kernels.
say "running notebooks/01-field-reports.ipynb through nbclient"
result="$(
  TELLAKIT_DEVSERVER_URL="$dev_url" \
  TELLAKIT_DEVSERVER_USER=demo \
  TELLAKIT_DEVSERVER_PASSWORD="$(cat "$TELLAKIT_LAB_HOME/.devserver-password")" \
  "$py" scripts/run_app_notebook.py --timeout 180
)"
"$py" - "$result" "$dev_url" "$TELLAKIT_LAB_HOME" <<'PY'
import json, sys
from pathlib import Path
result, dev_url, home = json.loads(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
assert result["server_url"] == dev_url, result
assert result["status"] == "submitted" and result["files"] == ["verified"], result
folder = home / "ncdata" / "demo" / "files" / result["remote_folder"]
assert (folder / "note.txt").is_file() and (folder / "description.txt").is_file(), folder
print(f"check-lab: report submitted to {dev_url} as {result['remote_folder']!r}", file=sys.stderr)
PY

stop_lab
if "$py" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/status.php", timeout=2)' "$dev_url" 2>/dev/null; then
  say "the dev server still answers after stopping make lab"
  exit 1
fi
say "OK: make lab came up, the app notebook submitted a report, both stopped"
