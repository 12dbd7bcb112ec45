#!/usr/bin/env bash
# docs/CONFIG.md must equal what the key table generates, so the reference
# cannot drift from the code. Regenerate with:
#   build/config_reference > docs/CONFIG.md
set -euo pipefail
: "${N4O_BUILD:?N4O_BUILD not set}" "${N4O_SOURCE:?N4O_SOURCE not set}"
tool="$N4O_BUILD/config_reference"
doc="$N4O_SOURCE/docs/CONFIG.md"
[[ -x $tool ]] || { echo "FAIL: $tool not built" >&2; exit 1; }
[[ -f $doc ]] || { echo "FAIL: $doc missing" >&2; exit 1; }
generated=$("$tool")
if ! diff -u "$doc" <(printf '%s\n' "$generated"); then
    echo "FAIL: docs/CONFIG.md differs from the key table; regenerate it with" >&2
    echo "      $tool > $doc" >&2
    exit 1
fi
grep -q '^## \[remote "NAME"\]' "$doc" || { echo "FAIL: no remote section in $doc" >&2; exit 1; }
echo "docs/CONFIG.md matches the key table ($(grep -c '^| `' "$doc") keys)"
