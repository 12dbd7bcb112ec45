/* manifest: the signed JSON record written next to each archive (schema and
 * canonical signing rule in docs/FORMAT.md). */
#ifndef N4O_MANIFEST_H
#define N4O_MANIFEST_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "keys.h"
#include "neo4j_version.h"

#define MANIFEST_FORMAT_VERSION 2 /* written; versions 1 and 2 are read */

typedef struct {
    int format_version;
    char tool_version[32];
    char database[128];
    time_t dump_started, dump_ended; /* UTC; RFC 3339 in the JSON */
    char host[256];
    char archive[256]; /* archive name, without ".dump.enc" */
    uint64_t archive_size;
    uint8_t archive_blake2b[32];
    uint8_t archive_header_blake2b[32]; /* version 2 on: BLAKE2b of the archive's header */
    uint64_t plaintext_size;
    uint8_t plaintext_blake2b[32];
    char dump_format[8]; /* "DZV1", "DGV1", "zstd", "gzip" */
    char neo4j_era[8];   /* "5.x" or "3.5/4.x" */
    uint64_t dump_files, dump_bytes;
    uint32_t chunk_size;
    uint8_t recipient_key_id[KEYS_ID_BYTES];
    uint8_t signer_key_id[KEYS_ID_BYTES]; /* set by manifest_sign() */
    /* Version 2, optional: the Neo4j that made the dump, as
     * neo4j_version_parse() gives it; "" = unknown (no member in the JSON). */
    char neo4j_version[NEO4J_VERSION_MAX];
} manifest;

/* Sign M with SIGNING (fills signer_key_id; format_version 0 becomes
 * MANIFEST_FORMAT_VERSION, 1 writes the older schema for tests) and return
 * the manifest file's text: the canonical JSON plus "\n" (malloc'd,
 * NUL-terminated, *LEN without the NUL).  Refuses (ERR_INTEGRITY) empty
 * strings, control characters, invalid UTF-8, integers above 2^63-1, and a
 * neo4j_version that is not a parsed version or is set in version 1. */
char *manifest_sign(manifest *m, const keys_secret *signing, size_t *len);

/* Parse TEXT and verify its signature against TRUSTED (signing keys; the
 * one whose id is signer_key_id is used).  ERR_INTEGRITY for malformed
 * JSON, duplicate, missing, unknown or mistyped fields (neo4j_version: not
 * exactly a version, or in version 1), another format_version, unknown
 * signer or bad signature; OUT is filled only on success.  A manifest
 * without neo4j_version (all those written before it) leaves it "". */
int manifest_verify(const char *text, size_t len, const keys_public *trusted, size_t n_trusted,
                    manifest *out);

/* Parse and type-check without verifying (list, and to name the signer in
 * errors).  Nothing read this way may be trusted. */
int manifest_parse_unverified(const char *text, size_t len, manifest *out);

#endif
