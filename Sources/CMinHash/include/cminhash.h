#ifndef CMINHASH_H
#define CMINHASH_H
#include <stdint.h>

/// MinHash signature with multiply-add-shift hashing: for 64-bit a = a_hi:a_lo and b,
/// sig[k] = min over i of high32((a[k] * x[i] + b[k]) mod 2^64), x[i] 32-bit.
/// Dispatches at run time to AVX-512, AVX2 or plain code; all give identical results.
void pk_minhash(const uint32_t *a_lo, const uint32_t *a_hi, const uint64_t *b, int nperm,
                const uint32_t *x, int nx, uint32_t *sig);

#endif
