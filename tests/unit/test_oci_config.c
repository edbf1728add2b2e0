/* Unit tests of paene-oci's config.json parser (oci/config.c): what it
 * takes, and that a malformed or hostile config is refused with a message
 * naming the field. */
#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "oci.h"
#include "vs/fsutil.h"

#define MINIMAL_HEAD                                                \
        "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\"}," \
        "\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":0,\"gid\":0}}"
#define MINIMAL MINIMAL_HEAD "}"

static struct oci_config *parse_ok(const char *text)
{
        struct oci_config *c = NULL;
        vs_error_t err = { 0 };

        if (oci_config_parse(text, strlen(text), "/b", &c, &err) < 0)
                fail_msg("refused: %s", err.msg);
        return c;
}

/* Asserts a refusal: -1, a usage error, a one-line message naming `needle`. */
static void refused(const char *text, const char *needle)
{
        struct oci_config *c = NULL;
        vs_error_t err = { 0 };

        if (oci_config_parse(text, strlen(text), "/b", &c, &err) == 0) {
                oci_config_free(c);
                fail_msg("accepted, expected a refusal naming '%s'", needle);
        }
        assert_null(c);
        assert_int_equal(err.kind, VS_E_USAGE);
        assert_null(strchr(err.msg, '\n'));
        if (!strstr(err.msg, needle))
                fail_msg("message '%s' does not name '%s'", err.msg, needle);
}

static void test_minimal(void **state)
{
        struct oci_config *c = parse_ok(MINIMAL);

        assert_string_equal(c->root_path, "/b/rootfs");
        assert_string_equal(c->process.args[0], "sh");
        assert_null(c->process.args[1]);
        assert_string_equal(c->process.cwd, "/");
        assert_int_equal(c->process.uid, 0);
        assert_int_equal(c->n_mounts, 0);
        assert_null(c->seccomp);
        oci_config_free(c);
}

static void test_unknown_fields_are_ignored(void **state)
{
        struct oci_config *c = parse_ok(MINIMAL_HEAD ",\"x-future\":{\"a\":[1,2]},"
                                                     "\"linux\":{\"somethingNew\":true}}");

        oci_config_free(c);
}

