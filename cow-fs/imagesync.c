/* Rounds of a disk image, for a migration of a VPS on the image backend,
 * and (vs_image_round_copy: the same rounds applied to a copy on this
 * node) for a live snapshot, clone or backup of one (image.c).
 * The first round sends every data block of the image (found with
 * SEEK_DATA/SEEK_HOLE: a hole is not read and stays a hole), each next
 * round only the blocks that changed since: the source keeps, in a file of
 * its own, a checksum of each block as it sent it. The checksum is keyed
 * (vs/blocksum.h: NH, an almost-universal hash, with a key from a seed
 * drawn at the first round and never sent), so that a VPS, which writes
 * what the blocks hold, cannot make a changed block look unchanged. A block
 * that was sent as data and is a hole now goes as a hole. The stream:
 *
 *   header:  "PIMG", u32 version, u64 image size
 *   records: u64 offset, u32 length, u32 kind (data: length bytes follow;
 *            hole; end)
 *
 * all little-endian. The target applies a round to its copy in place and
 * syncs it before it answers. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vs/blocksum.h"
#include "vs/cleanup.h"
#include "vs/diskquota.h"

#define ROUND_BLOCK (64U << 10)
#define ROUND_MAGIC "PIMG"
#define ROUND_VERSION 1U
#define SUMS_MAGIC "PSNH"
#define SUMS_MAGIC_OLD "PSUM"

enum { REC_END = 0, REC_DATA = 1, REC_HOLE = 2 };

struct round_header {
        char magic[4];
        uint32_t version;
        uint64_t size;
} __attribute__((packed));

struct round_record {
        uint64_t offset;
        uint32_t length;
        uint32_t kind;
} __attribute__((packed));

/* ---- the source's record of what it sent ----
 *
 * A file of the source's own (never sent): the seed of the key and, per
 * block, the sum of what the target has. Host byte order:
 *
 *   "PSNH", u32 block size, u64 seed[2], u64 count, count x 128-bit sums
 *
 * The format before (SUMS_MAGIC_OLD: 64-bit SipHash sums) is refused by
 * name: its sums mean nothing under NH, and read as NH they would make
 * changed blocks look unchanged. */

struct sums_header {
        char magic[4];
        uint32_t block;
        uint64_t seed[2];
        uint64_t count;
};

struct sums {
        uint64_t seed[2];
        uint64_t count;     /* blocks */
        vs_blocksum_t *sum; /* per block: HOLE_SUM = a hole on the target */
};

static const vs_blocksum_t HOLE_SUM = { 0, 0 };

static int is_hole(const vs_blocksum_t *s)
{
        return s->lo == 0 && s->hi == 0;
}

static int same_sum(const vs_blocksum_t *a, const vs_blocksum_t *b)
{
        return a->lo == b->lo && a->hi == b->hi;
}

static void sums_free(struct sums *s)
{
        free(s->sum);
        s->sum = NULL;
}
#define cleanup_sums __attribute__((cleanup(sums_free)))

static int sums_resize(struct sums *s, uint64_t count, vs_error_t *err)
{
        vs_blocksum_t *sum;

        if (count > SIZE_MAX / sizeof(*sum))
                return vs_error_set(err, EFBIG, "too many blocks: %llu", (unsigned long long)count);
        sum = realloc(s->sum, (count ? count : 1) * sizeof(*sum));
        if (!sum)
                return vs_error_set(err, ENOMEM, "no memory for %llu block sums",
                                    (unsigned long long)count);
        for (uint64_t b = s->count; b < count; b++)
                sum[b] = HOLE_SUM;
        s->sum = sum;
        s->count = count;
        return 0;
}

