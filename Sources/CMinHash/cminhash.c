// The MinHash inner loop, vectorized by the compiler for each target and chosen at load time
// (ifunc), so one portable binary uses the CPU's vector units. Integer-exact on every path.
#include "cminhash.h"

#if defined(__x86_64__) && defined(__linux__)
#define PK_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define PK_CLONES
#endif

PK_CLONES
void pk_minhash(const uint32_t *a_lo, const uint32_t *a_hi, const uint64_t *b, int nperm,
                const uint32_t *x, int nx, uint32_t *sig) {
    for (int k = 0; k < nperm; k++) sig[k] = UINT32_MAX;
    for (int i = 0; i < nx; i++) {
        const uint32_t xi = x[i];
        for (int k = 0; k < nperm; k++) {
            // (a * x) mod 2^64 from 32-bit halves: a_lo * x (full 64 bits) + (a_hi * x mod 2^32) << 32.
            const uint64_t lo = (uint64_t)a_lo[k] * xi;
            const uint64_t hi = (uint64_t)(uint32_t)(a_hi[k] * xi);
            const uint32_t v = (uint32_t)((lo + (hi << 32) + b[k]) >> 32);
            sig[k] = v < sig[k] ? v : sig[k];
        }
    }
}
