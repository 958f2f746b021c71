/* Vocabulary scan of a LineSentence-format file for torch_w2v: tokens, raw ids and counts in one pass of C.
 *
 * The format is the one torch_w2v.corpus.LineSentence reads: UTF-8 text, a sentence per line ('\n'), tokens
 * separated by whitespace as Python's str.split() defines it (ASCII \t \n \v \f \r, \x1c-\x1f and space, and
 * U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000); a line without tokens is
 * no sentence. Each distinct token gets a raw id in order of first appearance (what vocab.scan's Python loop
 * gives); the caller receives the raw id of every token, in order, and the tokens of every sentence, and at
 * the end the distinct words (each followed by '\n' in one buffer) and their counts.
 *
 * The text arrives in pieces (w2v_scan_feed): a call consumes its buffer up to its last line end, or in a
 * line longer than the buffer up to its last ASCII whitespace byte (all of it when final != 0), and the
 * caller hands the rest back at the front of the next buffer, so a token or a multi-byte character is never
 * cut; a sentence may span calls. Invalid UTF-8 (what Python's strict decoder refuses: stray continuation
 * bytes, overlong forms, surrogates, > U+10FFFF, truncated sequences) stops the scan with W2V_SCAN_INVALID:
 * the caller then reads the file in Python, which names the line. Words are keyed by their bytes (FNV-1a,
 * open addressing); valid UTF-8 maps one to one to strings.
 *
 * Plain C99, no Python: compiled into the same library as w2v_step.c, called through ctypes by
 * torch_w2v/file_scan.py.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#define W2V_EXPORT __declspec(dllexport)
#else
#define W2V_EXPORT
#endif

#define W2V_SCAN_INVALID (-1) /* not valid UTF-8 */
#define W2V_SCAN_NOMEM (-2)   /* malloc failed */

typedef struct {
    int32_t *slots;          /* (cap,) raw id + 1 of the word in each slot, 0: empty; cap a power of two */
    int64_t cap;
    uint64_t *hashes;        /* (words_cap,) per raw id */
    int64_t *counts;         /* (words_cap,) per raw id */
    int64_t *offsets;        /* (words_cap + 1,) raw id i is arena[offsets[i] : offsets[i + 1] - 1] */
    char *arena;             /* every distinct word, each followed by '\n' */
    int64_t arena_len, arena_cap, n_words, words_cap;
    int64_t sentence_tokens; /* tokens of the sentence being read (it may continue into the next feed) */
} w2v_scan_t;

static int ascii_space(unsigned char c) { return c == ' ' || (c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x1f); }

/* Bytes of the non-ASCII whitespace character at p (0: none); p < end, *p >= 0x80. */
static int wide_space(const unsigned char *p, const unsigned char *end) {
    ptrdiff_t n = end - p;
    if (p[0] == 0xC2) return n >= 2 && (p[1] == 0x85 || p[1] == 0xA0) ? 2 : 0;
    if (n < 3) return 0;
    if (p[0] == 0xE1) return p[1] == 0x9A && p[2] == 0x80 ? 3 : 0;
    if (p[0] == 0xE2 && p[1] == 0x80)
        return (p[2] >= 0x80 && p[2] <= 0x8A) || p[2] == 0xA8 || p[2] == 0xA9 || p[2] == 0xAF ? 3 : 0;
    if (p[0] == 0xE2 && p[1] == 0x81) return p[2] == 0x9F ? 3 : 0;
    if (p[0] == 0xE3) return p[1] == 0x80 && p[2] == 0x80 ? 3 : 0;
    return 0;
}

