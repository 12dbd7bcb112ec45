#!/usr/bin/env bash
# The layers of docs/ARCHITECTURE.md are enforced by the build: a file of a
# layer is compiled with exactly the flags CMake gives that layer's real
# files (compile_commands.json), and a header from a layer above it must
# not be found, while the layers below it must be.
set -u
: "${N4O_SOURCE:?}" "${N4O_BUILD:?}"
DB=$N4O_BUILD/compile_commands.json
[ -f "$DB" ] || { echo "FAILED: $DB missing (CMAKE_EXPORT_COMPILE_COMMANDS)"; exit 1; }
T=$(mktemp -d /tmp/n4o-layering.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0 passes=0

# The compile command of FILE (relative to the source), its input and
# output replaced by a probe.
flags_of() { # FILE
    python3 - "$DB" "$N4O_SOURCE/$1" <<'PY'
import json, shlex, sys
db, want = sys.argv[1], sys.argv[2]
for e in json.load(open(db)):
    if e["file"] == want:
        args = shlex.split(e["command"])
        out, skip = [], False
        for a in args[1:]:
            if skip: skip = False; continue
            if a in ("-o", "-c"): skip = a == "-o"; continue
            if a == want: continue
            out.append(a)
        print(args[0], " ".join(shlex.quote(a) for a in out))
        break
else:
    sys.exit("no compile command for " + want)
PY
}

probe() { # EXPECT(ok|refused) LAYER_FILE HEADER
    local cmd
    cmd=$(flags_of "$2") || { echo "FAILED: $2: no flags"; fails=$((fails + 1)); return; }
    printf '#include "%s"\nint layering_probe;\n' "$3" >"$T/probe.c"
    if (cd "$N4O_BUILD" && eval "$cmd -fsyntax-only $T/probe.c") >"$T/out" 2>&1; then
        got=ok
    else
        got=refused
    fi
    if [ "$got" = "$1" ]; then
        echo "ok: $2's layer: #include \"$3\" $got"
        passes=$((passes + 1))
    else
        echo "FAILED: $2's layer: #include \"$3\" $got, expected $1"
        sed 's/^/    /' "$T/out" | head -5
        fails=$((fails + 1))
    fi
}

# base: nothing above it
probe ok src/base/err.c strbuf.h
for h in keys.h backend.h config.h pipeline.h; do probe refused src/base/err.c "$h"; done
# crypto: base only
probe ok crypto/sign.c err.h
for h in backend.h config.h manifest.h; do probe refused crypto/sign.c "$h"; done
# backends: base only, never the configuration or crypto
probe ok backends/local/local.c atomic_file.h
for h in config.h keys.h stream.h remotes.h; do probe refused backends/local/local.c "$h"; done
probe refused backends/s3/s3.c config.h
# commands: everything
for h in err.h keys.h backend.h s3/s3.h config.h; do probe ok src/archives.c "$h"; done

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
