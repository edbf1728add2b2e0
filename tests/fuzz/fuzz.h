/* What every libFuzzer target of tests/fuzz/ shares: the input as a C
 * string, and the checks that hold for any input. A broken check is a
 * finding: it prints what it saw and aborts, which libFuzzer reports as a
 * crash with the input that made it. */
#ifndef VS_FUZZ_H
#define VS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vs/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond, ...)                                   \
        do {                                                     \
                if (!(cond)) {                                   \
                        fprintf(stderr, "finding: %s: ", #cond); \
                        fprintf(stderr, __VA_ARGS__);            \
                        fputc('\n', stderr);                     \
                        abort();                                 \
                }                                                \
        } while (0)

/* The input as a NUL-terminated string (cut at its first NUL, as a C
 * caller would see it); free() it. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
        char *text = malloc(size + 1);

        if (!text)
                abort();
        memcpy(text, data, size);
        text[size] = '\0';
        return text;
}

/* A refusal says what is wrong, on one line that a terminal shows as it is. */
static inline void fuzz_check_error(const vs_error_t *err)
{
        size_t len = strnlen(err->msg, sizeof(err->msg));

        FUZZ_ASSERT(len > 0, "a refusal without a message");
        FUZZ_ASSERT(len < sizeof(err->msg), "an unterminated message");
        for (size_t i = 0; i < len; i++)
                FUZZ_ASSERT((unsigned char)err->msg[i] >= 0x20 && err->msg[i] != 0x7f,
                            "control byte 0x%02x in message '%s'", (unsigned char)err->msg[i],
                            err->msg);
}

/* An accepted value has printable, blank-free ASCII only (what a config
 * line and a cgroup file take as one word). */
static inline int fuzz_is_word(const char *text)
{
        for (const unsigned char *p = (const unsigned char *)text; *p; p++)
                if (*p <= 0x20 || *p >= 0x7f)
                        return 0;
        return 1;
}

/* Splits off the first byte: a target that fuzzes several parsers picks
 * one with it. */
static inline unsigned fuzz_pick(const uint8_t **data, size_t *size, unsigned n)
{
        unsigned pick;

        if (*size == 0)
                return 0;
        pick = (*data)[0] % n;
        (*data)++;
        (*size)--;
        return pick;
}

#endif
