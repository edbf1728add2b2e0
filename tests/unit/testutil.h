/* Helpers shared by the cmocka unit tests that work in a temp dir of their
 * own. Each tests/unit/test_*.c is built alone, so everything here is static
 * (inline, so that a test using only some of it still builds with
 * -Werror=unused-function).
 *
 * Define TESTUTIL_NAME before including: the temp dirs are then
 * /tmp/vs-test-<TESTUTIL_NAME>.XXXXXX. Includes cmocka (with the headers it
 * needs first) and what the helpers use. */
#ifndef VS_TESTUTIL_H
#define VS_TESTUTIL_H

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "vs/fsutil.h"

#ifndef TESTUTIL_NAME
#error "define TESTUTIL_NAME (names the temp dirs) before including testutil.h"
#endif

/* ---- one directory per run ----
 * For tests that make many directories: each gets its own below one run
 * directory, which the group teardown removes, also when a test failed half
 * way (cmocka_run_group_tests(tests, group_setup, group_teardown)). */
static char run_dir[] __attribute__((unused)) = "/tmp/paene-unit-XXXXXX";

static inline int group_setup(void **state)
{
        (void)state;
        return mkdtemp(run_dir) ? 0 : -1;
}

static inline int group_teardown(void **state)
{
        char *cmd = vs_strdupf("rm -rf '%s'", run_dir);
        int rc = system(cmd);

        (void)state;
        free(cmd);
        return rc == 0 ? 0 : -1;
}

static inline char *temp_dir(void)
{
        char *dir = vs_strdupf("%s/XXXXXX", run_dir);

        assert_non_null(mkdtemp(dir));
        return dir;
}

static inline void remove_dir(char *dir)
{
        char *cmd = vs_strdupf("rm -rf '%s'", dir);

        assert_int_equal(system(cmd), 0);
        free(cmd);
        free(dir);
}

/* A temp dir made for one test, and an O_DIRECTORY fd on it. */
struct tmpdir {
        char path[64];
        int fd;
};

/* cmocka setup: makes the temp dir; *state is then its struct tmpdir. */
static inline int tmpdir_setup(void **state)
{
        struct tmpdir *t = calloc(1, sizeof(*t));

        if (!t)
                return -1;
        snprintf(t->path, sizeof(t->path), "/tmp/vs-test-" TESTUTIL_NAME ".XXXXXX");
        if (!mkdtemp(t->path)) {
                free(t);
                return -1;
        }
        t->fd = open(t->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (t->fd < 0) {
                rmdir(t->path);
                free(t);
                return -1;
        }
        *state = t;
        return 0;
}

static inline int tmpdir_remove_one(const char *path, const struct stat *st, int type,
                                    struct FTW *ftw)
{
        (void)st;
        (void)ftw;
        if (type == FTW_DP)
                return rmdir(path);
        return unlink(path);
}

/* cmocka teardown: removes the temp dir with nftw (not with the code under
 * test); FTW_PHYS so that symlinks are removed, not followed. */
static inline int tmpdir_teardown(void **state)
{
        struct tmpdir *t = *state;
        int rc;

        close(t->fd);
        rc = nftw(t->path, tmpdir_remove_one, 16, FTW_DEPTH | FTW_PHYS);
        free(t);
        return rc;
}

/* Counts the entries of the directory; fails on any whose name starts with
 * '.' (a leftover temp file). */
static inline size_t count_entries_no_hidden(int dirfd)
{
        DIR *dir = vs_opendir_at(dirfd, ".");
        struct dirent *ent;
        size_t n = 0;

        assert_non_null(dir);
        while ((ent = readdir(dir))) {
                if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
                        continue;
                if (ent->d_name[0] == '.') {
                        closedir(dir);
                        fail_msg("temp file '%s' left behind", ent->d_name);
                }
                n++;
        }
        closedir(dir);
        return n;
}

#endif
