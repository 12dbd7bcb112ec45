#!/usr/bin/env bash
# README command 1 on a fresh machine: the demo's build must work with the
# build packages alone (issue 11: it stopped at cmocka, a test package).
# pkg-config here sees only the .pc files of the packages that
# `.ci/install-deps` installs for a build, as on a machine where only those
# are installed; the demo's own build step (conf/demo.sh --build-only) runs.
set -uo pipefail
: "${N4O_SOURCE:?}"
t=$(mktemp -d /tmp/n4o-demo-build.XXXXXX)
trap 'rm -rf "$t"' EXIT
fails=0
fail() {
    echo "FAILED: $*"
    fails=$((fails + 1))
}
command -v dpkg >/dev/null || {
    echo "SKIP: not a Debian system (dpkg missing)"
    exit 77
}
mkdir "$t/pc"
while read -r pkg; do
    dpkg -L "$pkg" 2>/dev/null | grep '\.pc$' | while read -r pc; do cp "$pc" "$t/pc/"; done
done < <(bash "$N4O_SOURCE/.ci/install-deps" --list-build)
ls "$t/pc" | sed 's/^/    build package .pc: /'
[ -e "$t/pc/cmocka.pc" ] && fail "cmocka.pc came with a build package"
[ -e "$t/pc/libsodium.pc" ] || fail "libsodium.pc missing: are the build packages installed?"

# the build the demo does, seeing nothing but those
export PKG_CONFIG_LIBDIR="$t/pc" PKG_CONFIG_PATH=
if bash "$N4O_SOURCE/conf/demo.sh" --build-only "$t/build" >"$t/log" 2>&1; then
    echo "ok: the demo builds with the build packages only"
else
    fail "the demo's build needs more than the build packages:"
    tail -20 "$t/log"
fi
[ -x "$t/build/neo4j-offsite" ] || fail "no neo4j-offsite binary"
[ -x "$t/build/gendump" ] || fail "no gendump (the demo's dump generator)"
"$t/build/neo4j-offsite" --version >/dev/null || fail "the binary does not run"

# and the check can fail: with the tests on, the same machine stops at cmocka,
# saying how to proceed
if cmake -S "$N4O_SOURCE" -B "$t/build-tests" >"$t/log2" 2>&1; then
    fail "configuring the tests without cmocka succeeded: this test would not catch the bug"
elif tr -s ' \n' ' ' <"$t/log2" | grep -q "cmocka not found.*BUILD_TESTING=OFF"; then
    echo "ok: without cmocka the test build stops with a clear message"
else
    fail "no clear message without cmocka: $(grep -m1 -A3 -i error "$t/log2")"
fi
[ "$fails" = 0 ] && echo PASS
exit $((fails > 0))
