/* Unit tests for include/vs/blocksum.h: SipHash-2-4 against its authors'
 * test vectors, and the keyed NH block sums of an image's migration. */
#include <stdint.h>
#include <string.h>

#define TESTUTIL_NAME "blocksum"
#include "testutil.h"

#include "vs/blocksum.h"
#include "vs/cleanup.h"

#define BLOCK (64U << 10)

/* xorshift64*: reproducible "random" blocks and seeds */
static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
        rnd_state ^= rnd_state >> 12;
        rnd_state ^= rnd_state << 25;
        rnd_state ^= rnd_state >> 27;
        return rnd_state * 0x2545f4914f6cdd1dULL;
}

static void fill_random(unsigned char *buf, size_t len)
{
        for (size_t i = 0; i < len; i++)
                buf[i] = (unsigned char)(rnd() >> 56);
}

static vs_blocksum_key_t *key_of(uint64_t a, uint64_t b)
{
        uint64_t seed[2] = { a, b };
        vs_error_t err = { 0 };
        vs_blocksum_key_t *key = vs_blocksum_key_new(seed, BLOCK, &err);

        if (!key)
                fail_msg("key: %s", err.msg);
        return key;
}

static int same(vs_blocksum_t a, vs_blocksum_t b)
{
        return a.lo == b.lo && a.hi == b.hi;
}

/* the paper's vectors: key 00..0f, message 00 01 02 ... of each length;
 * here those of 0, 8 and 15 bytes (empty, one word, a word and a tail of
 * 7 bytes) */
static void test_siphash_matches_the_reference_vectors(void **state)
{
        const uint64_t key[2] = { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL };
        unsigned char msg[16];

        (void)state;
        for (int i = 0; i < 16; i++)
                msg[i] = (unsigned char)i;
        assert_int_equal(vs_siphash24(key, msg, 0), 0x726fdb47dd0e0e31ULL);
        assert_int_equal(vs_siphash24(key, msg, 8), 0x93f5f5799a932462ULL);
        assert_int_equal(vs_siphash24(key, msg, 15), 0xa129ca6149be45e5ULL);
}

static void test_equal_blocks_have_equal_sums(void **state)
{
        cleanup_free unsigned char *a = malloc(BLOCK), *b = malloc(BLOCK);
        vs_blocksum_key_t *k1 = key_of(1, 2), *k2 = key_of(1, 2);

        (void)state;
        assert_non_null(a);
        assert_non_null(b);
        for (int i = 0; i < 20; i++) {
                fill_random(a, BLOCK);
                memcpy(b, a, BLOCK);
                /* the same key, and another key made from the same seed */
                assert_true(same(vs_blocksum(k1, a), vs_blocksum(k1, b)));
                assert_true(same(vs_blocksum(k1, a), vs_blocksum(k2, b)));
        }
        memset(a, 0, BLOCK);
        memset(b, 0, BLOCK);
        assert_true(same(vs_blocksum(k1, a), vs_blocksum(k2, b)));
        vs_blocksum_key_free(k1);
        vs_blocksum_key_free(k2);
}

/* The same block under 2000 seeds: 2000 different sums, each half on its
 * own too (a key that did not reach one of the passes would repeat it). */
static void test_different_keys_give_different_sums(void **state)
{
        enum { KEYS = 2000 };
        cleanup_free unsigned char *block = malloc(BLOCK);
        cleanup_free vs_blocksum_t *sums = calloc(KEYS, sizeof(*sums));

        (void)state;
        assert_non_null(block);
        assert_non_null(sums);
        fill_random(block, BLOCK);
        for (int i = 0; i < KEYS; i++) {
                /* seeds that differ in one bit from the first */
                vs_blocksum_key_t *key =
                        key_of(i < 128 ? 1ULL << (i % 64) : rnd(), i < 64    ? 0
                                                                   : i < 128 ? 1ULL << (i % 64)
                                                                             : rnd());

                sums[i] = vs_blocksum(key, block);
                vs_blocksum_key_free(key);
        }
        for (int i = 0; i < KEYS; i++)
                for (int j = i + 1; j < KEYS; j++) {
                        assert_true(sums[i].lo != sums[j].lo);
                        assert_true(sums[i].hi != sums[j].hi);
                }
}

