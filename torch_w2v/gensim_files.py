"""gensim's own model files, read without running code from them, and live gensim models, as torch_w2v models.

gensim's ``Word2Vec.save`` writes a Python pickle of the model object, with its large arrays beside it in
``.npy`` files (``g.model.wv.vectors.npy``, ``g.model.syn1neg.npy``; ``.npz`` when the name ends in
``.gz``/``.bz2``). Unpickling runs whatever the file names, so this module reads it through
:class:`SafeUnpickler`: the globals a gensim Word2Vec file may name are listed in :data:`ALLOWED`, with the
releases that write them, and each is replaced by an inert stand-in (gensim's classes by :class:`Stored`,
plain attribute bags; ``defaultdict``, ``_codecs.encode``, numpy's array and dtype constructors by checked
versions that accept only what those files hold; numpy's random states by :class:`Ignored`). No other global
is imported, called or built: the file is refused naming it. The ``.npy`` companions are read with
``numpy.load(allow_pickle=False)``, from names checked to stay beside the file.

The stored objects are then upgraded as gensim 4.4's own loader does (``SaveLoad._load_specials``,
``Word2Vec._load_specials``, ``KeyedVectors._load_specials`` and ``_upconvert_old_vocab``): ``syn0`` ->
``vectors``, ``index2word`` -> ``index_to_key``, ``vocab`` objects -> ``key_to_index`` and per-word counts,
``iter`` -> ``epochs``, the settings of 3.x's ``vocabulary``/``trainables`` back on the model, defaults for
settings added since. Files gensim 4.4 itself refuses (0.12-0.13.3, which have no ``wv``) are read too, their
vectors being on the model.

:func:`from_gensim` is the same conversion from a live ``gensim.models.Word2Vec``; its ``__dict__`` has the
layout of a 4.x file.
"""
from __future__ import annotations

import _compat_pickle
import bz2
import codecs
import gzip
import io
import os
import pickle
import re
from collections import defaultdict

import numpy as np


class UnsafeModelFile(ValueError):
    """A gensim model file that names something no gensim Word2Vec file holds; refused unread."""


class Stored:
    """A gensim object as stored: its class name and its attributes, nothing else (no method of gensim's
    class exists here, so nothing of it can run)."""
    gensim_class = "?"

    def __init__(self, *args, **kwargs):   # pickles build these with NEWOBJ and BUILD, never by a call
        raise UnsafeModelFile(f"a call of {self.gensim_class}{args!r}, which gensim's files never make")

    def __reduce__(self):  # a stand-in is never written back as a pickle
        raise TypeError(f"{self.gensim_class} read from a gensim file cannot be pickled again")

    def __repr__(self):
        return f"<stored {self.gensim_class}: {sorted(vars(self))}>"


class Ignored:
    """What a numpy random state in a gensim file becomes: torch_w2v draws from its seed, not from it."""

    def __init__(self, *args):
        pass

    def __setstate__(self, state):
        pass


class _Marker:
    """A function or type the file names as a value (``hashfxn=hash``, ``defaultdict(int)``), never called."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"<{self.name} named by a gensim file>"


HASH, INT, CALL_ON_CLASS_ONLY = _Marker("hash"), _Marker("int"), _Marker("call_on_class_only")


def _stored_class(name: str) -> type:
    return type(name.rsplit(".", 1)[1], (Stored,), {"gensim_class": name, "__module__": __name__})


def _defaultdict(factory=None, *rest):
    """``collections.defaultdict(int)`` (raw_vocab): a plain dict; any other factory is refused."""
    if rest or factory not in (INT, None):
        raise UnsafeModelFile(f"defaultdict({factory!r}) is not what gensim stores (defaultdict(int))")
    return {}


def _encode(text, encoding="utf-8"):
    """``_codecs.encode(str, 'latin1')``: how protocol 2 stores bytes written by Python 3."""
    if not isinstance(text, str) or codecs.lookup(encoding).name not in ("iso8859-1", "utf-8"):
        raise UnsafeModelFile(f"_codecs.encode of {type(text).__name__} with {encoding!r}")
    return text.encode(encoding)


def _dtype(spec, *flags):
    """``numpy.dtype(spec, align, copy)`` for the plain dtypes of gensim's arrays only."""
    if not isinstance(spec, str) or not re.fullmatch(r"[<>|=]?(f[248]|[iu][1248]|b1|O[48]|U\d{1,4})", spec):
        raise UnsafeModelFile(f"numpy.dtype({spec!r})")
    return np.dtype(spec)