static void test_full_linux(void **state)
{
        struct oci_config *c = parse_ok(
                "{\"ociVersion\":\"1.1.0\",\"root\":{\"path\":\"/abs/root\",\"readonly\":true},"
                "\"hostname\":\"h1\","
                "\"process\":{\"terminal\":true,\"consoleSize\":{\"height\":25,\"width\":80},"
                "\"args\":[\"sh\",\"-c\",\"x\"],\"env\":[\"A=1\"],\"cwd\":\"/tmp\","
                "\"user\":{\"uid\":1000,\"gid\":100,\"umask\":18,\"additionalGids\":[5,6]},"
                "\"capabilities\":{\"bounding\":[\"CAP_KILL\",\"CAP_NET_RAW\"],"
                "\"effective\":[\"CAP_KILL\"],\"ambient\":[\"CAP_KILL\"]},"
                "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":100,\"hard\":200}],"
                "\"noNewPrivileges\":true,\"oomScoreAdj\":-500},"
                "\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
                "{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"/srv\","
                "\"options\":[\"rbind\",\"ro\",\"nosuid\",\"rprivate\",\"size=1m\"]}],"
                "\"hooks\":{\"prestart\":[{\"path\":\"/bin/true\",\"args\":[\"true\"],"
                "\"timeout\":5}]},"
                "\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"},"
                "{\"type\":\"network\",\"path\":\"/proc/1/ns/net\"},{\"type\":\"user\"}],"
                "\"uidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}],"
                "\"gidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}],"
                "\"sysctl\":{\"net.ipv4.ip_forward\":\"1\"},"
                "\"resources\":{\"memory\":{\"limit\":67108864,\"swap\":134217728},"
                "\"cpu\":{\"shares\":512,\"quota\":50000,\"period\":100000,\"cpus\":\"0\"},"
                "\"pids\":{\"limit\":32},"
                "\"devices\":[{\"allow\":false,\"access\":\"rwm\"},"
                "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":3,\"access\":\"rw\"}]},"
                "\"cgroupsPath\":\"/a/b\",\"rootfsPropagation\":\"rslave\","
                "\"maskedPaths\":[\"/proc/kcore\"],\"readonlyPaths\":[\"/proc/sys\"],"
                "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\","
                "\"architectures\":[\"SCMP_ARCH_X86_64\"],\"flags\":[\"SECCOMP_FILTER_FLAG_LOG\"],"
                "\"syscalls\":[{\"names\":[\"mkdir\"],\"action\":\"SCMP_ACT_ERRNO\","
                "\"errnoRet\":1,\"args\":[{\"index\":1,\"value\":448,\"op\":\"SCMP_CMP_EQ\"}]}]}}"
                "}");

        assert_string_equal(c->root_path, "/abs/root");
        assert_true(c->root_readonly);
        assert_true(c->process.terminal);
        assert_int_equal(c->process.console_width, 80);
        assert_int_equal(c->process.uid, 1000);
        assert_int_equal(c->process.umask, 18);
        assert_int_equal(c->process.n_groups, 2);
        assert_int_equal(c->process.caps.bounding, (1ULL << 5) | (1ULL << 13));
        assert_int_equal(c->process.caps.effective, 1ULL << 5);
        assert_int_equal(c->process.caps.permitted, 0);
        assert_int_equal(c->process.n_rlimits, 1);
        assert_int_equal(c->process.rlimits[0].resource, RLIMIT_NOFILE);
        assert_int_equal(c->process.rlimits[0].hard, 200);
        assert_int_equal(c->process.oom_score_adj, -500);
        assert_int_equal(c->n_mounts, 2);
        assert_true(c->mounts[1].bind && c->mounts[1].rec_bind);
        assert_int_equal(c->mounts[1].flags, MS_RDONLY | MS_NOSUID);
        assert_int_equal(c->mounts[1].propagation, MS_PRIVATE | MS_REC);
        assert_string_equal(c->mounts[1].data, "size=1m");
        assert_int_equal(c->hooks[OCI_HOOK_PRESTART].count, 1);
        assert_int_equal(c->hooks[OCI_HOOK_PRESTART].list[0].timeout, 5);
        assert_non_null(oci_config_ns(c, CLONE_NEWPID));
        assert_string_equal(oci_config_ns(c, CLONE_NEWNET)->path, "/proc/1/ns/net");
        assert_null(oci_config_ns(c, CLONE_NEWUTS));
        assert_int_equal(c->uid_maps[0].host_id, 100000);
        assert_true(c->resources.has_mem_limit);
        assert_int_equal(c->resources.mem_limit, 67108864);
        assert_int_equal(c->resources.cpu_quota, 50000);
        assert_string_equal(c->resources.cpus, "0");
        assert_int_equal(c->resources.pids_limit, 32);
        assert_int_equal(c->resources.n_dev_rules, 2);
        assert_int_equal(c->resources.dev_rules[0].type, 'a');
        assert_int_equal(c->resources.dev_rules[1].minor, 3);
        assert_string_equal(c->cgroups_path, "/a/b");
        assert_int_equal(c->rootfs_propagation, MS_SLAVE | MS_REC);
        assert_string_equal(c->masked[0], "/proc/kcore");
        assert_non_null(c->seccomp);
        assert_int_equal(c->seccomp->default_action, SCMP_ACT_ALLOW);
        assert_int_equal(c->seccomp->nrules, 1);
        assert_int_equal(c->seccomp->rules[0].action, SCMP_ACT_ERRNO(1));
        assert_int_equal(c->seccomp->rules[0].nargs, 1);
        assert_int_equal(c->seccomp->rules[0].args[0].value, 448);
        assert_true(c->seccomp->flag_log);
        oci_config_free(c);
}

static void test_not_json(void **state)
{
        refused("{\"ociVersion\":", "not JSON");
        refused(MINIMAL " trailing", "not JSON");
        refused("[1,2]", "expected an object");
}

