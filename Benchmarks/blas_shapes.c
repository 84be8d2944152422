/* The six expert GEMMs of one MoE layer, forward + backward, as the engine calls them
 * (row-major cblas_sgemm, single-threaded OpenBLAS, one expert's rows), each with beta 0
 * and beta 1, beside OpenBLAS's single-threaded 1024^3: how fast OpenBLAS runs these
 * shapes hot, and what its zeroing of C for beta 0 costs.
 *
 *   make bench-blas-shapes                     # n d h = 512 128 512 (2048 tokens, k 2, 8 experts)
 *   make bench-blas-shapes SHAPE="1024 256 1024"
 *
 * n rows per expert (T·k/E), model width d, expert hidden width h. Every figure is the best
 * of 7 timed runs of 20 calls after 5 warm-up calls, in GFLOP/s. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static float *A, *B, *C;

static void call(int m, int n, int k, int ta, int tb, float beta) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1,
                A, ta ? m : k, B, tb ? k : n, beta, C, n);
}

static double gflops(int m, int n, int k, int ta, int tb, float beta) {
    for (int w = 0; w < 5; w++) call(m, n, k, ta, tb, beta);
    double best = 1e30;
    for (int r = 0; r < 7; r++) {
        double t0 = now();
        for (int i = 0; i < 20; i++) call(m, n, k, ta, tb, beta);
        double t = (now() - t0) / 20;
        if (t < best) best = t;
    }
    return 2.0 * m * n * k / best / 1e9;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 512, d = argc > 2 ? atoi(argv[2]) : 128, h = argc > 3 ? atoi(argv[3]) : 512;
    if (n <= 0 || d <= 0 || h <= 0 || argc > 4) {
        fprintf(stderr, "usage: %s [n d h]  (positive rows per expert, model width, hidden width)\n", argv[0]);
        return 2;
    }
    size_t count = 1024 * 1024;
    size_t need = (size_t)(n > h ? n : h) * (size_t)(d > h ? d : h);
    if (need > count) count = need;
    A = malloc(4 * count); B = malloc(4 * count); C = malloc(4 * count);
    if (!A || !B || !C) { fprintf(stderr, "out of memory\n"); return 1; }
    srand(1);
    for (size_t i = 0; i < count; i++) { A[i] = rand() / (float)RAND_MAX - 0.5f; B[i] = A[i] * 0.5f; C[i] = 0; }
    openblas_set_num_threads(1);
    printf("OpenBLAS %s, 1 thread, n %d d %d h %d\n", openblas_get_config(), n, d, h);
    struct { const char *name; int m, n, k, ta, tb; } g[] = {
        {"x W1       [n,h] = [n,d][d,h]", n, h, d, 0, 0},
        {"a W2       [n,d] = [n,h][h,d]", n, d, h, 0, 0},
        {"dW2 = a'gy [h,d] = [h,n][n,d]", h, d, n, 1, 0},
        {"gy W2'     [n,h] = [n,d][d,h]", n, h, d, 0, 1},
        {"dW1 = x'ga [d,h] = [d,n][n,h]", d, h, n, 1, 0},
        {"ga W1'     [n,d] = [n,h][h,d]", n, d, h, 0, 1},
    };
    printf("%-32s %9s %9s %12s\n", "GEMM", "beta 0", "beta 1", "beta 1 / 0");
    for (int i = 0; i < 6; i++) {
        double b0 = gflops(g[i].m, g[i].n, g[i].k, g[i].ta, g[i].tb, 0);
        double b1 = gflops(g[i].m, g[i].n, g[i].k, g[i].ta, g[i].tb, 1);
        printf("%-32s %9.1f %9.1f %12.3f\n", g[i].name, b0, b1, b1 / b0);
    }
    printf("%-32s %9.1f\n", "1024^3", gflops(1024, 1024, 1024, 0, 0, 0));
    return 0;
}
