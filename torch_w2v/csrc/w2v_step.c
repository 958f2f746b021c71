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
 * Noise words: when an alias table is given (noise_table != NULL), the noise columns 1..P-1 of head 0
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
#include <stdlib.h>
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
    const uint64_t *noise_table;     /* (noise_V,) alias table, threshold << 32 | alias; NULL: head 0's noise
                                      * columns are given */
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

/* A uniform integer in [0, n) from 32 random bits r (n < 2**32): multiply and shift, no division; its
 * bias is below n / 2**32. */
static inline uint64_t below(uint64_t r, uint64_t n) { return (r * n) >> 32; }

/* K alias-table draws into rows[0..K-1] from *state, valid[k] = (draw != centre): gensim skips a draw
 * equal to the centre. One 64-bit draw per word: its high half picks the table entry i, its low half u the
 * side (i when u < threshold[i], else alias[i]); `table` packs both in one word, one cache line a draw. */
static void noise_draws(const uint64_t *table, uint64_t V, uint64_t T, uint64_t *state, int64_t centre,
                        int64_t *rows, float *valid, int K) {
    for (int k = 0; k < K; k++) {
        uint64_t z = splitmix64(state);
        uint64_t i = below(z >> 32, V), entry = table[i];
        uint64_t u = below(z & 0xFFFFFFFFULL, T);
        int64_t word = (int64_t)(u < (entry >> 32) ? i : (entry & 0xFFFFFFFFULL));
        rows[k] = word;
        valid[k] = word != centre ? 1.0f : 0.0f;
    }
}

/* Fill heads[0].rows[b, 1..P-1] with alias-table draws and heads[0].valid[b, k] = (draw != centre). */
static void draw_noise(const w2v_batch_t *s, int64_t b) {
    const w2v_head_t *h = &s->heads[0];
    int64_t *rows = h->rows + b * h->P;
    uint64_t state = s->noise_seed ^ ((uint64_t)b * 0xD1B54A32D192ED03ULL);
    noise_draws(s->noise_table, (uint64_t)s->noise_V, (uint64_t)s->noise_T, &state, rows[0],
                rows + 1, h->valid + b * h->P + 1, (int)h->P - 1);
}

static inline double log_sigmoid(double x) {
    return x >= 0 ? -log1p(exp(-x)) : x - log1p(exp(x));
}

/* One centre's rows of one head: P rows of `table` with their labels and validity. */
typedef struct {
    float *table;
    const int64_t *rows;
    const float *labels;
    const float *valid;
    int P;
} head_rows_t;

#if defined(__GNUC__) || defined(__clang__)
#define W2V_ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define W2V_ALWAYS_INLINE static inline
#endif

/* gensim's and word2vec.c's sigmoid table, used by the token step: EXP_TABLE_SIZE values of sigmoid on
 * [-max_exp, max_exp), read at index (int)((f + max_exp) * (EXP_TABLE_SIZE / max_exp / 2)) with that factor
 * an integer division (83 for max_exp = 6, not 83.33), so the value read is the sigmoid of a point up to
 * 0.036 below f: gensim's gradients, bias included, and one load instead of expf. The batch step (w2v_train)
 * keeps the exact sigmoid of the torch step it is tested against. */
#define EXP_TABLE_SIZE 1000
typedef struct {
    float value[EXP_TABLE_SIZE];
    float scale;
} sigmoid_table_t;

static void sigmoid_table(sigmoid_table_t *t, float max_exp) {
    for (int i = 0; i < EXP_TABLE_SIZE; i++) {  /* gensim's arithmetic: float argument, double exp */
        float e = (float)exp((double)(((float)i / (float)EXP_TABLE_SIZE * 2.0f - 1.0f) * max_exp));
        t->value[i] = e / (e + 1.0f);
    }
    t->scale = (float)(EXP_TABLE_SIZE / (int)max_exp / 2);
}

/* One head's rows against the input vector `in`: updates the head rows and accumulates into work.
 * sig: the sigmoid table, or NULL for the exact sigmoid. */
