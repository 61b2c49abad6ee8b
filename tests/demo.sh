#!/bin/bash
# Demo of the full system, in three parts.
#  1. The relay: a local "ThreatSTOP service" (unbound speaking DNS-over-HTTPS with a test
#     CA) and threatstop-ddrd relaying plain DNS on 127.0.0.1:10053 to it.
#  2. Roaming (tests/demo_roaming.py, as root: sudo is used when not root): the daemon
#     with NetworkManager (python3-dbusmock's mock) through a captive portal, login,
#     split DNS, the service going down and back, pause/resume and stop, inside a
#     private network + mount namespace (this machine's network and DNS are untouched).
#  3. The desktop (tests/demo_indicator.py, as root): threatstop-ddr-indicator on a headless
#     desktop (private session bus, Xvfb, xfce4-panel's tray, dunst) through the portal,
#     login, service-down and daemon-stop story; a screenshot per step in
#     $DEMO_OUT/indicator/ (default demo-output/), and the notifications received.
# Exits 1 when anything differs from what it describes (it doubles as a smoke test).
#
# usage: tests/demo.sh     (uses $BUILD, default ./build; needs unbound, dig, openssl,
#                           and for part 2 root, python3-dbusmock, dbus, iproute2, mount)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
BUILD=${BUILD:-$top/build}
DDRD=$BUILD/src/service/threatstop-ddrd
PORT=${PORT:-10053}
PY=/usr/bin/python3

if [ -t 1 ]; then B=$'\e[1m'; G=$'\e[32m'; R=$'\e[31m'; N=$'\e[0m'; else B= G= R= N=; fi

die() { echo "${R}demo: $*${N}" >&2; exit 1; }

[ -x "$DDRD" ] || die "no daemon at $DDRD: build first (meson setup build && ninja -C build) or set BUILD="
for t in unbound dig openssl; do
  command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] || die "$t is not installed"
done

