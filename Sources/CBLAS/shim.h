#include <cblas.h>
#include <stdlib.h>
#include <string.h>

// OpenBLAS built with DYNAMIC_ARCH picks its kernels from the CPU model number. A model newer
// than the library (0.3.21 does not know Emerald Rapids, for one) falls back to the SSE3 kernels
// ("Prescott"), which run GEMM at a fraction of the speed of the AVX-512 or AVX2 ones the CPU has.
// When that happened, and OPENBLAS_CORETYPE does not say otherwise, pick the kernels from the
// CPU's features instead. The two functions are OpenBLAS's own (exported by DYNAMIC_ARCH builds;
// weak, so other builds still link and are left alone). Returns the core in use.
extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));

static inline const char *prefkit_blas_select_kernels(void) {
    const char *core = openblas_get_corename();
    if (getenv("OPENBLAS_CORETYPE") != NULL || gotoblas_dynamic_init == NULL || gotoblas_dynamic_quit == NULL) return core;
    static const char *generic[] = {"Prescott", "Katmai", "Coppermine", "Northwood", "Core2", "Penryn", "Dunnington", "Nehalem", "Sandybridge"};
    int fallback = 0;
    for (unsigned i = 0; i < sizeof generic / sizeof generic[0]; i++) if (strcmp(core, generic[i]) == 0) fallback = 1;
    if (!fallback) return core;
    const char *want = NULL;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512cd")) want = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) want = "Haswell";
#endif
    if (want == NULL) return core;
    setenv("OPENBLAS_CORETYPE", want, 0);
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    unsetenv("OPENBLAS_CORETYPE");
    return openblas_get_corename();
}
