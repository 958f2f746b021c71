"""Data-parallel training on ``torch.distributed``: one model, several processes or machines.

Launch with ``torchrun`` (``torchrun --nproc_per_node=N -m torch_w2v train CORPUS -o OUT``), or call
``torch.distributed.init_process_group`` yourself before using :class:`torch_w2v.Word2Vec`. The scheme:

* **vocabulary**: built once, by rank 0, with exactly the single-process rules, and broadcast; every
  rank then draws the same initial weights from the same seed;
* **corpus split**: each rank trains on its share: a byte range of a plain ``corpus_file`` (lines
  starting in ``[size*r/N, size*(r+1)/N)``, as gensim's corpus_file workers split it), or a contiguous
  block of sentences for iterables and compressed files;
* **schedule**: one global learning-rate schedule: each rank's progress is its share of the epoch, so
  all ranks decay together; its random draws are seeded by (seed, rank, epoch, chunk);
* **agreement**: every ``sync_words`` words per rank (and always at an epoch's end) the ranks merge: each
  rank's change since the last merge is summed over ranks (``all_reduce``) and added to the common
  weights, so every update counts as in a single process; the sync points are spread evenly over each
  rank's chunks, so ranks with shares of different sizes still meet;
* counts, loss and the returned ``(effective_words, raw_words)`` are summed over ranks.

Backends: gloo on CPU, NCCL on CUDA (each rank on ``cuda:LOCAL_RANK``). After ``train()`` all ranks hold
the same weights; by convention rank 0 writes the outputs.
"""
from __future__ import annotations

import atexit
import datetime
import logging
import os
import time

import numpy as np
import torch
import torch.distributed as dist

logger = logging.getLogger("torch_w2v")
# how long a collective waits for a rank before failing (torchrun ends the group sooner when a worker dies;
# this bounds a hang where it cannot tell, e.g. a stalled node)
TIMEOUT = datetime.timedelta(seconds=int(os.environ.get("TORCH_W2V_DIST_TIMEOUT", "300")))
_owns_group = False  # True once init_from_env created the process group (and so must destroy it)
_groups_before = 0   # how many groups of this job met on its store before this one (init_from_env)
KEYS = "torch_w2v"   # the store keys torch_w2v writes live under this prefix
POLL = 0.02          # seconds between two looks at the store for a key another rank writes
GREET_EVERY = 1.0    # seconds a rank waits to be welcomed before greeting rank 0 again


