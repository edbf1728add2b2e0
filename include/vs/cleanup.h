/* Cleanup attributes: resources are freed when they leave scope; ownership
 * leaves a scope with steal_ptr / steal_fd. */
#ifndef VS_CLEANUP_H
#define VS_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void vs_freep(void *p)
{
        free(*(void **)p);
}
static inline void vs_closep(int *fd)
{
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}
static inline void vs_fclosep(FILE **f)
{
        if (*f)
                fclose(*f);
}
static inline void vs_closedirp(DIR **d)
{
        if (*d)
                closedir(*d);
}
static inline void vs_strvfreep(char ***v)
{
        if (*v) {
                for (char **s = *v; *s; s++)
                        free(*s);
                free(*v);
        }
}

#define cleanup_free __attribute__((cleanup(vs_freep)))
#define cleanup_close __attribute__((cleanup(vs_closep)))
#define cleanup_fclose __attribute__((cleanup(vs_fclosep)))
#define cleanup_closedir __attribute__((cleanup(vs_closedirp)))
#define cleanup_strv __attribute__((cleanup(vs_strvfreep)))

#define steal_ptr(p)                         \
        ({                                   \
                __typeof__(p) _stolen = (p); \
                (p) = NULL;                  \
                _stolen;                     \
        })
#define steal_fd(fd)                \
        ({                          \
                int _stolen = (fd); \
                (fd) = -1;          \
                _stolen;            \
        })

#endif