def _reconstruct(cls, shape, typecode):
    """numpy's ``_reconstruct(ndarray, (0,), b'b')``: an empty array that BUILD then fills."""
    if cls is not np.ndarray:
        raise UnsafeModelFile(f"numpy _reconstruct of {cls!r}")
    return np.ndarray.__new__(np.ndarray, shape, typecode)


# Every global a gensim Word2Vec file names (pickletools on gensim's test data, 0.12-3.8, and on files gensim
# 4.4 writes, with numpy 1.x and 2.x), the releases that name it, and its stand-in here.
ALLOWED = {
    "gensim.models.word2vec.Word2Vec": ("0.12-4.4: the model", _stored_class),
    "gensim.models.word2vec.Vocab": ("0.12-0.13: a word's count, index, sample_int, code, point", _stored_class),
    "gensim.models.keyedvectors.Vocab": ("1.0-3.8: the same, moved", _stored_class),
    "gensim.models.keyedvectors.KeyedVectors": ("0.13.4-2.3, 4.x: model.wv", _stored_class),
    "gensim.models.keyedvectors.EuclideanKeyedVectors": ("3.0-3.2: model.wv", _stored_class),
    "gensim.models.keyedvectors.Word2VecKeyedVectors": ("3.3-3.8: model.wv", _stored_class),
    "gensim.models.word2vec.Word2VecVocab": ("3.3-3.8: model.vocabulary (vocabulary settings)", _stored_class),
    "gensim.models.word2vec.Word2VecTrainables": ("3.3-3.8: model.trainables (syn1neg, syn1)", _stored_class),
    "gensim.utils.call_on_class_only": ("0.13.4-4.4: the instance's load attribute", CALL_ON_CLASS_ONLY),
    "builtins.hash": ("all: model.hashfxn", HASH),
    "builtins.int": ("all: the default of raw_vocab's defaultdict (Python 2's long too)", INT),
    "collections.defaultdict": ("all: raw_vocab", _defaultdict),
    "_codecs.encode": ("Python 3 bytes in protocol 2 (0.13-3.8)", _encode),
    "numpy.ndarray": ("all: arrays", np.ndarray),
    "numpy.dtype": ("all: arrays", _dtype),
    "numpy.core.multiarray._reconstruct": ("arrays, numpy 1.x", _reconstruct),
    "numpy._core.multiarray._reconstruct": ("arrays, numpy 2.x", _reconstruct),
    "numpy.random.__RandomState_ctor": ("0.12-3.8: model.random, numpy < 1.17", Ignored),
    "numpy.random._pickle.__randomstate_ctor": ("3.8-4.4: model.random", Ignored),
    "numpy.random._pickle.__bit_generator_ctor": ("4.x: model.random's bit generator", Ignored),
    "numpy.random._mt19937.MT19937": ("4.x: model.random's bit generator", Ignored),
}


class SafeUnpickler(pickle.Unpickler):
    """A pickle reader that resolves only :data:`ALLOWED` globals, to their stand-ins."""

    def __init__(self, file, fname):
        super().__init__(file, encoding="latin1")   # gensim reads Python 2 pickles so too
        self.fname = fname
        self.classes = {}

    def find_class(self, module, name):
        # Python 2's names (__builtin__.long, UserString.defaultdict) as pickle's fix_imports maps them (no
        # Python 3 module has those names, so the mapping is applied whatever the protocol)
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        full = f"{module}.{name}"
        if full not in ALLOWED:
            raise UnsafeModelFile(
                f"{self.fname} names the Python global {full}, which no gensim Word2Vec file holds; it was "
                f"refused unread, and nothing of it ran. If the file is a gensim model of another kind "
                f"(Doc2Vec, FastText, LDA), load it with gensim, where you trust it.")
        stand_in = ALLOWED[full][1]
        if stand_in is _stored_class:
            return self.classes.setdefault(full, _stored_class(full))
        return stand_in

    def persistent_load(self, pid):
        raise UnsafeModelFile(f"{self.fname} holds a persistent id ({pid!r}); gensim's files have none")


def _open(fname):
    name = os.fspath(fname)
    if name.endswith(".gz"):
        return gzip.open(name, "rb")
    if name.endswith(".bz2"):
        return bz2.open(name, "rb")
    return open(name, "rb")


def read_pickle(fname):
    """The object tree of a gensim pickle, through :class:`SafeUnpickler` (no ``.npy`` companions yet)."""
    try:
        with _open(fname) as f:
            data = f.read()
        return SafeUnpickler(io.BytesIO(data), fname).load()
    except UnsafeModelFile as exc:
        if str(exc).startswith(os.fspath(fname)):
            raise
        raise UnsafeModelFile(f"{fname} was refused unread, and nothing of it ran: it holds {exc}, which "
                              f"gensim's Word2Vec files do not") from None
    except (pickle.UnpicklingError, EOFError, TypeError, ValueError, AttributeError, IndexError, KeyError,
            OSError, MemoryError, RecursionError, UnicodeError, OverflowError) as exc:
        raise ValueError(f"{fname} is not a readable gensim model file ({type(exc).__name__}: {exc}); it may be "
                         f"truncated or corrupted.") from None


