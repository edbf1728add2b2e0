/* Unit tests for include/vs/kvfile.h: `key = value` files that keep
 * comments, blank lines and order across a load and save. */
#include <errno.h>

#define TESTUTIL_NAME "kvfile"
#include "testutil.h"

#include "vs/error.h"
#include "vs/kvfile.h"

/* A file in the canonical form vs_kv_format writes. */
static const char canonical[] = "# VPS web1\n"
                                "name = web1\n"
                                "\n"
                                "  # memory and CPU\n"
                                "memory = 512M\n"
                                "cpu = 50%\n"
                                "description = my  web   server\n"
                                "\n"
                                "# trailing comment\n";

static void assert_comment(const vs_kv_t *kv, size_t i, const char *text)
{
        assert_true(i < kv->count);
        assert_null(kv->lines[i].key);
        assert_string_equal(kv->lines[i].value, text);
}

static void assert_pair(const vs_kv_t *kv, size_t i, const char *key, const char *value)
{
        assert_true(i < kv->count);
        assert_non_null(kv->lines[i].key);
        assert_string_equal(kv->lines[i].key, key);
        assert_string_equal(kv->lines[i].value, value);
}

static void assert_canonical_lines(const vs_kv_t *kv)
{
        assert_int_equal(kv->count, 9);
        assert_comment(kv, 0, "# VPS web1");
        assert_pair(kv, 1, "name", "web1");
        assert_comment(kv, 2, "");
        assert_comment(kv, 3, "  # memory and CPU");
        assert_pair(kv, 4, "memory", "512M");
        assert_pair(kv, 5, "cpu", "50%");
        assert_pair(kv, 6, "description", "my  web   server");
        assert_comment(kv, 7, "");
        assert_comment(kv, 8, "# trailing comment");
}

/* Parses `text`, which must be accepted. */
static void parse_ok(const char *text, vs_kv_t *kv)
{
        vs_error_t err;

        vs_error_clear(&err);
        if (vs_kv_parse(text, kv, &err) != 0)
                fail_msg("parse refused: %s", err.msg);
}

/* Parses `text`, which must be refused as a usage error naming `needle`. */
static void parse_refused(const char *text, const char *needle)
{
        cleanup_kv vs_kv_t kv = { 0 };
        vs_error_t err;

        vs_error_clear(&err);
        if (vs_kv_parse(text, &kv, &err) == 0)
                fail_msg("parse accepted '%s'", text);
        assert_int_equal(err.kind, VS_E_USAGE);
        assert_true(err.errnum != 0);
        if (!strstr(err.msg, needle))
                fail_msg("message '%s' does not mention '%s'", err.msg, needle);
}

static void test_parse_keeps_comments_blanks_order(void **state)
{
        cleanup_kv vs_kv_t kv = { 0 };

        (void)state;
        parse_ok(canonical, &kv);
        assert_canonical_lines(&kv);
}

static void test_format_round_trip(void **state)
{
        cleanup_kv vs_kv_t kv = { 0 };
        cleanup_kv vs_kv_t again = { 0 };
        char *text;

        (void)state;
        parse_ok(canonical, &kv);
        text = vs_kv_format(&kv);
        assert_non_null(text);
        assert_string_equal(text, canonical);
        parse_ok(text, &again);
        free(text);
        assert_canonical_lines(&again);
}

static void test_format_normalizes_spacing(void **state)
{
        cleanup_kv vs_kv_t kv = { 0 };
        char *text;

        (void)state;
        parse_ok("a=1\n  b   =   two words  \nc =\n", &kv);
        assert_int_equal(kv.count, 3);
        assert_pair(&kv, 0, "a", "1");
        assert_pair(&kv, 1, "b", "two words");
        assert_pair(&kv, 2, "c", "");
        text = vs_kv_format(&kv);
        assert_string_equal(text, "a = 1\nb = two words\nc = \n");
        free(text);
}

static void test_parse_empty_and_no_final_newline(void **state)
{
        cleanup_kv vs_kv_t empty = { 0 };
        cleanup_kv vs_kv_t kv = { 0 };

        (void)state;
        parse_ok("", &empty);
        assert_int_equal(empty.count, 0);
        parse_ok("a = 1\nb = 2", &kv);
        assert_int_equal(kv.count, 2);
        assert_pair(&kv, 1, "b", "2");
}

static void test_values_kept_verbatim_inside(void **state)
{
        cleanup_kv vs_kv_t kv = { 0 };

        (void)state;
        parse_ok("description = my  web   server\n"
                 "opts = a=b,c=d\n"
                 "note = not # a comment\n"
                 "path = /var/lib/paene/vps/web1\n",
                 &kv);
        assert_string_equal(vs_kv_get(&kv, "description"), "my  web   server");
        assert_string_equal(vs_kv_get(&kv, "opts"), "a=b,c=d");
        assert_string_equal(vs_kv_get(&kv, "note"), "not # a comment");
        assert_string_equal(vs_kv_get(&kv, "path"), "/var/lib/paene/vps/web1");
}

