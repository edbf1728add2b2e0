/* vs/nameidx.h: records found by name, through growth and removal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vs/nameidx.h"

struct rec {
        char name[16];
        vs_nameidx_link_t link;
};

static struct rec *find(const vs_nameidx_t *ix, const char *name)
{
        vs_nameidx_link_t *link = vs_nameidx_find(ix, name);

        return link ? vs_nameidx_entry(link, struct rec, link) : NULL;
}

static void an_empty_index_finds_nothing(void **state)
{
        vs_nameidx_t ix = { 0 };
        struct rec r = { .name = "web1" };

        assert_null(find(&ix, "web1"));
        vs_nameidx_remove(&ix, &r.link); /* never added: left alone */
        vs_nameidx_free(&ix);
}

/* 10000 records: the buckets double many times, and every record is still
 * found under its own name and no other */
static void every_record_is_found_after_growth(void **state)
{
        enum { N = 10000 };
        vs_nameidx_t ix = { 0 };
        struct rec *recs = calloc(N, sizeof(*recs));

        assert_non_null(recs);
        for (int i = 0; i < N; i++) {
                snprintf(recs[i].name, sizeof(recs[i].name), "vps%d", i);
                vs_nameidx_add(&ix, &recs[i].link, recs[i].name);
        }
        assert_int_equal(ix.count, N);
        assert_true(ix.cap >= N);
        for (int i = 0; i < N; i++)
                assert_ptr_equal(find(&ix, recs[i].name), &recs[i]);
        assert_null(find(&ix, "vps10000"));
        assert_null(find(&ix, "vps"));
        assert_null(find(&ix, ""));
        vs_nameidx_free(&ix);
        assert_null(find(&ix, "vps1"));
        free(recs);
}

static void a_removed_record_is_gone_and_the_others_stay(void **state)
{
        vs_nameidx_t ix = { 0 };
        struct rec a = { .name = "a" }, b = { .name = "b" }, c = { .name = "c" };

        vs_nameidx_add(&ix, &a.link, a.name);
        vs_nameidx_add(&ix, &b.link, b.name);
        vs_nameidx_add(&ix, &c.link, c.name);
        vs_nameidx_remove(&ix, &b.link);
        assert_null(find(&ix, "b"));
        assert_ptr_equal(find(&ix, "a"), &a);
        assert_ptr_equal(find(&ix, "c"), &c);
        assert_int_equal(ix.count, 2);
        vs_nameidx_remove(&ix, &b.link); /* twice: nothing more goes */
        assert_int_equal(ix.count, 2);
        vs_nameidx_add(&ix, &b.link, b.name);
        assert_ptr_equal(find(&ix, "b"), &b);
        vs_nameidx_free(&ix);
}

/* A walk gives every record once, also when each one given is taken out
 * (and its memory scribbled over, as a freed record's may be) on the way;
 * an empty index gives none. */
static void a_walk_gives_every_record_once_even_as_each_goes(void **state)
{
        enum { N = 1000 };
        vs_nameidx_t ix = { 0 };
        vs_nameidx_iter_t it;
        struct rec *recs = calloc(N, sizeof(*recs));
        int *seen = calloc(N, sizeof(*seen)), n = 0;

        assert_non_null(recs);
        assert_non_null(seen);
        assert_null(vs_nameidx_first(&ix, &it));
        for (int i = 0; i < N; i++) {
                snprintf(recs[i].name, sizeof(recs[i].name), "vps%d", i);
                vs_nameidx_add(&ix, &recs[i].link, recs[i].name);
        }
        for (vs_nameidx_link_t *l = vs_nameidx_first(&ix, &it); l; l = vs_nameidx_next(&it))
                seen[vs_nameidx_entry(l, struct rec, link) - recs]++;
        for (int i = 0; i < N; i++)
                assert_int_equal(seen[i], 1);
        for (vs_nameidx_link_t *l = vs_nameidx_first(&ix, &it); l; l = vs_nameidx_next(&it)) {
                vs_nameidx_remove(&ix, l);
                memset(l, 0xa5, sizeof(*l));
                n++;
        }
        assert_int_equal(n, N);
        assert_int_equal(ix.count, 0);
        assert_null(vs_nameidx_first(&ix, &it));
        vs_nameidx_free(&ix);
        free(seen);
        free(recs);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(an_empty_index_finds_nothing),
                cmocka_unit_test(every_record_is_found_after_growth),
                cmocka_unit_test(a_removed_record_is_gone_and_the_others_stay),
                cmocka_unit_test(a_walk_gives_every_record_once_even_as_each_goes),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