/* Under one key, a change of one bit, of one byte, or a move of words
 * within a block (two words of one pair swapped, the two halves of a
 * 32-byte chunk swapped, two chunks swapped: NH multiplies word pairs, so
 * these are the changes that its structure could miss) changes the sum. */
static void test_a_changed_block_changes_its_sum(void **state)
{
        cleanup_free unsigned char *block = malloc(BLOCK), *changed = malloc(BLOCK);
        vs_blocksum_key_t *key = key_of(rnd(), rnd());

        (void)state;
        assert_non_null(block);
        assert_non_null(changed);
        fill_random(block, BLOCK);
        for (int i = 0; i < 3000; i++) {
                size_t at = rnd() % BLOCK, chunk = (rnd() % (BLOCK / 32)) * 32;
                unsigned char t[16];

                memcpy(changed, block, BLOCK);
                switch (i % 5) {
                case 0:
                        changed[at] ^= (unsigned char)(1U << (rnd() % 8));
                        break;
                case 1:
                        changed[at] = (unsigned char)(changed[at] + 1 + rnd() % 255);
                        break;
                case 2: /* words j and j + 4 of a chunk */
                        at = chunk + 4 * (rnd() % 4);
                        memcpy(t, changed + at, 4);
                        memcpy(changed + at, changed + at + 16, 4);
                        memcpy(changed + at + 16, t, 4);
                        break;
                case 3:
                        memcpy(t, changed + chunk, 16);
                        memcpy(changed + chunk, changed + chunk + 16, 16);
                        memcpy(changed + chunk + 16, t, 16);
                        break;
                default: /* chunk and the next (the last: the first) */
                        at = (chunk + 32) % BLOCK;
                        for (int b = 0; b < 32; b++) {
                                unsigned char c = changed[chunk + b];

                                changed[chunk + b] = changed[at + b];
                                changed[at + b] = c;
                        }
                }
                if (memcmp(changed, block, BLOCK) == 0)
                        continue; /* a swap of equal words */
                assert_false(same(vs_blocksum(key, block), vs_blocksum(key, changed)));
        }
        vs_blocksum_key_free(key);
}

static void test_vector_and_scalar_sums_agree(void **state)
{
        cleanup_free unsigned char *block = malloc(BLOCK);
        vs_blocksum_key_t *key = key_of(7, 8);

        (void)state;
        assert_non_null(block);
        for (int i = 0; i < 50; i++) {
                vs_blocksum_t v, s;

                fill_random(block, BLOCK);
                if (i == 0)
                        memset(block, 0xff, BLOCK); /* every add wraps */
                v = vs_blocksum(key, block);
                s = vs_blocksum_scalar(key, block);
                assert_int_equal(v.lo, s.lo);
                assert_int_equal(v.hi, s.hi);
        }
        vs_blocksum_key_free(key);
}

static void test_a_block_not_of_whole_chunks_is_refused(void **state)
{
        uint64_t seed[2] = { 1, 2 };
        vs_error_t err = { 0 };

        (void)state;
        assert_null(vs_blocksum_key_new(seed, 100, &err));
        assert_non_null(strstr(err.msg, "multiple of 32"));
        assert_null(vs_blocksum_key_new(seed, 0, &err));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_siphash_matches_the_reference_vectors),
                cmocka_unit_test(test_equal_blocks_have_equal_sums),
                cmocka_unit_test(test_different_keys_give_different_sums),
                cmocka_unit_test(test_a_changed_block_changes_its_sum),
                cmocka_unit_test(test_vector_and_scalar_sums_agree),
                cmocka_unit_test(test_a_block_not_of_whole_chunks_is_refused),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
