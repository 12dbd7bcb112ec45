#!/usr/bin/env bash
# The example configs (conf/*.conf, and the complete configs shown in
# docs/disaster-recovery.md) must load with the real binary, every command
# template in them must pass the loader's checks, and every key they name
# (also in a comment) must be one docs/CONFIG.md describes.
#
# Nothing is run against Neo4j: each check ends at a remote that does not
# exist ("no remote ... configured: ..."), which `backup` and `fetch` look up
# only after everything else (keys, signer trusted, programs, local
# directory) was checked.  The programs the templates name (docker,
# systemctl, runuser...) are stubs first on the PATH that record any call and
# fail; the test asserts none was called.
#
# version_command is still a reserved key in builds where it is not
# implemented: there, the one assertion that the example loads as written is
# reported as SKIP and the rest of the file is checked on a copy without that
# key; in builds that implement it, the examples must load as written.
set -uo pipefail
: "${N4O_BIN:?N4O_BIN not set}" "${N4O_SOURCE:?N4O_SOURCE not set}"
t=$(mktemp -d /tmp/n4o-example-configs.XXXXXX)
trap 'rm -rf "$t"' EXIT
fails=0 checks=0 skips=0
fail() {
    echo "FAILED: $*"
    fails=$((fails + 1))
}
ok() {
    echo "ok: $*"
    checks=$((checks + 1))
}
skip() {
    echo "SKIP: $*"
    skips=$((skips + 1))
}

NOREMOTE=n4o-test-no-such-remote
TEMPLATES=(dump_command load_command stop_command start_command check_command version_command)
RESERVED_VC=': \[neo4j\] version_command: version_command is not implemented in this version'
doc="$N4O_SOURCE/docs/CONFIG.md"
[[ -f $doc ]] || { echo "FAILED: $doc missing"; exit 1; }

# Stubs for every program an example names: any call is recorded and fails.
mkdir "$t/stubs"
for p in docker systemctl runuser sudo neo4j neo4j-admin cypher-shell; do
    printf '#!/bin/sh\necho "%s $*" >>"%s/called"\nexit 1\n' "$p" "$t" >"$t/stubs/$p"
    chmod +x "$t/stubs/$p"
done
export PATH="$t/stubs:$PATH"

# run ARGS...: out (stdout and stderr) and rc of the binary.
run() {
    out=$("$N4O_BIN" "$@" 2>&1)
    rc=$?
}

# without_version_command SRC DST: SRC without the key (its line and the
# indented continuation lines below it).
without_version_command() {
    awk 'skip && /^[ \t]+[^ \t]/ { next }
         { skip = 0 }
         /^version_command[ \t]*=/ { skip = 1; next }
         { print }' "$1" >"$2"
}

# expect_no_remote LABEL FILE COMMAND [ARGS...]: the command, given the
# nonexistent remote, must get as far as looking it up: exit 2 and exactly
# that message.  While version_command is reserved, an example that sets it is
# refused for that key only: SKIP that, and check the rest on a copy.
expect_no_remote() {
    local label=$1 file=$2 cmd=$3
    shift 3
    run -c "$file" "$cmd" --remote "$NOREMOTE" "$@"
    if ((vc_reserved)) && [[ $rc == 2 && $out =~ $RESERVED_VC ]]; then
        skip "$label: version_command is still reserved in this build (${out#*error: }); checking the rest without it"
        local copy
        copy=$(mktemp "$t/without-version-command.XXXXXX") || exit 1
        without_version_command "$file" "$copy"
        grep -q '^version_command' "$copy" && { fail "$label: version_command not removed"; return; }
        file=$copy
        run -c "$file" "$cmd" --remote "$NOREMOTE" "$@"
    fi
    local want="$cmd: no remote \"$NOREMOTE\" in $file (configured: "
    if [[ $rc == 2 && $out == *"$want"* ]]; then
        ok "$label: loads for $cmd (${out##*configured: }"
    else
        fail "$label: $cmd: expected exit 2 and '$want...', got exit $rc: $out"
    fi
}

# expect_key_error LABEL FILE KEY MESSAGE: exit 2 and "FILE:LINE: [neo4j] KEY:
# MESSAGE...", LINE being the key's line.
expect_key_error() {
    local label=$1 file=$2 key=$3 msg=$4
    local line
    line=$(grep -n "^${key}[[:blank:]]*=" "$file" | cut -d: -f1)
    [[ $line =~ ^[0-9]+$ ]] || { fail "$label: $key not found once in $file"; return; }
    run -c "$file" list --remote "$NOREMOTE"
    local want="$file:$line: [neo4j] $key: $msg"
    if [[ $rc == 2 && $out == *"$want"* ]]; then
        ok "$label: broken $key refused (line $line: $msg...)"
    else
        fail "$label: broken $key: expected exit 2 and '$want...', got exit $rc: $out"
    fi
}

