#include "publish.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "manifest.h"
#include "stream.h"

void publish_manifest(const publish_job *j, backend *const *b, size_t n, err_kind *errs,
                      char (*msgs)[1024])
{
    manifest m;
    memset(&m, 0, sizeof m);
    m.format_version = MANIFEST_FORMAT_VERSION;
    memcpy(m.archive_header_blake2b, j->upload->archive_header_blake2b, 32);
    snprintf(m.tool_version, sizeof m.tool_version, "%s", N4O_VERSION);
    snprintf(m.database, sizeof m.database, "%s", j->database);
    m.dump_started = j->started;
    m.dump_ended = j->ended;
    if (gethostname(m.host, sizeof m.host - 1) < 0)
        snprintf(m.host, sizeof m.host, "unknown");
    snprintf(m.archive, sizeof m.archive, "%s", j->name);
    m.archive_size = j->upload->archive_size;
    memcpy(m.archive_blake2b, j->upload->archive_blake2b, 32);
    m.plaintext_size = j->plain->plain_size;
    memcpy(m.plaintext_blake2b, j->plain->plain_blake2b, 32);
    snprintf(m.dump_format, sizeof m.dump_format, "%s", j->plain->dump.format);
    snprintf(m.neo4j_era, sizeof m.neo4j_era, "%s", j->plain->dump.era);
    m.dump_files = j->plain->dump.files;
    m.dump_bytes = j->plain->dump.bytes;
    m.chunk_size = STREAM_CHUNK_SIZE;
    memcpy(m.recipient_key_id, j->recipient->id, KEYS_ID_BYTES);
    if (j->neo4j_version)
        snprintf(m.neo4j_version, sizeof m.neo4j_version, "%s", j->neo4j_version);

    size_t len = 0;
    char *text = manifest_sign(&m, j->signer, &len);
    char object[CATALOG_NAME_MAX + 32];
    snprintf(object, sizeof object, "%s%s", j->name, CATALOG_MANIFEST_SUFFIX);
    for (size_t i = 0; i < n; i++) {
        if (errs[i] != ERR_NONE)
            continue;
        if (!text || backend_write_all(b[i], object, text, len) < 0) {
            errs[i] = err_get_kind() == ERR_NONE ? ERR_FAIL : err_get_kind();
            snprintf(msgs[i], sizeof msgs[i], "manifest: %s", err_msg());
        }
    }
    free(text);
}
