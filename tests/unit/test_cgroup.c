/* Unit tests for the kernel-free logic of scheduler-limits/cgroup.c: which
 * v1 mount holds which controllers, mountinfo lines, the path of vsd's own
 * cgroup on a mount, v2's controller lists, /proc/PID/cgroup lines, which
 * files of a cgroup are limits (sealed from a VPS's root), and the v1 to v2
 * names of the controllers. The file is included whole: these helpers are
 * static, and nothing here touches /sys/fs/cgroup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../scheduler-limits/cgroup.c"

static void test_same_controllers(void **state)
{
        (void)state;
        assert_true(same_controllers("rw,cpu,cpuacct", "cpu,cpuacct"));
        assert_true(same_controllers("rw,cpuacct,cpu", "cpu,cpuacct"));
        assert_true(same_controllers("rw,memory", "memory"));
        assert_true(same_controllers("memory", "memory"));
        /* a controller's name inside another's is not that controller */
        assert_false(same_controllers("rw,cpuacct", "cpu"));
        assert_false(same_controllers("rw,cpuset", "cpu"));
        assert_false(same_controllers("rw,net_cls,net_prio", "net"));
        assert_false(same_controllers("rw,memory", "cpu,memory"));
        assert_false(same_controllers("rw,memory", ""));
        assert_true(same_controllers("rw,cpu,cpuacct", "cpu"));
}

static void test_parse_mount_line(void **state)
{
        char v1[] = "35 25 0:30 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 "
                    "- cgroup cgroup rw,memory\n";
        char v2[] = "30 25 0:26 /init.scope /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 "
                    "rw,nsdelegate\n";
        char broken[] = "35 25 0:30 / /sys/fs/cgroup/memory rw cgroup cgroup rw,memory\n";
        char short_line[] = "35 25 - cgroup\n";
        struct cgroup_mount m;

        (void)state;
        assert_int_equal(parse_mount_line(v1, &m), 0);
        assert_string_equal(m.root, "/");
        assert_string_equal(m.mountpoint, "/sys/fs/cgroup/memory");
        assert_string_equal(m.fstype, "cgroup");
        assert_string_equal(m.super_opts, "rw,memory");
        assert_int_equal(parse_mount_line(v2, &m), 0);
        assert_string_equal(m.root, "/init.scope");
        assert_string_equal(m.fstype, "cgroup2");
        assert_int_equal(parse_mount_line(broken, &m), -1); /* no " - " */
        assert_int_equal(parse_mount_line(short_line, &m), -1);
}

static char *dir_of(const char *root, const char *mountpoint, const char *own)
{
        struct cgroup_mount m = { 0 };

        snprintf(m.root, sizeof(m.root), "%s", root);
        snprintf(m.mountpoint, sizeof(m.mountpoint), "%s", mountpoint);
        return own_dir_path(&m, own);
}

static void assert_dir(const char *root, const char *own, const char *want)
{
        char *got = dir_of(root, "/sys/fs/cgroup/pids", own);

        if (!want) {
                if (got)
                        fail_msg("root %s, own %s: got %s, expected none", root, own, got);
                return;
        }
        assert_non_null(got);
        assert_string_equal(got, want);
        free(got);
}

static void test_own_dir_path(void **state)
{
        (void)state;
        assert_dir("/", "/user.slice/session-1", "/sys/fs/cgroup/pids/user.slice/session-1");
        assert_dir("/", "/", "/sys/fs/cgroup/pids/");
        /* a mount of a subtree (a container's view): the root is cut off */
        assert_dir("/lxc/c1", "/lxc/c1/work", "/sys/fs/cgroup/pids/work");
        assert_dir("/lxc/c1", "/lxc/c1", "/sys/fs/cgroup/pids");
        /* outside that subtree, or a prefix that is no path component */
        assert_dir("/lxc/c1", "/lxc/c10/work", NULL);
        assert_dir("/lxc/c1", "/other", NULL);
}

static void test_wanted_v1(void **state)
{
        (void)state;
        assert_true(wanted_v1("memory", V1_VSD_CONTROLLERS));
        assert_true(wanted_v1("cpu,cpuacct", V1_VSD_CONTROLLERS));
        assert_false(wanted_v1("name=systemd", V1_VSD_CONTROLLERS));
        assert_false(wanted_v1("", V1_VSD_CONTROLLERS));
        /* vsd limits nothing there; the OCI runtime pauses through it */
        assert_false(wanted_v1("freezer", V1_VSD_CONTROLLERS));
        assert_true(wanted_v1("freezer", V1_EVERY_CONTROLLER));
        assert_true(wanted_v1("devices", V1_EVERY_CONTROLLER));
        assert_true(wanted_v1("memory", V1_EVERY_CONTROLLER));
        assert_false(wanted_v1("name=systemd", V1_EVERY_CONTROLLER));
        assert_false(wanted_v1("", V1_EVERY_CONTROLLER));
}