work=$(mktemp -d /tmp/ddr-demo.XXXXXX)
serve_pid= ddrd_pid=
cleanup() {
  trap - EXIT INT TERM
  [ -n "$ddrd_pid" ] && kill "$ddrd_pid" 2>/dev/null && wait "$ddrd_pid" 2>/dev/null
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'echo; echo "interrupted"; exit 130' INT TERM

failures=0
step() { echo; echo "${B}== $*${N}"; }
show() { echo "\$ $*"; "$@" | sed 's/^/    /'; }

# expect DESCRIPTION DIG-ARGS... -- GREP-PATTERN: run dig, show the short answer, check it
expect() {
  local desc=$1; shift
  local args=() ; while [ "$1" != "--" ]; do args+=("$1"); shift; done; shift
  local pattern=$1 out
  out=$(dig @127.0.0.1 -p "$PORT" +time=3 +tries=1 "${args[@]}" 2>&1 || true)
  echo "\$ dig @127.0.0.1 -p $PORT ${args[*]}"
  printf '%s\n' "$out" | grep -E 'status:|flags:|^[^;].*IN|Truncated|retrying' | head -8 | sed 's/^/    /' || true
  if printf '%s\n' "$out" | grep -Eq -- "$pattern"; then
    echo "    ${G}ok${N}: $desc"
  else
    echo "    ${R}UNEXPECTED${N}: wanted /$pattern/ ($desc)"; failures=$((failures + 1))
  fi
}

step "Starting a stand-in ThreatSTOP DoH service (unbound, HTTP/2 + TLS with a test CA)"
"$PY" "$here/integration/rig.py" serve --dir "$work/service" > "$work/serve.out" 2> "$work/serve.err" &
serve_pid=$!
for _ in $(seq 100); do
  grep -q '^READY' "$work/serve.out" 2>/dev/null && break
  kill -0 "$serve_pid" 2>/dev/null || { cat "$work/serve.err" >&2; die "the DoH service did not start"; }
  sleep 0.1
done
grep -q '^READY' "$work/serve.out" || die "the DoH service did not become ready"
eval "$(grep -E '^(DOH_PORT|PLAIN_PORT|DOH_URL|CA)=' "$work/serve.out")"
echo "DoH endpoint $DOH_URL (doh.test pinned to 127.0.0.1), CA $CA"

step "Starting threatstop-ddrd on 127.0.0.1:$PORT (UDP and TCP)"
cat > "$work/ddr.conf" <<EOF
[service]
url=$DOH_URL
bootstrap=127.0.0.1
check-domain=check.test
ca-file=$CA
timeout-ms=1500
[relay]
listen=127.0.0.1:$PORT
acl=127.0.0.0/8;::1/128
EOF
sed 's/^/    /' "$work/ddr.conf"
mkdir -p "$work/state"
"$DDRD" --config "$work/ddr.conf" --state-dir "$work/state" --no-bus 2> "$work/ddrd.log" &
ddrd_pid=$!
for _ in $(seq 100); do
  dig @127.0.0.1 -p "$PORT" +time=1 +tries=1 check.test >/dev/null 2>&1 && break
  kill -0 "$ddrd_pid" 2>/dev/null || { cat "$work/ddrd.log" >&2; die "threatstop-ddrd exited"; }
  sleep 0.1
done
dig @127.0.0.1 -p "$PORT" +time=1 +tries=1 check.test >/dev/null 2>&1 \
  || { cat "$work/ddrd.log" >&2; die "threatstop-ddrd does not answer on port $PORT"; }
echo "ready; its log (removed with the rest at the end): $work/ddrd.log"

step "An allowed name: the service answers, the relay passes it on"
expect "allowed.test has its addresses" allowed.test A -- 'allowed\.test\..*IN.*A.*192\.0\.2\.1[01]'

step "A blocked name: the DNS firewall says it does not exist (NXDOMAIN)"
expect "blocked.example is NXDOMAIN" blocked.example A -- 'status: NXDOMAIN'

step "A sinkholed name: the firewall answers 0.0.0.0 for every name under it"
expect "sinkhole answer 0.0.0.0" malware.sinkhole.example A -- 'IN.*A.*0\.0\.0\.0'

step "The check-domain: resolves only through the service, proving the path works"
expect "check.test is 192.0.2.53" check.test A -- 'IN.*A.*192\.0\.2\.53'

step "The same over TCP (dig +tcp)"
expect "TCP answer" +tcp allowed.test TXT -- 'allowed by the test service'

step "A large answer (60 TXT records) over UDP: truncated (TC flag), dig retries over TCP"
expect "truncated over UDP with a 512-byte buffer" +bufsize=512 +ignore big.test TXT -- 'flags:.* tc'
out=$(dig @127.0.0.1 -p "$PORT" +bufsize=512 big.test TXT)
n=$(printf '%s\n' "$out" | grep -c 'IN.*TXT.*record-' || true)
echo "\$ dig @127.0.0.1 -p $PORT +bufsize=512 big.test TXT   (without +ignore)"
printf '%s\n' "$out" | grep -E 'Truncated|status:' | sed 's/^/    /'
if [ "$n" = 60 ]; then echo "    ${G}ok${N}: all $n records after the TCP retry"
else echo "    ${R}UNEXPECTED${N}: $n records, wanted 60"; failures=$((failures + 1)); fi

step "use-application-dns.net: NXDOMAIN from the relay itself, so browsers keep their own DoH off"
expect "canary domain is NXDOMAIN" use-application-dns.net A -- 'status: NXDOMAIN'

step "Statistics: SIGUSR1 makes the relay log them"
lines=$(wc -l < "$work/ddrd.log")
kill -USR1 "$ddrd_pid"
for _ in $(seq 50); do
  tail -n +"$((lines + 1))" "$work/ddrd.log" | grep -q 'statistics:' && break
  sleep 0.1
done
tail -n +"$((lines + 1))" "$work/ddrd.log" | grep -E 'statistics:|upstream\[' | sed 's/^/    /' \
  || { echo "    ${R}UNEXPECTED${N}: no statistics line"; failures=$((failures + 1)); }

step "Stopping"
kill "$ddrd_pid"; wait "$ddrd_pid" && rc=0 || rc=$?; ddrd_pid=
echo "threatstop-ddrd exited with $rc"
[ "$rc" = 0 ] || failures=$((failures + 1))
[ "$failures" = 0 ] && echo "${G}Relay: every lookup gave the expected result.${N}"

step "Part 2: roaming - a laptop on a hotel Wi-Fi, with NetworkManager and a captive portal"
echo "The same daemon with its roaming controller on: it follows NetworkManager, detects the captive"
echo "portal, steers the system DNS to its relay once the ThreatSTOP service answers, and gives it back"
echo "when it must. All of it in a private network + mount namespace: this machine's network and"
echo "/etc/resolv.conf are not touched. NetworkManager and polkit are python3-dbusmock's mocks on a"
echo "private system bus; everything else is real (dbus-daemon, unbound, the daemon and its CLI, glibc)."
roam=("$PY" "$here/demo_roaming.py" --build "$BUILD")
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then
    echo "This part needs root (it makes the namespaces): running it with sudo."
    roam=(sudo "${roam[@]}")
  else
    roam=()
    echo "${R}This part needs root (it makes the namespaces) and sudo is not installed:" \
      "run the demo as root.${N}"
    failures=$((failures + 1))
  fi
fi
if [ ${#roam[@]} -gt 0 ]; then
  "${roam[@]}" || failures=$((failures + 1))
fi

step "Part 3: the desktop - what the person at the laptop sees"
echo "threatstop-ddr-indicator on a headless desktop: a private session bus, Xvfb, xfce4-panel with"
echo "its StatusNotifierItem tray and dunst for notifications, following the same daemon through the"
echo "same story (in its own private namespaces). A screenshot of the screen at each step:"
DEMO_OUT=${DEMO_OUT:-$top/demo-output}
desk=("$PY" "$here/demo_indicator.py" --build "$BUILD" --out "$DEMO_OUT/indicator")
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then desk=(sudo "${desk[@]}"); else desk=(); fi
fi
if [ ${#desk[@]} -gt 0 ]; then
  "${desk[@]}" || failures=$((failures + 1))
else
  echo "${R}This part needs root as well.${N}"; failures=$((failures + 1))
fi

echo
if [ "$failures" = 0 ]; then
  echo "${G}${B}Demo complete: the relay, roaming and the desktop indicator behaved as described.${N}"
else
  echo "${R}${B}Demo finished with $failures unexpected result(s).${N}"
  exit 1
fi