# The value of KEY in FILE (continuation lines joined), empty when unset.
value_of() {
    awk -v k="$1" '
        on && /^[ \t]+[^ \t]/ { sub(/^[ \t]+/, ""); v = v " " $0; next }
        on { exit }
        $0 ~ "^" k "[ \t]*=" { on = 1; sub(/^[^=]*=[ \t]*/, ""); v = $0 }
        END { print v }' "$2"
}

# Is version_command still reserved in this build?  Exactly one of the two
# answers is accepted.
mkdir "$t/probe"
printf '[neo4j]\nversion_command = neo4j-admin --version\n[remote "r"]\ntype = local\npath = %s\n' \
    "$t/probe" >"$t/probe/probe.conf"
run -c "$t/probe/probe.conf" list --remote "$NOREMOTE"
if [[ $rc == 2 && $out =~ $RESERVED_VC ]]; then
    vc_reserved=1
    echo "note: version_command is reserved in this build"
elif [[ $rc == 2 && $out == *"no remote \"$NOREMOTE\""* ]]; then
    vc_reserved=0
    echo "note: version_command is implemented in this build"
else
    fail "probe of version_command: exit $rc: $out"
    vc_reserved=0
fi

examples=("$N4O_SOURCE"/conf/*.conf)
((${#examples[@]} >= 3)) || fail "expected at least 3 examples in conf/, found ${#examples[@]}"
for src in "${examples[@]}"; do
    name=$(basename "$src" .conf)
    echo "== conf/$name.conf"

    # 1. Every key, set or commented out, is in docs/CONFIG.md.
    nkeys=0
    while read -r key; do
        nkeys=$((nkeys + 1))
        grep -q "^| \`$key\` |" "$doc" || fail "$name: key $key is not in docs/CONFIG.md"
    done < <(sed -n 's/^[;#]\{0,1\}\([a-z_]\{1,\}\)[[:blank:]]*=.*/\1/p' "$src" | sort -u)
    if ((nkeys >= 5)); then
        ok "$name: $nkeys keys (set or commented out) looked up in docs/CONFIG.md"
    else
        fail "$name: only $nkeys keys found"
    fi

    # 2. The file as shipped loads (list: syntax, every key, every template).
    #    Relative paths (demo.conf) are resolved but not opened by list.
    expect_no_remote "$name (as shipped)" "$src" list

    # 3. A copy in a scratch tree whose key files exist (generated), lock and
    #    local directory inside the tree, secret_key enabled (restore host):
    #    backup and fetch get past keys, signer, programs and local directory.
    root="$t/$name"
    mkdir -p "$root/conf"
    conf="$root/conf/$name.conf"
    sed -e "s#/etc/neo4j-offsite/#$root/etc/#g" \
        -e "s#/run/neo4j-offsite/#$root/run/#g" \
        -e 's/^;secret_key[[:blank:]]*=/secret_key =/' "$src" >"$conf"
    grep -q '^secret_key' "$conf" || fail "$name: no secret_key line (even commented) for restore hosts"
    # the local directory: absolute ones moved into the tree, relative ones created there
    dir=$(value_of directory "$conf" | sed 's/[[:blank:]]*;.*//')
    if [[ $dir == /* ]]; then
        sed -i "s#^directory[[:blank:]]*=.*#directory = $root/backups#" "$conf"
        dir="$root/backups"
    else
        dir="$root/conf/$dir"
    fi
    mkdir -p "$dir"
    # relative program paths (demo.conf: ../tests/tools/neo4j-admin)
    ln -s "$N4O_SOURCE/tests" "$root/tests"
    # every file the commands below may write or read is in the tree
    outside=
    for key in lock_file directory public_key signing_key secret_key verify_key; do
        v=$(value_of "$key" "$conf" | sed 's/[[:blank:]]*;.*//')
        [[ -n $v && $v != /* ]] && v=$(realpath -m "$root/conf/$v")
        [[ -z $v || $v == "$root"/* ]] || outside+=" $key=$v"
    done
    if [[ -n $outside ]]; then
        fail "$name: not checked further: outside the scratch tree:$outside"
        continue
    fi
    pub=$(value_of public_key "$conf" | sed 's/[[:blank:]]*;.*//')
    [[ $pub == /* ]] || pub="$root/conf/$pub"
    if ! "$N4O_BIN" keygen --out "$(dirname "$pub")" >"$t/keygen.log" 2>&1; then
        fail "$name: keygen: $(cat "$t/keygen.log")"
        continue
    fi
    expect_no_remote "$name (backup host)" "$conf" backup
    expect_no_remote "$name (restore host)" "$conf" fetch --latest --output "$t/$name.dump"
    [[ -e $t/$name.dump ]] && fail "$name: fetch wrote $t/$name.dump"

    # Controls: the same checks fail where they should, so "no remote" above
    # means they passed rather than were skipped.
    base=$conf
    if ((vc_reserved)) && grep -q '^version_command' "$conf"; then
        base="$root/conf/$name.base.conf"
        without_version_command "$conf" "$base"
    fi
    sed "s#^directory[[:blank:]]*=.*#directory = $root/no-such-dir#" "$base" >"$root/conf/nodir.conf"
    run -c "$root/conf/nodir.conf" backup --remote "$NOREMOTE"
    if [[ $rc == 1 && $out == *"local directory: directory $root/no-such-dir: No such file"* ]]; then
        ok "$name: control: a missing local directory stops backup first"
    else
        fail "$name: control: missing local directory: exit $rc: $out"
    fi
    sed 's#^\(dump_command[[:blank:]]*=\)#\1 n4o-no-such-program#' "$base" >"$root/conf/noprog.conf"
    run -c "$root/conf/noprog.conf" backup --remote "$NOREMOTE"
    if [[ $rc == 2 && $out == *"[neo4j] dump_command: program n4o-no-such-program not found"* ]]; then
        ok "$name: control: a missing program stops backup first"
    else
        fail "$name: control: missing program: exit $rc: $out"
    fi

    # 4. Every template the example sets is checked when the file is read:
    #    a broken quote (the reader) and an unknown placeholder (the command
    #    splitter) in a copy are refused, exit 2, naming file, line and key.
    #    The Docker and bare-metal examples set all six templates.
    ntemplates=0
    for key in "${TEMPLATES[@]}"; do
        if [[ -z $(value_of "$key" "$src") ]]; then
            [[ $name == demo ]] || fail "$name: $key is not set"
            continue
        fi
        ntemplates=$((ntemplates + 1))
        if [[ $key == version_command ]] && ((vc_reserved)); then
            skip "$name: $key is reserved in this build: its template is not checked when read"
            continue
        fi
        sed "s#^\(${key}[[:blank:]]*=\)#\1 'unclosed#" "$base" >"$root/conf/quote-$key.conf"
        expect_key_error "$name" "$root/conf/quote-$key.conf" "$key" "unbalanced "
        sed "s#^\(${key}[[:blank:]]*=\)#\1 {databse}#" "$base" >"$root/conf/placeholder-$key.conf"
        expect_key_error "$name" "$root/conf/placeholder-$key.conf" "$key" \
            "unknown placeholder {databse} (did you mean {database}?)"
    done
    echo "   $ntemplates templates set"
done

# 5. The complete configs in docs/disaster-recovery.md (its ```ini blocks;
#    keep partial snippets out of such blocks) load too, with keys from
#    docs/CONFIG.md only.
runbook="$N4O_SOURCE/docs/disaster-recovery.md"
mkdir "$t/runbook"
awk -v dir="$t/runbook" '/^```ini[[:blank:]]*$/ { n++; f = dir "/block" n ".conf"; next }
                         /^```/ { f = ""; next }
                         f { print > f }' "$runbook"
blocks=("$t"/runbook/block*.conf)
if [[ ! -e ${blocks[0]} ]]; then
    fail "no \`\`\`ini block in $runbook"
    blocks=()
fi
for block in "${blocks[@]}"; do
    label="docs/disaster-recovery.md $(basename "$block" .conf)"
    while read -r key; do
        grep -q "^| \`$key\` |" "$doc" || fail "$label: key $key is not in docs/CONFIG.md"
    done < <(sed -n 's/^[;#]\{0,1\}\([a-z_]\{1,\}\)[[:blank:]]*=.*/\1/p' "$block" | sort -u)
    expect_no_remote "$label" "$block" list
    # a restore-only config (no public_key) cannot back up into the remotes
    if ! grep -q '^public_key' "$block"; then
        b=$block
        if ((vc_reserved)); then
            b="${block%.conf}.novc.conf"
            without_version_command "$block" "$b"
        fi
        for cmd in backup push; do
            run -c "$b" "$cmd" --remote "$NOREMOTE"
            if [[ $rc == 2 && $out == *"[keys] public_key: missing, required by $cmd"* ]]; then
                ok "$label: without public_key, $cmd is refused"
            else
                fail "$label: $cmd without public_key: exit $rc: $out"
            fi
        done
    fi
    # as a restore host: its keys generated, /etc/neo4j-offsite moved into the tree
    keys="${block%.conf}.keys"
    sed -i "s#/etc/neo4j-offsite/#$keys/#g" "$block"
    if "$N4O_BIN" keygen --out "$keys" >"$t/keygen.log" 2>&1; then
        expect_no_remote "$label (restore host)" "$block" fetch --latest --output "$t/runbook.dump"
    else
        fail "$label: keygen: $(cat "$t/keygen.log")"
    fi
done

if [[ -e $t/called ]]; then
    fail "a Neo4j command was run: $(cat "$t/called")"
else
    ok "no Neo4j command (docker, systemctl, runuser...) was run"
fi
echo "$checks checks passed, $skips skipped, $fails failed"
((fails == 0 && checks > 0)) || exit 1