W2V_ALWAYS_INLINE double train_rows_d(const head_rows_t *h, const float *in, float *work, int D, float lr,
                                      float max_exp, int compute_loss, const sigmoid_table_t *sig) {
    double loss = 0.0;
    for (int p = 0; p < h->P; p++) {
        if (h->valid[p] == 0.0f) continue;
        float *u = h->table + h->rows[p] * (int64_t)D;
        float f = dot(in, u, D);
        if (compute_loss) loss -= log_sigmoid(h->labels[p] > 0.5f ? (double)f : -(double)f);
        if (f <= -max_exp || f >= max_exp) continue;
        float sigmoid = sig ? sig->value[(int)((f + max_exp) * sig->scale)] : 1.0f / (1.0f + expf(-f));
        float g = (h->labels[p] - sigmoid) * lr;
        axpy(g, u, work, D);
        axpy(g, in, u, D);
    }
    return loss;
}

/* What the per-centre trainers share: the input table, its lock factors, the heads and the constants. */
typedef struct {
    float *syn0;
    const float *lockf;
    head_rows_t heads[2];
    int n_heads, D, cbow_mean, compute_loss;
    float lr, max_exp;
    const sigmoid_table_t *sig; /* NULL: the exact sigmoid */
} centre_t;

/* Skip-gram for one centre: each of its n contexts (rows of syn0; those with mask 0 skipped, mask NULL:
 * all real) against the centre's head rows. */
W2V_ALWAYS_INLINE double sg_centre_d(const centre_t *c, const int64_t *ctx, const float *mask, int n, float *work,
                                     int D) {
    double loss = 0.0;
    for (int i = 0; i < n; i++) {
        if (mask && mask[i] == 0.0f) continue;
        float *v = c->syn0 + ctx[i] * (int64_t)D;
        memset(work, 0, sizeof(float) * D);
        for (int k = 0; k < c->n_heads; k++)
            loss += train_rows_d(&c->heads[k], v, work, D, c->lr, c->max_exp, c->compute_loss, c->sig);
        axpy(c->lockf ? c->lockf[ctx[i]] : 1.0f, work, v, D);
    }
    return loss;
}

/* CBOW for one centre: the sum (or mean) of its real contexts (as sg_centre) against the head rows, then
 * every context updated by the same work vector (divided by their count when summing, gensim's rule). */
W2V_ALWAYS_INLINE double cbow_centre_d(const centre_t *c, const int64_t *ctx, const float *mask, int n,
                                       float *work, float *hidden, int D) {
    double loss = 0.0;
    int count = 0;
    memset(hidden, 0, sizeof(float) * D);
    for (int i = 0; i < n; i++) {
        if (mask && mask[i] == 0.0f) continue;
        axpy(1.0f, c->syn0 + ctx[i] * (int64_t)D, hidden, D);
        count++;
    }
    if (count == 0) return 0.0;
    float inv = 1.0f / (float)count;
    if (c->cbow_mean) for (int i = 0; i < D; i++) hidden[i] *= inv;
    memset(work, 0, sizeof(float) * D);
    for (int k = 0; k < c->n_heads; k++)
        loss += train_rows_d(&c->heads[k], hidden, work, D, c->lr, c->max_exp, c->compute_loss, c->sig);
    if (!c->cbow_mean) for (int i = 0; i < D; i++) work[i] *= inv;
    for (int i = 0; i < n; i++)
        if (!mask || mask[i] != 0.0f) axpy(c->lockf ? c->lockf[ctx[i]] : 1.0f, work, c->syn0 + ctx[i] * (int64_t)D, D);
    return loss;
}

/* sg_centre_d and cbow_centre_d compiled separately for the common vector sizes: with D a constant the
 * compiler unrolls the row loops completely (no remainder loops, no trip-count checks; measured on the
 * 2-core VM at D = 100: skip-gram 15% and CBOW 10% less training time). */
#define W2V_SIZES(call) \
    switch (c->D) { \
    case 50: return call(50); \
    case 100: return call(100); \
    case 128: return call(128); \
    case 200: return call(200); \
    case 300: return call(300); \
    default: return call(c->D); \
    }

static double sg_centre(const centre_t *c, const int64_t *ctx, const float *mask, int n, float *work) {
#define W2V_SG(size) sg_centre_d(c, ctx, mask, n, work, size)
    W2V_SIZES(W2V_SG)
#undef W2V_SG
}

