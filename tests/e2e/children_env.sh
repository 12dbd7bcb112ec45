#!/usr/bin/env bash
# User story: the backup host passes the S3 credentials and the passphrase
# file in the environment (docs/CONFIG.md: secrets may come from there).  Neo4j's
# commands (stop, dump, start) get the environment without them: a child's
# environment is readable by more than the tool (its own children,
# /proc/PID/environ, `docker exec -e`, core dumps).
. "$(dirname "$0")/common.bash"

keygen
write_config
gen_dump "$T/source.dump" 2M 3
seed_db neo4j "$T/source.dump"
"$STANDIN" server start >/dev/null

# stop_command and start_command record their environment, then do their job.
sed -i "s|^stop_command .*|stop_command  = sh -c 'env >\"\$0\"; exec \"\$1\" server stop' $T/stop.env $STANDIN|" "$T/conf"
sed -i "s|^start_command .*|start_command = sh -c 'env >\"\$0\"; exec \"\$1\" server start' $T/start.env $STANDIN|" "$T/conf"

printf 'not-the-passphrase\n' >"$T/passphrase"
chmod 600 "$T/passphrase"
SECRETS=(AWS_ACCESS_KEY_ID=AKIDN4OCHILDRENTEST AWS_SECRET_ACCESS_KEY=n4o-children-secret
    AWS_SESSION_TOKEN=n4o-children-token NEO4J_OFFSITE_PASSPHRASE_FILE="$T/passphrase")
MARK="N4O_CHILDREN_ENV=$$"

: >"$NEO4J_STANDIN_HOME/events.log"
env "${SECRETS[@]}" "$MARK" NEO4J_STANDIN_DUMP_DELAY=2 \
    "$N4O_BIN" -c "$T/conf" --no-progress backup >"$T/out" 2>"$T/err" &
pid=$!
for _ in $(seq 100); do
    grep -q "dump neo4j" "$NEO4J_STANDIN_HOME/events.log" 2>/dev/null && break
    sleep 0.1
done
# The dump (the stand-in) and the sleep it runs, read while they run: look
# again until both are seen (a loaded machine may be slow to start them).
for _ in $(seq 50); do
    : >"$T/dump.env"
    n=0
    for p in $(procs_with_env "$MARK"); do
        [ "$p" = "$pid" ] && continue
        case "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" in
        *neo4j-admin*database*dump* | sleep*)
            tr '\0' '\n' <"/proc/$p/environ" >>"$T/dump.env" 2>/dev/null && n=$((n + 1))
            ;;
        esac
    done
    [ "$n" -ge 2 ] && break
    sleep 0.1
done
check "the dump and its child were found running ($n)" test "$n" -ge 2
tr '\0' '\n' <"/proc/$pid/environ" >"$T/tool.env"
wait "$pid"
rc=$?
check "the backup succeeded (exit $rc)" test "$rc" = 0
[ "$rc" = 0 ] || sed 's/^/    /' "$T/err" | tail -5

for v in "${SECRETS[@]}"; do
    check "the tool itself has ${v%%=*} (else this test proves nothing)" grep -qxF "$v" "$T/tool.env"
done
for f in stop start dump; do
    check "$f: the child's environment was recorded" grep -q "^$MARK\$" "$T/$f.env"
    for v in "${SECRETS[@]}"; do
        name=${v%%=*}
        if grep -q "^$name=" "$T/$f.env"; then bad "$f: $name reached the child"; else
            ok "$f: no $name"
        fi
    done
    check "$f: no secret value anywhere" \
        test -z "$(grep -e n4o-children -e AKIDN4O -e "$T/passphrase" "$T/$f.env")"
    check "$f: the rest of the environment is there (NEO4J_STANDIN_HOME, PATH)" \
        grep -qx -e "NEO4J_STANDIN_HOME=$NEO4J_STANDIN_HOME" "$T/$f.env"
    check "$f: PATH is passed on" grep -qxF "PATH=$PATH" "$T/$f.env"
done
check "dump: NEO4J_OFFSITE_DATABASE names the database" \
    grep -qx "NEO4J_OFFSITE_DATABASE=neo4j" "$T/dump.env"

e2e_finish