static void test_missing_required(void **state)
{
        refused("{\"root\":{\"path\":\"r\"}}", "ociVersion: missing");
        refused("{\"ociVersion\":\"1.0.0\"}", "root: missing");
        refused("{\"ociVersion\":\"1.0.0\",\"root\":{}}", "root.path: missing");
        refused("{\"ociVersion\":\"1.0.0\",\"root\":{\"path\":\"r\"},\"process\":"
                "{\"args\":[\"sh\"],\"user\":{\"uid\":0,\"gid\":0}}}",
                "process.cwd: missing");
        refused("{\"ociVersion\":\"1.0.0\",\"root\":{\"path\":\"r\"},\"process\":"
                "{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":0}}}",
                "process.user.gid: missing");
        refused(MINIMAL_HEAD ",\"mounts\":[{\"type\":\"tmpfs\"}]}", "destination: missing");
}

static void test_wrong_types(void **state)
{
        refused("{\"ociVersion\":2,\"root\":{\"path\":\"r\"}}", "ociVersion: expected a string");
        refused("{\"ociVersion\":\"1.0.0\",\"root\":{\"path\":\"r\"},\"process\":"
                "{\"args\":\"sh\",\"cwd\":\"/\",\"user\":{\"uid\":0,\"gid\":0}}}",
                "process.args: expected an array");
        refused("{\"ociVersion\":\"1.0.0\",\"root\":{\"path\":\"r\"},\"process\":"
                "{\"args\":[\"sh\",7],\"cwd\":\"/\",\"user\":{\"uid\":0,\"gid\":0}}}",
                "process.args[1]: expected a string");
        refused("{\"ociVersion\":\"1.0.0\",\"root\":{\"path\":\"r\"},\"process\":"
                "{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":\"0\",\"gid\":0}}}",
                "process.user.uid: expected an integer");
        refused(MINIMAL_HEAD ",\"linux\":{\"resources\":{\"memory\":{\"limit\":\"64m\"}}}}",
                "linux.resources.memory.limit: expected an integer");
        refused(MINIMAL_HEAD ",\"linux\":{\"namespaces\":{\"type\":\"pid\"}}}",
                "linux.namespaces: expected an array");
        refused(MINIMAL_HEAD ",\"root\":{\"path\":\"r\",\"readonly\":\"yes\"}}",
                "root.readonly: expected a boolean");
}

static void test_bad_values(void **state)
{
        refused("{\"ociVersion\":\"2.0.0\",\"root\":{\"path\":\"r\"}}", "not 1.x");
        refused(MINIMAL_HEAD ",\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"pid\"}]}}",
                "given twice");
        refused(MINIMAL_HEAD ",\"linux\":{\"namespaces\":[{\"type\":\"bogus\"}]}}",
                "unknown type 'bogus'");
        refused(MINIMAL_HEAD ",\"linux\":{\"uidMappings\":[{\"containerID\":0,\"hostID\":1,"
                             "\"size\":1}]}}",
                "without a user namespace");
        refused("{\"ociVersion\":\"1.0.0\",\"root\":{\"path\":\"r\"},\"process\":"
                "{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":0,\"gid\":0},"
                "\"capabilities\":{\"bounding\":[\"CAP_FLY\"]}}}",
                "unknown capability 'CAP_FLY'");
        refused("{\"ociVersion\":\"1.0.0\",\"root\":{\"path\":\"r\"},\"process\":"
                "{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":0,\"gid\":0},"
                "\"rlimits\":[{\"type\":\"RLIMIT_FOO\",\"soft\":1,\"hard\":1}]}}",
                "unknown type 'RLIMIT_FOO'");
        refused("{\"ociVersion\":\"1.0.0\",\"root\":{\"path\":\"r\"},\"process\":"
                "{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":0,\"gid\":0},"
                "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":10,\"hard\":1}]}}",
                "soft limit above the hard one");
        refused("{\"ociVersion\":\"1.0.0\",\"root\":{\"path\":\"r\"},\"process\":"
                "{\"args\":[\"sh\"],\"cwd\":\"tmp\",\"user\":{\"uid\":0,\"gid\":0}}}",
                "not absolute");
        refused(MINIMAL_HEAD ",\"linux\":{\"resources\":{\"memory\":{\"swappiness\":101}}}}",
                "above 100");
        refused(MINIMAL_HEAD ",\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_FLY\"}}}",
                "unknown 'SCMP_ACT_FLY'");
        refused(MINIMAL_HEAD ",\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\","
                             "\"syscalls\":[{\"names\":[\"mkdir\"],\"action\":\"SCMP_ACT_ERRNO\","
                             "\"args\":[{\"index\":9,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}}}",
                "out of range");
        refused(MINIMAL_HEAD ",\"linux\":{\"rootfsPropagation\":\"sideways\"}}",
                "unknown 'sideways'");
        refused(MINIMAL_HEAD ",\"hooks\":{\"prestart\":[{\"path\":\"hook\"}]}}", "not absolute");
}

