#!/usr/bin/env bash
# User story: no stop_command (the dump needs no downtime here), so the
# remotes are fed while the dump streams; two local remotes complete in the
# same run; --no-local-copy keeps nothing on the Neo4j host.
. "$(dirname "$0")/common.bash"

keygen
mkdir -p "$T/nas2"
write_config "[remote \"nas2\"]
type = local
path = $T/nas2"
sed -i '/^stop_command/d; /^start_command/d' "$T/conf"
gen_dump "$T/source.dump" 5M 11
seed_db neo4j "$T/source.dump"
"$STANDIN" server stop >/dev/null

run 0 backup
expect_in "$T/out" "remotes: nas ok, nas2 ok"
name=$(basename "$(ls "$T/local"/*.dump)" .dump)
check "local copy identical" cmp -s "$T/local/$name.dump" "$T/source.dump"
for r in nas nas2; do
    check "$r: archive and manifest" test -s "$T/$r/$name.dump.enc" -a -s "$T/$r/$name.dump.manifest"
done
check "both remotes got the same archive" cmp -s "$T/nas/$name.dump.enc" "$T/nas2/$name.dump.enc"
run 0 fetch --remote nas2 "$name" --output "$T/from-nas2.dump"
check "fetch from the second remote identical" cmp -s "$T/from-nas2.dump" "$T/source.dump"

rm -f "$T/local"/*
sleep 1
run 0 backup --no-local-copy --remote nas2
check "--no-local-copy: nothing in the local directory" test "$(ls "$T/local" | wc -l)" = 0
check "--remote nas2: only nas2 got the new archive" \
    test "$(count_files "$T/nas" '*.dump.enc')/$(count_files "$T/nas2" '*.dump.enc')" = 1/2
run 0 fetch --remote nas2 --latest --output "$T/live.dump"
check "live-streamed archive fetches identical" cmp -s "$T/live.dump" "$T/source.dump"
run 0 list --remote nas2
check "list shows two archives on nas2" test "$(grep -c complete "$T/out")" = 2

# A .partial left by a killed run is not an archive.
cp "$T/nas2/$name.dump.enc" "$T/nas2/haia_backup_neo4j_20200101_000000.dump.enc.partial"
run 0 list --remote nas2
check "list ignores the leftover .partial" test "$(grep -c 20200101 "$T/out")" = 0
run 0 list --remote nas2 --all
expect_in "$T/out" "haia_backup_neo4j_20200101_000000 .*incomplete"
run 2 backup --remote nope
expect_in "$T/err" "nope"

e2e_finish
