/* Rounds of a disk image, for a migration of a VPS on the image backend.
 * The first round sends every data block of the image (found with
 * SEEK_DATA/SEEK_HOLE: a hole is not read and stays a hole), each next
 * round only the blocks that changed since: the source keeps, in a file of
 * its own, a checksum of each block as it sent it. The checksum is keyed
 * (SipHash-2-4, a key drawn at the first round and never sent), so that a
 * VPS, which writes what the blocks hold, cannot make a changed block look
 * unchanged. A block that was sent as data and is a hole now goes as a
 * hole. The stream:
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

#include "vs/cleanup.h"
#include "vs/diskquota.h"

#define ROUND_BLOCK (64U << 10)
#define ROUND_MAGIC "PIMG"
#define ROUND_VERSION 1U
#define SUMS_MAGIC "PSUM"

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

/* ---- SipHash-2-4 (Aumasson and Bernstein), over whole 8-byte words ---- */

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

/* len is a multiple of 8 (a block, or its tail at the image's end padded
 * with zeros by the caller) */
static uint64_t block_sum(const uint64_t key[2], const unsigned char *buf, size_t len)
{
        uint64_t v[4] = { key[0] ^ 0x736f6d6570736575ULL, key[1] ^ 0x646f72616e646f6dULL,
                          key[0] ^ 0x6c7967656e657261ULL, key[1] ^ 0x7465646279746573ULL };
        uint64_t m, sum;

        for (size_t i = 0; i < len; i += 8) {
                memcpy(&m, buf + i, 8);
                sip_word(v, le64toh(m));
        }
        sip_word(v, (uint64_t)len << 56);
        v[2] ^= 0xff;
        for (int i = 0; i < 4; i++)
                sip_round(v);
        sum = v[0] ^ v[1] ^ v[2] ^ v[3];
        return sum ? sum : 1; /* 0 is "a hole on the target" */
}

/* ---- the source's record of what it sent ---- */

struct sums {
        uint64_t key[2];
        uint64_t count; /* blocks */
        uint64_t *sum;  /* per block: 0 = a hole on the target */
};

static void sums_free(struct sums *s)
{
        free(s->sum);
        s->sum = NULL;
}
#define cleanup_sums __attribute__((cleanup(sums_free)))

static int sums_resize(struct sums *s, uint64_t count, vs_error_t *err)
{
        uint64_t *sum = realloc(s->sum, (count ? count : 1) * sizeof(*sum));

        if (!sum)
                return vs_error_set(err, ENOMEM, "no memory for %llu block sums",
                                    (unsigned long long)count);
        if (count > s->count)
                memset(sum + s->count, 0, (count - s->count) * sizeof(*sum));
        s->sum = sum;
        s->count = count;
        return 0;
}

static int sums_load(int fd, struct sums *s, vs_error_t *err)
{
        char magic[4];
        uint64_t count;

        if (pread(fd, magic, 4, 0) != 4 || memcmp(magic, SUMS_MAGIC, 4) != 0 ||
            pread(fd, s->key, sizeof(s->key), 4) != (ssize_t)sizeof(s->key) ||
            pread(fd, &count, 8, 4 + sizeof(s->key)) != 8)
                return vs_error_set(err, EINVAL, "no first round of the image was sent");
        if (sums_resize(s, count, err) < 0)
                return -1;
        if (count && pread(fd, s->sum, count * 8, 12 + sizeof(s->key)) != (ssize_t)(count * 8))
                return vs_error_set(err, EINVAL, "the image's block sums are cut short");
        return 0;
}

static int sums_store(int fd, const struct sums *s, vs_error_t *err)
{
        if (ftruncate(fd, 0) < 0 || pwrite(fd, SUMS_MAGIC, 4, 0) != 4 ||
            pwrite(fd, s->key, sizeof(s->key), 4) != (ssize_t)sizeof(s->key) ||
            pwrite(fd, &s->count, 8, 4 + sizeof(s->key)) != 8 ||
            (s->count &&
             pwrite(fd, s->sum, s->count * 8, 12 + sizeof(s->key)) != (ssize_t)(s->count * 8)))
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

struct sender {
        int img_fd, out_fd;
        uint64_t size;
        struct sums *sums;
        unsigned char *buf;
        uint64_t sent; /* bytes of data */
};

/* Block b lies (at least partly) in a data extent: sent when its sum is
 * not the one the target has. */
static int send_data_block(struct sender *s, uint64_t b, vs_error_t *err)
{
        uint64_t offset = b * ROUND_BLOCK, sum;
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
        memset(s->buf + got, 0, ROUND_BLOCK - got);
        sum = block_sum(s->sums->key, s->buf, (len + 7) & ~(size_t)7);
        if (sum == s->sums->sum[b])
                return 0;
        s->sums->sum[b] = sum;
        s->sent += len;
        return send_record(s->out_fd, offset, (uint32_t)len, REC_DATA, s->buf, err);
}

/* Blocks [from, to) are a hole here: those the target has as data go as a
 * hole. */
static int send_hole_blocks(struct sender *s, uint64_t from, uint64_t to, vs_error_t *err)
{
        for (uint64_t b = from; b < to; b++) {
                uint64_t offset = b * ROUND_BLOCK;
                uint32_t len =
                        (uint32_t)(s->size - offset < ROUND_BLOCK ? s->size - offset : ROUND_BLOCK);

                if (!s->sums->sum[b])
                        continue;
                s->sums->sum[b] = 0;
                if (send_record(s->out_fd, offset, len, REC_HOLE, NULL, err) < 0)
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

int vs_image_round_send(int img_fd, int sums_fd, int first, int out_fd, uint64_t *sent,
                        vs_error_t *err)
{
        cleanup_sums struct sums sums = { 0 };
        cleanup_free unsigned char *buf = malloc(ROUND_BLOCK);
        struct round_header h = { ROUND_MAGIC, htole32(ROUND_VERSION), 0 };
        struct sender s = { img_fd, out_fd, 0, &sums, buf, 0 };
        struct stat st;

        if (!buf)
                return vs_error_set(err, ENOMEM, "no memory for a block");
        if (fstat(img_fd, &st) < 0)
                return vs_error_errno(err, "stat the image");
        s.size = (uint64_t)st.st_size;
        if (first) {
                if (getrandom(sums.key, sizeof(sums.key), 0) != (ssize_t)sizeof(sums.key))
                        return vs_error_errno(err, "draw a key for the block sums");
        } else if (sums_load(sums_fd, &sums, err) < 0) {
                return -1;
        }
        /* blocks beyond a shrunk image are the target's truncate's */
        if (sums_resize(&sums, (s.size + ROUND_BLOCK - 1) / ROUND_BLOCK, err) < 0)
                return -1;
        h.size = htole64(s.size);
        if (write_all(out_fd, &h, sizeof(h), err) < 0 || send_blocks(&s, err) < 0 ||
            send_record(out_fd, 0, 0, REC_END, NULL, err) < 0)
                return -1;
        if (sent)
                *sent = s.sent;
        /* stored only once the round is sent whole: a round cut short is
         * sent again from the sums of the one before */
        return sums_store(sums_fd, &sums, err);
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
