"""Reading and scoring word-vector files: format detection never guesses (issue 12.4), vectors that cannot
be compared (12.9), a single scored pair (12.10)."""
import numpy as np
import pytest
from gensim.models import KeyedVectors
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from torch_w2v.evaluate import detect_binary, evaluate, evaluate_pairs, load_vectors
from torch_w2v.export import to_keyed_vectors


def _kv(n, dims, seed=0):
    rng = np.random.default_rng(seed)
    return to_keyed_vectors(rng.normal(size=(n, dims)).astype(np.float32), [f"word{i}" for i in range(n)],
                            counts=list(range(n + 10, 10, -1)))


def test_a_text_header_that_disagrees_with_the_rows_names_the_line(tmp_path):
    """Issue 12.4: read as binary garbage ('neighbours' like '708\\nman'), exit 0; gensim raises."""
    path = tmp_path / "v.txt"
    path.write_text("3 5\nman 0.1 0.2 0.3\nwoman 0.2 0.1 0.3\nking 0.3 0.3 0.1\n")
    with pytest.raises(ValueError):
        KeyedVectors.load_word2vec_format(str(path), binary=False)  # gensim refuses it too
    with pytest.raises(ValueError, match=r"v.txt, line 2: the header says 5 dimensions but this row has 3 numbers"):
        detect_binary(path)
    with pytest.raises(ValueError, match=r"line 2: the header says 5 dimensions"):
        load_vectors(path)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(1, 30), dims=st.integers(1, 12), shift=st.integers(-11, 11).filter(bool),
       binary=st.booleans(), newline=st.booleans(), seed=st.integers(0, 1000))
def test_a_wrong_header_is_never_read_as_vectors(tmp_path, n, dims, shift, binary, newline, seed):
    """Any file whose header's dimensions are off: an error, never other vectors; a right header loads."""
    kv = _kv(n, dims, seed)
    path = tmp_path / f"v{seed}.{'bin' if binary else 'txt'}"
    kv.save_word2vec_format(str(path), binary=binary)
    data = path.read_bytes()
    body = data[data.index(b"\n") + 1:]
    if binary and newline:  # word2vec.c ends every binary vector with a newline
        size = 4 * dims
        records, at = [], 0
        for _ in range(n):
            space = body.index(b" ", at)
            records.append(body[at:space + 1 + size] + b"\n")
            at = space + 1 + size
        body = b"".join(records)
    path.write_bytes(f"{n} {dims}\n".encode() + body)
    np.testing.assert_array_equal(load_vectors(path).vectors, kv.vectors)
    if dims + shift < 1:
        return
    path.write_bytes(f"{n} {dims + shift}\n".encode() + body)
    with pytest.raises(ValueError, match=str(path.name)):
        load_vectors(path)


def test_evaluate_leaves_out_non_finite_vectors_and_counts_them(tmp_path, caplog):
    """Issue 12.9: NaN rows gave 'nan' scores or silently dropped words."""
    kv = _kv(6, 4)
    kv.vectors[2, 1] = np.nan
    kv.vectors[4, 0] = np.inf
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("word0\tword1\t5.0\nword0\tword3\t7.0\nword1\tword5\t1.0\nword2\tword3\t2.0\n")
    report = evaluate(kv, analogies=None, pairs={"mine": str(pairs)})
    assert report["non_finite_words"] == 2 and "2 words have NaN or inf" in caplog.text
    r = report["pairs"]["mine"]
    assert r["pairs"] == 3 and np.isfinite(r["spearman"])  # the pair with word2 is out of vocabulary


def test_one_known_pair_gives_a_null_score(tmp_path):
    """Issue 12.10: scipy's 'x and y must have length at least 2'; the docs promise a null score."""
    kv = _kv(3, 4)
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("# comment\nword0\tword1\t5.0\nword0\tunknown\t7.0\n")
    result = evaluate_pairs(kv, str(pairs))
    assert result["spearman"] is None and result["pearson"] is None
    assert result["pairs"] == 1 and result["oov_ratio"] == 0.5
