#!/usr/bin/env bash
# The README's test command: installs what the tests need (Debian 12, as
# root), builds from scratch in build-test/ with -Werror and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install-deps --tests
(cd tests/s3 && npm ci --no-audit --no-fund) # s3rver, the S3 server of the e2e tests
rm -rf build-test
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DN4O_WERROR=ON
cmake --build build-test -j"$(nproc)"
cd build-test
ctest --output-on-failure -j2 --timeout 600
