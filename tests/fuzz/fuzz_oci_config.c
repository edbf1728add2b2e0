/* libFuzzer target of paene-oci's config.json parser (oci/config.c): any
 * input is parsed, a config that parses is freed, and a refusal must come
 * with a one-line message. The seeds (tests/fuzz/corpus/oci_config) are the
 * malformed and hostile configs of test_oci_config.c and test_oci.sh.
 * (A message may quote the input, newlines and all: paene-oci's main
 * prints control characters as '?', which keeps its error one line.) */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct oci_config *c = NULL;
        struct oci_process p;
        struct oci_resources r;
        vs_error_t err = { 0 };
        char *text = malloc(size + 1);

        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        if (oci_config_parse(text, size, "/bundle", &c, &err) == 0) {
                oci_config_free(c);
        } else if (!err.msg[0]) {
                abort(); /* a refusal names what is wrong */
        }
        if (oci_process_parse(text, size, &p, &err) == 0)
                oci_process_clear(&p);
        if (oci_resources_parse(text, size, &r, &err) == 0)
                oci_resources_clear(&r);
        free(text);
        return 0;
}