static double cbow_centre(const centre_t *c, const int64_t *ctx, const float *mask, int n, float *work,
                          float *hidden) {
#define W2V_CBOW(size) cbow_centre_d(c, ctx, mask, n, work, hidden, size)
    W2V_SIZES(W2V_CBOW)
#undef W2V_CBOW
}

/* ---------------------------------------------------------------------------------------------------------
 * The token step's trainers: a centre's output rows (its negative-sampling rows, then its Huffman path) are
 * gathered once into one list of rows with their labels. Against an input vector `in` (a skip-gram context,
 * or CBOW's hidden vector) every row is scored first, with the rows as they are when the context starts;
 * then one sweep over the vector, a few registers of floats at a time, applies the updates row by row (work +=
 * g_p u_p, u_p += g_p in), each block of `in` and of the accumulated work held in registers. The sequential
 * form (train_rows_d) reads and writes `work` and reloads `in` for every row; this one loads each row once
 * for its score and once for its update. The two differ only when a row appears twice in the list (a noise
 * word drawn twice): its second score is then taken before its first update, not after.
 */
#define SWEEP_VECS 4
#if (defined(__GNUC__) || defined(__clang__)) && !defined(W2V_NO_VECTORS)  /* W2V_NO_VECTORS: the plain C path */
#define W2V_VECTORS
typedef float w2v_vec __attribute__((vector_size(32)));  /* 8 floats */
static inline w2v_vec vec_load(const float *p) { w2v_vec v; memcpy(&v, p, sizeof v); return v; }
static inline void vec_store(float *p, w2v_vec v) { memcpy(p, &v, sizeof v); }
#endif

typedef struct {
    float **row;        /* (Q,) the centre's output rows */
    float *label;       /* (Q,) */
    float *score;       /* (Q,) scratch: the rows' dot products with the input vector */
    float *g;           /* (Q,) scratch: the rows' gradients times the learning rate */
    float **moving;     /* (Q,) scratch: the rows that are not saturated */
    int Q;
} centre_rows_t;

#ifdef W2V_VECTORS
/* The dot products of `in` with three rows at once: each block of `in` loaded once for the three. */
W2V_ALWAYS_INLINE void dot3_d(const float *in, float *const *rows, float *out, int D) {
    w2v_vec a[3][2] = {{{0}}};
    int i = 0;
    for (; i + 16 <= D; i += 16)
        for (int h = 0; h < 2; h++) {
            w2v_vec x = vec_load(in + i + 8 * h);
            for (int k = 0; k < 3; k++) a[k][h] += x * vec_load(rows[k] + i + 8 * h);
        }
    for (int k = 0; k < 3; k++) {
        w2v_vec v = a[k][0] + a[k][1];
        if (i + 8 <= D) v += vec_load(in + i) * vec_load(rows[k] + i);
        float sum = 0.0f;
        for (int j = 0; j < 8; j++) sum += v[j];
        for (int j = i + 8 <= D ? i + 8 : i; j < D; j++) sum += in[j] * rows[k][j];
        out[k] = sum;
    }
}
#endif

/* Scores of the rows against `in`, their loss, and the list of rows to update (r->moving[0..return)) with
 * their g. */
W2V_ALWAYS_INLINE int score_rows_d(const centre_rows_t *r, const float *in, float lr, float max_exp,
                                   const sigmoid_table_t *sig, int compute_loss, double *loss, int D) {
    int q = 0, m = 0;
#ifdef W2V_VECTORS
    for (; q + 3 <= r->Q; q += 3) dot3_d(in, r->row + q, r->score + q, D);
#endif
    for (; q < r->Q; q++) r->score[q] = dot(in, r->row[q], D);
    for (q = 0; q < r->Q; q++) {
        const float f = r->score[q];
        if (compute_loss) *loss -= log_sigmoid(r->label[q] > 0.5f ? (double)f : -(double)f);
        if (f <= -max_exp || f >= max_exp) continue;
        r->g[m] = (r->label[q] - sig->value[(int)((f + max_exp) * sig->scale)]) * lr;
        r->moving[m++] = r->row[q];
    }
    return m;
}