def is_active() -> bool:
    """True when a process group of more than one rank is initialised."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_active() else 0


def world_size() -> int:
    return dist.get_world_size() if is_active() else 1


def init_from_env(device: str | None = None) -> bool:
    """Initialise the process group from torchrun's environment (RANK, WORLD_SIZE, MASTER_ADDR, ...).

    gloo for CPU training, NCCL for CUDA (and then ``device`` becomes ``cuda:LOCAL_RANK``). Returns True
    when running distributed. Does nothing outside torchrun or when a group already exists.
    """
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return is_active()
    if not dist.is_initialized():
        use_cuda = (device or "").startswith("cuda") or (device is None and torch.cuda.is_available())
        backend = "nccl" if use_cuda else "gloo"
        if use_cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        store, rank_, size = next(dist.rendezvous("env://"))
        store.set_timeout(TIMEOUT)
        name, groups_before = _group_name(store, rank_, size)
        dist.init_process_group(backend=backend, store=dist.PrefixStore(f"{KEYS}/group{name}", store),
                                rank=rank_, world_size=size, timeout=TIMEOUT)
        global _owns_group, _groups_before
        _owns_group, _groups_before = True, groups_before
        atexit.register(shutdown)
        logger.info("torch.distributed: rank %i of %i, backend %s", dist.get_rank(), dist.get_world_size(),
                    backend)
    return is_active()


def _group_name(store, rank_: int, size: int) -> tuple[str, int]:
    """Agree through ``store`` on a name that this group's ranks share and no earlier group of the job had,
    and on how many groups met on the store before (0 at the job's start). Returns both, the same on every rank.

    torchrun keeps one store for the whole job, so a restarted group finds the dead group's keys in it and would
    connect to its dead ranks' addresses; its restart count cannot name the group, as it differs between nodes
    (a node whose worker failed counts a restart, the others restart theirs for the change of members and do
    not). Every process takes a ticket from a counter of the store. A restarted group's processes start once
    every process of the group before has stopped, so whatever they write is theirs. Rank 0 clears the other
    ranks' greetings, then answers each greeting (a rank's ticket, under a key of its rank) with the group's
    name, its own ticket; a rank greets again until answered, in case rank 0 cleared its first greeting.
    """
    ticket = store.add(f"{KEYS}/tickets", 1)
    if rank_ == 0:
        groups_before = store.add(f"{KEYS}/groups", 1) - 1
        name = f"{ticket}.{groups_before}"
        for r in range(1, size):
            store.delete_key(f"{KEYS}/hello/{r}")
        for r in range(1, size):
            _wait_for(store, f"{KEYS}/hello/{r}", TIMEOUT.total_seconds(), f"rank {r} to join")
            store.set(f"{KEYS}/welcome/{int(store.get(f'{KEYS}/hello/{r}'))}", name)
    else:
        welcome, deadline = f"{KEYS}/welcome/{ticket}", time.monotonic() + TIMEOUT.total_seconds()
        while True:
            store.set(f"{KEYS}/hello/{rank_}", str(ticket))
            left = deadline - time.monotonic()
            if _wait_for(store, welcome, min(GREET_EVERY, max(left, 0.0)), "rank 0", fail=left <= GREET_EVERY):
                break
        name = store.get(welcome).decode()
    return name, int(name.split(".")[1])


def _wait_for(store, key: str, seconds: float, what: str, fail: bool = True) -> bool:
    """Poll ``store`` until ``key`` exists: True; after ``seconds``, False, or (``fail``) an error naming
    ``what`` was awaited and the setting that bounds the wait."""
    end = time.monotonic() + seconds
    while not store.check([key]):
        if time.monotonic() >= end:
            if fail:
                raise RuntimeError(f"torch.distributed: waited {seconds:.0f} s for {what} in the group's store; "
                                   f"a rank of the job did not start or stalled (the wait is "
                                   f"TORCH_W2V_DIST_TIMEOUT={TIMEOUT.total_seconds():.0f} seconds)")
            return False
        time.sleep(POLL)
    return True


def restarted() -> bool:
    """True on every rank of a group torchrun started again (``--max-restarts``: after a failure, or after a node
    left or joined), False in the job's first group and outside ``torch.distributed``."""
    if not is_active():
        return False
    try:
        counted = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")) > 0
    except ValueError:
        counted = False
    # _groups_before: the same on every rank where torchrun shares its store with the workers (its default);
    # the restart count: where each group has a store of its own (TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1)
    return any_rank(_groups_before > 0 or counted)


def groups_before() -> int:
    """How many groups of this torchrun job met before this one (0: the job's first); see :func:`restarted`."""
    return _groups_before


def shutdown() -> None:
    """Destroy the process group :func:`init_from_env` created, so that no rank exits with gloo's or NCCL's
    threads still running (a rank leaving in that state can abort with SIGABRT). Registered with
    ``atexit`` by :func:`init_from_env`; calling it earlier is fine."""
    global _owns_group
    if _owns_group and dist.is_initialized():
        dist.destroy_process_group()
    _owns_group = False


def local_device(device: str | None) -> str | None:
    """On CUDA, each rank uses its own GPU: ``cuda`` -> ``cuda:LOCAL_RANK``."""
    if is_active() and device in ("cuda", None) and torch.cuda.is_available():
        return f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    return device


# --------------------------------------------------------------------------------------- vocabulary
VOCAB_STATE = ("corpus_count", "corpus_total_words", "effective_min_count", "min_count", "sample", "cum_table",
               "_drawn_seed")  # seed=None: rank 0's drawn seed, so that every rank draws the same weights


def broadcast_vocab(model, update: bool = False) -> None:
    """Make every rank's vocabulary and initial weights those that rank 0 built (or updated)."""
    wv = model.wv
    state = None
    if rank() == 0:
        state = {"keys": list(wv.index_to_key), "expandos": {k: np.asarray(v) for k, v in wv.expandos.items()},
                 **{name: getattr(model, name) for name in VOCAB_STATE}}
    box = [state]
    dist.broadcast_object_list(box, src=0)
    if rank() != 0:
        state = box[0]
        wv.index_to_key = list(state["keys"])
        wv.key_to_index = {w: i for i, w in enumerate(wv.index_to_key)}
        wv.expandos = {k: np.array(v) for k, v in state["expandos"].items()}
        for name in VOCAB_STATE:
            setattr(model, name, state[name])
        # the same seed gives the same draw as rank 0's; an update keeps the (already equal) trained rows
        if update:
            model.update_weights()
        else:
            model.init_weights()


