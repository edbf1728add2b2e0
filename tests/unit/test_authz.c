/* The authorization table (runtime/authz.c): what each role may do with
 * every command of the protocol, the slice rules an owner's create, set,
 * resize and clone are held to, and the verdicts vsd gets for a request of
 * an owner naming their own VPS, another slice's, or none. */
#define TESTUTIL_NAME "authz"
#include "testutil.h"

#include "vs/kvfile.h"
#include "authz.h"
#include "slice.h"
#include "vsd.h"

/* What an owner may do, written out apart from authz.c's table: the
 * commands on their own VPS, those answered for their VPS only, ping. */
static const char *const own_vps[] = { "start",        "stop",   "restart", "destroy", "status",
                                       "exec",         "logs",   "console", "backup",  "set",
                                       "beancounters", "resize", "clone" };
static const char *const open_to_owners[] = { "ping",        "list",         "events",
                                              "metrics",     "create",       "slice-list",
                                              "slice-loans", "slice-revoke", "slice-usage" };
/* about one of their own slices; another is answered as one that does not
 * exist */
static const char *const own_slice[] = { "slice-status", "slice-loan" };

static int in(const char *const *list, size_t n, const char *cmd)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(list[i], cmd) == 0)
                        return 1;
        return 0;
}
#define IN(list, cmd) in(list, sizeof(list) / sizeof(list[0]), cmd)

static enum vsd_authz_verdict decide(enum vsd_role role, const char *cmd, int visible,
                                     vs_error_t *err)
{
        struct vsd_authz_facts f = { role, cmd, visible, visible };

        memset(err, 0, sizeof(*err));
        return vsd_authz_decide(&f, err);
}

/* Every command of the protocol's table, each role, a visible VPS or not. */
static void test_every_command_for_every_role(void **state)
{
        size_t n;
        const vs_command_spec_t *cmds = vs_commands(&n);
        vs_error_t err;

        (void)state;
        assert_true(n >= 25);
        for (size_t i = 0; i < n; i++) {
                const char *cmd = cmds[i].cmd;

                for (int visible = 0; visible <= 1; visible++) {
                        enum vsd_authz_verdict v;

                        assert_int_equal(decide(VSD_ROLE_ADMIN, cmd, visible, &err),
                                         VSD_AUTHZ_ALLOW);
                        assert_int_equal(decide(VSD_ROLE_NONE, cmd, visible, &err),
                                         VSD_AUTHZ_REFUSE);
                        assert_int_equal(err.kind, VS_E_PERM);
                        v = decide(VSD_ROLE_OWNER, cmd, visible, &err);
                        if (IN(own_vps, cmd)) {
                                assert_int_equal(v, visible ? VSD_AUTHZ_ALLOW : VSD_AUTHZ_HIDE);
                        } else if (IN(own_slice, cmd)) {
                                assert_int_equal(v, visible ? VSD_AUTHZ_ALLOW : VSD_AUTHZ_REFUSE);
                                if (!visible)
                                        assert_string_equal(err.msg, "no such slice");
                        } else if (IN(open_to_owners, cmd)) {
                                assert_int_equal(v, VSD_AUTHZ_ALLOW);
                        } else {
                                /* node, template-*, restore, slice changes:
                                 * the admins' */
                                assert_int_equal(v, VSD_AUTHZ_REFUSE);
                                assert_int_equal(err.kind, VS_E_PERM);
                                assert_non_null(strstr(err.msg, "permission denied"));
                                assert_null(strchr(err.msg, '\n'));
                        }
                }
        }
}

/* A command the table does not know (a later one) is the admins' alone. */
static void test_an_unknown_command_is_for_admins(void **state)
{
        vs_error_t err;

        (void)state;
        assert_int_equal(vsd_authz_rule_of("slice-create"), VSD_AUTHZ_ADMIN);
        assert_int_equal(decide(VSD_ROLE_OWNER, "slice-create", 1, &err), VSD_AUTHZ_REFUSE);
        assert_int_equal(err.kind, VS_E_PERM);
        assert_int_equal(decide(VSD_ROLE_ADMIN, "slice-create", 0, &err), VSD_AUTHZ_ALLOW);
        assert_int_equal(vsd_authz_rule_of("node"), VSD_AUTHZ_ADMIN);
        assert_int_equal(vsd_authz_rule_of("template-list"), VSD_AUTHZ_ADMIN);
        assert_int_equal(vsd_authz_rule_of("restore"), VSD_AUTHZ_ADMIN);
}