/* For rows 0..m-1 in order: acc += g_p u_p, then u_p += g_p in. Then, when `work` is NULL, in += scale * acc
 * (skip-gram: the context's own update); else work = acc (CBOW: spread over the contexts afterwards).
 * Blocks of SWEEP_VECS vectors of 8 floats (GCC's and clang's vector types: one AVX register each, two SSE
 * ones without -march=native), then single vectors, then the last D % 8 floats one by one. */
W2V_ALWAYS_INLINE void sweep_rows_d(float *const *u, const float *g, int m, float *in, float scale, float *work,
                                    int D) {
    int i0 = 0;
#ifdef W2V_VECTORS
#define W2V_SWEEP_BLOCK(NV) \
    for (; i0 + (NV) * 8 <= D; i0 += (NV) * 8) { \
        w2v_vec x[NV], acc[NV]; \
        for (int k = 0; k < (NV); k++) x[k] = vec_load(in + i0 + 8 * k), acc[k] = (w2v_vec){0}; \
        for (int p = 0; p < m; p++) { \
            float *row = u[p] + i0; \
            const float gp = g[p]; \
            for (int k = 0; k < (NV); k++) { \
                w2v_vec y = vec_load(row + 8 * k); \
                acc[k] += gp * y; \
                vec_store(row + 8 * k, y + gp * x[k]); \
            } \
        } \
        for (int k = 0; k < (NV); k++) \
            vec_store((work ? work : in) + i0 + 8 * k, work ? acc[k] : x[k] + scale * acc[k]); \
    }
    W2V_SWEEP_BLOCK(SWEEP_VECS)
    W2V_SWEEP_BLOCK(1)
#undef W2V_SWEEP_BLOCK
#endif
    for (; i0 < D; i0++) {
        float acc = 0.0f, x = in[i0];
        for (int p = 0; p < m; p++) {
            float y = u[p][i0];
            acc += g[p] * y;
            u[p][i0] = y + g[p] * x;
        }
        if (work) work[i0] = acc;
        else in[i0] = x + scale * acc;
    }
}

/* Skip-gram for one centre of the token step: each of its n contexts (rows of syn0) against its rows. */
W2V_ALWAYS_INLINE double sg_tokens_d(const centre_t *c, const centre_rows_t *r, const int64_t *ctx, int n, int D) {
    double loss = 0.0;
    for (int i = 0; i < n; i++) {
        float *v = c->syn0 + ctx[i] * (int64_t)D;
        int m = score_rows_d(r, v, c->lr, c->max_exp, c->sig, c->compute_loss, &loss, D);
        sweep_rows_d(r->moving, r->g, m, v, c->lockf ? c->lockf[ctx[i]] : 1.0f, NULL, D);
    }
    return loss;
}

/* CBOW for one centre of the token step: the sum (or mean) of its n contexts against its rows, then every
 * context moved by the same work vector (divided by their count when summing). */
W2V_ALWAYS_INLINE double cbow_tokens_d(const centre_t *c, const centre_rows_t *r, const int64_t *ctx, int n,
                                       float *work, float *hidden, int D) {
    double loss = 0.0;
    memset(hidden, 0, sizeof(float) * D);
    for (int i = 0; i < n; i++) axpy(1.0f, c->syn0 + ctx[i] * (int64_t)D, hidden, D);
    float inv = 1.0f / (float)n;
    if (c->cbow_mean) for (int i = 0; i < D; i++) hidden[i] *= inv;
    int m = score_rows_d(r, hidden, c->lr, c->max_exp, c->sig, c->compute_loss, &loss, D);
    sweep_rows_d(r->moving, r->g, m, hidden, 0.0f, work, D);
    if (!c->cbow_mean) for (int i = 0; i < D; i++) work[i] *= inv;
    for (int i = 0; i < n; i++) axpy(c->lockf ? c->lockf[ctx[i]] : 1.0f, work, c->syn0 + ctx[i] * (int64_t)D, D);
    return loss;
}

static double sg_tokens(const centre_t *c, const centre_rows_t *r, const int64_t *ctx, int n) {
#define W2V_SG(size) sg_tokens_d(c, r, ctx, n, size)
    W2V_SIZES(W2V_SG)
#undef W2V_SG
}

static double cbow_tokens(const centre_t *c, const centre_rows_t *r, const int64_t *ctx, int n, float *work,
                          float *hidden) {
#define W2V_CBOW(size) cbow_tokens_d(c, r, ctx, n, work, hidden, size)
    W2V_SIZES(W2V_CBOW)
#undef W2V_CBOW
}

