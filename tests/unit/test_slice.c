/* Unit tests for runtime/slice.c and runtime/slicefile.c: the one parser
 * and loader of a slice file and its rule for missing and bad files,
 * finding a slice, its owners; "default" always there. No kernel, no
 * daemon. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define TESTUTIL_NAME "slice"
#include "slice.h"
#include "slicefile.h"
#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "testutil.h"
#include "vsd.h"

static void write_file(int dirfd, const char *name, const char *text)
{
        int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
}

static void test_default_always_exists(void **state)
{
        struct vsd d = { 0 };
        struct vsd_slice *s = vsd_slice_find(&d, "default");

        assert_non_null(s);
        assert_string_equal(s->name, "default");
        assert_int_equal(s->n_owners, 0);
        assert_false(vsd_slice_has_owner(s, 0));
        assert_null(vsd_slice_find(&d, "nosuch"));
}

static void test_load_owners(void **state)
{
        struct tmpdir *t = *state;
        struct vsd d = { 0 };
        vs_error_t err = { 0 };
        char dir[256];
        int dirfd;
        struct vsd_slice *s;

        snprintf(dir, sizeof(dir), "%s/var/lib/paene/slices", t->path);
        assert_int_equal(vs_mkdir_p(dir, 0755, &err), 0);
        dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        assert_true(dirfd >= 0);
        write_file(dirfd, "lab", "owners = 1000,1001\ncpulimit = 50\n");
        write_file(dirfd, "bad", "owners = 1000,x\n");
        write_file(dirfd, "none", "cpuunits = 100\n");
        write_file(dirfd, "none.usage", "used = 1\n");
        d.root = t->path;
        assert_int_equal(vsd_slice_load_all(&d, dirfd, &err), 0);
        close(dirfd);
        /* loaded at start: the entries are there before any find */
        assert_non_null(d.slices);
        for (struct vsd_slice *one = d.slices; one; one = one->next)
                assert_true(strcmp(one->name, "lab") == 0 || strcmp(one->name, "none") == 0);

        s = vsd_slice_find(&d, "lab");
        assert_non_null(s);
        assert_int_equal(s->n_owners, 2);
        assert_true(vsd_slice_has_owner(s, 1000));
        assert_true(vsd_slice_has_owner(s, 1001));
        assert_false(vsd_slice_has_owner(s, 1002));
        s = vsd_slice_find(&d, "none");
        assert_non_null(s);
        assert_int_equal(s->n_owners, 0);
        /* a file that does not parse is skipped, not half-loaded */
        assert_null(vsd_slice_find(&d, "bad"));
        vsd_slice_free_all(&d);
        assert_null(d.slices);
}

static void parse(const char *text, struct vsd_slice_file *f, vs_error_t *err, int rc)
{
        cleanup_kv vs_kv_t kv = { 0 };

        assert_int_equal(vs_kv_parse(text, &kv, err), 0);
        assert_int_equal(vsd_slice_file_parse("sa", &kv, f, err), rc);
}

static void test_parse_every_key(void **state)
{
        struct vsd_slice_file f;
        vs_error_t err = { 0 };

        (void)state;
        parse("owners = 1000,1001\ncpuunits = 300\nram = 64M\ndiskspace = 1G\n"
              "diskinodes = 5000\nmax_vps = 4\nrate_out = 10M\nrate_in = 2M\n"
              "templates = busybox,debian\nexpires = 1900000000\nbytes_per_day = 5000000\n",
              &f, &err, 0);
        assert_string_equal(f.name, "sa");
        assert_string_equal(f.rules.name, "sa");
        assert_int_equal(f.n_owners, 2);
        assert_int_equal(f.owners[0], 1000);
        assert_int_equal(f.owners[1], 1001);
        assert_true(VS_LIMIT_IS_SET(&f.rules.limits, VS_LIM_CPUUNITS));
        assert_int_equal(f.rules.limits.value[VS_LIM_CPUUNITS], 300);
        assert_int_equal(f.rules.limits.value[VS_LIM_RAM], 64ULL << 20);
        assert_false(VS_LIMIT_IS_SET(&f.rules.limits, VS_LIM_NUMPROC));
        assert_int_equal(f.rules.diskspace, 1ULL << 30);
        assert_int_equal(f.rules.diskinodes, 5000);
        assert_int_equal(f.rules.max_vps, 4);
        assert_int_equal(f.rules.rate_out, 10000000);
        assert_int_equal(f.rules.rate_in, 2000000);
        assert_string_equal(f.rules.templates, "busybox,debian");
        assert_int_equal(f.expires, 1900000000);
        assert_int_equal(f.budget, 5000000);
}

static void test_parse_empty_values_are_absent(void **state)
{
        struct vsd_slice_file f;
        vs_error_t err = { 0 };

        (void)state;
        parse("# an admin's note\nowners =\ncpuunits =\nexpires =\nrate_out =\n", &f, &err, 0);
        assert_int_equal(f.n_owners, 0);
        assert_int_equal(f.rules.limits.set, 0);
        assert_int_equal(f.expires, 0);
        assert_int_equal(f.rules.rate_out, 0);
        assert_string_equal(f.rules.templates, "");
}

/* Every key that does not parse: the same kind and a message naming the
 * slice's file and the key. */
