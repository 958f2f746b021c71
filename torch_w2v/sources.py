"""Every input torch_w2v reads, opened here: local files and URLs, plain or compressed, as bytes.

Corpora, vocabularies, vector files and benchmark files all go through :func:`open_input`: ``http(s)://``
URLs through the standard library with a timeout on the connection and on every read (:data:`URL_TIMEOUT`,
or the ``TORCH_W2V_URL_TIMEOUT`` environment variable, in seconds), so a server that stops answering
raises ``TimeoutError`` naming the URL instead of hanging; other URLs (``s3://``, ``gs://``, ...) and local
files go to smart_open (``.gz``, ``.bz2``, ... by the name), whose cloud clients have their own timeouts.
A truncated or damaged compressed file is a ``ValueError`` naming the file (:func:`damaged`).
"""
from __future__ import annotations

import gzip
import io
import lzma
import os
import shutil
import socket
import tempfile
import zlib
from contextlib import contextmanager

COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".lz4")  # endings smart_open (de)compresses by


URL_TIMEOUT = 60.0  # seconds an http(s) server may stay silent (connecting or mid-read) before we give up


_DAMAGED = (EOFError, zlib.error, gzip.BadGzipFile, lzma.LZMAError)  # what a truncated/corrupt archive raises


def is_url(path) -> bool:
    """Whether ``path`` is a URL (``scheme://...``) rather than a local path."""
    return isinstance(path, (str, os.PathLike)) and "://" in os.fspath(path)


def _is_http(path) -> bool:
    return is_url(path) and os.fspath(path).split("://", 1)[0].lower() in ("http", "https")


def url_timeout() -> float:
    """Seconds to wait for an http(s) server: ``TORCH_W2V_URL_TIMEOUT`` if set, else :data:`URL_TIMEOUT`."""
    text = os.environ.get("TORCH_W2V_URL_TIMEOUT")
    if text is None:
        return URL_TIMEOUT
    try:
        value = float(text)
        if not 0 < value < float("inf"):
            raise ValueError
    except ValueError:
        raise ValueError(f"TORCH_W2V_URL_TIMEOUT must be a number of seconds > 0, got {text!r}.") from None
    return value


def check_input(path, what: str = "file") -> None:
    """Raise ``FileNotFoundError`` or ``IsADirectoryError`` naming ``path`` (the ``what``) unless it is a
    local file or a URL."""
    if is_url(path):
        return
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path} is a directory, not a file (the {what}); pass a file inside it.")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file (the {what}).")


class _TimedResponse(io.RawIOBase):
    """An HTTP response whose reads raise ``TimeoutError`` naming the URL when the server goes silent."""

    def __init__(self, response, url, timeout):
        self.response, self.url, self.timeout = response, url, timeout

    def readable(self):
        return True

    def readinto(self, buffer):
        try:
            return self.response.readinto(buffer)
        except socket.timeout:  # TimeoutError from Python 3.10 on
            raise TimeoutError(_silent(self.url, self.timeout, "in the middle of the data")) from None

    def close(self):
        self.response.close()
        super().close()


def _silent(url, timeout, when):
    return (f"{url}: the server sent nothing for {timeout:g} s {when}; gave up. Check the URL or the network, "
            f"or set TORCH_W2V_URL_TIMEOUT=SECONDS to wait longer.")


def _open_http(url) -> io.BufferedReader:
    """The body of ``url`` as a binary stream, every network wait bounded by :func:`url_timeout`."""
    import urllib.error
    import urllib.request

    timeout = url_timeout()
    try:
        response = urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 - http(s) only, see _is_http
    except urllib.error.HTTPError as exc:
        raise FileNotFoundError(f"{url}: the server answered {exc.code} {exc.reason}.") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, socket.timeout):
            raise TimeoutError(_silent(url, timeout, "while connecting")) from None
        raise ConnectionError(f"{url}: cannot connect ({exc.reason}).") from None
    except socket.timeout:
        raise TimeoutError(_silent(url, timeout, "after the request")) from None
    except (OSError, ValueError) as exc:  # connection reset, malformed answer, ...
        raise ConnectionError(f"{url}: the download failed ({exc}).") from None
    return io.BufferedReader(_TimedResponse(response, url, timeout), buffer_size=1 << 16)


@contextmanager
def open_input(path):
    """Open a local file or URL for reading, as bytes, decompressing ``.gz``/``.bz2``/... by the name.

    http(s) URLs are read with a timeout (:func:`url_timeout`); other URLs through smart_open.
    """
    path = os.fspath(path)
    if _is_http(path):
        from smart_open import compression
        raw = _open_http(path)
        try:
            name = path.split("?", 1)[0]
            stream = compression.compression_wrapper(raw, "rb", filename=name)
            try:
                yield stream
            finally:
                stream.close()
        finally:
            raw.close()
        return
    import smart_open
    with smart_open.open(path, "rb") as handle:
        yield handle


@contextmanager
def local_path(path):
    """``path`` itself, or for an http(s) URL a temporary copy downloaded with the timeout and removed on
    exit; for readers (gensim's) that open the path themselves and take no timeout."""
    path = os.fspath(path)
    if not _is_http(path):
        yield path
        return
    name = os.path.basename(path.split("?", 1)[0])
    suffix = next((ext for ext in COMPRESSED if name.endswith(ext)), "")  # keep the compression ending
    with tempfile.NamedTemporaryFile(prefix="torch_w2v_download_", suffix=suffix) as copy:
        with _open_http(path) as source:
            shutil.copyfileobj(source, copy, 1 << 20)
        copy.flush()
        yield copy.name


def damaged(path, exc, line_no=None) -> ValueError:
    """The error for a compressed file that ends early or holds corrupt data (``exc`` from the decoder)."""
    where = f" after line {line_no}" if line_no else ""
    detail = str(exc) or type(exc).__name__
    return ValueError(f"{os.fspath(path)}: the compressed file is truncated or damaged{where} ({detail}). "
                      f"Download or compress it again.")


def _is_compressed(path) -> bool:
    return os.fspath(path).split("?", 1)[0].endswith(COMPRESSED)


def is_damage(exc, path) -> bool:
    """Whether ``exc``, raised while reading ``path``, says the (compressed) file is truncated or corrupt."""
    if isinstance(exc, _DAMAGED):
        return True
    return type(exc) is OSError and _is_compressed(path)  # bz2's "Invalid data stream" is a plain OSError


def read_blocks(source, size: int, lines_read=lambda: None):
    """The bytes of ``source`` (a path or URL, plain or compressed) in blocks of ``size``. A truncated or
    damaged compressed file raises ValueError, placed after line ``lines_read()`` when that is known."""
    with open_input(source) as fin:
        while True:
            try:
                data = fin.read(size)
            except (OSError, *_DAMAGED) as exc:
                if not is_damage(exc, source):
                    raise
                raise damaged(source, exc, lines_read()) from None
            if not data:
                return
            yield data
