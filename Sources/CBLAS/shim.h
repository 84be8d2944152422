// OpenBLAS's CBLAS interface plus its thread-control entry points.
#include <cblas.h>
#ifndef MOEBENCH_OPENBLAS_EXTRAS
#define MOEBENCH_OPENBLAS_EXTRAS
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_config(void);
char *openblas_get_corename(void);
#endif