/* The head rows of centre b of a batch. */
static head_rows_t batch_rows(const w2v_head_t *h, int64_t b) {
    head_rows_t r = {h->table, h->rows + b * h->P, h->labels + (h->labels_shared ? 0 : b * h->P),
                     h->valid + b * h->P, (int)h->P};
    return r;
}

/* Train centres [begin, end) of `batch`; scratch holds 2 * D floats of this thread's own. */
W2V_EXPORT double w2v_train(const w2v_batch_t *batch, int64_t begin, int64_t end, float *scratch) {
    const int64_t C = batch->C;
    const int D = (int)batch->D;
    centre_t c = {batch->syn0, batch->lockf, {{0}}, batch->heads[1].table ? 2 : 1, D, batch->cbow_mean,
                  batch->compute_loss, batch->lr, batch->max_exp, NULL};
    double loss = 0.0;
    for (int64_t b = begin; b < end; b++) {
        if (batch->noise_table) draw_noise(batch, b);
        for (int k = 0; k < c.n_heads; k++) c.heads[k] = batch_rows(&batch->heads[k], b);
        const int64_t *ctx = batch->contexts + b * C;
        const float *mask = batch->mask + b * C;
        loss += batch->sg ? sg_centre(&c, ctx, mask, (int)C, scratch)
                          : cbow_centre(&c, ctx, mask, (int)C, scratch, scratch + D);
    }
    return loss;
}

/* ---------------------------------------------------------------------------------------------------------
 * The token step: sentences of encoded ids in, everything else drawn here, in text order (as gensim's
 * corpus_file mode and word2vec.c): per sentence, downsampling (a token is kept when sample_int[id] >= a
 * uniform 32-bit draw), then per kept centre a reduced window (window - b, b uniform in [0, window), or
 * window when shrink_windows == 0) over the kept tokens of the same sentence, K noise words shared by the
 * centre's contexts (negative sampling) and the centre's Huffman path (hierarchical softmax). Each centre is
 * its own SGD step, applied at once (Hogwild between threads). The draws of sentence s come from one
 * generator keyed by (seed, s), so they do not depend on how the sentences are split between threads.
 * The learning rate falls linearly from lr_start at the chunk's first token to lr_end past its last, by the
 * position of each sentence's first token.
 */
typedef struct {
    float *syn0;                     /* (V, D) input weights, updated in place */
    float *syn1neg;                  /* (V, D) negative-sampling output weights; NULL: no negative sampling */
    float *syn1;                     /* (V - 1, D) hierarchical-softmax output weights; NULL: no hs */
    const float *lockf;              /* (V,) input-update scale, or NULL for all ones */
    const void *ids;                 /* (N,) the chunk's tokens: uint16 when id_bytes == 2, int32 when 4 */
    const int64_t *bounds;           /* (S + 1,) sentence s is ids[bounds[s]:bounds[s + 1]]; bounds[0] == 0 */
    const int64_t *sample_int;       /* (V,) downsampling keep thresholds; NULL: every token kept */
    const uint64_t *noise_table;     /* (noise_V,) alias table of the noise distribution, threshold << 32 | alias */
    const int64_t *points;           /* (V, L) Huffman inner nodes per word (rows of syn1) */
    const float *codes;              /* (V, L) hs labels, 1 - code */
    const float *code_valid;         /* (V, L) 1 where the path has a node (a prefix of the row) */
    int64_t N, S, D, L, K, window;
    int64_t noise_V, noise_T;
    uint64_t seed;                   /* keys every draw, with the sentence's index */
    float lr_start, lr_end;
    float max_exp;                   /* a pair whose |score| reaches this is skipped (config.MAX_EXP) */
    int32_t sg;                      /* 1 skip-gram, 0 CBOW */
    int32_t cbow_mean;
    int32_t compute_loss;
    int32_t shrink_windows;
    int32_t id_bytes;                /* 2 or 4: the width of ids (2 for a vocabulary of at most 65,535 words) */
} w2v_tokens_t;

