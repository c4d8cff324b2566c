#!/usr/bin/env bash
# Resident memory of the real binary after a million requests: `bash benches/memory.sh`
# (needs wrk and curl; REQUESTS=1000000 and CLIENTS=50 by default).
#
# Builds the release binary, starts it on a fresh SQLite file (emails kept in the local
# mailbox), signs up a firm with CLIENTS clients through the forms, then drives it with wrk
# in runs of 20 s: /healthz, the sign-in page and the signed-in Clients, Team and Pending
# invites pages and a search, in turn, until REQUESTS answers. Prints the process's VmRSS
# (from /proc) at start, after sign-up and after the load.
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS="${REQUESTS:-1000000}"
CLIENTS="${CLIENTS:-50}"
PORT="${PORT:-18321}"
command -v wrk >/dev/null || { echo "SKIPPED memory benchmark: wrk is not installed (apt-get install -y wrk)"; exit 0; }
cargo build --release --locked --bin portico >/dev/null
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
DATABASE_URL="$dir/portico.db" DATA_DIR="$dir" BIND="127.0.0.1:$PORT" RUST_LOG=warn target/release/portico >"$dir/log" 2>&1 &
pid=$!
base="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do curl -fsS "$base/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
rss() { awk '/VmRSS/ {printf "%.1f MiB", $2 / 1024}' "/proc/$pid/status"; }
echo "started: $(rss)"

jar="$dir/cookies"
csrf() { grep -o 'name="csrf" value="[^"]*"' | head -n 1 | sed 's/.*value="//; s/"$//'; }
token=$(curl -fsS -c "$jar" -b "$jar" "$base/signup" | csrf)
curl -fsS -o /dev/null -c "$jar" -b "$jar" -X POST "$base/signup" --data-urlencode "csrf=$token" \
  --data-urlencode "name=Ada Admin" --data-urlencode "email=ada@firm.test" \
  --data-urlencode "password=correct horse battery staple" --data-urlencode "firm=Ada & Co"
token=$(curl -fsS -c "$jar" -b "$jar" "$base/orgs/1/clients/new" | csrf)
for i in $(seq 1 "$CLIENTS"); do
  curl -fsS -o /dev/null -c "$jar" -b "$jar" -X POST "$base/orgs/1/clients" \
    --data-urlencode "csrf=$token" --data-urlencode "name=Client $(printf %05d "$i")"
done
cookie=$(awk '$6 == "portico_session" {print $6 "=" $7}' "$jar" | tail -n 1)
echo "signed up, $CLIENTS clients: $(rss)"

script="$dir/mix.lua"
cat >"$script" <<'LUA'
local paths = { "/healthz", "/login", "/orgs/1/clients", "/healthz", "/orgs/1/team",
                "/orgs/1/invites", "/healthz", "/orgs/1/clients?q=client+0004" }
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n % #paths) + 1])
end
LUA
done_requests=0
started=$(date +%s)
while [ "$done_requests" -lt "$REQUESTS" ]; do
  out=$(wrk -t2 -c16 -d20s -s "$script" -H "Cookie: $cookie" "$base/")
  n=$(printf '%s\n' "$out" | awk '/requests in/ {print $1}')
  errors=$(printf '%s\n' "$out" | awk '/Non-2xx/ {print $NF}')
  [ -n "$errors" ] && echo "  $errors answers not 2xx/3xx in this run"
  [ -z "$n" ] || [ "$n" -eq 0 ] && { echo "wrk answered nothing"; exit 1; }
  done_requests=$((done_requests + n))
done
echo "after $done_requests requests in $(( $(date +%s) - started )) s: $(rss)"
