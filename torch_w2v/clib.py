"""torch_w2v's compiled C library: its loader and its typed boundaries.

One library, built at install time by ``setup.py`` from ``csrc/w2v_step.c`` (the fused CPU step,
:mod:`torch_w2v.training.steps.fused`) and ``csrc/w2v_scan.c`` (the vocabulary scan of a corpus file,
:mod:`torch_w2v.file_scan`), importable as the extension ``torch_w2v.training.steps._w2v_step`` (its module
is empty; the functions are called through ctypes). Nothing is compiled at run time.

The boundary of each step entry point is one struct, mirrored here field by field (:class:`W2VBatch`,
:class:`W2VTokens`); :func:`load` refuses a library whose struct sizes (``w2v_abi_size``,
``w2v_tokens_abi_size``) or source hash differ from this package's, and declares every function's
signature. Without the library (no compiler at install time) :func:`load` returns None and
:func:`unavailable_reason` names the fix (:data:`FIX`).
"""
from __future__ import annotations

import ctypes
import hashlib
import importlib
import threading
from pathlib import Path

EXTENSION = "torch_w2v.training.steps._w2v_step"  # the library as an importable extension (setup.py)
# the library's C sources, hashed in this order (setup.py): shipped beside the build (package data)
SOURCES = [Path(__file__).parent / "csrc" / name for name in ("w2v_step.c", "w2v_scan.c")]
FIX = ("install a C compiler and Python's headers (Debian/Ubuntu: apt-get install gcc python3-dev) and "
       "reinstall torch_w2v: pip install --force-reinstall --no-deps . in its source directory (pip install "
       "-e . for an editable checkout)")

_lock = threading.Lock()
_lib = None
_error: str | None = None


class W2VHead(ctypes.Structure):
    """``w2v_head_t``: one output head (negative sampling or hierarchical softmax)."""
    _fields_ = [
        ("table", ctypes.c_void_p),          # (V_out, D) float32, updated in place; NULL: no head
        ("rows", ctypes.c_void_p),           # (B, P) int64
        ("labels", ctypes.c_void_p),         # (B, P) or (1, P) float32
        ("valid", ctypes.c_void_p),          # (B, P) float32
        ("P", ctypes.c_int64),
        ("labels_shared", ctypes.c_int64),   # 1 when labels is (1, P)
    ]


class W2VBatch(ctypes.Structure):
    """``w2v_batch_t`` of ``csrc/w2v_step.c``, field for field: everything one step hands to C."""
    _fields_ = [
        ("syn0", ctypes.c_void_p),           # (V, D) float32, updated in place
        ("contexts", ctypes.c_void_p),       # (B, C) int64
        ("mask", ctypes.c_void_p),           # (B, C) float32
        ("lockf", ctypes.c_void_p),          # (V,) float32, or NULL
        ("noise_table", ctypes.c_void_p),    # (noise_V,) int64 threshold << 32 | alias (packed_alias), or
        #                                      NULL: the noise columns are given
        ("heads", W2VHead * 2),
        ("B", ctypes.c_int64),
        ("C", ctypes.c_int64),
        ("D", ctypes.c_int64),
        ("noise_V", ctypes.c_int64),
        ("noise_T", ctypes.c_int64),
        ("noise_seed", ctypes.c_uint64),
        ("lr", ctypes.c_float),
        ("max_exp", ctypes.c_float),
        ("sg", ctypes.c_int32),
        ("cbow_mean", ctypes.c_int32),
        ("compute_loss", ctypes.c_int32),
        ("reserved", ctypes.c_int32),
    ]