_ATTRIBUTE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _companion(fname, attrib, compress):
    """The path of ``attrib``'s array beside ``fname`` (gensim's ``SaveLoad._adapt_by_suffix``/``subname``),
    for an attribute name that cannot leave the file's folder."""
    if not isinstance(attrib, str) or not _ATTRIBUTE.fullmatch(attrib):
        raise UnsafeModelFile(f"{fname} lists a stored array named {attrib!r}, which is not an attribute name")
    return f"{os.fspath(fname)}.{attrib}.{'npz' if compress else 'npy'}"


def load_specials(obj, fname, mmap, compress, root):
    """gensim's ``SaveLoad._load_specials``: the arrays stored beside the pickle, recursively."""
    state = vars(obj)
    for attrib in state.get("__recursive_saveloads", []):
        child = state.get(attrib) if isinstance(attrib, str) else None
        if not isinstance(child, Stored):
            raise ValueError(f"{root} lists {attrib!r} as stored separately but holds no such object")
        load_specials(child, f"{fname}.{attrib}", mmap, compress, root)
    for attrib in state.get("__numpys", []):
        path = _companion(fname, attrib, compress)
        try:
            value = np.load(path, allow_pickle=False)["val"] if compress else \
                np.load(path, mmap_mode=mmap, allow_pickle=False)
        except FileNotFoundError:
            raise FileNotFoundError(f"{root} keeps {attrib} in {path}, which is missing; copy the model's .npy "
                                    f"files with it") from None
        except ValueError as exc:
            raise UnsafeModelFile(f"{path} (beside {root}) was refused: {exc}") from None
        state[attrib] = value
    if state.get("__scipys"):
        raise ValueError(f"{root} holds scipy sparse matrices ({state['__scipys']}), which no Word2Vec has")
    for attrib in state.get("__ignoreds", []):
        if isinstance(attrib, str):
            state[attrib] = None


def _with_arrays(obj, fname, mmap):
    """``obj``, read from ``fname``, with its arrays stored beside the file (``.npz`` for a compressed file)."""
    name = os.fspath(fname)
    load_specials(obj, fname, mmap, name.endswith((".gz", ".bz2")), name)


def load(fname, mmap=None) -> dict:
    """The training state of the gensim Word2Vec saved at ``fname`` (see :func:`upgrade`)."""
    model = read_pickle(fname)
    if not isinstance(model, Stored) or model.gensim_class != "gensim.models.word2vec.Word2Vec":
        kind = model.gensim_class if isinstance(model, Stored) else type(model).__name__
        from .persist import NotAModelFile  # an AttributeError too, as gensim's load raises here
        raise NotAModelFile(f"{fname} holds a gensim {kind}, not a Word2Vec model; read its word vectors with "
                            f"torch_w2v.evaluate.load_vectors (or torch-w2v eval/similar), or save the "
                            f"Word2Vec model itself.")
    _with_arrays(model, fname, mmap)
    return upgrade(vars(model), fname)


def from_gensim(model) -> dict:
    """The training state of a live ``gensim.models.Word2Vec`` (see :func:`upgrade`); arrays are copied."""
    return upgrade(vars(model), f"the gensim model {type(model).__name__}", copy=True)


def _attrs(obj) -> dict:
    return vars(obj) if isinstance(obj, Stored) or hasattr(obj, "__dict__") else {}


def _float_matrix(value, what, source, rows=None, copy=False):
    array = np.asanyarray(value)   # a memmap stays one
    if array.dtype.kind != "f" or array.ndim != 2 or (rows is not None and array.shape[0] != rows):
        raise ValueError(f"{source}: {what} has dtype {array.dtype} and shape {array.shape}; a Word2Vec needs a "
                         f"float matrix{'' if rows is None else f' of {rows} rows'}. The file is corrupted.")
    return np.array(array, dtype=np.float32, copy=True) if copy or array.dtype != np.float32 else array


