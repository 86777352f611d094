#!/usr/bin/env bash
# Install every peer the test suite talks to, from Debian packages. Idempotent: packages that
# are present are not fetched again. Needs root (or sudo) for apt-get.
set -euo pipefail
pkgs=(
	postgresql            # storage tests on PostgreSQL (private cluster per run)
	sip-tester            # sipp: SIP scenarios and load
	baresip               # real softphones with audio
	sipvicious            # svmap/svwar/svcrack attack tools (loopback only)
	ldap-utils            # ldapsearch against the LDAP server
	slapd                 # OpenLDAP: the directory benchmark's peer and sync-source tests (private instance)
	sox                   # audio fixtures
	espeak-ng             # system prompts (also at run time) and speech for DTMF talk-off tests
	python3               # free-port helper in scripts
	openssl               # test certificates
	ca-certificates
	chromium              # headless browser for the web console tests (chromedp)
)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-test-deps: all present"
	exit 0
fi
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
echo "install-test-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's slapd postinst starts a system slapd on 389; benchmarks and tests run their own.
if command -v systemctl >/dev/null && systemctl is-active --quiet slapd 2>/dev/null; then
	$SUDO systemctl stop slapd || true
	$SUDO systemctl disable slapd >/dev/null 2>&1 || true
elif [ -x /etc/init.d/slapd ]; then
	$SUDO /etc/init.d/slapd stop >/dev/null 2>&1 || true
fi
# Debian starts a system PostgreSQL on 5432 after install; tests use their own private cluster.
echo "install-test-deps: done"
