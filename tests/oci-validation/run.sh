#!/usr/bin/env bash
# Runs the OCI runtime-tools validation suite against an OCI runtime.
#
# Usage: tests/oci-validation/run.sh [RUNTIME_BINARY]
#   RUNTIME_BINARY  default: target/release/runsc of this repo (built with cargo)
# Environment:
#   OCI_VALIDATION_CACHE  where the source and built programs live (default /var/tmp/oci-validation)
#   OCI_VALIDATION_TIMEOUT  seconds each validation program may run (default 60)
#   OCI_VALIDATION_ONLY   space-separated program names to run (default: all)
#   OCI_VALIDATION_HOST_WRITE_FLAGS  global runtime flags for the programs that read on the host
#                         what the container wrote in its root (default: --overlay=none when the
#                         runtime's --help offers --overlay, as ours does; else none)
#
# The validation programs and cmd/runtimetest come from Debian's source package
# golang-github-opencontainers-runtime-tools (apt-get source), built in GOPATH mode against
# Debian's golang-*-dev packages; github.com/mndrix/tap-go, which Debian lacks, is replaced by
# our own TAP writer in tap-go/. Each program creates bundles, drives the runtime through its
# lifecycle and runs runtimetest inside the container; it passes when it exits 0 and its TAP
# output has no "not ok" line and no "error" diagnostic outside a test point (several programs
# report a failed lifecycle only as a YAML block with an error and no test point).
#
# Our runsc keeps the container's root writes in the sandbox (an overlay in sentry memory), so
# the programs that look on the host for a file the container wrote run it with
# --overlay=none (writes go through to the bundle's rootfs); their lines say so.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${OCI_VALIDATION_CACHE:-/var/tmp/oci-validation}"
per_program_timeout="${OCI_VALIDATION_TIMEOUT:-60}"
srcpkg=golang-github-opencontainers-runtime-tools

# Debian packages the build needs: the compiler, dpkg-dev for apt-get source, and the
# -dev packages holding the Go libraries the source imports.
debs=(golang-go dpkg-dev ca-certificates
	golang-github-blang-semver-dev golang-github-hashicorp-go-multierror-dev
	golang-github-mrunalp-fileutils-dev golang-github-opencontainers-specs-dev
	golang-github-opencontainers-selinux-dev golang-github-satori-go.uuid-dev golang-github-google-uuid-dev
	golang-github-sirupsen-logrus-dev golang-github-urfave-cli-dev
	golang-github-xeipuuv-gojsonschema-dev golang-gocapability-dev golang-golang-x-sys-dev)

log() { echo "oci-validation: $*" >&2; }

install_debs() {
	local missing=()
	for p in "${debs[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	if ((${#missing[@]})); then
		log "installing ${missing[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
}

# Adds a deb-src entry for the system's suite unless one exists.
ensure_deb_src() {
	if grep -rqsE '^(deb-src|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
		return
	fi
	local suite
	suite="$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")"
	log "adding deb-src for $suite in /etc/apt/sources.list.d/oci-validation-src.sources"
	cat >/etc/apt/sources.list.d/oci-validation-src.sources <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	apt-get update -qq
}