static void test_names_in_a_slice(void **state)
{
        (void)state;
        assert_true(vsd_authz_name_in_slice("sa", "sa-web"));
        assert_true(vsd_authz_name_in_slice("sa", "sa-b-c"));
        assert_false(vsd_authz_name_in_slice("sa", "sa-"));
        assert_false(vsd_authz_name_in_slice("sa", "sa"));
        assert_false(vsd_authz_name_in_slice("sa", "sab-x"));
        assert_false(vsd_authz_name_in_slice("sa", "web"));
        assert_false(vsd_authz_name_in_slice("sa", "sa_web"));
}

static void rules_of(const char *text, struct vsd_slice_rules *r)
{
        cleanup_kv vs_kv_t kv = { 0 };
        vs_error_t err = { 0 };
        struct vsd_slice_file f;

        assert_int_equal(vs_kv_parse(text, &kv, &err), 0);
        assert_int_equal(vsd_slice_file_parse("sa", &kv, &f, &err), 0);
        *r = f.rules;
}

/* 0, or the kind of the error, of the request against the rules. */
static int check(const struct vsd_slice_rules *r, const char *json)
{
        vs_request_t req;
        vs_error_t err = { 0 };
        int rc;

        assert_int_equal(vs_request_decode(json, strlen(json), &req, &err), 0);
        rc = vsd_authz_within_slice(r, &req, &err);
        vs_request_free(&req);
        if (rc == 0)
                return 0;
        assert_null(strchr(err.msg, '\n'));
        return err.kind == VS_E_PERM ? 'P' : 'O';
}

#define CREATE(args) "{\"version\":1,\"cmd\":\"create\",\"name\":\"sa-x\",\"args\":" args "}"
#define SET(args) "{\"version\":1,\"cmd\":\"set\",\"name\":\"sa-x\",\"args\":" args "}"

static void test_an_owners_create_is_held_to_the_slice(void **state)
{
        struct vsd_slice_rules r;

        (void)state;
        rules_of("owners = 1000\ntemplates = busybox, deb\nram = 256M\ncpulimit = 50%\n"
                 "numproc = 200\ncpuunits = 500\nram_reserve = 64M\ncpu_reserve = 10%\n"
                 "rate_out = 10M\nrate_in = 20M\n",
                 &r);
        assert_int_equal(check(&r, CREATE("{\"template\":\"busybox\"}")), 0);
        assert_int_equal(check(&r, CREATE("{\"template\":\"deb\"}")), 0);
        assert_int_equal(check(&r, CREATE("{\"template\":\"bb2\"}")), 'P');
        assert_int_equal(check(&r, CREATE("{\"template\":\"busybox\",\"privileged\":true}")), 'P');
        assert_int_equal(check(&r, CREATE("{\"template\":\"busybox\",\"privileged\":false}")), 0);
        assert_int_equal(
                check(&r, CREATE("{\"template\":\"busybox\",\"limits\":{\"ram\":\"256M\"}}")), 0);
        assert_int_equal(
                check(&r, CREATE("{\"template\":\"busybox\",\"limits\":{\"ram\":\"257M\"}}")), 'P');
        assert_int_equal(
                check(&r, CREATE("{\"template\":\"busybox\",\"limits\":{\"cpulimit\":\"50%\"}}")),
                0);
        assert_int_equal(
                check(&r, CREATE("{\"template\":\"busybox\",\"limits\":{\"cpulimit\":\"0.6\"}}")),
                'P');
        assert_int_equal(
                check(&r, CREATE("{\"template\":\"busybox\",\"limits\":{\"cpus\":\"1\"}}")), 'P');
        assert_int_equal(
                check(&r, CREATE("{\"template\":\"busybox\",\"limits\":{\"numproc\":\"201\"}}")),
                'P');
        assert_int_equal(
                check(&r, CREATE("{\"template\":\"busybox\",\"limits\":{\"cpuunits\":\"1000\"}}")),
                'P');
        assert_int_equal(
                check(&r,
                      CREATE("{\"template\":\"busybox\",\"limits\":{\"ram-reserve\":\"128M\"}}")),
                'P');
        assert_int_equal(
                check(&r,
                      CREATE("{\"template\":\"busybox\",\"limits\":{\"cpu-reserve\":\"20%\"}}")),
                'P');
        /* swap comes on top of ram: not beyond the slice's memory */
        assert_int_equal(
                check(&r, CREATE("{\"template\":\"busybox\",\"limits\":{\"swap\":\"1G\"}}")), 'P');
        assert_int_equal(
                check(&r, CREATE("{\"template\":\"busybox\",\"limits\":{\"swap\":\"128M\"}}")), 0);
        /* limits the slice does not set are free */
        assert_int_equal(
                check(&r, CREATE("{\"template\":\"busybox\",\"limits\":{\"numfile\":\"4096\"}}")),
                0);
        /* --force would override the node's admission */
        assert_int_equal(check(&r, CREATE("{\"template\":\"busybox\",\"force\":true}")), 'P');
        assert_int_equal(check(&r, CREATE("{\"template\":\"busybox\",\"rate_out\":\"10M\"}")), 0);
        assert_int_equal(check(&r, CREATE("{\"template\":\"busybox\",\"rate_out\":\"11M\"}")), 'P');
        assert_int_equal(check(&r, CREATE("{\"template\":\"busybox\",\"rate_in\":\"30M\"}")), 'P');
        assert_int_equal(check(&r, CREATE("{\"template\":\"busybox\",\"ipadd\":[\"10.0.0.9\"]}")),
                         'P');
        assert_int_equal(
                check(&r, CREATE("{\"template\":\"busybox\",\"port_forward\":[\"8080:80\"]}")),
                'P');
        assert_int_equal(
                check(&r, CREATE("{\"template\":\"busybox\",\"nameserver\":[\"10.0.0.1\"]}")), 0);
}

