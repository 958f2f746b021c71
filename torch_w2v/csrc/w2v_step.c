/* Fused CPU step of word2vec for torch_w2v: one call trains centres [begin, end) of a batch.
 *
 * The batch is the one the PyTorch pipeline builds (torch_w2v/batching.py, engine.py): contexts (B, C)
 * with a mask, and up to two output heads (negative sampling, hierarchical softmax), each given as
 * rows (B, P), labels (B, P) or shared (1, P), and a validity mask (B, P). The arithmetic is gensim's
 * (word2vec_inner.pyx) with noise words shared by a centre's contexts:
 *
 *   skip-gram, per context slot c of centre b:  for each head row p:  f = v_c . u_p
 *       skip if |f| >= 6;  g = (label - sigmoid(f)) * lr;  work += g u_p;  u_p += g v_c
 *     then v_c += lockf[c] * work
 *   CBOW, per centre b:  h = sum (or mean) of v_c;  for each head row p: same with h for v_c,
 *     then work /= count when summing (cbow_mean=0), and v_c += lockf[c] * work for every context c.
 *
 * Noise words: when an alias table is given (noise_threshold != NULL), the noise columns 1..P1-1 of head 1
 * (rows and validity) are drawn here, per centre, from a counter-based generator keyed by (noise_seed,
 * centre index): the draws do not depend on how the batch is split between threads, and cost ~50 ns a
 * centre instead of a dozen torch ops per batch. The distribution is the alias table's (engine.py).
 *
 * Updates land immediately (Hogwild, as gensim and word2vec.c): the Python side runs one call per
 * thread on disjoint centre ranges, with the GIL released by ctypes. Loss (-log sigmoid(+-f) over the
 * valid entries, saturated ones included) is returned in double precision when compute_loss != 0.
 *
 * Plain C99, no dependencies: compiled at first use by torch_w2v/fused.py with the system compiler.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#define MAX_EXP 6.0f

typedef struct {
    float *table;          /* (V_out, D) output weights, updated in place */
    int64_t *rows;         /* (B, P); noise columns may be filled here (draw_noise) */
    const float *labels;   /* (B, P), or (1, P) when labels_shared */
    float *valid;          /* (B, P) */
    int P;
    int labels_shared;
} head_t;

static inline float dot(const float *a, const float *b, int D) {
    float s = 0.0f;
    for (int i = 0; i < D; i++) s += a[i] * b[i];
    return s;
}

static inline void axpy(float g, const float *x, float *y, int D) {
    for (int i = 0; i < D; i++) y[i] += g * x[i];
}

static inline uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Fill head->rows[b, 1..P-1] with alias-table draws and head->valid[b, k] = (draw != centre). */
static void draw_noise(head_t *h, int64_t b, const int64_t *threshold, const int64_t *alias, int64_t V,
                       int64_t T, uint64_t seed) {
    int64_t *rows = h->rows + b * h->P;
    float *valid = h->valid + b * h->P;
    uint64_t state = seed ^ ((uint64_t)b * 0xD1B54A32D192ED03ULL);
    for (int k = 1; k < h->P; k++) {
        uint64_t z = splitmix64(&state);
        int64_t i = (int64_t)(z % (uint64_t)V);
        int64_t u = (int64_t)((z / (uint64_t)V) % (uint64_t)T);
        int64_t word = u < threshold[i] ? i : alias[i];
        rows[k] = word;
        valid[k] = word != rows[0] ? 1.0f : 0.0f;  /* gensim skips a draw equal to the centre */
    }
}

static inline double log_sigmoid(double x) {
    return x >= 0 ? -log1p(exp(-x)) : x - log1p(exp(x));
}

