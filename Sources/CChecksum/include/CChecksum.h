// CRC-32C (Castagnoli), the checksum of every checkpoint file's stamp (docs/checkpoints.md): the
// CRC that iSCSI, ext4 and btrfs use, with SSE 4.2's `crc32` instruction where the CPU has it.
#ifndef CCHECKSUM_H
#define CCHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/// CRC-32C of `length` bytes, continuing from `crc` (0 to start; pass a previous result to extend it
/// over more bytes). Standard parameters: reflected, initial and final XOR 0xFFFFFFFF, so the CRC of
/// "123456789" is 0xE3069283.
uint32_t cchecksum_crc32c(uint32_t crc, const void *data, size_t length);

/// The same with the portable table code only (the reference the tests compare the fast path with).
uint32_t cchecksum_crc32c_portable(uint32_t crc, const void *data, size_t length);

#endif