/* The other limits, where the slice's file names them. */
static void test_an_owners_other_limits_are_held_to_the_slice(void **state)
{
        struct vsd_slice_rules r;

        (void)state;
        rules_of("owners = 1000\nnumfile = 1024\ncpumask = 0-1\niolimit = 10M\n"
                 "diskinodes = 5000\nmax_vps = 3\n",
                 &r);
        assert_int_equal(r.max_vps, 3);
        assert_int_equal(check(&r, SET("{\"limits\":{\"numfile\":\"1024\"}}")), 0);
        assert_int_equal(check(&r, SET("{\"limits\":{\"numfile\":\"1025\"}}")), 'P');
        assert_int_equal(check(&r, SET("{\"limits\":{\"cpumask\":\"1\"}}")), 0);
        assert_int_equal(check(&r, SET("{\"limits\":{\"cpumask\":\"0-1\"}}")), 0);
        assert_int_equal(check(&r, SET("{\"limits\":{\"cpumask\":\"1-2\"}}")), 'P');
        assert_int_equal(check(&r, SET("{\"limits\":{\"iolimit\":\"20M\"}}")), 'P');
        assert_int_equal(check(&r, SET("{\"limits\":{\"iolimit\":\"5M\"}}")), 0);
        assert_int_equal(check(&r, CREATE("{\"template\":\"busybox\",\"diskinodes\":\"4000\"}")),
                         0);
        assert_int_equal(check(&r, CREATE("{\"template\":\"busybox\",\"diskinodes\":\"6000\"}")),
                         'P');
        assert_int_equal(check(&r, SET("{\"force\":true,\"limits\":{\"numfile\":\"100\"}}")), 'P');
        assert_int_equal(check(&r, SET("{\"onboot\":true}")), 0);
}