# ------------------------------------------------------------------------------------- corpus split
class ByteRangeLineSentence:
    """The lines of a plain text file that start in ``[start, end)``, as token lists (non-empty lines)."""

    def __init__(self, path, start: int, end: int):
        self.path, self.start, self.end = os.fspath(path), start, end

    def __iter__(self):
        with open(self.path, "rb") as f:
            if self.start > 0:
                f.seek(self.start - 1)
                f.readline()  # finish the line that began before our range
            while f.tell() < self.end:
                line = f.readline()
                if not line:
                    break
                tokens = line.decode("utf-8").split()
                if tokens:
                    yield tokens


class _Block:
    """Sentences ``[first, last)`` of an iterable corpus."""

    def __init__(self, sentences, first: int, last: int):
        self.sentences, self.first, self.last = sentences, first, last

    def __iter__(self):
        for i, sentence in enumerate(self.sentences):
            if i >= self.last:
                break
            if i >= self.first:
                yield sentence


def shard(sentences=None, corpus_file=None, n_sentences: int = 0):
    """This rank's share of the corpus, as an iterable of token lists."""
    r, n = rank(), world_size()
    if corpus_file is not None:
        path = os.fspath(corpus_file)
        from .corpus import LineSentence
        from .sources import COMPRESSED, is_url
        if not is_url(path) and not path.endswith(COMPRESSED):
            size = os.path.getsize(path)
            return ByteRangeLineSentence(path, size * r // n, size * (r + 1) // n)
        sentences = LineSentence(path)
    total = len(sentences) if hasattr(sentences, "__len__") else n_sentences
    return _Block(sentences, total * r // n, total * (r + 1) // n)


def any_rank(flag: bool) -> bool:
    """True on every rank if ``flag`` is true on any."""
    t = torch.tensor([1.0 if flag else 0.0], dtype=torch.float64)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def gather(value) -> list:
    """Every rank's ``value`` (a picklable object of torch_w2v's own making), in rank order, on every rank."""
    out = [None] * world_size()
    dist.all_gather_object(out, value)
    return out


def all_sum(values) -> list:
    """Sum numbers over ranks (float64)."""
    t = torch.tensor([float(v) for v in values], dtype=torch.float64)
    dist.all_reduce(t)
    return t.tolist()


# ---------------------------------------------------------------------------------------- averaging
class ModelAverager:
    """Merges the ranks' weights at sync points spread over each rank's chunks of an epoch.

    Each rank's change since the last sync is summed over ranks and applied to the common weights:
    ``W <- W_sync + sum_r (W_r - W_sync)``. Every update of every rank counts in full, as in one process
    training the whole corpus; plain averaging would divide each rank's progress by the number of ranks
    (measured on the benchmark corpus, 2 ranks, 8 syncs per epoch: analogies 11.0% averaged, against
    15.4% single-process).
    """

    def __init__(self, tensors, sync_per_epoch: int):
        self.tensors = [t for t in tensors if t is not None]
        self.base = [t.clone() for t in self.tensors]  # the weights at the last sync, equal on all ranks
        self.sync_per_epoch = max(1, int(sync_per_epoch))
        self.points: set = set()
        self.k = self.done = 0

    def begin_epoch(self, n_chunks: int, resumed_chunks: int = 0) -> None:
        """Agree on the number of syncs (no rank can sync more often than it has chunks); a resumed epoch
        (``resumed_chunks`` done) has had the syncs of those chunks."""
        fewest = torch.tensor([n_chunks], dtype=torch.int64)
        dist.all_reduce(fewest, op=dist.ReduceOp.MIN)
        self.k = max(1, min(self.sync_per_epoch, int(fewest.item())))
        self.points = {(n_chunks * (i + 1)) // self.k - 1 for i in range(self.k)}  # the last chunk is one
        self.done = sum(1 for point in self.points if point < resumed_chunks)

    def after_chunk(self, index: int) -> bool:
        """Merge if ``index`` is a sync point; True after a merge that is not the epoch's last, which every
        rank reaches at the same time (a point to checkpoint the whole job: all ranks hold the same weights;
        with k >= 2 syncs every rank has at least 2 chunks, so none makes them up in finish_epoch)."""
        if index in self.points:
            self.merge()
            return self.done < self.k
        return False

    def finish_epoch(self) -> None:
        """Catch up on syncs a rank did not reach (an empty share): every rank merges ``k`` times."""
        while self.done < self.k:
            self.merge()

    def merge(self) -> None:
        for t, base in zip(self.tensors, self.base):
            t -= base                 # this rank's change since the last sync
            dist.all_reduce(t)        # summed over ranks
            t += base
            base.copy_(t)
        self.done += 1
