#!/usr/bin/env bash
# Install every peer the test suite talks to, from Debian packages. Idempotent: packages that
# are present are not fetched again. Needs root (or sudo) for apt-get.
set -euo pipefail
pkgs=(
	postgresql            # storage tests on PostgreSQL (private cluster per run)
	sip-tester            # sipp: SIP scenarios and load
	kamailio              # a provider's registrar and proxy for the trunk tests (private instance)
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
# npm fetches axe-core (below) for the console's accessibility checks; a Node.js that brings
# its own npm (the nodejs package of another origin) serves as well as Debian's npm.
command -v npm >/dev/null || pkgs+=(npm)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# axe-core from the npm registry, for the browser tests to inject into each console page (it
# is test tooling, never part of the product). Pinned; kept out of git (.gitignore).
axe_version=4.14.1
axe_dir="$(cd "$(dirname "$0")/.." && pwd)/internal/web/testdata/axe"
install_axe() {
	if [ -f "$axe_dir/node_modules/axe-core/axe.min.js" ] &&
		grep -q "\"version\": \"$axe_version\"" "$axe_dir/node_modules/axe-core/package.json"; then
		return
	fi
	echo "install-test-deps: axe-core $axe_version (npm)"
	mkdir -p "$axe_dir"
	npm install --silent --no-audit --no-fund --no-save --prefix "$axe_dir" "axe-core@$axe_version" >/dev/null
}
if [ ${#missing[@]} -eq 0 ]; then
	install_axe
	echo "install-test-deps: all present"
	exit 0
fi
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
echo "install-test-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
install_axe
# Debian's slapd postinst starts a system slapd on 389; benchmarks and tests run their own.
if command -v systemctl >/dev/null && systemctl is-active --quiet slapd 2>/dev/null; then
	$SUDO systemctl stop slapd || true
	$SUDO systemctl disable slapd >/dev/null 2>&1 || true
elif [ -x /etc/init.d/slapd ]; then
	$SUDO /etc/init.d/slapd stop >/dev/null 2>&1 || true
fi
# Debian starts a system PostgreSQL on 5432 after install; tests use their own private cluster.
echo "install-test-deps: done"