static void test_an_owners_set_and_resize_are_held_to_the_slice(void **state)
{
        struct vsd_slice_rules r;

        (void)state;
        rules_of("owners = 1000\nram = 256M\nrate_out = 10M\ndiskspace = 1G\n", &r);
        assert_int_equal(check(&r, SET("{\"limits\":{\"ram\":\"128M\"}}")), 0);
        assert_int_equal(check(&r, SET("{\"limits\":{\"ram\":\"1G\"}}")), 'P');
        assert_int_equal(check(&r, SET("{\"capability\":\"sys_admin:on\"}")), 'P');
        assert_int_equal(check(&r, SET("{\"ipdel\":[\"all\"]}")), 'P');
        assert_int_equal(check(&r, SET("{\"port_forward_del\":[\"all\"]}")), 'P');
        /* 0 takes the cap away: beyond any cap */
        assert_int_equal(check(&r, SET("{\"rate_out\":\"0\"}")), 'P');
        assert_int_equal(check(&r, SET("{\"rate_out\":\"5M\"}")), 0);
        assert_int_equal(check(&r, SET("{\"hostname\":\"web\",\"onboot\":true}")), 0);
        assert_int_equal(
                check(&r,
                      "{\"version\":1,\"cmd\":\"resize\",\"name\":\"sa-x\",\"args\":{\"diskspace\":"
                      "\"2G\"}}"),
                'P');
        assert_int_equal(
                check(&r,
                      "{\"version\":1,\"cmd\":\"resize\",\"name\":\"sa-x\",\"args\":{\"diskspace\":"
                      "\"512M:1G\"}}"),
                0);
        /* a disk-limited slice's VPS are made with a limit */
        assert_int_equal(check(&r, CREATE("{\"template\":\"busybox\"}")), 'P');
        assert_int_equal(check(&r, CREATE("{\"template\":\"busybox\",\"diskspace\":\"1G\"}")), 0);
        /* an empty template list: every template */
        assert_int_equal(check(&r, CREATE("{\"template\":\"any\",\"diskspace\":\"1G\"}")), 0);
}

/* ---- the verdicts vsd gets: a root with two slices, three VPS ---- */

static char root[sizeof(run_dir) + 16];

static void write_slice(const char *name, const char *text)
{
        char *path = vs_strdupf("%s/var/lib/paene/slices/%s", root, name);
        FILE *f = fopen(path, "w");

        assert_non_null(f);
        fputs(text, f);
        fclose(f);
        free(path);
}

static struct vps *fake_vps(struct vsd *d, const char *name, const char *slice)
{
        struct vps *v = calloc(1, sizeof(*v));

        vs_strlcpy(v->name, name, sizeof(v->name));
        vs_strlcpy(v->slice, slice, sizeof(v->slice));
        vsd_vps_link(d, v);
        return v;
}

static enum vsd_authz_verdict request(struct vsd *d, const struct client *c, const char *json,
                                      vs_error_t *err)
{
        vs_request_t req;
        enum vsd_authz_verdict verdict;

        memset(err, 0, sizeof(*err));
        assert_int_equal(vs_request_decode(json, strlen(json), &req, err), 0);
        verdict = vsd_authz_request(d, c, &req, err);
        vs_request_free(&req);
        return verdict;
}

