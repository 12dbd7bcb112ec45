#!/usr/bin/env bash
# The README's test command: installs what the tests need (Debian 12, as
# root), builds from scratch in build-test/ with -Werror and line coverage
# (N4O_COVERAGE) and runs every test, then prints the line coverage of
# src/, crypto/ and backends/ per directory and per file (gcovr; the lines
# not run are listed in build-test/coverage.txt); then builds again with
# AddressSanitizer and UBSan in build-asan/ and runs the unit tests and the
# tests that feed hostile input (server replies, forged archives, planted
# files) under them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install-deps --tests
(cd tests/s3 && npm ci --no-audit --no-fund) # s3rver, the S3 server of the e2e tests
rm -rf build-test
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DN4O_WERROR=ON -DN4O_COVERAGE=ON
cmake --build build-test -j"$(nproc)"
(cd build-test && ctest --output-on-failure -j2 --timeout 600)

# Line coverage of the tests above (tests/ and bench/ are not measured).
gcovr -r . --object-directory build-test -f 'src/' -f 'crypto/' -f 'backends/' -e 'tests/' \
    -e 'bench/' --gcov-ignore-parse-errors --json-summary build-test/coverage.json \
    --txt build-test/coverage.txt
python3 - build-test/coverage.json <<'EOF'
import json, os, sys
report = json.load(open(sys.argv[1]))
files = report["files"]
dirs = {os.path.dirname(f["filename"]) for f in files}
nested = {d.split("/")[0] for d in dirs if "/" in d}  # e.g. backends/ has local/ s3/ sftp/
rows = {}
for f in files:
    d = os.path.dirname(f["filename"])
    top = d.split("/")[0]
    keys = [d + "/*.c" if d in nested else d + "/"]
    if top in nested:
        keys.append(top + "/ (all)")
    for k in keys:
        c = rows.setdefault(k, [0, 0])
        c[0] += f["line_covered"]
        c[1] += f["line_total"]
def row(name, covered, total):
    pct = 100.0 * covered / total if total else 100.0
    print(f"  {name:<28} {covered:6d} / {total:6d} lines  {pct:5.1f}%")
print("\nLine coverage per directory (lines not run: build-test/coverage.txt):")
for k in sorted(rows):
    row(k, *rows[k])
row("total", report["line_covered"], report["line_total"])
print("Per file:")
for f in sorted(files, key=lambda f: f["filename"]):
    row(f["filename"], f["line_covered"], f["line_total"])
EOF

rm -rf build-asan
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DN4O_WERROR=ON -DCMAKE_C_FLAGS="$san" \
    -DCMAKE_EXE_LINKER_FLAGS="$san"
cmake --build build-asan -j"$(nproc)"
cd build-asan
# full stacks (libssh2 has no frame pointers): the suppressions name its functions
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:verify_asan_link_order=0:fast_unwind_on_malloc=0 UBSAN_OPTIONS=print_stacktrace=1
export LSAN_OPTIONS=suppressions=$PWD/../tests/lsan.supp
ctest --output-on-failure -j2 --timeout 600 -R "$(tr -d ' \n' <../tests/sanitized.txt)"
