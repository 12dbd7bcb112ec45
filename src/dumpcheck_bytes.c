/* dumpcheck_bytes: showing bytes in a reason (see dumpcheck_bytes.h). */
#include "dumpcheck_bytes.h"

#include <stdio.h>

void dumpcheck_show(const unsigned char *p, size_t n, int more, int line_hint, char *out,
                    size_t outsz)
{
    size_t text = 0;
    while (text < n && ((p[text] >= 0x20 && p[text] < 0x7f) || p[text] == '\t'))
        text++;
    int is_line = text >= 4 && (text == n || p[text] == '\n' || p[text] == '\r');
    size_t o = 0;
    if (is_line) {
        o += (size_t)snprintf(out + o, outsz - o, "\"");
        for (size_t i = 0; i < text && o + 4 < outsz; i++)
            out[o++] = p[i] == '"' ? '\'' : (char)p[i];
        snprintf(out + o, outsz - o, "%s\"%s", text == n && more ? "..." : "",
                 line_hint ? " (a line of text, e.g. log output written into the dump)" : "");
        return;
    }
    o += (size_t)snprintf(out + o, outsz - o, "bytes");
    size_t lim = n < 16 ? n : 16;
    for (size_t i = 0; i < lim && o + 4 < outsz; i++)
        o += (size_t)snprintf(out + o, outsz - o, " %02x", p[i]);
    if (n > lim)
        snprintf(out + o, outsz - o, " ...");
}