/* Bytes of the valid UTF-8 sequence at p (0: invalid or truncated); *p >= 0x80. */
static int utf8_length(const unsigned char *p, const unsigned char *end) {
    unsigned char c = p[0];
    ptrdiff_t n = end - p;
#define CONT(i) ((p[i] & 0xC0) == 0x80)
    if (c >= 0xC2 && c <= 0xDF) return n >= 2 && CONT(1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || !CONT(1) || !CONT(2)) return 0;
        if (c == 0xE0 && p[1] < 0xA0) return 0;  /* overlong */
        if (c == 0xED && p[1] >= 0xA0) return 0; /* surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || !CONT(1) || !CONT(2) || !CONT(3)) return 0;
        if (c == 0xF0 && p[1] < 0x90) return 0;  /* overlong */
        if (c == 0xF4 && p[1] >= 0x90) return 0; /* > U+10FFFF */
        return 4;
    }
#undef CONT
    return 0; /* a continuation byte, C0, C1 or F5-FF */
}

/* Make room for `need` bytes in the arena, doubling it. */
static int grow_arena(w2v_scan_t *s, int64_t need) {
    if (need <= s->arena_cap) return 0;
    int64_t size = s->arena_cap ? s->arena_cap : 1 << 16;
    while (size < need) size *= 2;
    char *grown = realloc(s->arena, (size_t)size);
    if (!grown) return -1;
    s->arena = grown;
    s->arena_cap = size;
    return 0;
}

/* Room for `cap` words in hashes, counts and offsets (cap + 1 entries). */
static int grow_words(w2v_scan_t *s, int64_t cap) {
    uint64_t *hashes = realloc(s->hashes, (size_t)cap * sizeof(uint64_t));
    if (hashes) s->hashes = hashes;
    int64_t *counts = realloc(s->counts, (size_t)cap * sizeof(int64_t));
    if (counts) s->counts = counts;
    int64_t *offsets = realloc(s->offsets, (size_t)(cap + 1) * sizeof(int64_t));
    if (offsets) s->offsets = offsets;
    if (!hashes || !counts || !offsets) return -1;
    s->words_cap = cap;
    return 0;
}

static int rehash(w2v_scan_t *s, int64_t cap) {
    int32_t *slots = calloc((size_t)cap, sizeof(int32_t));
    if (!slots) return -1;
    for (int64_t id = 0; id < s->n_words; id++) {
        uint64_t i = s->hashes[id] & (uint64_t)(cap - 1);
        while (slots[i]) i = (i + 1) & (uint64_t)(cap - 1);
        slots[i] = (int32_t)(id + 1);
    }
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
    return 0;
}

/* The raw id of word[0:n) with hash h, added with count 0 if new; -1: out of memory. */
static int64_t word_id(w2v_scan_t *s, const unsigned char *word, int64_t n, uint64_t h) {
    uint64_t mask = (uint64_t)(s->cap - 1), i = h & mask;
    for (int32_t slot; (slot = s->slots[i]) != 0; i = (i + 1) & mask) {
        int64_t id = slot - 1, at = s->offsets[id];
        if (s->hashes[id] == h && s->offsets[id + 1] - at - 1 == n && memcmp(s->arena + at, word, (size_t)n) == 0)
            return id;
    }
    int64_t id = s->n_words;
    if (id == s->words_cap && grow_words(s, 2 * s->words_cap)) return -1;
    if (grow_arena(s, s->arena_len + n + 1)) return -1;
    memcpy(s->arena + s->arena_len, word, (size_t)n);
    s->arena[s->arena_len + n] = '\n';
    s->arena_len += n + 1;
    s->hashes[id] = h;
    s->counts[id] = 0;
    s->offsets[id + 1] = s->arena_len;
    s->slots[i] = (int32_t)(id + 1);
    s->n_words = id + 1;
    if (2 * s->n_words > s->cap && rehash(s, 2 * s->cap)) return -1; /* load factor at most 1/2 */
    return id;
}

W2V_EXPORT void w2v_scan_free(w2v_scan_t *s) {
    if (!s) return;
    free(s->slots), free(s->hashes), free(s->counts), free(s->offsets), free(s->arena), free(s);
}