def upgrade(m: dict, source, copy=False) -> dict:
    """A gensim Word2Vec's attributes ``m`` (any release from 0.12 on) in torch_w2v's terms: ``settings``
    (Word2Vec's keywords), ``keys``, ``vectors``, ``expandos`` (per-word arrays: count, sample_int, code,
    point), ``vectors_lockf``, ``syn1neg``/``syn1`` (or None) and ``state`` (counters), as gensim 4.4's loader
    leaves them."""
    vocabulary, trainables = _attrs(m.get("vocabulary")), _attrs(m.get("trainables"))
    words = upgrade_vectors(_attrs(m["wv"]) if "wv" in m else m, source, copy)   # 0.12-0.13.3: on the model
    vectors = words["vectors"]

    def setting(name, default, *places):
        for place in (m, *places):
            if name in place:
                return place[name]
        return default

    settings = dict(
        vector_size=int(vectors.shape[1]), alpha=float(setting("alpha", 0.025)), window=setting("window", 5),
        min_count=setting("min_count", 5, vocabulary), max_vocab_size=setting("max_vocab_size", None, vocabulary),
        sample=setting("sample", 1e-3, vocabulary), seed=setting("seed", 1, trainables),
        workers=setting("workers", 3), min_alpha=float(setting("min_alpha", 0.0001)), sg=setting("sg", 0),
        hs=setting("hs", 0), negative=setting("negative", 5), ns_exponent=setting("ns_exponent", 0.75),
        cbow_mean=setting("cbow_mean", 1), epochs=setting("epochs", setting("iter", 5)),
        null_word=setting("null_word", 0, vocabulary), sorted_vocab=setting("sorted_vocab", 1, vocabulary),
        batch_words=setting("batch_words", 10000), compute_loss=bool(setting("compute_loss", False)),
        comment=setting("comment", None), max_final_vocab=setting("max_final_vocab", None, vocabulary),
        shrink_windows=bool(setting("shrink_windows", True)))
    arrays = {}
    for name in ("syn1neg", "syn1"):
        value = setting(name, None, trainables)
        arrays[name] = None if value is None else _float_matrix(value, name, source, None, copy)
    if settings["negative"] and arrays["syn1neg"] is None or settings["hs"] and arrays["syn1"] is None:
        raise ValueError(f"{source} trains with negative={settings['negative']}, hs={settings['hs']} but lacks "
                         f"{'syn1neg' if arrays['syn1neg'] is None else 'syn1'}; the file is incomplete")
    raw_vocab = setting("raw_vocab", None, vocabulary)
    state = dict(corpus_count=setting("corpus_count", None), corpus_total_words=setting("corpus_total_words", None),
                 train_count=setting("train_count", 0), total_train_time=setting("total_train_time", 0.0),
                 min_alpha_yet_reached=setting("min_alpha_yet_reached", settings["alpha"]),
                 running_training_loss=setting("running_training_loss", 0.0),
                 effective_min_count=setting("effective_min_count", settings["min_count"], vocabulary),
                 raw_vocab=dict(raw_vocab) if isinstance(raw_vocab, dict) else None)
    return dict(settings=settings, state=state, **words, **arrays)


def upgrade_vectors(wv: dict, source, copy=False) -> dict:
    """A gensim KeyedVectors' attributes ``wv`` (any release) as ``keys``, ``vectors``, ``expandos`` and
    ``vectors_lockf`` (ones(1) where the file has none, as gensim 4.4's loader sets)."""
    keys = wv.get("index_to_key", wv.get("index2word", wv.get("index2entity")))
    vectors = wv["vectors"] if "vectors" in wv else wv.get("syn0")
    if keys is None or vectors is None:
        raise ValueError(f"{source} holds no vocabulary or no vectors (a model saved before build_vocab?)")
    keys = list(keys)
    vectors = _float_matrix(vectors, "the word vectors", source, len(keys), copy)
    V = len(keys)
    expandos = {}
    if "key_to_index" in wv:   # 4.x
        for name, value in (wv.get("expandos") or {}).items():
            expandos[name] = np.array(value, copy=True) if copy else np.asarray(value)
    else:                       # 0.12-3.8: a Vocab object a word (gensim's _upconvert_old_vocab)
        old = wv.get("vocab") or {}
        if len(old) != V:
            raise ValueError(f"{source}: {len(old)} vocabulary entries for {V} words; the file is corrupted")
        for key, entry in old.items():
            attrs = _attrs(entry)
            index = attrs.get("index")
            if not isinstance(index, (int, np.integer)) or not 0 <= index < V or keys[index] != key:
                raise ValueError(f"{source}: the vocabulary entry of {key!r} has index {index!r}; the file is "
                                 f"corrupted")
            for name, value in attrs.items():
                if name == "index":
                    continue
                if name not in expandos:
                    expandos[name] = np.zeros(V, dtype=object if name in ("code", "point") else np.int64)
                expandos[name][index] = value
        if "sample_int" in expandos:
            expandos["sample_int"] = expandos["sample_int"].astype(np.uint32)
    for name in ("count", "sample_int"):
        if name in expandos and (expandos[name].shape != (V,) or expandos[name].dtype.kind not in "iu"
                                 or (expandos[name] < 0).any()):
            raise ValueError(f"{source}: the per-word {name} has shape {expandos[name].shape} and dtype "
                             f"{expandos[name].dtype}; the file is corrupted")
    lockf = wv.get("vectors_lockf")
    lockf = np.ones(1, dtype=np.float32) if lockf is None else np.array(lockf, dtype=np.float32, copy=True)
    return dict(keys=keys, vectors=vectors, expandos=expandos, vectors_lockf=lockf)