static void test_verdicts_for_an_owner(void **state)
{
        struct vsd d = { 0 };
        struct client a = { .uid = 1001, .role = VSD_ROLE_OWNER };
        struct client admin = { .uid = 0, .role = VSD_ROLE_ADMIN };
        struct vps *own, *other, *plain;
        vs_error_t err;
        char *dir;

        (void)state;
        snprintf(root, sizeof(root), "%s/root", run_dir);
        dir = vs_strdupf("%s/var/lib/paene/slices", root);
        assert_int_equal(vs_mkdir_p(dir, 0755, &err), 0);
        free(dir);
        write_slice("sa", "owners = 1001\nram = 256M\ntemplates = busybox\n");
        write_slice("sb", "owners = 1002, 1003\n");
        write_slice("sa.usage", "bytes = 5\n"); /* not a slice */
        d.root = root;
        own = fake_vps(&d, "sa-web", "sa");
        other = fake_vps(&d, "sb-db", "sb");
        plain = fake_vps(&d, "web1", "default");

        assert_int_equal(vsd_authz_sees(&d, &a, own), 1);
        assert_int_equal(vsd_authz_sees(&d, &a, other), 0);
        assert_int_equal(vsd_authz_sees(&d, &a, plain), 0);
        assert_int_equal(vsd_authz_sees(&d, &admin, other), 1);
        assert_int_equal(vsd_authz_sees_name(&d, &a, "sb-db"), 0);
        assert_int_equal(vsd_authz_sees_name(&d, &a, "sa-web"), 1);

        assert_int_equal(
                request(&d, &a, "{\"version\":1,\"cmd\":\"stop\",\"name\":\"sa-web\"}", &err),
                VSD_AUTHZ_ALLOW);
        /* another slice's VPS, the default slice's, none: all alike */
        assert_int_equal(
                request(&d, &a, "{\"version\":1,\"cmd\":\"stop\",\"name\":\"sb-db\"}", &err),
                VSD_AUTHZ_HIDE);
        assert_int_equal(
                request(&d, &a, "{\"version\":1,\"cmd\":\"stop\",\"name\":\"web1\"}", &err),
                VSD_AUTHZ_HIDE);
        assert_int_equal(
                request(&d, &a, "{\"version\":1,\"cmd\":\"stop\",\"name\":\"sb-zz\"}", &err),
                VSD_AUTHZ_HIDE);
        assert_int_equal(
                request(&d, &admin, "{\"version\":1,\"cmd\":\"stop\",\"name\":\"sb-db\"}", &err),
                VSD_AUTHZ_ALLOW);

        /* create: the owner's only slice, its namespace, its rules */
        assert_int_equal(request(&d, &a,
                                 "{\"version\":1,\"cmd\":\"create\",\"name\":\"sa-new\",\"args\":{"
                                 "\"template\":\"busybox\"}}",
                                 &err),
                         VSD_AUTHZ_ALLOW);
        assert_int_equal(request(&d, &a,
                                 "{\"version\":1,\"cmd\":\"create\",\"name\":\"web2\",\"args\":{"
                                 "\"template\":\"busybox\"}}",
                                 &err),
                         VSD_AUTHZ_REFUSE);
        assert_int_equal(err.kind, VS_E_PERM);
        assert_int_equal(request(&d, &a,
                                 "{\"version\":1,\"cmd\":\"create\",\"name\":\"sa-big\",\"args\":{"
                                 "\"template\":\"busybox\",\"limits\":{\"ram\":\"1G\"}}}",
                                 &err),
                         VSD_AUTHZ_REFUSE);
        assert_int_equal(err.kind, VS_E_PERM);
        /* a slice of someone else's and one that does not exist: alike */
        assert_int_equal(request(&d, &a,
                                 "{\"version\":1,\"cmd\":\"create\",\"name\":\"sb-x\",\"args\":{"
                                 "\"template\":\"busybox\",\"slice\":\"sb\"}}",
                                 &err),
                         VSD_AUTHZ_REFUSE);
        assert_int_equal(err.kind, VS_E_NOTFOUND);
        assert_string_equal(err.msg, "no such slice");
        assert_int_equal(request(&d, &a,
                                 "{\"version\":1,\"cmd\":\"create\",\"name\":\"sz-x\",\"args\":{"
                                 "\"template\":\"busybox\",\"slice\":\"sz\"}}",
                                 &err),
                         VSD_AUTHZ_REFUSE);
        assert_string_equal(err.msg, "no such slice");
        /* a clone of one's own into another slice's namespace */
        assert_int_equal(request(&d, &a,
                                 "{\"version\":1,\"cmd\":\"clone\",\"name\":\"sa-web\",\"args\":{"
                                 "\"new\":\"sb-copy\"}}",
                                 &err),
                         VSD_AUTHZ_REFUSE);
        assert_int_equal(err.kind, VS_E_PERM);
        assert_int_equal(request(&d, &a,
                                 "{\"version\":1,\"cmd\":\"clone\",\"name\":\"sa-web\",\"args\":{"
                                 "\"new\":\"sa-copy\"}}",
                                 &err),
                         VSD_AUTHZ_ALLOW);
        assert_int_equal(request(&d, &a,
                                 "{\"version\":1,\"cmd\":\"set\",\"name\":\"sa-web\",\"args\":{"
                                 "\"limits\":{\"ram\":\"300M\"}}}",
                                 &err),
                         VSD_AUTHZ_REFUSE);
        assert_int_equal(err.kind, VS_E_PERM);
        assert_int_equal(request(&d, &a, "{\"version\":1,\"cmd\":\"node\"}", &err),
                         VSD_AUTHZ_REFUSE);
        assert_int_equal(request(&d, &a, "{\"version\":1,\"cmd\":\"list\"}", &err),
                         VSD_AUTHZ_ALLOW);
        while (d.vps_list) {
                struct vps *v = d.vps_list;

                d.vps_list = v->next;
                free(v);
        }
        vs_nameidx_free(&d.vps_index);
        vsd_slice_free_all(&d);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_command_for_every_role),
                cmocka_unit_test(test_an_unknown_command_is_for_admins),
                cmocka_unit_test(test_names_in_a_slice),
                cmocka_unit_test(test_an_owners_create_is_held_to_the_slice),
                cmocka_unit_test(test_an_owners_other_limits_are_held_to_the_slice),
                cmocka_unit_test(test_an_owners_set_and_resize_are_held_to_the_slice),
                cmocka_unit_test(test_verdicts_for_an_owner),
        };

        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