W2V_EXPORT w2v_scan_t *w2v_scan_new(void) {
    w2v_scan_t *s = calloc(1, sizeof(w2v_scan_t));
    if (!s || rehash(s, 1 << 16) || grow_words(s, 1 << 14) || grow_arena(s, 1)) {
        w2v_scan_free(s);
        return NULL;
    }
    s->offsets[0] = 0;
    return s;
}

static void end_sentence(w2v_scan_t *s, int64_t *lengths, int64_t *n_lengths) {
    if (s->sentence_tokens) lengths[(*n_lengths)++] = s->sentence_tokens;
    s->sentence_tokens = 0;
}

/* Scan buf[0:len): the raw id of each token goes to ids, the tokens of each sentence that ends here to
 * lengths (both need len / 2 + 2 entries); *n_ids and *n_lengths are set to how many were written.
 * Returns the bytes consumed (up to the last '\n', else the last ASCII whitespace byte; len when final),
 * or W2V_SCAN_INVALID / W2V_SCAN_NOMEM. */
W2V_EXPORT int64_t w2v_scan_feed(w2v_scan_t *s, const char *buf, int64_t len, int final, int32_t *ids,
                                 int64_t *n_ids, int64_t *lengths, int64_t *n_lengths) {
    const unsigned char *p = (const unsigned char *)buf, *end;
    int64_t stop = len, n = 0;
    *n_ids = *n_lengths = 0;
    if (!final) { /* up to the last line end, so that the caller's blocks hold whole sentences; without one,
                   * up to the last whitespace (a long line) */
        const char *nl = NULL;
        for (int64_t i = len; i > 0 && !nl; i--)
            if (buf[i - 1] == '\n') nl = buf + i;
        if (nl) stop = nl - buf;
        else
            while (stop > 0 && !ascii_space((unsigned char)buf[stop - 1])) stop--;
    }
    end = p + stop;
    while (p < end) {
        if (*p == '\n') {
            end_sentence(s, lengths, n_lengths);
            p++;
            continue;
        }
        if (ascii_space(*p)) {
            p++;
            continue;
        }
        if (*p >= 0x80) {
            int w = wide_space(p, end);
            if (w) {
                p += w;
                continue;
            }
        }
        const unsigned char *start = p;
        uint64_t h = 14695981039346656037ULL; /* FNV-1a */
        while (p < end) {
            unsigned char c = *p;
            if (c < 0x80) {
                if (ascii_space(c)) break;
                h = (h ^ c) * 1099511628211ULL;
                p++;
                continue;
            }
            int k = utf8_length(p, end);
            if (!k) return W2V_SCAN_INVALID;
            if (wide_space(p, end)) break;
            for (int j = 0; j < k; j++) h = (h ^ p[j]) * 1099511628211ULL;
            p += k;
        }
        int64_t id = word_id(s, start, (int64_t)(p - start), h);
        if (id < 0) return W2V_SCAN_NOMEM;
        s->counts[id]++;
        ids[n++] = (int32_t)id;
        s->sentence_tokens++;
    }
    if (final) end_sentence(s, lengths, n_lengths);
    *n_ids = n;
    return stop;
}

/* Tokens of a sentence still open (begun, not ended by '\n' or a final feed): the next feed continues it. */
W2V_EXPORT int64_t w2v_scan_sentence_open(const w2v_scan_t *s) { return s->sentence_tokens; }

/* The distinct words so far: their count, and the bytes of words_out (each word followed by '\n'). */
W2V_EXPORT int64_t w2v_scan_words(const w2v_scan_t *s) { return s->n_words; }
W2V_EXPORT int64_t w2v_scan_words_bytes(const w2v_scan_t *s) { return s->arena_len; }

/* Copy the words (w2v_scan_words_bytes bytes) and their counts (w2v_scan_words entries) out. */
W2V_EXPORT void w2v_scan_export(const w2v_scan_t *s, char *words_out, int64_t *counts_out) {
    if (s->arena_len) memcpy(words_out, s->arena, (size_t)s->arena_len);
    if (s->n_words) memcpy(counts_out, s->counts, (size_t)s->n_words * sizeof(int64_t));
}
