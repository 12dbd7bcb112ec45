/* config_reference: print the configuration key reference generated from the
 * key table (docs/CONFIG.md is this output; test_config_doc.sh compares). */
#include <stdio.h>

#include "config_doc.h"

int main(void)
{
    config_write_reference(stdout);
    return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}