static void test_get(void **state)
{
        cleanup_kv vs_kv_t kv = { 0 };

        (void)state;
        parse_ok("# memory = 1G\nmemory = 512M\ncpu.max = 2\n", &kv);
        assert_string_equal(vs_kv_get(&kv, "memory"), "512M");
        assert_string_equal(vs_kv_get(&kv, "cpu.max"), "2");
        assert_null(vs_kv_get(&kv, "cpu"));
        assert_null(vs_kv_get(&kv, "Memory"));
        assert_null(vs_kv_get(&kv, "# memory"));
}

static void test_set_replaces_in_place(void **state)
{
        cleanup_kv vs_kv_t kv = { 0 };
        char *text;

        (void)state;
        parse_ok(canonical, &kv);
        vs_kv_set(&kv, "memory", "1G");
        assert_int_equal(kv.count, 9);
        assert_pair(&kv, 4, "memory", "1G");
        assert_string_equal(vs_kv_get(&kv, "memory"), "1G");
        text = vs_kv_format(&kv);
        assert_non_null(strstr(text, "# memory and CPU\nmemory = 1G\ncpu = 50%\n"));
        free(text);
}

static void test_set_appends_new_key(void **state)
{
        cleanup_kv vs_kv_t kv = { 0 };

        (void)state;
        parse_ok(canonical, &kv);
        vs_kv_set(&kv, "hostname", "web1.example.com");
        assert_int_equal(kv.count, 10);
        assert_pair(&kv, 9, "hostname", "web1.example.com");
        /* the existing lines did not move */
        kv.count = 9;
        assert_canonical_lines(&kv);
        kv.count = 10;
}

static void test_set_into_empty(void **state)
{
        cleanup_kv vs_kv_t kv = { 0 };
        char *text;

        (void)state;
        for (int i = 0; i < 40; i++) {
                char key[16];

                snprintf(key, sizeof(key), "k%d", i);
                vs_kv_set(&kv, key, key);
        }
        assert_int_equal(kv.count, 40);
        assert_string_equal(vs_kv_get(&kv, "k0"), "k0");
        assert_string_equal(vs_kv_get(&kv, "k39"), "k39");
        text = vs_kv_format(&kv);
        assert_true(strncmp(text, "k0 = k0\nk1 = k1\n", 16) == 0);
        free(text);
}

static void test_remove(void **state)
{
        cleanup_kv vs_kv_t kv = { 0 };
        char *text;

        (void)state;
        parse_ok(canonical, &kv);
        vs_kv_set(&kv, "memory", NULL);
        assert_int_equal(kv.count, 8);
        assert_null(vs_kv_get(&kv, "memory"));
        assert_comment(&kv, 3, "  # memory and CPU");
        assert_pair(&kv, 4, "cpu", "50%");
        assert_comment(&kv, 7, "# trailing comment");
        /* removing the last key line and a missing key */
        vs_kv_set(&kv, "description", NULL);
        vs_kv_set(&kv, "no-such-key", NULL);
        assert_int_equal(kv.count, 7);
        text = vs_kv_format(&kv);
        assert_string_equal(text, "# VPS web1\nname = web1\n\n  # memory and CPU\ncpu = 50%\n\n"
                                  "# trailing comment\n");
        free(text);
}

static void test_setf(void **state)
{
        cleanup_kv vs_kv_t kv = { 0 };

        (void)state;
        vs_kv_setf(&kv, "pid", "%d", 1234);
        vs_kv_setf(&kv, "range", "%u:%u", 100000u, 65536u);
        assert_string_equal(vs_kv_get(&kv, "pid"), "1234");
        assert_string_equal(vs_kv_get(&kv, "range"), "100000:65536");
        vs_kv_setf(&kv, "pid", "%d", 99);
        assert_int_equal(kv.count, 2);
        assert_pair(&kv, 0, "pid", "99");
        vs_kv_setf(&kv, "note", "%s|%s", "a\nb", "c");
        assert_string_equal(vs_kv_get(&kv, "note"), "a b|c");
}

static void test_duplicate_key_refused(void **state)
{
        (void)state;
        parse_refused("a = 1\nb = 2\na = 3\n", "line 3");
        parse_refused("a = 1\nb = 2\na = 3\n", "'a'");
        parse_refused("# c\nmemory = 1G\n  memory=2G\n", "line 3");
}

static void test_line_without_equals_refused(void **state)
{
        (void)state;
        parse_refused("a = 1\n# comment\nthis is wrong\nb = 2\n", "line 3");
        parse_refused("justakey\n", "line 1");
}

