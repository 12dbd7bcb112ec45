#!/usr/bin/env bash
# The README's test command: installs what the tests need (Debian 12, as
# root), builds from scratch in build-test/ with -Werror and runs every test;
# then builds again with AddressSanitizer and UBSan in build-asan/ and runs
# the unit tests and the tests that feed hostile input (server replies,
# forged archives, planted files) under them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install-deps --tests
(cd tests/s3 && npm ci --no-audit --no-fund) # s3rver, the S3 server of the e2e tests
rm -rf build-test
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DN4O_WERROR=ON
cmake --build build-test -j"$(nproc)"
(cd build-test && ctest --output-on-failure -j2 --timeout 600)

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