static void test_paths_that_climb_out(void **state)
{
        refused(MINIMAL_HEAD ",\"mounts\":[{\"destination\":\"/a/../../etc\",\"type\":\"tmpfs\"}]}",
                "climbs out");
        refused(MINIMAL_HEAD ",\"mounts\":[{\"destination\":\"tmp\",\"type\":\"tmpfs\"}]}",
                "not absolute");
        refused(MINIMAL_HEAD ",\"linux\":{\"maskedPaths\":[\"/proc/../etc/shadow\"]}}",
                "maskedPaths");
        refused(MINIMAL_HEAD ",\"linux\":{\"devices\":[{\"path\":\"/dev/../../x\",\"type\":"
                             "\"c\",\"major\":1,\"minor\":3}]}}",
                "linux.devices[0].path");
        refused(MINIMAL_HEAD ",\"linux\":{\"cgroupsPath\":\"/a/../../b\"}}", "climbs out");
        refused(MINIMAL_HEAD ",\"linux\":{\"sysctl\":{\"../../x\":\"1\"}}}", "bad key");
        refused(MINIMAL_HEAD ",\"linux\":{\"resources\":{\"unified\":{\"../x\":\"1\"}}}}",
                "bad file name");
}

static void test_oversize(void **state)
{
        size_t len = 10U << 20;
        char *big = vs_xmalloc(len + 1);

        memset(big, ' ', len);
        memcpy(big, MINIMAL, strlen(MINIMAL));
        big[len] = '\0';
        refused(big, "more than");
        free(big);
}

static void test_process_alone(void **state)
{
        const char *text = "{\"args\":[\"ls\",\"-l\"],\"cwd\":\"/\",\"env\":[\"A=b\"],"
                           "\"user\":{\"uid\":5,\"gid\":6}}";
        struct oci_process p;
        vs_error_t err = { 0 };

        assert_int_equal(oci_process_parse(text, strlen(text), &p, &err), 0);
        assert_string_equal(p.args[1], "-l");
        assert_int_equal(p.gid, 6);
        oci_process_clear(&p);
        text = "{\"cwd\":\"/\",\"user\":{\"uid\":5,\"gid\":6}}";
        assert_int_equal(oci_process_parse(text, strlen(text), &p, &err), -1);
        assert_non_null(strstr(err.msg, "process.args: missing"));
        text = "{\"args\":[\"ls\"],\"env\":[\"novalue\"],\"cwd\":\"/\",\"user\":{\"uid\":0,"
               "\"gid\":0}}";
        assert_int_equal(oci_process_parse(text, strlen(text), &p, &err), -1);
        assert_non_null(strstr(err.msg, "not NAME=VALUE"));
}

static void test_resources_alone(void **state)
{
        const char *text = "{\"memory\":{\"limit\":1048576},\"pids\":{\"limit\":-1}}";
        struct oci_resources r;
        vs_error_t err = { 0 };

        assert_int_equal(oci_resources_parse(text, strlen(text), &r, &err), 0);
        assert_int_equal(r.mem_limit, 1048576);
        assert_int_equal(r.pids_limit, -1);
        oci_resources_clear(&r);
        text = "{\"pids\":{}}";
        assert_int_equal(oci_resources_parse(text, strlen(text), &r, &err), -1);
        assert_non_null(strstr(err.msg, "pids.limit: missing"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_minimal),
                cmocka_unit_test(test_unknown_fields_are_ignored),
                cmocka_unit_test(test_full_linux),
                cmocka_unit_test(test_not_json),
                cmocka_unit_test(test_missing_required),
                cmocka_unit_test(test_wrong_types),
                cmocka_unit_test(test_bad_values),
                cmocka_unit_test(test_paths_that_climb_out),
                cmocka_unit_test(test_oversize),
                cmocka_unit_test(test_process_alone),
                cmocka_unit_test(test_resources_alone),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