static int sums_load(int fd, struct sums *s, vs_error_t *err)
{
        struct sums_header h;
        ssize_t n = pread(fd, &h, sizeof(h), 0);
        size_t len;

        if (n >= 4 && memcmp(h.magic, SUMS_MAGIC_OLD, 4) == 0)
                return vs_error_set(err, EINVAL,
                                    "the image's block sums are of an older format (64-bit "
                                    "SipHash): migrate it again from its first round");
        if (n < 4)
                return vs_error_set(err, EINVAL, "no first round of the image was sent");
        if (memcmp(h.magic, SUMS_MAGIC, 4) != 0)
                return vs_error_set(err, EINVAL, "not a file of an image's block sums");
        if (n != (ssize_t)sizeof(h) || h.block != ROUND_BLOCK)
                return vs_error_set(err, EINVAL, "the image's block sums have a bad header");
        memcpy(s->seed, h.seed, sizeof(s->seed));
        if (sums_resize(s, h.count, err) < 0)
                return -1;
        len = h.count * sizeof(*s->sum);
        if (len && pread(fd, s->sum, len, sizeof(h)) != (ssize_t)len)
                return vs_error_set(err, EINVAL, "the image's block sums are cut short");
        return 0;
}

static int sums_store(int fd, const struct sums *s, vs_error_t *err)
{
        struct sums_header h = { SUMS_MAGIC, ROUND_BLOCK, { s->seed[0], s->seed[1] }, s->count };
        size_t len = s->count * sizeof(*s->sum);

        if (ftruncate(fd, 0) < 0 || pwrite(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
            (len && pwrite(fd, s->sum, len, sizeof(h)) != (ssize_t)len))
                return vs_error_errno(err, "write the image's block sums");
        return 0;
}

/* ---- sending ---- */

static int write_all(int fd, const void *buf, size_t len, vs_error_t *err)
{
        const char *p = buf;

        while (len) {
                ssize_t n = write(fd, p, len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return vs_error_errno(err, "send a round of the image");
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

static int send_record(int out_fd, uint64_t offset, uint32_t length, uint32_t kind,
                       const void *data, vs_error_t *err)
{
        struct round_record r = { htole64(offset), htole32(length), htole32(kind) };

        if (write_all(out_fd, &r, sizeof(r), err) < 0)
                return -1;
        return kind == REC_DATA ? write_all(out_fd, data, length, err) : 0;
}

struct sender;
/* Where a round's records go: a stream (a migration) or straight into a
 * copy of the image on this node (a live snapshot, clone or backup). */
typedef int (*emit_fn)(struct sender *s, uint64_t offset, uint32_t length, uint32_t kind,
                       const void *data, vs_error_t *err);

struct sender {
        int img_fd, out_fd;
        uint64_t size;
        struct sums *sums;
        const vs_blocksum_key_t *key;
        unsigned char *buf;
        uint64_t sent; /* bytes of data */
        emit_fn emit;
};

static int emit_stream(struct sender *s, uint64_t offset, uint32_t length, uint32_t kind,
                       const void *data, vs_error_t *err)
{
        return send_record(s->out_fd, offset, length, kind, data, err);
}

/* A record applied to the copy at out_fd, as the target applies it. */
static int emit_local(struct sender *s, uint64_t offset, uint32_t length, uint32_t kind,
                      const void *data, vs_error_t *err)
{
        if (kind == REC_HOLE) {
                if (fallocate(s->out_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset,
                              length) < 0)
                        return vs_error_errno(err, "punch a hole in the copy of the image");
                return 0;
        }
        if (kind == REC_DATA && pwrite(s->out_fd, data, length, (off_t)offset) != (ssize_t)length)
                return vs_error_errno(err, "write the copy of the image");
        return 0;
}

/* Block b lies (at least partly) in a data extent: sent when its sum is
 * not the one the target has. */
static int send_data_block(struct sender *s, uint64_t b, vs_error_t *err)
{
        uint64_t offset = b * ROUND_BLOCK;
        vs_blocksum_t sum;
        size_t len = (size_t)(s->size - offset < ROUND_BLOCK ? s->size - offset : ROUND_BLOCK);
        size_t got = 0;

        while (got < len) {
                ssize_t n = pread(s->img_fd, s->buf + got, len - got, (off_t)(offset + got));

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return vs_error_errno(err, "read the image");
                if (n == 0)
                        break; /* shrunk meanwhile: zeros */
                got += (size_t)n;
        }
        /* a block's tail past the end counts as zeros: so it is on the
         * target, whose truncate to the new size drops or zero-fills it */
        memset(s->buf + got, 0, ROUND_BLOCK - got);
        sum = vs_blocksum(s->key, s->buf);
        if (is_hole(&sum))
                sum.lo = 1; /* (0, 0) is "a hole on the target" */
        if (same_sum(&sum, &s->sums->sum[b]))
                return 0;
        s->sums->sum[b] = sum;
        s->sent += len;
        return s->emit(s, offset, (uint32_t)len, REC_DATA, s->buf, err);
}

/* Blocks [from, to) are a hole here: those the target has as data go as a
 * hole. */
static int send_hole_blocks(struct sender *s, uint64_t from, uint64_t to, vs_error_t *err)
{
        for (uint64_t b = from; b < to; b++) {
                uint64_t offset = b * ROUND_BLOCK;
                uint32_t len =
                        (uint32_t)(s->size - offset < ROUND_BLOCK ? s->size - offset : ROUND_BLOCK);

                if (is_hole(&s->sums->sum[b]))
                        continue;
                s->sums->sum[b] = HOLE_SUM;
                if (s->emit(s, offset, len, REC_HOLE, NULL, err) < 0)
                        return -1;
        }
        return 0;
}

static int send_blocks(struct sender *s, vs_error_t *err)
{
        uint64_t next = 0; /* the first block not yet looked at */
        off_t data = 0, hole;

        while ((uint64_t)data < s->size && (data = lseek(s->img_fd, data, SEEK_DATA)) >= 0) {
                uint64_t first = (uint64_t)data / ROUND_BLOCK, last;

                hole = lseek(s->img_fd, data, SEEK_HOLE);
                if (hole < 0)
                        return vs_error_errno(err, "seek in the image");
                if ((uint64_t)hole > s->size)
                        hole = (off_t)s->size;
                last = ((uint64_t)hole + ROUND_BLOCK - 1) / ROUND_BLOCK;
                if (first < next)
                        first = next; /* its start went with the extent before */
                if (send_hole_blocks(s, next, first, err) < 0)
                        return -1;
                for (uint64_t b = first; b < last; b++)
                        if (send_data_block(s, b, err) < 0)
                                return -1;
                next = last;
                data = hole;
        }
        if (data < 0 && errno != ENXIO)
                return vs_error_errno(err, "seek in the image");
        return send_hole_blocks(s, next, s->sums->count, err);
}

/* One round from img_fd through emit (local: into the copy at out_fd). */
static int round_run(int img_fd, int sums_fd, int first, int out_fd, int local, uint64_t *sent,
                     vs_error_t *err)
{
        cleanup_sums struct sums sums = { 0 };
        cleanup_free unsigned char *buf = malloc(ROUND_BLOCK);
        cleanup_blocksum_key vs_blocksum_key_t *key = NULL;
        struct round_header h = { ROUND_MAGIC, htole32(ROUND_VERSION), 0 };
        struct sender s = {
                img_fd, out_fd, 0, &sums, NULL, buf, 0, local ? emit_local : emit_stream
        };
        struct stat st;

        if (!buf)
                return vs_error_set(err, ENOMEM, "no memory for a block");
        if (fstat(img_fd, &st) < 0)
                return vs_error_errno(err, "stat the image");
        s.size = (uint64_t)st.st_size;
        /* a seed per migration: a VPS that learnt whether its blocks went in
         * one migration learns nothing of the next one's key */
        if (first) {
                if (getrandom(sums.seed, sizeof(sums.seed), 0) != (ssize_t)sizeof(sums.seed))
                        return vs_error_errno(err, "draw a key for the block sums");
        } else if (sums_load(sums_fd, &sums, err) < 0) {
                return -1;
        }
        key = vs_blocksum_key_new(sums.seed, ROUND_BLOCK, err);
        if (!key)
                return -1;
        s.key = key;
        /* blocks beyond a shrunk image are the target's truncate's */
        if (sums_resize(&sums, (s.size + ROUND_BLOCK - 1) / ROUND_BLOCK, err) < 0)
                return -1;
        h.size = htole64(s.size);
        if (local) {
                if (ftruncate(out_fd, (off_t)s.size) < 0)
                        return vs_error_errno(err, "size the copy of the image");
        } else if (write_all(out_fd, &h, sizeof(h), err) < 0) {
                return -1;
        }
        if (send_blocks(&s, err) < 0 ||
            (!local && send_record(out_fd, 0, 0, REC_END, NULL, err) < 0))
                return -1;
        if (sent)
                *sent = s.sent;
        /* stored only once the round is sent whole: a round cut short is
         * sent again from the sums of the one before */
        return sums_store(sums_fd, &sums, err);
}

int vs_image_round_send(int img_fd, int sums_fd, int first, int out_fd, uint64_t *sent,
                        vs_error_t *err)
{
        return round_run(img_fd, sums_fd, first, out_fd, 0, sent, err);
}

int vs_image_round_copy(int img_fd, int sums_fd, int first, int dst_fd, uint64_t *copied,
                        vs_error_t *err)
{
        return round_run(img_fd, sums_fd, first, dst_fd, 1, copied, err);
}

/* ---- receiving ---- */

static int read_all(int fd, void *buf, size_t len, vs_error_t *err)
{
        char *p = buf;

        while (len) {
                ssize_t n = read(fd, p, len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return vs_error_errno(err, "read a round of the image");
                if (n == 0)
                        return vs_error_set(err, EPIPE, "a round of the image is cut short");
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

static int apply_record(int in_fd, int img_fd, uint64_t size, const struct round_record *r,
                        unsigned char *buf, vs_error_t *err)
{
        uint64_t offset = le64toh(r->offset);
        uint32_t length = le32toh(r->length), kind = le32toh(r->kind);

        if (length > ROUND_BLOCK || offset > size || length > size - offset ||
            (kind != REC_DATA && kind != REC_HOLE))
                return vs_error_set(err, EINVAL, "a round of the image holds a bad record");
        if (kind == REC_HOLE) {
                if (fallocate(img_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset,
                              length) < 0)
                        return vs_error_errno(err, "punch a hole in the image");
                return 0;
        }
        if (read_all(in_fd, buf, length, err) < 0)
                return -1;
        if (pwrite(img_fd, buf, length, (off_t)offset) != (ssize_t)length)
                return vs_error_errno(err, "write the image");
        return 0;
}

int vs_image_round_receive(int in_fd, int img_fd, uint64_t max_size, vs_error_t *err)
{
        cleanup_free unsigned char *buf = malloc(ROUND_BLOCK);
        struct round_header h;
        struct round_record r;
        uint64_t size;

        if (!buf)
                return vs_error_set(err, ENOMEM, "no memory for a block");
        if (read_all(in_fd, &h, sizeof(h), err) < 0)
                return -1;
        size = le64toh(h.size);
        if (memcmp(h.magic, ROUND_MAGIC, 4) != 0 || le32toh(h.version) != ROUND_VERSION)
                return vs_error_set(err, EINVAL, "not a round of a disk image");
        if (size > max_size)
                return vs_error_set(err, EFBIG, "the image (%llu bytes) is larger than %llu",
                                    (unsigned long long)size, (unsigned long long)max_size);
        if (ftruncate(img_fd, (off_t)size) < 0)
                return vs_error_errno(err, "size the image");
        for (;;) {
                if (read_all(in_fd, &r, sizeof(r), err) < 0)
                        return -1;
                if (le32toh(r.kind) == REC_END)
                        break;
                if (apply_record(in_fd, img_fd, size, &r, buf, err) < 0)
                        return -1;
        }
        return fdatasync(img_fd) < 0 ? vs_error_errno(err, "sync the image") : 0;
}
