# Shared helpers for the end-to-end tests: each test runs the built binary
# as a user does, against a stand-in neo4j-admin and local remotes in a
# temporary directory that is removed at the end.
set -u

: "${N4O_BIN:?run through ctest (N4O_BIN unset)}"
: "${N4O_SOURCE:?}" "${N4O_BUILD:?}"
STANDIN="$N4O_SOURCE/tests/tools/neo4j-admin"
GENDUMP="$N4O_BUILD/gendump"
E2E_PASSED=0
E2E_FAILED=0

T=$(mktemp -d /tmp/n4o-e2e.XXXXXX)
e2e_cleanup() {
    # never leave a child behind
    pkill -f "$T" 2>/dev/null || true
    local m
    for m in $(findmnt -rn -o TARGET 2>/dev/null | grep "^$T/"); do umount "$m"; done
    rm -rf "$T"
}
trap e2e_cleanup EXIT

export NEO4J_STANDIN_HOME="$T/neo4j"
mkdir -p "$T/local" "$T/nas" "$T/keys" "$NEO4J_STANDIN_HOME/databases"

ok() {
    E2E_PASSED=$((E2E_PASSED + 1))
    echo "ok: $*"
}

bad() {
    E2E_FAILED=$((E2E_FAILED + 1))
    echo "FAILED: $*"
}

check() { # description command...
    local what=$1
    shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}

# run EXPECTED_EXIT args...: runs the binary with the test config; output in
# $T/out and $T/err.
run() {
    local want=$1
    shift
    "$N4O_BIN" -c "$T/conf" --no-progress "$@" >"$T/out" 2>"$T/err"
    local got=$?
    if [ "$got" = "$want" ]; then
        ok "neo4j-offsite $* -> exit $got"
    else
        bad "neo4j-offsite $* -> exit $got, expected $want"
        sed 's/^/    stderr: /' "$T/err" | tail -20
        sed 's/^/    stdout: /' "$T/out" | tail -10
    fi
}

# expect_in FILE PATTERN: grep -E must match
expect_in() {
    if grep -Eq -- "$2" "$1"; then ok "$(basename "$1") mentions '$2'"; else
        bad "$(basename "$1") should mention '$2'"
        sed 's/^/    /' "$1" | tail -10
    fi
}

seed_db() { # DB FILE: the stand-in's store for DB becomes FILE's bytes
    mkdir -p "$NEO4J_STANDIN_HOME/databases/$1"
    cp "$2" "$NEO4J_STANDIN_HOME/databases/$1/store.dump"
}

keygen() {
    "$N4O_BIN" keygen --out "$T/keys" >/dev/null 2>"$T/err" || {
        cat "$T/err"
        exit 1
    }
}

# write_config [EXTRA_LINES]: the base config; EXTRA is appended verbatim.
write_config() {
    cat >"$T/conf" <<CONF
[general]
lock_file = $T/run/neo4j-offsite.lock

[neo4j]
database      = neo4j
dump_command  = $STANDIN database dump --to-stdout {database}
load_command  = $STANDIN database load --from-stdin --overwrite-destination=true {database}
stop_command  = $STANDIN server stop
start_command = $STANDIN server start
command_timeout = 2m

[local]
directory   = $T/local
name_prefix = haia_backup

[keys]
public_key  = $T/keys/archive.pub
signing_key = $T/keys/signing.key
secret_key  = $T/keys/archive.key
verify_key  = $T/keys/signing.pub

[remote "nas"]
type = local
path = $T/nas
${1:-}
CONF
}

# A generated Neo4j 5 dump of SIZE bytes (plaintext) into FILE.
gen_dump() { # FILE SIZE [SEED]
    "$GENDUMP" --size "$2" --seed "${3:-1}" "$1" 2>/dev/null
}

no_partials() { # DIR...: no temporary files anywhere
    local found
    found=$(find "$@" -name '*.partial' 2>/dev/null)
    [ -z "$found" ]
}

# Processes started for this test's stand-in with VAR=VALUE in their
# environment (e.g. the dump child of a run that was interrupted).
procs_with_env() { # VAR=VALUE
    local p
    for p in /proc/[0-9]*; do
        [ "${p#/proc/}" = "$$" ] && continue
        { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -qx "NEO4J_STANDIN_HOME=$NEO4J_STANDIN_HOME" || continue
        { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -qx "$1" && echo "${p#/proc/}"
    done
}

count_files() { # DIR GLOB
    find "$1" -maxdepth 1 -name "$2" | wc -l
}

# ---- restore stories: the stand-in's store and event log ----
same() { cmp -s "$1" "$2"; }
running() { [ -e "$NEO4J_STANDIN_HOME/running" ]; }
mark() { wc -l <"$NEO4J_STANDIN_HOME/events.log"; } # the event log's length now
events_since() { tail -n +$(($1 + 1)) "$NEO4J_STANDIN_HOME/events.log" | tr '\n' ' '; } # MARK
check_eq() { # WHAT ACTUAL EXPECTED
    if [ "$2" = "$3" ]; then ok "$1"; else
        bad "$1"
        echo "    got:      $2"
        echo "    expected: $3"
    fi
}
# The archived state: $T/A.neo4j and $T/A.system, the real movies-50 and
# northwind-50 dumps when ../shared is there, generated ones (said) if not.
archived_dumps() {
    if [ -d "${N4O_FIXTURES:-}" ]; then
        cp "$N4O_FIXTURES/movies-50.dump" "$T/A.neo4j"
        cp "$N4O_FIXTURES/northwind-50.dump" "$T/A.system"
        echo "(real Neo4j 5 dumps from $N4O_FIXTURES)"
    else
        echo "SKIP (in part): real Neo4j dumps not found at ${N4O_FIXTURES:-(unset)}: generated ones"
        gen_dump "$T/A.neo4j" 300K 11
        gen_dump "$T/A.system" 100K 12
    fi
}

e2e_finish() {
    echo "$E2E_PASSED passed, $E2E_FAILED failed"
    [ "$E2E_FAILED" = 0 ]
}