static void test_has_word(void **state)
{
        (void)state;
        assert_true(has_word("cpuset cpu io memory pids", "cpu"));
        assert_true(has_word("cpuset cpu io memory pids", "pids"));
        assert_true(has_word("cpuset cpu io memory pids\n", "pids"));
        assert_true(has_word("io", "io"));
        assert_false(has_word("cpuset io memory", "cpu"));
        assert_false(has_word("hugetlb misc", "io"));
        assert_false(has_word("", "memory"));
}

static void test_is_limit_file(void **state)
{
        (void)state;
        assert_true(is_limit_file("memory.max"));
        assert_true(is_limit_file("memory.limit_in_bytes"));
        assert_true(is_limit_file("pids.max"));
        assert_true(is_limit_file("cpu.max"));
        assert_true(is_limit_file("cgroup.max.depth"));
        assert_true(is_limit_file("cgroup.max.descendants"));
        /* the core files a VPS's root needs for its own subtree stay its */
        assert_false(is_limit_file("cgroup.procs"));
        assert_false(is_limit_file("cgroup.subtree_control"));
        assert_false(is_limit_file("cgroup.threads"));
        assert_false(is_limit_file("tasks"));
        assert_false(is_limit_file("notify_on_release"));
        assert_false(is_limit_file(".hidden.max"));
}

static void test_path_within(void **state)
{
        (void)state;
        assert_true(path_within("/a/paene/default/v1", "/a/paene/default/v1"));
        assert_true(path_within("/a/paene/default/v1/sub", "/a/paene/default/v1"));
        assert_false(path_within("/a/paene/default/v10", "/a/paene/default/v1"));
        assert_false(path_within("/a/paene/default", "/a/paene/default/v1"));
}

static void test_path_on(void **state)
{
        char text[] = "12:pids:/user.slice/x\n"
                      "4:cpu,cpuacct:/user.slice/y\n"
                      "1:name=systemd:/user.slice/z\n"
                      "0::/init.scope\n";
        char copy[sizeof(text)];
        struct hierarchy v1 = { .controllers = "cpu,cpuacct" };
        struct hierarchy v1_cpu = { .controllers = "cpu" };
        struct hierarchy v2 = { .controllers = "", .is_v2 = 1 };
        const char *p;

        (void)state;
        memcpy(copy, text, sizeof(text));
        p = path_on(&v1, copy);
        assert_non_null(p);
        assert_string_equal(p, "/user.slice/y");
        memcpy(copy, text, sizeof(text));
        p = path_on(&v2, copy);
        assert_non_null(p);
        assert_string_equal(p, "/init.scope");
        /* exactly the hierarchy's controllers, not one of them */
        memcpy(copy, text, sizeof(text));
        assert_null(path_on(&v1_cpu, copy));
        memcpy(copy, "garbage without colons\n", 24);
        assert_null(path_on(&v2, copy));
}

static void test_own_prefix(void **state)
{
        struct hierarchy root = { .own_path = "/" }, sub = { .own_path = "/system.slice/x" };

        (void)state;
        assert_string_equal(own_prefix(&root), "");
        assert_string_equal(own_prefix(&sub), "/system.slice/x");
}

/* Every v1 controller a limit uses has the v2 one that does its work. */
static void test_known_controllers(void **state)
{
        static const char *const pairs[][2] = {
                { "cpu", "cpu" },       { "cpuacct", "cpu" }, { "cpuset", "cpuset" },
                { "memory", "memory" }, { "pids", "pids" },   { "blkio", "io" },
        };

        (void)state;
        assert_int_equal(NKNOWN, sizeof(pairs) / sizeof(pairs[0]));
        for (size_t i = 0; i < NKNOWN; i++) {
                assert_string_equal(known_controllers[i].v1, pairs[i][0]);
                assert_string_equal(known_controllers[i].v2, pairs[i][1]);
        }
        assert_string_equal(vs_cgroup_mode_name(VS_CGROUP_V1), "v1");
        assert_string_equal(vs_cgroup_mode_name(VS_CGROUP_HYBRID), "hybrid");
        assert_string_equal(vs_cgroup_mode_name(VS_CGROUP_V2), "v2");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_same_controllers), cmocka_unit_test(test_parse_mount_line),
                cmocka_unit_test(test_own_dir_path),     cmocka_unit_test(test_wanted_v1),
                cmocka_unit_test(test_has_word),         cmocka_unit_test(test_is_limit_file),
                cmocka_unit_test(test_path_within),      cmocka_unit_test(test_path_on),
                cmocka_unit_test(test_own_prefix),       cmocka_unit_test(test_known_controllers),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
