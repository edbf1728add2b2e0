/* Keyed sums of fixed-size blocks, for telling which blocks of a disk image
 * changed between two rounds of a migration (cow-fs/imagesync.c) when the
 * VPS, which writes what the blocks hold, must not be able to make a
 * changed block look unchanged.
 *
 * The sum is NH, the inner hash of UMAC (RFC 4418, L1-HASH, without its
 * length word and its later stages): twice over the block, with the key
 * shifted by 16 bytes the second time (the Toeplitz extension), 128 bits in
 * all. For two different blocks of the same length and a key unknown to
 * whoever chose them, the sums are equal with probability at most 2^-64.
 * Only as long as the key and the sums stay secret: neither is ever sent.
 * The key is drawn per migration: SipHash-2-4 of a random seed, as a
 * pseudo-random function, fills it. */
#ifndef VS_BLOCKSUM_H
#define VS_BLOCKSUM_H

#include <stddef.h>
#include <stdint.h>

#include "vs/error.h"

typedef struct {
        uint64_t lo, hi;
} vs_blocksum_t;

typedef struct vs_blocksum_key vs_blocksum_key_t;

/* A key for blocks of exactly block_len bytes (a multiple of 32), derived
 * from the 128-bit seed. */
vs_blocksum_key_t *vs_blocksum_key_new(const uint64_t seed[2], size_t block_len, vs_error_t *err);
void vs_blocksum_key_free(vs_blocksum_key_t *key);
static inline void vs_blocksum_key_freep(vs_blocksum_key_t **key)
{
        vs_blocksum_key_free(*key);
}
#define cleanup_blocksum_key __attribute__((cleanup(vs_blocksum_key_freep)))

/* The sum of a block of the key's block_len bytes (a shorter block is
 * padded with zeros by the caller). */
vs_blocksum_t vs_blocksum(const vs_blocksum_key_t *key, const void *block);
/* The same without vector instructions (the tests check that both agree;
 * contrib/bench/roundsum.c times both). */
vs_blocksum_t vs_blocksum_scalar(const vs_blocksum_key_t *key, const void *block);

/* SipHash-2-4 (Aumasson and Bernstein) of len bytes with a 128-bit key
 * (the key's bytes are key[0], key[1] little-endian). */
uint64_t vs_siphash24(const uint64_t key[2], const void *buf, size_t len);

#endif