static void test_parse_bad_keys(void **state)
{
        static const struct {
                const char *text, *key;
        } bad[] = {
                { "owners = 1000,x\n", "owners" },
                { "cpuunits = lots\n", "cpuunits" },
                { "ram = -1\n", "ram" },
                { "diskspace = big\n", "diskspace" },
                { "max_vps = 1000001\n", "max_vps" },
                { "rate_out = fast\n", "rate_out" },
                { "rate_in = 1Q\n", "rate_in" },
                { "expires = tomorrow\n", "expires" },
                { "bytes_per_day = -5\n", "bytes_per_day" },
        };

        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct vsd_slice_file f;
                vs_error_t err = { 0 };

                parse(bad[i].text, &f, &err, -1);
                assert_int_equal(err.kind, VS_E_INTERNAL);
                assert_true(strncmp(err.msg, "slice sa's file: ", 17) == 0);
                if (!strstr(err.msg, bad[i].key))
                        fail_msg("%s: '%s' does not name %s", bad[i].text, err.msg, bad[i].key);
        }
}

static int slices_dir_of(struct tmpdir *t)
{
        vs_error_t err = { 0 };
        char dir[256];

        snprintf(dir, sizeof(dir), "%s/var/lib/paene/slices", t->path);
        assert_int_equal(vs_mkdir_p(dir, 0755, &err), 0);
        return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static void expect_no_such(struct vsd *d, const char *name)
{
        struct vsd_slice_file f;
        vs_error_t err = { 0 };

        assert_int_equal(vsd_slice_file_load(d, name, &f, NULL, &err), -1);
        assert_int_equal(err.kind, VS_E_NOTFOUND);
        assert_string_equal(err.msg, "no such slice");
        assert_false(vsd_slice_file_exists(d, name));
}

/* The loader's one rule: no file (or a name no slice can have) is "no
 * such slice"; a file that does not parse is the file's error; "default"
 * is an empty file; the lines come back as they are. */
static void test_load_rule(void **state)
{
        struct tmpdir *t = *state;
        struct vsd d = { .root = t->path };
        struct vsd_slice_file f;
        cleanup_kv vs_kv_t text = { 0 }, broken = { 0 };
        vs_error_t err = { 0 };
        int dirfd = slices_dir_of(t);

        assert_true(dirfd >= 0);
        write_file(dirfd, "sa", "# kept\nowners = 1000\ncpuunits = 200\n");
        write_file(dirfd, "sb", "owners = 1000\ncpuunits = many\n");
        write_file(dirfd, "sc", "not a key value line\n");
        write_file(dirfd, "sa.usage", "used = 1\n");

        assert_int_equal(vsd_slice_file_load(&d, "sa", &f, &text, &err), 0);
        assert_int_equal(f.n_owners, 1);
        assert_int_equal(f.rules.limits.value[VS_LIM_CPUUNITS], 200);
        assert_string_equal(vs_kv_get(&text, "cpuunits"), "200");
        assert_int_equal(text.count, 3);
        assert_true(vsd_slice_file_exists(&d, "sa"));

        expect_no_such(&d, "sz");
        expect_no_such(&d, "sa.usage");
        expect_no_such(&d, "../sa");
        expect_no_such(&d, "");

        assert_int_equal(vsd_slice_file_load(&d, "sb", &f, NULL, &err), -1);
        assert_int_equal(err.kind, VS_E_INTERNAL);
        assert_non_null(strstr(err.msg, "slice sb's file: "));
        assert_non_null(strstr(err.msg, "cpuunits"));
        /* its lines alone, for a set that mends it or a destroy */
        assert_int_equal(vsd_slice_file_load(&d, "sb", NULL, &broken, &err), 0);
        assert_string_equal(vs_kv_get(&broken, "cpuunits"), "many");

        err = (vs_error_t){ 0 };
        assert_int_equal(vsd_slice_file_load(&d, "sc", NULL, NULL, &err), -1);
        assert_int_equal(err.kind, VS_E_INTERNAL);
        assert_non_null(strstr(err.msg, "slice sc's file: "));

        assert_int_equal(vsd_slice_file_load(&d, "default", &f, NULL, &err), 0);
        assert_string_equal(f.name, "default");
        assert_int_equal(f.n_owners, 0);
        assert_int_equal(f.rules.limits.set, 0);
        assert_false(vsd_slice_file_exists(&d, "default"));

        /* a bad file is no slice to find: its owners are not owners */
        assert_null(vsd_slice_find(&d, "sb"));
        assert_non_null(vsd_slice_find(&d, "sa"));
        vsd_slice_free_all(&d);
        close(dirfd);
}

static void test_set_one_key(void **state)
{
        struct tmpdir *t = *state;
        struct vsd d = { .root = t->path };
        struct vsd_slice_file f;
        cleanup_kv vs_kv_t text = { 0 };
        vs_error_t err = { 0 };
        int dirfd = slices_dir_of(t);

        assert_true(dirfd >= 0);
        write_file(dirfd, "sa", "# kept\nowners = 1000\n");
        assert_int_equal(vsd_slice_file_set(&d, "sa", "expires", 1900000000, &err), 0);
        assert_int_equal(vsd_slice_file_load(&d, "sa", &f, &text, &err), 0);
        assert_int_equal(f.expires, 1900000000);
        assert_int_equal(f.n_owners, 1);
        assert_null(text.lines[0].key); /* the comment survives */
        assert_int_equal(vsd_slice_file_set(&d, "sz", "expires", 1, &err), -1);
        assert_int_equal(err.kind, VS_E_NOTFOUND);
        expect_no_such(&d, "sz");
        close(dirfd);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_default_always_exists),
                cmocka_unit_test_setup_teardown(test_load_owners, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test(test_parse_every_key),
                cmocka_unit_test(test_parse_empty_values_are_absent),
                cmocka_unit_test(test_parse_bad_keys),
                cmocka_unit_test_setup_teardown(test_load_rule, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_set_one_key, tmpdir_setup, tmpdir_teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