/* sizeof the token step's struct, compared with ctypes.sizeof(W2VTokens) at load */
W2V_EXPORT size_t w2v_tokens_abi_size(void) { return sizeof(w2v_tokens_t); }

/* Bring the D floats at `row` towards the cache (a hint: no effect on results). */
static inline void prefetch_row(const float *row, int D) {
#if defined(__GNUC__) || defined(__clang__)
    for (int i = 0; i < D; i += 16) __builtin_prefetch(row + i, 1, 3);
#else
    (void)row, (void)D;
#endif
}

/* The draws of one centre, made one centre ahead so that its rows can be prefetched while the previous
 * centre trains: its reduced window, its noise words (rows[1..K], valid[1..K]; rows[0] the centre) and the
 * length of its Huffman path (hs_P nodes, the valid prefix of its row of code_valid). */
typedef struct {
    int w;
    int64_t *rows;
    float *valid;
    int hs_P;
} ahead_t;

static void draw_centre(const w2v_tokens_t *t, uint64_t *state, int64_t centre, ahead_t *a) {
    const int window = (int)t->window;
    a->w = t->shrink_windows ? window - (int)below(splitmix64(state) >> 32, (uint64_t)window) : window;
    if (t->syn1) {
        const float *valid = t->code_valid + centre * t->L;
        int p = 0;
        while (p < t->L && valid[p] != 0.0f) p++;
        a->hs_P = p;
    }
    if (t->syn1neg) {
        a->rows[0] = centre;
        noise_draws(t->noise_table, (uint64_t)t->noise_V, (uint64_t)t->noise_T, state, centre,
                    a->rows + 1, a->valid + 1, (int)t->K);
    }
}

/* Prefetch the rows centre `i` of `kept` (n tokens) will touch first: its output rows and its rightmost
 * context (the one token of its window the previous centre's window did not hold). */
static void prefetch_centre(const w2v_tokens_t *t, const int64_t *kept, int64_t i, int64_t n, const ahead_t *a) {
    const int D = (int)t->D;
    if (t->syn1neg)
        for (int k = 0; k <= t->K; k++) prefetch_row(t->syn1neg + a->rows[k] * (int64_t)D, D);
    if (t->syn1) {
        const int64_t *points = t->points + kept[i] * t->L;
        for (int p = 0; p < a->hs_P; p++) prefetch_row(t->syn1 + points[p] * (int64_t)D, D);
    }
    int64_t right = i + a->w < n ? i + a->w : n - 1;
    prefetch_row(t->syn0 + kept[right] * (int64_t)D, D);
}

/* Copy a sentence's `length` ids into kept, dropping those downsampling discards (a token is kept when
 * sample_int[id] >= a uniform 32-bit draw; sample_int NULL: all kept); returns how many were kept. One copy
 * per id width, chosen once per sentence. */
#define W2V_KEEP_TOKENS(name, id_t) \
    static int64_t name(const id_t *ids, int64_t length, const int64_t *sample_int, uint64_t *state, \
                        int64_t *kept) { \
        int64_t n = 0; \
        for (int64_t i = 0; i < length; i++) { \
            if (sample_int && sample_int[ids[i]] < (int64_t)(splitmix64(state) >> 32)) continue; \
            kept[n++] = ids[i]; \
        } \
        return n; \
    }
W2V_KEEP_TOKENS(keep_tokens_u16, uint16_t)
W2V_KEEP_TOKENS(keep_tokens_i32, int32_t)
#undef W2V_KEEP_TOKENS

/* Train sentences [s_begin, s_end) of `t`; out[0] += the loss, out[1] += the kept tokens.
 * Returns 0, or -1 when its buffers cannot be allocated (nothing trained then). */
