/* Fused CPU step of word2vec for torch_w2v: one call trains centres [begin, end) of a batch.
 *
 * The batch is the one the PyTorch pipeline builds (torch_w2v/training/batching.py, engine.py): contexts
 * (B, C) with a mask, and up to two output heads (negative sampling, hierarchical softmax), each given as
 * rows (B, P), labels (B, P) or shared (1, P), and a validity mask (B, P). The arithmetic is gensim's
 * (word2vec_inner.pyx) with noise words shared by a centre's contexts:
 *
 *   skip-gram, per context slot c of centre b:  for each head row p:  f = v_c . u_p
 *       skip if |f| >= max_exp;  g = (label - sigmoid(f)) * lr;  work += g u_p;  u_p += g v_c
 *     then v_c += lockf[c] * work
 *   CBOW, per centre b:  h = sum (or mean) of v_c;  for each head row p: same with h for v_c,
 *     then work /= count when summing (cbow_mean=0), and v_c += lockf[c] * work for every context c.
 *
 * Noise words: when an alias table is given (noise_threshold != NULL), the noise columns 1..P-1 of head 0
 * (rows and validity) are drawn here, per centre, from a counter-based generator keyed by (noise_seed,
 * centre index): the draws do not depend on how the batch is split between threads, and cost ~50 ns a
 * centre instead of a dozen torch ops per batch. The distribution is the alias table's (vocab.py).
 *
 * Updates land immediately (Hogwild, as gensim and word2vec.c): the Python side runs one call per
 * thread on disjoint centre ranges of the same w2v_batch_t, with the GIL released by ctypes. Loss
 * (-log sigmoid(+-f) over the valid entries, saturated ones included) is returned in double precision
 * when compute_loss != 0.
 *
 * The boundary is one struct, w2v_batch_t, mirrored field by field by W2VBatch in
 * torch_w2v/training/steps/fused.py, which checks every tensor (dtype, shape, contiguity, device) before
 * filling it; w2v_abi_size() lets the loader refuse a library built from another layout.
 *
 * Plain C99, no Python and no torch: built at install time (setup.py) together with w2v_module.c, whose
 * module init only makes the library an importable extension, torch_w2v.training.steps._w2v_step; the
 * functions here are called through ctypes.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef _WIN32
#define W2V_EXPORT __declspec(dllexport)
#else
#define W2V_EXPORT
#endif

typedef struct {
    float *table;          /* (V_out, D) output weights, updated in place; NULL: no head */
    int64_t *rows;         /* (B, P); the noise columns may be filled here (draw_noise) */
    const float *labels;   /* (B, P), or (1, P) when labels_shared */
    float *valid;          /* (B, P); the noise columns may be filled here */
    int64_t P;             /* rows per centre */
    int64_t labels_shared; /* 1: one row of labels for every centre */
} w2v_head_t;

typedef struct {
    float *syn0;                     /* (V, D) input weights, updated in place */
    const int64_t *contexts;         /* (B, C) rows of syn0 */
    const float *mask;               /* (B, C) 1 for a real context slot, 0 for padding */
    const float *lockf;              /* (V,) input-update scale, or NULL for all ones */
    const int64_t *noise_threshold;  /* (noise_V,) alias table; NULL: head 0's noise columns are given */
    const int64_t *noise_alias;      /* (noise_V,) */
    w2v_head_t heads[2];             /* heads[1].table == NULL when there is one head */
    int64_t B, C, D;
    int64_t noise_V, noise_T;        /* alias-table size and its integer total */
    uint64_t noise_seed;             /* keys the draws, with the centre's index */
    float lr;
    float max_exp;                   /* a pair whose |score| reaches this is skipped (config.MAX_EXP) */
    int32_t sg;                      /* 1 skip-gram, 0 CBOW */
    int32_t cbow_mean;               /* CBOW input: 1 mean, 0 sum of the context vectors */
    int32_t compute_loss;
    int32_t reserved;                /* explicit padding: the layout has no implicit holes */
} w2v_batch_t;

#ifndef W2V_SOURCE_HASH
#define W2V_SOURCE_HASH "unknown"
#endif

/* sizeof the boundary struct, compared with ctypes.sizeof(W2VBatch) at load */
W2V_EXPORT size_t w2v_abi_size(void) { return sizeof(w2v_batch_t); }

/* sha256 of this file (16 hex digits) as setup.py saw it, compared with the shipped source at load */
W2V_EXPORT const char *w2v_source_hash(void) { return W2V_SOURCE_HASH; }

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

