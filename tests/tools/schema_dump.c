/* Prints the request table of vsd's protocol layer as JSON, for the tests
 * that generate hand-written requests from it (tests/integration/
 * request_cases.py) and for anyone writing a client of their own. */
#include <stdio.h>

#include "vs/protocol.h"

int main(void)
{
        json_object *schema = vs_protocol_schema();

        puts(json_object_to_json_string_ext(schema, JSON_C_TO_STRING_PRETTY));
        json_object_put(schema);
        return 0;
}