W2V_EXPORT int w2v_train_tokens(const w2v_tokens_t *t, int64_t s_begin, int64_t s_end, double *out) {
    const int D = (int)t->D, K = (int)t->K, L = (int)t->L;
    int64_t longest = 0;
    for (int64_t s = s_begin; s < s_end; s++)
        if (t->bounds[s + 1] - t->bounds[s] > longest) longest = t->bounds[s + 1] - t->bounds[s];
    const int Q = (t->syn1neg ? K + 1 : 0) + (t->syn1 ? L : 0);  /* output rows a centre has at most */
    /* kept (longest,) int64 | ns rows (2, K + 1) int64 | row, moving (Q,) pointers |
     * valid (2, K + 1), label, score, g (Q,), work, hidden (D,) floats */
    size_t bytes = sizeof(int64_t) * (size_t)(longest + 2 * (K + 1)) + sizeof(float *) * (size_t)(2 * Q) +
                   sizeof(float) * (size_t)(2 * (K + 1) + 3 * Q + 2 * D);
    void *buffer = malloc(bytes > 0 ? bytes : 1);
    if (!buffer) return -1;
    int64_t *kept = buffer, *rows_buf = kept + longest;
    float **row_buf = (float **)(rows_buf + 2 * (K + 1)), **moving = row_buf + Q;
    float *valid_buf = (float *)(moving + Q), *label = valid_buf + 2 * (K + 1), *score = label + Q, *g = score + Q;
    float *work = g + Q, *hidden = work + D;
    ahead_t draws[2] = {{0, rows_buf, valid_buf, 0}, {0, rows_buf + K + 1, valid_buf + K + 1, 0}};
    draws[0].valid[0] = draws[1].valid[0] = 1.0f;
    centre_rows_t r = {row_buf, label, score, g, moving, 0};

    sigmoid_table_t sig;
    sigmoid_table(&sig, t->max_exp);
    centre_t c = {t->syn0, t->lockf, {{0}}, 0, D, t->cbow_mean, t->compute_loss, t->lr_start, t->max_exp, &sig};
    double loss = 0.0;
    int64_t n_kept = 0;
    for (int64_t s = s_begin; s < s_end; s++) {
        const int64_t length = t->bounds[s + 1] - t->bounds[s];
        uint64_t state = t->seed ^ ((uint64_t)(s + 1) * 0xD1B54A32D192ED03ULL);
        int64_t n = t->id_bytes == 2 ? keep_tokens_u16((const uint16_t *)t->ids + t->bounds[s], length, t->sample_int,
                                                       &state, kept)
                                     : keep_tokens_i32((const int32_t *)t->ids + t->bounds[s], length, t->sample_int,
                                                       &state, kept);
        n_kept += n;
        c.lr = t->lr_start + (t->lr_end - t->lr_start) * (float)((double)t->bounds[s] / (double)t->N);
        if (n > 0) draw_centre(t, &state, kept[0], &draws[0]);
        for (int64_t i = 0; i < n; i++) {
            ahead_t *a = &draws[i & 1];
            if (i + 1 < n) {  /* the next centre's draws (the same sequence of draws, made earlier) */
                draw_centre(t, &state, kept[i + 1], &draws[(i + 1) & 1]);
                prefetch_centre(t, kept, i + 1, n, &draws[(i + 1) & 1]);
            }
            const int w = a->w;
            int64_t lo = i - w > 0 ? i - w : 0, hi = i + w + 1 < n ? i + w + 1 : n;
            const int64_t centre = kept[i];
            r.Q = 0;  /* the centre's rows: its positive and noise rows, then its Huffman path */
            if (t->syn1neg)
                for (int k = 0; k <= K; k++)
                    if (a->valid[k] != 0.0f)
                        r.row[r.Q] = t->syn1neg + a->rows[k] * (int64_t)D, r.label[r.Q++] = k == 0 ? 1.0f : 0.0f;
            if (t->syn1) {
                const int64_t *points = t->points + centre * L;
                const float *codes = t->codes + centre * L;
                for (int p = 0; p < a->hs_P; p++) r.row[r.Q] = t->syn1 + points[p] * (int64_t)D, r.label[r.Q++] = codes[p];
            }
            if (t->sg) {  /* the contexts left of the centre, then right of it */
                loss += sg_tokens(&c, &r, kept + lo, (int)(i - lo));
                loss += sg_tokens(&c, &r, kept + i + 1, (int)(hi - i - 1));
            } else if (hi - lo > 1) {
                /* CBOW reads the contexts as one list: move the centre out of the way, then back */
                kept[i] = kept[lo];
                loss += cbow_tokens(&c, &r, kept + lo + 1, (int)(hi - lo - 1), work, hidden);
                kept[i] = centre;
            }
        }
    }
    free(buffer);
    out[0] += loss;
    out[1] += (double)n_kept;
    return 0;
}
