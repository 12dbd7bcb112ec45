#!/usr/bin/env bash
# User story: real dumps written by Neo4j 3.5, 4.0, 4.3 and 5.x go through
# backup and come back byte-identical; several databases and two local
# remotes in one run.
. "$(dirname "$0")/common.bash"

if [ ! -d "${N4O_FIXTURES:-}" ]; then
    echo "SKIP: real Neo4j dumps not found at ${N4O_FIXTURES:-(unset)} (../shared absent)"
    exit 77
fi

keygen
mkdir -p "$T/nas2"
dbs=()
for f in "$N4O_FIXTURES"/*.dump; do
    db=$(basename "$f" .dump)
    seed_db "$db" "$f"
    dbs+=("$db")
done
list=$(IFS=,; echo "${dbs[*]}")
write_config "[remote \"nas2\"]
type = local
path = $T/nas2"
sed -i "s/^database .*/database = ${list//,/, }/" "$T/conf"

run 0 backup
for db in "${dbs[@]}"; do
    check "$db: one archive and manifest on each remote" \
        test "$(count_files "$T/nas" "haia_backup_${db}_*.dump.*")$(count_files "$T/nas2" "haia_backup_${db}_*.dump.*")" = 22
    run 0 fetch --remote nas2 --latest --database "$db" --output "$T/$db.out"
    check "$db: fetched bytes identical to the real dump" cmp -s "$T/$db.out" "$N4O_FIXTURES/$db.dump"
    run 0 verify --deep --latest --database "$db"
done
check "one stop and one start around all dumps" \
    test "$(grep -c '^stop$' "$NEO4J_STANDIN_HOME/events.log")$(grep -c '^start$' "$NEO4J_STANDIN_HOME/events.log")" = 11
check "stop first, start after the last dump" \
    test "$(head -1 "$NEO4J_STANDIN_HOME/events.log")/$(grep -v '^stop$' "$NEO4J_STANDIN_HOME/events.log" | grep -n '^start$' | cut -d: -f1)" = "stop/$((${#dbs[@]} + 1))"
check "manifests record the Neo4j era" grep -q '"neo4j_era":"3.5/4.x"' "$T/nas"/haia_backup_movies-35_*.dump.manifest

# A database that fails does not stop the others: exit 3.
rm -rf "$NEO4J_STANDIN_HOME/databases/movies-40"
run 3 backup
expect_in "$T/err" "Database does not exist: movies-40"
check "the other databases got a second archive" test "$(count_files "$T/nas" 'haia_backup_movies-50_*.dump.enc')" = 2

e2e_finish
