#!/usr/bin/env bash
# The README's demo command: installs what is needed (Debian 12, as root),
# builds, then runs the main job on a demo setup under ./demo: a stand-in
# neo4j-admin serving a generated 64 MiB Neo4j 5 dump, a local "off-site"
# remote.  Shows keygen, backup, list, verify and fetch.
#
# The build needs only the build packages (no test packages): tests run
# `conf/demo.sh --build-only DIR` with nothing else to prove it.
set -euo pipefail
cd "$(dirname "$0")/.."
build=build
if [ "${1:-}" = --build-only ]; then
    build=${2:?usage: conf/demo.sh --build-only BUILD_DIR}
else
    bash .ci/install-deps
fi
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target neo4j-offsite gendump >/dev/null
[ "${1:-}" = --build-only ] && exit 0
bin=build/neo4j-offsite
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

rm -rf demo
mkdir -p demo/backups demo/offsite demo/neo4j/databases/neo4j
export NEO4J_STANDIN_HOME=$PWD/demo/neo4j
build/gendump --size 64M --seed 42 demo/neo4j/databases/neo4j/store.dump 2>/dev/null
tests/tools/neo4j-admin server start >/dev/null
export NEO4J_OFFSITE_CONFIG=conf/demo.conf

step neo4j-offsite keygen --out demo/keys
$bin keygen --out demo/keys
step neo4j-offsite backup
$bin backup
step neo4j-offsite list
$bin list
step neo4j-offsite verify --latest --deep
$bin verify --latest --deep
step neo4j-offsite fetch --latest --output demo/restored.dump
$bin fetch --latest --output demo/restored.dump
step cmp demo/restored.dump demo/neo4j/databases/neo4j/store.dump
cmp demo/restored.dump demo/neo4j/databases/neo4j/store.dump && echo "identical"
step ls -l demo/backups demo/offsite
ls -l demo/backups demo/offsite
printf '\nDemo done: the plain dump is in demo/backups, the encrypted archive and its\n'
printf 'signed manifest in demo/offsite; demo/keys holds the keys.  See README.md.\n'
