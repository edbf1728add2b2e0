/* The VPS's security set-up, applied last in the spawn path, just before
 * exec: user namespace mapping, capabilities and seccomp come with the
 * security issue and plug in here. */
#ifndef VS_RUNTIME_SECURITY_H
#define VS_RUNTIME_SECURITY_H

#include "vs/error.h"

/* Called in the child, inside every namespace, after pivot_root. */
int vs_security_apply(vs_error_t *err);

#endif