# Fetches the source package into $cache/src (once). The archive may lack some versions'
# files, so if the system's suite fails, newer suites are tried through a private apt
# configuration (the system's sources are left alone).
fetch_source() {
	local dest="$cache/src"
	if [[ -f "$dest/cmd/runtimetest/main.go" ]]; then
		return
	fi
	ensure_deb_src
	local dl="$cache/download"
	rm -rf "$dl" && mkdir -p "$dl"
	if ! (cd "$dl" && apt-get source --download-only -qq "$srcpkg" >/dev/null 2>&1) ||
		! compgen -G "$dl/*.orig.tar.*" >/dev/null; then
		log "apt-get source from the system's suite failed; trying trixie/sid sources"
		local alt="$cache/apt-alt"
		mkdir -p "$alt/lists/partial"
		cat >"$alt/sources.list" <<SRC
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main
SRC
		local opts=(-o "Dir::Etc::SourceList=$alt/sources.list" -o Dir::Etc::SourceParts=/dev/null
			-o "Dir::State::Lists=$alt/lists")
		apt-get "${opts[@]}" update -qq
		rm -rf "$dl" && mkdir -p "$dl"
		# The .dsc may be missing from the archive while the tarballs are there: keep what came.
		(cd "$dl" && apt-get "${opts[@]}" source --download-only -qq "$srcpkg" >/dev/null 2>&1) || true
	fi
	local orig
	orig="$(compgen -G "$dl/*.orig.tar.*" | head -n1 || true)"
	if [[ -z "$orig" ]]; then
		log "could not fetch the source package $srcpkg"
		exit 1
	fi
	log "unpacking $(basename "$orig")"
	rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
	tar -xf "$orig" -C "$dest.tmp" --strip-components=1
	rm -rf "$dest" && mv "$dest.tmp" "$dest"
}

# Builds runtimetest and every validation/*/ program in GOPATH mode.
build() {
	local gopath="$cache/gopath"
	local rt="$gopath/src/github.com/opencontainers/runtime-tools"
	local tap="$gopath/src/github.com/mndrix/tap-go"
	mkdir -p "$(dirname "$rt")" "$tap"
	ln -sfn "$cache/src" "$rt"
	cp "$here/tap-go/tap.go" "$tap/tap.go"
	export GO111MODULE=off GOPATH="$gopath:/usr/share/gocode" GOFLAGS= GOCACHE="$cache/gocache"
	cd "$rt"
	if [[ ! -x runtimetest || "$here/tap-go/tap.go" -nt runtimetest ]]; then
		log "building runtimetest"
		CGO_ENABLED=0 go build -tags "netgo osusergo" -o runtimetest ./cmd/runtimetest
	fi
	mkdir -p "$cache/bin"
	for dir in validation/*/; do
		local name
		name="$(basename "$dir")"
		[[ "$name" == util ]] && continue
		if [[ ! -x "$cache/bin/$name.t" || "$here/tap-go/tap.go" -nt "$cache/bin/$name.t" ]]; then
			go build -o "$cache/bin/$name.t" "./$dir"
		fi
	done
}

# Counts YAML blocks with an "error" key that do not follow a test point.
unattached_errors() {
	awk '
		/^(not )?ok / { attached = 1; next }
		/^  ---$/ { inyaml = 1; mine = attached; attached = 0; next }
		/^  \.\.\.$/ { inyaml = 0; next }
		inyaml { if (!mine && $0 ~ /"error":/) { n++ } ; next }
		{ attached = 0 }
		END { print n + 0 }
	' "$1"
}

runtime_bin="${1:-}"
if [[ -z "$runtime_bin" ]]; then
	log "building runsc (release)"
	(cd "$repo" && cargo build --release -q -p runsc)
	runtime_bin="${CARGO_TARGET_DIR:-$repo/target}/release/runsc"
fi
runtime_bin="$(readlink -f "$runtime_bin")"
[[ -x "$runtime_bin" ]] || { log "no runtime binary at $runtime_bin"; exit 1; }

mkdir -p "$cache"
install_debs
fetch_source
build

cd "$cache/src"
results="$cache/results/$(basename "$runtime_bin")"
rm -rf "$results" && mkdir -p "$results"

# The programs that read on the host what the container wrote in its root filesystem.
host_write_programs=" start killsig poststart poststart_fail poststop poststop_fail prestart prestart_fail hooks "
host_write_flags="${OCI_VALIDATION_HOST_WRITE_FLAGS-auto}"
if [[ "$host_write_flags" == auto ]]; then
	host_write_flags=""
	if "$runtime_bin" --help 2>&1 | grep -qE -- '--overlay[ =<]'; then
		host_write_flags="--overlay=none"
	fi
fi
host_write_runtime="$runtime_bin"
if [[ -n "$host_write_flags" ]]; then
	host_write_runtime="$results/runtime-host-writes"
	printf '#!/bin/sh\nexec %q %s "$@"\n' "$runtime_bin" "$host_write_flags" >"$host_write_runtime"
	chmod +x "$host_write_runtime"
fi
pass=0
total=0
for prog in "$cache"/bin/*.t; do
	name="$(basename "$prog" .t)"
	if [[ -n "${OCI_VALIDATION_ONLY:-}" && " $OCI_VALIDATION_ONLY " != *" $name "* ]]; then
		continue
	fi
	total=$((total + 1))
	status=0
	runtime="$runtime_bin"
	note=""
	if [[ "$host_write_programs" == *" $name "* && "$host_write_runtime" != "$runtime_bin" ]]; then
		runtime="$host_write_runtime"
		note=" ($host_write_flags)"
	fi
	RUNTIME="$runtime" timeout -k 5 "$per_program_timeout" "$prog" >"$results/$name.tap" 2>"$results/$name.err" </dev/null || status=$?
	oks=$(grep -cE '^ok ' "$results/$name.tap" || true)
	notoks=$(grep -cE '^not ok ' "$results/$name.tap" || true)
	errors=$(unattached_errors "$results/$name.tap")
	if [[ $status -eq 0 && $notoks -eq 0 && $errors -eq 0 ]]; then
		verdict=pass
		pass=$((pass + 1))
	else
		verdict=fail
	fi
	[[ $status -eq 124 || $status -eq 137 ]] && verdict="$verdict (timeout)"
	printf '%-32s %-14s ok=%-3s not_ok=%-3s errors=%s exit=%s%s\n' "$name" "$verdict" "$oks" "$notoks" "$errors" "$status" "$note"
done
echo "TAP output and stderr of each program: $results/"
echo "validation: $pass of $total programs pass"