/* One head against the input vector `in`: updates the head rows and accumulates into work. */
static double train_head(const head_t *h, int64_t b, const float *in, float *work, int D, float lr,
                         int compute_loss) {
    double loss = 0.0;
    const int64_t *rows = h->rows + b * h->P;
    const float *labels = h->labels + (h->labels_shared ? 0 : b * h->P);
    const float *valid = h->valid + b * h->P;
    for (int p = 0; p < h->P; p++) {
        if (valid[p] == 0.0f) continue;
        float *u = h->table + rows[p] * (int64_t)D;
        float f = dot(in, u, D);
        if (compute_loss) loss -= log_sigmoid(labels[p] > 0.5f ? (double)f : -(double)f);
        if (f <= -MAX_EXP || f >= MAX_EXP) continue;
        float g = (labels[p] - 1.0f / (1.0f + expf(-f))) * lr;
        axpy(g, u, work, D);
        axpy(g, in, u, D);
    }
    return loss;
}

double w2v_skipgram(float *syn0, int D, const int64_t *contexts, const float *mask, int C,
                    float *table1, int64_t *rows1, const float *labels1, float *valid1, int P1,
                    int labels1_shared,
                    float *table2, int64_t *rows2, const float *labels2, float *valid2, int P2,
                    int labels2_shared,
                    const float *lockf, float lr, int compute_loss, int64_t begin, int64_t end, float *work,
                    const int64_t *noise_threshold, const int64_t *noise_alias, int64_t V, int64_t T,
                    uint64_t noise_seed) {
    head_t heads[2] = {{table1, rows1, labels1, valid1, P1, labels1_shared},
                       {table2, rows2, labels2, valid2, P2, labels2_shared}};
    int n_heads = table2 ? 2 : 1;
    double loss = 0.0;
    for (int64_t b = begin; b < end; b++) {
        if (noise_threshold) draw_noise(&heads[0], b, noise_threshold, noise_alias, V, T, noise_seed);
        for (int c = 0; c < C; c++) {
            if (mask[b * C + c] == 0.0f) continue;
            int64_t j = contexts[b * C + c];
            float *v = syn0 + j * (int64_t)D;
            memset(work, 0, sizeof(float) * D);
            for (int k = 0; k < n_heads; k++) loss += train_head(&heads[k], b, v, work, D, lr, compute_loss);
            axpy(lockf ? lockf[j] : 1.0f, work, v, D);
        }
    }
    return loss;
}

double w2v_cbow(float *syn0, int D, const int64_t *contexts, const float *mask, int C,
                float *table1, int64_t *rows1, const float *labels1, float *valid1, int P1,
                int labels1_shared,
                float *table2, int64_t *rows2, const float *labels2, float *valid2, int P2,
                int labels2_shared,
                const float *lockf, float lr, int compute_loss, int cbow_mean, int64_t begin, int64_t end,
                float *work, float *hidden, const int64_t *noise_threshold, const int64_t *noise_alias,
                int64_t V, int64_t T, uint64_t noise_seed) {
    head_t heads[2] = {{table1, rows1, labels1, valid1, P1, labels1_shared},
                       {table2, rows2, labels2, valid2, P2, labels2_shared}};
    int n_heads = table2 ? 2 : 1;
    double loss = 0.0;
    for (int64_t b = begin; b < end; b++) {
        if (noise_threshold) draw_noise(&heads[0], b, noise_threshold, noise_alias, V, T, noise_seed);
        int count = 0;
        memset(hidden, 0, sizeof(float) * D);
        for (int c = 0; c < C; c++) {
            if (mask[b * C + c] == 0.0f) continue;
            axpy(1.0f, syn0 + contexts[b * C + c] * (int64_t)D, hidden, D);
            count++;
        }
        if (count == 0) continue;
        float inv = 1.0f / (float)count;
        if (cbow_mean) for (int i = 0; i < D; i++) hidden[i] *= inv;
        memset(work, 0, sizeof(float) * D);
        for (int k = 0; k < n_heads; k++) loss += train_head(&heads[k], b, hidden, work, D, lr, compute_loss);
        if (!cbow_mean) for (int i = 0; i < D; i++) work[i] *= inv;
        for (int c = 0; c < C; c++) {
            if (mask[b * C + c] == 0.0f) continue;
            int64_t j = contexts[b * C + c];
            axpy(lockf ? lockf[j] : 1.0f, work, syn0 + j * (int64_t)D, D);
        }
    }
    return loss;
}