class W2VTokens(ctypes.Structure):
    """``w2v_tokens_t`` of ``csrc/w2v_step.c``, field for field: what the token step hands to C per chunk."""
    _fields_ = [
        ("syn0", ctypes.c_void_p),             # (V, D) float32, updated in place
        ("syn1neg", ctypes.c_void_p),          # (V, D) float32, or NULL: no negative sampling
        ("syn1", ctypes.c_void_p),             # (V - 1, D) float32, or NULL: no hierarchical softmax
        ("lockf", ctypes.c_void_p),            # (V,) float32, or NULL
        ("ids", ctypes.c_void_p),              # (N,) uint16 or int32, as id_bytes says
        ("bounds", ctypes.c_void_p),           # (S + 1,) int64
        ("sample_int", ctypes.c_void_p),       # (V,) int64, or NULL: every token kept
        ("noise_table", ctypes.c_void_p),      # (noise_V,) int64 threshold << 32 | alias (packed_alias)
        ("points", ctypes.c_void_p),           # (V, L) int64
        ("codes", ctypes.c_void_p),            # (V, L) float32
        ("code_valid", ctypes.c_void_p),       # (V, L) float32
        ("N", ctypes.c_int64),
        ("S", ctypes.c_int64),
        ("D", ctypes.c_int64),
        ("L", ctypes.c_int64),
        ("K", ctypes.c_int64),
        ("window", ctypes.c_int64),
        ("noise_V", ctypes.c_int64),
        ("noise_T", ctypes.c_int64),
        ("seed", ctypes.c_uint64),
        ("lr_start", ctypes.c_float),
        ("lr_end", ctypes.c_float),
        ("max_exp", ctypes.c_float),
        ("sg", ctypes.c_int32),
        ("cbow_mean", ctypes.c_int32),
        ("compute_loss", ctypes.c_int32),
        ("shrink_windows", ctypes.c_int32),
        ("id_bytes", ctypes.c_int32),          # 2 (uint16 ids) or 4 (int32 ids)
    ]


def _open():
    """``(library, None)``, or ``(None, why it cannot be used, naming the fix)``."""
    try:
        module = importlib.import_module(EXTENSION)
    except ModuleNotFoundError as exc:
        if exc.name != EXTENSION:
            raise
        return None, (f"torch_w2v was installed without its compiled C step ({EXTENSION} is missing: no C "
                      f"compiler at install time?); {FIX}")
    except ImportError as exc:
        return None, f"the compiled C step cannot be imported ({exc}); {FIX}"
    path = module.__file__
    try:
        lib = ctypes.CDLL(path)
        lib.w2v_abi_size.restype = ctypes.c_size_t
        lib.w2v_tokens_abi_size.restype = ctypes.c_size_t
        lib.w2v_source_hash.restype = ctypes.c_char_p
    except (OSError, AttributeError) as exc:
        return None, f"the compiled C step {path} cannot be loaded ({exc}); {FIX}"
    for name, size, struct in (("w2v_batch_t", lib.w2v_abi_size(), W2VBatch),
                               ("w2v_tokens_t", lib.w2v_tokens_abi_size(), W2VTokens)):
        if size != ctypes.sizeof(struct):
            return None, (f"the compiled C step {path} takes a {size}-byte {name} but this torch_w2v passes "
                          f"{ctypes.sizeof(struct)} bytes (a library built from another version); rebuild it: "
                          f"{FIX}")
    if all(source.exists() for source in SOURCES):
        built = lib.w2v_source_hash().decode()
        current = hashlib.sha256(b"".join(source.read_bytes() for source in SOURCES)).hexdigest()[:16]
        if built != current:
            names = " and ".join(source.name for source in SOURCES)
            return None, (f"the compiled C step {path} was built from other sources than {names} beside it "
                          f"(hash {built}, they are now {current}: edited since the install?); rebuild it: {FIX}")
    lib.w2v_train.argtypes = [ctypes.POINTER(W2VBatch), ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    lib.w2v_train.restype = ctypes.c_double
    lib.w2v_train_tokens.argtypes = [ctypes.POINTER(W2VTokens), ctypes.c_int64, ctypes.c_int64,
                                     ctypes.POINTER(ctypes.c_double)]
    lib.w2v_train_tokens.restype = ctypes.c_int
    # the corpus scan (csrc/w2v_scan.c, file_scan.py)
    lib.w2v_scan_new.restype = ctypes.c_void_p
    lib.w2v_scan_free.argtypes = [ctypes.c_void_p]
    lib.w2v_scan_feed.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int64, ctypes.c_int, ctypes.c_void_p,
                                  ctypes.POINTER(ctypes.c_int64), ctypes.c_void_p, ctypes.POINTER(ctypes.c_int64)]
    lib.w2v_scan_feed.restype = ctypes.c_int64
    for name in ("w2v_scan_words", "w2v_scan_words_bytes", "w2v_scan_sentence_open"):
        getattr(lib, name).argtypes = [ctypes.c_void_p]
        getattr(lib, name).restype = ctypes.c_int64
    lib.w2v_scan_export.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    return lib, None


def load():
    """The compiled library, or None (then :func:`unavailable_reason` says why)."""
    global _lib, _error
    with _lock:
        if _lib is None and _error is None:
            _lib, _error = _open()
        return _lib


def available() -> bool:
    return load() is not None


def unavailable_reason() -> str | None:
    """Why the library cannot be used (a message naming the fix), or None when it can."""
    load()
    return _error


