"""A callback that logs the training loss after each epoch (``compute_loss=True``, ``CallbackAny2Vec``).

``get_latest_training_loss()`` is the loss summed since the start of the current ``train()`` call, so
the callback prints the difference to the previous epoch's value.
"""
from gensim.models.callbacks import CallbackAny2Vec
from gensim.models.word2vec import LineSentence
from gensim.test.utils import datapath
from torch_w2v import Word2Vec


class LossLogger(CallbackAny2Vec):
    """Output loss at each epoch."""

    def __init__(self):
        self.epoch = 0
        self.previous = 0.0
        self.losses = []

    def on_epoch_end(self, model):
        total = model.get_latest_training_loss()
        self.losses.append(total - self.previous)
        print(f"Loss after epoch {self.epoch}: {total - self.previous:.1f}")
        self.previous = total
        self.epoch += 1


logger = LossLogger()
# workers=1: gensim's loss tally is not thread-safe (threads lose each other's float32 additions), so with
# several workers its per-epoch figures jump around (296k, 359k, 229k, 224k, 328k in one run here)
model = Word2Vec(LineSentence(datapath('lee_background.cor')), vector_size=50, min_count=2, sg=1, epochs=5,
                 workers=1, compute_loss=True, callbacks=[logger])
print("epochs logged:", len(logger.losses), "- loss fell:", logger.losses[-1] < logger.losses[0])
print("latest training loss:", round(model.get_latest_training_loss(), 1))
print("loss callback: OK")