static void test_bad_key_refused(void **state)
{
        (void)state;
        parse_refused("a = 1\nbad key = 1\n", "line 2");
        parse_refused("a = 1\nbad key = 1\n", "'bad key'");
        parse_refused("= 1\n", "line 1");
        parse_refused("a/b = 1\n", "'a/b'");
        parse_refused("x$ = 1\n", "'x$'");
}

static void test_carriage_return_refused(void **state)
{
        (void)state;
        parse_refused("a = 1\r\nb = 2\r\n", "line 1");
        parse_refused("a = 1\nb = 2\r\n", "line 2");
}

/* A refused parse leaves nothing behind in kv, whatever the reason. */
static void test_refused_parse_leaves_kv_empty(void **state)
{
        static const char *const texts[] = {
                "a = 1\nb = 2\na = 3\n",
                "a = 1\nb = 2\noops\n",
                "a = 1\nbad key = 2\n",
                "a = 1\nb = 2\r\n",
        };
        vs_error_t err;

        (void)state;
        for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
                vs_kv_t kv = { 0 };
                size_t count;

                vs_error_clear(&err);
                assert_true(vs_kv_parse(texts[i], &kv, &err) < 0);
                count = kv.count;
                vs_kv_free(&kv);
                if (count != 0)
                        fail_msg("refused text %zu left %zu lines in kv", i, count);
        }
}

static void test_set_sanitizes_newlines(void **state)
{
        cleanup_kv vs_kv_t kv = { 0 };
        cleanup_kv vs_kv_t back = { 0 };
        const char *value;
        char *text;

        (void)state;
        vs_kv_set(&kv, "description", "line one\nsecret = injected\r\nx");
        vs_kv_set(&kv, "name", "web1");
        vs_kv_set(&kv, "name", "web2\nname = evil");
        value = vs_kv_get(&kv, "description");
        assert_non_null(value);
        assert_null(strchr(value, '\n'));
        assert_null(strchr(value, '\r'));
        assert_null(strchr(vs_kv_get(&kv, "name"), '\n'));
        text = vs_kv_format(&kv);
        parse_ok(text, &back);
        free(text);
        /* still two lines on disk, and no injected key */
        assert_int_equal(back.count, 2);
        assert_null(vs_kv_get(&back, "secret"));
        assert_non_null(strstr(vs_kv_get(&back, "description"), "line one"));
        assert_non_null(strstr(vs_kv_get(&back, "name"), "web2"));
}

/* ---- load and save ---- */

static void read_whole(int dirfd, const char *name, char *buf, size_t size)
{
        int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
        ssize_t n;

        assert_true(fd >= 0);
        n = read(fd, buf, size - 1);
        close(fd);
        assert_true(n >= 0);
        buf[n] = '\0';
}

static void save_load_round_trip(struct tmpdir *t, int durable)
{
        cleanup_kv vs_kv_t kv = { 0 };
        cleanup_kv vs_kv_t loaded = { 0 };
        cleanup_kv vs_kv_t reloaded = { 0 };
        char disk[4096];
        vs_error_t err;

        parse_ok(canonical, &kv);
        vs_error_clear(&err);
        if (vs_kv_save(t->fd, "config", &kv, durable, &err) != 0)
                fail_msg("save: %s", err.msg);
        assert_int_equal(count_entries_no_hidden(t->fd), 1);
        read_whole(t->fd, "config", disk, sizeof(disk));
        assert_string_equal(disk, canonical);

        if (vs_kv_load(t->fd, "config", &loaded, &err) != 0)
                fail_msg("load: %s", err.msg);
        assert_canonical_lines(&loaded);

        /* a second save replaces the file and still leaves no temp file */
        vs_kv_set(&loaded, "memory", "2G");
        vs_kv_set(&loaded, "state", "running");
        if (vs_kv_save(t->fd, "config", &loaded, durable, &err) != 0)
                fail_msg("save again: %s", err.msg);
        assert_int_equal(count_entries_no_hidden(t->fd), 1);
        if (vs_kv_load(t->fd, "config", &reloaded, &err) != 0)
                fail_msg("load again: %s", err.msg);
        assert_int_equal(reloaded.count, 10);
        assert_pair(&reloaded, 4, "memory", "2G");
        assert_pair(&reloaded, 9, "state", "running");
        assert_comment(&reloaded, 3, "  # memory and CPU");
}

static void test_save_load_round_trip(void **state)
{
        save_load_round_trip(*state, 0);
}

static void test_save_load_round_trip_durable(void **state)
{
        save_load_round_trip(*state, 1);
}

/* vs_kv_save takes a path like vs_kv_load: the VPS state is saved as
 * "NAME/state" relative to the vps directory. */