/* Fill heads[0].rows[b, 1..P-1] with alias-table draws and heads[0].valid[b, k] = (draw != centre). */
static void draw_noise(const w2v_batch_t *s, int64_t b) {
    const w2v_head_t *h = &s->heads[0];
    int64_t *rows = h->rows + b * h->P;
    float *valid = h->valid + b * h->P;
    uint64_t V = (uint64_t)s->noise_V, T = (uint64_t)s->noise_T;
    uint64_t state = s->noise_seed ^ ((uint64_t)b * 0xD1B54A32D192ED03ULL);
    for (int k = 1; k < h->P; k++) {
        uint64_t z = splitmix64(&state);
        int64_t i = (int64_t)(z % V);
        int64_t u = (int64_t)((z / V) % T);
        int64_t word = u < s->noise_threshold[i] ? i : s->noise_alias[i];
        rows[k] = word;
        valid[k] = word != rows[0] ? 1.0f : 0.0f;  /* gensim skips a draw equal to the centre */
    }
}

static inline double log_sigmoid(double x) {
    return x >= 0 ? -log1p(exp(-x)) : x - log1p(exp(x));
}

/* One head against the input vector `in`: updates the head rows and accumulates into work. */
static double train_head(const w2v_head_t *h, int64_t b, const float *in, float *work, int D, float lr,
                         float max_exp, int compute_loss) {
    double loss = 0.0;
    const int64_t *rows = h->rows + b * h->P;
    const float *labels = h->labels + (h->labels_shared ? 0 : b * h->P);
    const float *valid = h->valid + b * h->P;
    for (int p = 0; p < h->P; p++) {
        if (valid[p] == 0.0f) continue;
        float *u = h->table + rows[p] * (int64_t)D;
        float f = dot(in, u, D);
        if (compute_loss) loss -= log_sigmoid(labels[p] > 0.5f ? (double)f : -(double)f);
        if (f <= -max_exp || f >= max_exp) continue;
        float g = (labels[p] - 1.0f / (1.0f + expf(-f))) * lr;
        axpy(g, u, work, D);
        axpy(g, in, u, D);
    }
    return loss;
}

static double skipgram(const w2v_batch_t *s, int64_t begin, int64_t end, float *work) {
    const int C = (int)s->C, D = (int)s->D;
    const int n_heads = s->heads[1].table ? 2 : 1;
    double loss = 0.0;
    for (int64_t b = begin; b < end; b++) {
        if (s->noise_threshold) draw_noise(s, b);
        for (int c = 0; c < C; c++) {
            if (s->mask[b * C + c] == 0.0f) continue;
            int64_t j = s->contexts[b * C + c];
            float *v = s->syn0 + j * (int64_t)D;
            memset(work, 0, sizeof(float) * D);
            for (int k = 0; k < n_heads; k++)
                loss += train_head(&s->heads[k], b, v, work, D, s->lr, s->max_exp, s->compute_loss);
            axpy(s->lockf ? s->lockf[j] : 1.0f, work, v, D);
        }
    }
    return loss;
}

static double cbow(const w2v_batch_t *s, int64_t begin, int64_t end, float *work, float *hidden) {
    const int C = (int)s->C, D = (int)s->D;
    const int n_heads = s->heads[1].table ? 2 : 1;
    double loss = 0.0;
    for (int64_t b = begin; b < end; b++) {
        if (s->noise_threshold) draw_noise(s, b);
        int count = 0;
        memset(hidden, 0, sizeof(float) * D);
        for (int c = 0; c < C; c++) {
            if (s->mask[b * C + c] == 0.0f) continue;
            axpy(1.0f, s->syn0 + s->contexts[b * C + c] * (int64_t)D, hidden, D);
            count++;
        }
        if (count == 0) continue;
        float inv = 1.0f / (float)count;
        if (s->cbow_mean) for (int i = 0; i < D; i++) hidden[i] *= inv;
        memset(work, 0, sizeof(float) * D);
        for (int k = 0; k < n_heads; k++)
            loss += train_head(&s->heads[k], b, hidden, work, D, s->lr, s->max_exp, s->compute_loss);
        if (!s->cbow_mean) for (int i = 0; i < D; i++) work[i] *= inv;
        for (int c = 0; c < C; c++) {
            if (s->mask[b * C + c] == 0.0f) continue;
            int64_t j = s->contexts[b * C + c];
            axpy(s->lockf ? s->lockf[j] : 1.0f, work, s->syn0 + j * (int64_t)D, D);
        }
    }
    return loss;
}

/* Train centres [begin, end) of `batch`; scratch holds 2 * D floats of this thread's own. */
W2V_EXPORT double w2v_train(const w2v_batch_t *batch, int64_t begin, int64_t end, float *scratch) {
    if (batch->sg) return skipgram(batch, begin, end, scratch);
    return cbow(batch, begin, end, scratch, scratch + batch->D);
}