KEYED_VECTORS = {name for name in ALLOWED if name.startswith("gensim.models.keyedvectors.") and "Vocab" not in name}


def load_vectors(fname, mmap=None):
    """The word vectors of a gensim file: a saved Word2Vec's ``wv`` or a saved KeyedVectors, as a
    ``gensim.models.KeyedVectors`` (keys, vectors, counts)."""
    from gensim.models import KeyedVectors
    obj = read_pickle(fname)
    kind = obj.gensim_class if isinstance(obj, Stored) else type(obj).__name__
    if kind != "gensim.models.word2vec.Word2Vec" and kind not in KEYED_VECTORS:
        raise ValueError(f"{fname} holds a gensim {kind}, which has no word vectors torch_w2v can read")
    _with_arrays(obj, fname, mmap)
    attrs = vars(obj)
    words = upgrade_vectors(_attrs(attrs["wv"]) if "wv" in attrs else attrs, fname)
    kv = KeyedVectors(words["vectors"].shape[1], count=0, dtype=np.float32)
    kv.index_to_key, kv.vectors = words["keys"], words["vectors"]
    kv.key_to_index = {key: i for i, key in enumerate(kv.index_to_key)}
    kv.next_index = len(kv.index_to_key)
    for attr in ("count", "sample_int"):
        if attr in words["expandos"]:
            kv.expandos[attr] = words["expandos"][attr]
    return kv


def is_pickle(fname) -> bool:
    """Whether ``fname`` starts as a pickle of protocol 2-5 (gensim's files), also inside gzip or bz2."""
    try:
        with open(fname, "rb") as handle:
            head = handle.read(3)
        if head[:2] == b"\x1f\x8b" or head == b"BZh":
            with _open(fname) as handle:
                head = handle.read(2)
    except (OSError, EOFError):
        return False   # the format's own reader reports a missing or unreadable file
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def build(cls, st: dict, source):
    """A torch_w2v model of class ``cls`` holding the state ``st`` (:func:`upgrade`'s), ready to train on as
    gensim's would: noise table rebuilt from the counts (gensim's loader does so too), the stored Huffman
    codes kept (built from the counts where the file has none)."""
    try:
        return _build(cls, st, source)
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        raise ValueError(f"{source} is a gensim Word2Vec file, but its content is inconsistent ({exc}); it may "
                         f"be corrupted. Load it with gensim to check, or restore it from a backup.") from None


def _build(cls, st, source):
    from .persist import new_model
    model = new_model(cls, st["settings"])
    wv = model.wv
    wv.index_to_key = st["keys"]
    wv.key_to_index = {key: i for i, key in enumerate(wv.index_to_key)}
    wv.next_index = len(wv.index_to_key)
    wv.vectors = st["vectors"]
    wv.vector_size = wv.vectors.shape[1]
    wv.expandos = {}
    wv.allocate_vecattrs()
    V = len(wv.index_to_key)
    for name, value in st["expandos"].items():
        if value.shape == (V,):
            wv.expandos[name] = value
    if "sample_int" in wv.expandos:
        wv.expandos["sample_int"] = wv.expandos["sample_int"].astype(np.uint32)
    wv.vectors_lockf = st["vectors_lockf"]
    model.syn1neg, model.syn1 = st["syn1neg"], st["syn1"]
    for name, value in st["state"].items():
        setattr(model, name, value)
    if model.raw_vocab is not None:
        model.raw_vocab = defaultdict(int, model.raw_vocab)
    if model.negative and V:
        model.make_cum_table()
    if model.hs and V and not all(name in wv.expandos for name in ("code", "point")):
        model.create_binary_tree()
    model.add_lifecycle_event("loaded", fname=str(source))
    return model


__all__ = ["ALLOWED", "SafeUnpickler", "UnsafeModelFile", "build", "from_gensim", "is_pickle", "load",
           "read_pickle", "upgrade"]
