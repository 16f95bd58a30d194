// CRC-32C, two ways (the portable one is the fallback and the tests' reference):
//
// - portable: slicing-by-8, eight 256-entry tables built once; about 1.5 bytes per cycle.
// - x86-64 with SSE 4.2: the `crc32` instruction on 8 bytes at a time. Its latency is 3 cycles and
//   it can start one per cycle, so three independent streams over three consecutive 8 KiB blocks keep
//   it busy; their CRCs are then joined with `shift`, the linear map "append 8 KiB of zeros" applied
//   through four precomputed tables (a CRC register after A‖B is shift_B(register after A) ⊕ the
//   register of B alone, because the update without the initial and final inversions is linear).
//
// The register below is the raw one (no inversions); the public functions invert on entry and exit.

#include "CChecksum.h"

#include <pthread.h>
#include <string.h>

#define POLY 0x82F63B78u  // Castagnoli, reflected

// MARK: Tables (built once)

static uint32_t slice[8][256];
/// shift8k[k][b]: the register "b << 8k" advanced over BLOCK zero bytes.
#define BLOCK 8192
static uint32_t shift8k[4][256];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

/// Applies a 32×32 GF(2) matrix (column i = the image of bit i) to a vector.
static uint32_t gf2_times(const uint32_t *matrix, uint32_t vector) {
    uint32_t sum = 0;
    for (int i = 0; vector; i++, vector >>= 1) if (vector & 1) sum ^= matrix[i];
    return sum;
}

/// square = matrix · matrix.
static void gf2_square(uint32_t *square, const uint32_t *matrix) {
    for (int i = 0; i < 32; i++) square[i] = gf2_times(matrix, matrix[i]);
}

static void build_tables(void) {
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t crc = b;
        for (int k = 0; k < 8; k++) crc = crc & 1 ? (crc >> 1) ^ POLY : crc >> 1;
        slice[0][b] = crc;
    }
    for (uint32_t b = 0; b < 256; b++)
        for (int k = 1; k < 8; k++) slice[k][b] = (slice[k - 1][b] >> 8) ^ slice[0][slice[k - 1][b] & 0xFF];

    // The operator for one zero bit, squared until it advances over BLOCK bytes (8·BLOCK bits, a
    // power of two: 2^16 bits for 8 KiB).
    uint32_t op[32], next[32];
    op[0] = POLY;
    for (int i = 1; i < 32; i++) op[i] = 1u << (i - 1);
    for (unsigned bits = 1; bits < 8u * BLOCK; bits <<= 1) {
        gf2_square(next, op);
        memcpy(op, next, sizeof op);
    }
    for (int k = 0; k < 4; k++)
        for (uint32_t b = 0; b < 256; b++) shift8k[k][b] = gf2_times(op, b << (8 * k));
}

static uint32_t shift_block(uint32_t crc) {
    return shift8k[0][crc & 0xFF] ^ shift8k[1][(crc >> 8) & 0xFF] ^ shift8k[2][(crc >> 16) & 0xFF] ^ shift8k[3][crc >> 24];
}

// MARK: Portable

static uint32_t portable(uint32_t crc, const unsigned char *p, size_t n) {
    while (n && ((uintptr_t)p & 7)) { crc = (crc >> 8) ^ slice[0][(crc ^ *p++) & 0xFF]; n--; }
    while (n >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        word ^= crc;  // little-endian: the register meets the first four bytes
        crc = slice[7][word & 0xFF] ^ slice[6][(word >> 8) & 0xFF] ^ slice[5][(word >> 16) & 0xFF]
            ^ slice[4][(word >> 24) & 0xFF] ^ slice[3][(word >> 32) & 0xFF] ^ slice[2][(word >> 40) & 0xFF]
            ^ slice[1][(word >> 48) & 0xFF] ^ slice[0][word >> 56];
        p += 8;
        n -= 8;
    }
    while (n--) crc = (crc >> 8) ^ slice[0][(crc ^ *p++) & 0xFF];
    return crc;
}

// MARK: SSE 4.2

#if defined(__x86_64__) && defined(__GNUC__) && (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
#include <nmmintrin.h>
#define HAVE_HARDWARE 1

__attribute__((target("sse4.2")))
static uint32_t hardware(uint32_t crc, const unsigned char *p, size_t n) {
    uint64_t c0 = crc;
    while (n && ((uintptr_t)p & 7)) { c0 = _mm_crc32_u8((uint32_t)c0, *p++); n--; }
    while (n >= 3 * BLOCK) {
        uint64_t c1 = 0, c2 = 0;
        const unsigned char *end = p + BLOCK;
        do {
            uint64_t w0, w1, w2;
            memcpy(&w0, p, 8);
            memcpy(&w1, p + BLOCK, 8);
            memcpy(&w2, p + 2 * BLOCK, 8);
            c0 = _mm_crc32_u64(c0, w0);
            c1 = _mm_crc32_u64(c1, w1);
            c2 = _mm_crc32_u64(c2, w2);
            p += 8;
        } while (p < end);
        c0 = shift_block((uint32_t)c0) ^ (uint32_t)c1;
        c0 = shift_block((uint32_t)c0) ^ (uint32_t)c2;
        p += 2 * BLOCK;
        n -= 3 * BLOCK;
    }
    while (n >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        c0 = _mm_crc32_u64(c0, word);
        p += 8;
        n -= 8;
    }
    while (n--) c0 = _mm_crc32_u8((uint32_t)c0, *p++);
    return (uint32_t)c0;
}
#endif

// MARK: Public

uint32_t cchecksum_crc32c_portable(uint32_t crc, const void *data, size_t length) {
    pthread_once(&tables_once, build_tables);
    return ~portable(~crc, (const unsigned char *)data, length);
}

uint32_t cchecksum_crc32c(uint32_t crc, const void *data, size_t length) {
    pthread_once(&tables_once, build_tables);
#ifdef HAVE_HARDWARE
    if (__builtin_cpu_supports("sse4.2")) return ~hardware(~crc, (const unsigned char *)data, length);
#endif
    return ~portable(~crc, (const unsigned char *)data, length);
}