static void test_save_load_in_subdirectory(void **state)
{
        struct tmpdir *t = *state;
        cleanup_kv vs_kv_t kv = { 0 };
        cleanup_kv vs_kv_t loaded = { 0 };
        vs_error_t err;
        int sub;

        assert_int_equal(mkdirat(t->fd, "web1", 0755), 0);
        vs_kv_set(&kv, "phase", "running");
        vs_kv_setf(&kv, "pid", "%d", 4242);
        vs_error_clear(&err);
        if (vs_kv_save(t->fd, "web1/state", &kv, 0, &err) != 0)
                fail_msg("save web1/state: %s", err.msg);
        if (vs_kv_load(t->fd, "web1/state", &loaded, &err) != 0)
                fail_msg("load web1/state: %s", err.msg);
        assert_string_equal(vs_kv_get(&loaded, "phase"), "running");
        assert_string_equal(vs_kv_get(&loaded, "pid"), "4242");
        sub = openat(t->fd, "web1", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(sub >= 0);
        assert_int_equal(count_entries_no_hidden(sub), 1);
        close(sub);
        assert_int_equal(count_entries_no_hidden(t->fd), 1);
}

static void test_load_missing_file(void **state)
{
        struct tmpdir *t = *state;
        cleanup_kv vs_kv_t kv = { 0 };
        vs_error_t err;

        vs_error_clear(&err);
        assert_true(vs_kv_load(t->fd, "nonexistent", &kv, &err) < 0);
        assert_int_equal(err.errnum, ENOENT);
        assert_non_null(strstr(err.msg, "nonexistent"));
}

/* vsd.conf's rule: a missing file is an empty one, any other failure is
 * an error, and a bad line is refused as from vs_kv_load. */
static void test_load_optional_missing_is_empty(void **state)
{
        struct tmpdir *t = *state;
        cleanup_kv vs_kv_t kv = { 0 };
        vs_error_t err;

        vs_error_clear(&err);
        assert_int_equal(vs_kv_load_optional(t->fd, "nonexistent", &kv, &err), 0);
        assert_int_equal(kv.count, 0);
}

static void test_load_optional_unreadable_is_an_error(void **state)
{
        struct tmpdir *t = *state;
        cleanup_kv vs_kv_t kv = { 0 };
        vs_error_t err;

        assert_int_equal(mkdirat(t->fd, "adir", 0755), 0);
        vs_error_clear(&err);
        assert_true(vs_kv_load_optional(t->fd, "adir", &kv, &err) < 0);
        assert_int_equal(err.errnum, EISDIR);
        vs_error_clear(&err);
        assert_true(vs_kv_load_optional(t->fd, "nodir/x", &kv, &err) == 0);
}

static void test_load_bad_file_names_file_and_line(void **state)
{
        struct tmpdir *t = *state;
        static const char text[] = "a = 1\nb = 2\noops\n";
        cleanup_kv vs_kv_t kv = { 0 };
        vs_error_t err;
        int fd;

        fd = openat(t->fd, "broken", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
        close(fd);
        vs_error_clear(&err);
        assert_true(vs_kv_load(t->fd, "broken", &kv, &err) < 0);
        assert_int_equal(err.kind, VS_E_USAGE);
        assert_non_null(strstr(err.msg, "broken"));
        assert_non_null(strstr(err.msg, "line 3"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_keeps_comments_blanks_order),
                cmocka_unit_test(test_format_round_trip),
                cmocka_unit_test(test_format_normalizes_spacing),
                cmocka_unit_test(test_parse_empty_and_no_final_newline),
                cmocka_unit_test(test_values_kept_verbatim_inside),
                cmocka_unit_test(test_get),
                cmocka_unit_test(test_set_replaces_in_place),
                cmocka_unit_test(test_set_appends_new_key),
                cmocka_unit_test(test_set_into_empty),
                cmocka_unit_test(test_remove),
                cmocka_unit_test(test_setf),
                cmocka_unit_test(test_duplicate_key_refused),
                cmocka_unit_test(test_line_without_equals_refused),
                cmocka_unit_test(test_bad_key_refused),
                cmocka_unit_test(test_carriage_return_refused),
                cmocka_unit_test(test_refused_parse_leaves_kv_empty),
                cmocka_unit_test(test_set_sanitizes_newlines),
                cmocka_unit_test_setup_teardown(test_load_optional_missing_is_empty, tmpdir_setup,
                                                tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_load_optional_unreadable_is_an_error,
                                                tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_save_load_round_trip, tmpdir_setup,
                                                tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_save_load_round_trip_durable, tmpdir_setup,
                                                tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_save_load_in_subdirectory, tmpdir_setup,
                                                tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_load_missing_file, tmpdir_setup,
                                                tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_load_bad_file_names_file_and_line,
                                                tmpdir_setup, tmpdir_teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
