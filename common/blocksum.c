/* Keyed block sums: NH (UMAC's inner hash, RFC 4418's L1-HASH pairing) in
 * two Toeplitz-shifted passes, its key filled by SipHash-2-4 of a seed
 * (vs/blocksum.h says why). NH costs one 32x32->64 bit multiply per 8
 * bytes and pass, and vectorizes: a SipHash-2-4 of the same block costs
 * two rounds of 14 dependent operations per 8 bytes. */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vs/blocksum.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* the second pass's key starts this many 32-bit words later (16 bytes, as
 * RFC 4418's iterations) */
#define TOEPLITZ_SHIFT 4
#define CHUNK 32 /* bytes: 8 words, word j paired with word j + 4 */

struct vs_blocksum_key {
        size_t block_len;
        uint32_t *k; /* block_len / 4 + TOEPLITZ_SHIFT words */
};

/* ---- SipHash-2-4 ---- */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void sip_round(uint64_t v[4])
{
        v[0] += v[1];
        v[1] = ROTL(v[1], 13);
        v[1] ^= v[0];
        v[0] = ROTL(v[0], 32);
        v[2] += v[3];
        v[3] = ROTL(v[3], 16);
        v[3] ^= v[2];
        v[0] += v[3];
        v[3] = ROTL(v[3], 21);
        v[3] ^= v[0];
        v[2] += v[1];
        v[1] = ROTL(v[1], 17);
        v[1] ^= v[2];
        v[2] = ROTL(v[2], 32);
}

static void sip_word(uint64_t v[4], uint64_t m)
{
        v[3] ^= m;
        sip_round(v);
        sip_round(v);
        v[0] ^= m;
}

uint64_t vs_siphash24(const uint64_t key[2], const void *buf, size_t len)
{
        uint64_t v[4] = { key[0] ^ 0x736f6d6570736575ULL, key[1] ^ 0x646f72616e646f6dULL,
                          key[0] ^ 0x6c7967656e657261ULL, key[1] ^ 0x7465646279746573ULL };
        const unsigned char *p = buf;
        size_t whole = len & ~(size_t)7;
        uint64_t m, last = (uint64_t)len << 56;

        for (size_t i = 0; i < whole; i += 8) {
                memcpy(&m, p + i, 8);
                sip_word(v, le64toh(m));
        }
        for (size_t i = whole; i < len; i++)
                last |= (uint64_t)p[i] << (8 * (i - whole));
        sip_word(v, last);
        v[2] ^= 0xff;
        for (int i = 0; i < 4; i++)
                sip_round(v);
        return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* ---- the key ---- */

vs_blocksum_key_t *vs_blocksum_key_new(const uint64_t seed[2], size_t block_len, vs_error_t *err)
{
        vs_blocksum_key_t *key;
        size_t words = block_len / 4 + TOEPLITZ_SHIFT;

        if (!block_len || block_len % CHUNK) {
                vs_error_set(err, EINVAL, "a block of %zu bytes is not a multiple of %d", block_len,
                             CHUNK);
                return NULL;
        }
        key = calloc(1, sizeof(*key));
        if (key)
                key->k = malloc(words * sizeof(*key->k));
        if (!key || !key->k) {
                vs_blocksum_key_free(key);
                vs_error_set(err, ENOMEM, "no memory for a key of block sums");
                return NULL;
        }
        key->block_len = block_len;
        /* SipHash as a PRF in counter mode: word pair i is the sum of i */
        for (size_t i = 0; i < words; i += 2) {
                uint64_t ctr = htole64(i / 2), w = vs_siphash24(seed, &ctr, sizeof(ctr));

                key->k[i] = (uint32_t)w;
                key->k[i + 1] = (uint32_t)(w >> 32); /* words is even */
        }
        return key;
}

void vs_blocksum_key_free(vs_blocksum_key_t *key)
{
        if (key) {
                /* the key is what keeps a VPS from forging a sum */
                if (key->k)
                        explicit_bzero(key->k,
                                       (key->block_len / 4 + TOEPLITZ_SHIFT) * sizeof(*key->k));
                free(key->k);
                free(key);
        }
}

/* ---- NH ---- */

static uint32_t word_at(const unsigned char *p)
{
        uint32_t w;

        memcpy(&w, p, 4);
        return le32toh(w);
}

vs_blocksum_t vs_blocksum_scalar(const vs_blocksum_key_t *key, const void *block)
{
        const unsigned char *p = block;
        const uint32_t *k = key->k;
        uint64_t y1 = 0, y2 = 0;

        for (size_t c = 0; c < key->block_len / 4; c += 8, p += CHUNK) {
                for (int j = 0; j < 4; j++) {
                        uint32_t lo = word_at(p + 4 * j), hi = word_at(p + 4 * (j + 4));

                        y1 += (uint64_t)(uint32_t)(lo + k[c + j]) * (uint32_t)(hi + k[c + j + 4]);
                        y2 += (uint64_t)(uint32_t)(lo + k[c + j + TOEPLITZ_SHIFT]) *
                              (uint32_t)(hi + k[c + j + 4 + TOEPLITZ_SHIFT]);
                }
        }
        return (vs_blocksum_t){ y1, y2 };
}

#if defined(__SSE2__) && __BYTE_ORDER == __LITTLE_ENDIAN
/* the sum of the four products (a_j)(b_j) of a pass, added to acc's two
 * 64-bit lanes: pmuludq multiplies the low words of each lane */
static inline __m128i nh_step(__m128i acc, __m128i a, __m128i b)
{
        acc = _mm_add_epi64(acc, _mm_mul_epu32(a, b));
        return _mm_add_epi64(acc, _mm_mul_epu32(_mm_srli_epi64(a, 32), _mm_srli_epi64(b, 32)));
}

static uint64_t lanes_sum(__m128i v)
{
        uint64_t l[2];

        _mm_storeu_si128((__m128i *)l, v);
        return l[0] + l[1];
}

vs_blocksum_t vs_blocksum(const vs_blocksum_key_t *key, const void *block)
{
        const unsigned char *p = block;
        const uint32_t *k = key->k;
        __m128i y1 = _mm_setzero_si128(), y2 = _mm_setzero_si128();

        for (size_t c = 0; c < key->block_len / 4; c += 8, p += CHUNK) {
                __m128i lo = _mm_loadu_si128((const __m128i *)p);
                __m128i hi = _mm_loadu_si128((const __m128i *)(p + 16));
                __m128i k0 = _mm_loadu_si128((const __m128i *)(k + c));
                __m128i k1 = _mm_loadu_si128((const __m128i *)(k + c + 4));
                __m128i k2 = _mm_loadu_si128((const __m128i *)(k + c + 8));

                /* the second pass's key is the first's 4 words on */
                y1 = nh_step(y1, _mm_add_epi32(lo, k0), _mm_add_epi32(hi, k1));
                y2 = nh_step(y2, _mm_add_epi32(lo, k1), _mm_add_epi32(hi, k2));
        }
        return (vs_blocksum_t){ lanes_sum(y1), lanes_sum(y2) };
}
#else
vs_blocksum_t vs_blocksum(const vs_blocksum_key_t *key, const void *block)
{
        return vs_blocksum_scalar(key, block);
}
#endif
