#include "security.h"

int vs_security_apply(vs_error_t *err)
{
        /* Privileged (Vserver-style) VPS for now: nothing to drop yet. */
        (void)err;
        return 0;
}
