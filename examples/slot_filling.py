"""Slot filling with a bidirectional LSTM tagger, as in the lecture's example.

In "arrive Taipei on November 2nd", Taipei is the destination and November
2nd the time of arrival; in "leave Taipei on November 2nd" the same words are
the place and time of departure. Sentences come from templates; in some the
word that decides ("arrive", "leave") comes first, in others only after the
city and the date ("Taipei on November 2nd , arriving"). Words are 1-of-N
vectors with one entry for "other" (unknown words). A bidirectional tagger
reads the whole sentence; a unidirectional one cannot see the deciding word
in the second kind, and its per-slot F1 on a held-out split shows it.

    python examples/slot_filling.py     # writes slot_filling.png
"""
import numpy as np

import rnnfast
from _common import parse, pyplot

try:
    from tqdm import tqdm
except ImportError:  # the progress bar is optional
    def tqdm(it, **_):
        return it

CITIES = ["taipei", "tokyo", "new york", "san francisco", "london", "paris", "seoul",
          "hong kong", "taichung", "kaohsiung"]
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december"]
def _ordinal(d: int) -> str:
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(d % 10 if d not in (11, 12, 13) else 0, "th")
    return f"{d}{suffix}"


DAYS = [_ordinal(d) for d in range(1, 29)]
# (template, slot of {city}, slot of {date})
TEMPLATES = [
    ("arrive {city} on {date}", "dest", "arr_time"),
    ("i would like to arrive in {city} on {date}", "dest", "arr_time"),
    ("landing in {city} on {date} please", "dest", "arr_time"),
    ("leave {city} on {date}", "origin", "dep_time"),
    ("i am leaving {city} on {date}", "origin", "dep_time"),
    ("flying out of {city} on {date} please", "origin", "dep_time"),
    ("{city} on {date} , arriving", "dest", "arr_time"),
    ("{city} on {date} is when i arrive", "dest", "arr_time"),
    ("{city} on {date} , departing", "origin", "dep_time"),
    ("{city} on {date} is when i leave", "origin", "dep_time"),
]
SLOTS = ["dest", "origin", "arr_time", "dep_time"]
TAGS = ["O"] + SLOTS


def sentence(rng):
    tmpl, city_slot, date_slot = TEMPLATES[rng.integers(len(TEMPLATES))]
    city = CITIES[rng.integers(len(CITIES))].split()
    date = [MONTHS[rng.integers(12)], DAYS[rng.integers(len(DAYS))]]
    words, tags = [], []
    for w in tmpl.split():
        if w == "{city}":
            words += city
            tags += [city_slot] * len(city)
        elif w == "{date}":
            words += date
            tags += [date_slot] * 2
        else:
            words.append(w)
            tags.append("O")
    return words, tags


def corpus(rng, n):
    return [sentence(rng) for _ in range(n)]


def vocabulary(sentences, held_out=("taichung", "kaohsiung")):
    """Every training word except some cities, which stay unknown ("other")."""
    words = sorted({w for s, _ in sentences for w in s} - set(held_out))
    return {w: k + 1 for k, w in enumerate(words)}  # 0 is "other"


def encode(batch, vocab):
    """1-of-N inputs (T, B, V+1), tag ids (T, B) and lengths (B,)."""
    T = max(len(s) for s, _ in batch)
    x = np.zeros((T, len(batch), len(vocab) + 1), np.float32)
    y = np.zeros((T, len(batch)), np.int64)
    for b, (words, tags) in enumerate(batch):
        for t, (w, tag) in enumerate(zip(words, tags)):
            x[t, b, vocab.get(w, 0)] = 1
            y[t, b] = TAGS.index(tag)
    return x, y, np.array([len(s) for s, _ in batch])


class Tagger:
    """An LSTM (one or two directions) and a softmax over the tags."""

    def __init__(self, V, H, bidirectional, seed):
        self.rnn = rnnfast.LSTM(V, H, bidirectional=bidirectional, seed=seed)
        D = 2 if bidirectional else 1
        rng = np.random.default_rng(seed)
        self.W = rng.uniform(-0.1, 0.1, (len(TAGS), D * H)).astype(np.float32)
        self.b = np.zeros(len(TAGS), np.float32)
        self.dW, self.db = np.zeros_like(self.W), np.zeros_like(self.b)
        self.opt = rnnfast.optim.Adam([self.rnn, {"W": (self.W, self.dW), "b": (self.b, self.db)}],
                                      lr=0.01)

    def logits(self, x, lengths):
        h, _ = self.rnn(x, seq_lengths=lengths)
        return h, h @ self.W.T + self.b

    def train_step(self, x, y, lengths):
        self.rnn.train()
        h, z = self.logits(x, lengths)
        p = np.exp(z - z.max(axis=2, keepdims=True))
        p /= p.sum(axis=2, keepdims=True)
        mask = (np.arange(x.shape[0])[:, None] < lengths[None, :]).astype(np.float32)
        n = mask.sum()
        loss = -np.sum(np.log(np.take_along_axis(p, y[..., None], 2)[..., 0] + 1e-9) * mask) / n
        dz = p.copy()
        np.put_along_axis(dz, y[..., None], np.take_along_axis(dz, y[..., None], 2) - 1, 2)
        dz *= mask[..., None] / n
        self.opt.zero_grad()
        self.dW += np.einsum("tbk,tbh->kh", dz, h)
        self.db += dz.sum(axis=(0, 1))
        self.rnn.backward(dz @ self.W)
        rnnfast.clip_grad_norm([*self.rnn.grads.values(), self.dW, self.db], 5.0)
        self.opt.step()
        return loss

    def predict(self, x, lengths):
        self.rnn.eval()
        return self.logits(x, lengths)[1].argmax(axis=2)


def slot_f1(pred, y, lengths):
    """Word-level F1 of each slot over the valid words."""
    valid = np.arange(y.shape[0])[:, None] < lengths[None, :]
    out = {}
    for k, slot in enumerate(TAGS[1:], start=1):
        tp = np.sum((pred == k) & (y == k) & valid)
        fp = np.sum((pred == k) & (y != k) & valid)
        fn = np.sum((pred != k) & (y == k) & valid)
        out[slot] = 2 * tp / max(2 * tp + fp + fn, 1)
    return out


def main(argv=None):
    args = parse(__doc__, argv)
    rng = np.random.default_rng(0)
    train, test = corpus(rng, 4000), corpus(rng, 1000)
    vocab = vocabulary(train)
    xt, yt, lt = encode(test, vocab)
    steps = 60 if args.quick else 600
    results, curves = {}, {}
    for name, bidir in (("bidirectional", True), ("unidirectional", False)):
        model, losses = Tagger(len(vocab) + 1, 32, bidir, seed=1), []
        for step in tqdm(range(steps), desc=f"{name:>14}", unit="batch"):
            batch = [train[i] for i in rng.integers(len(train), size=32)]
            losses.append(model.train_step(*encode(batch, vocab)))
        results[name] = slot_f1(model.predict(xt, lt), yt, lt)
        curves[name] = losses
    print(f"{'held-out F1':>16} " + " ".join(f"{s:>9}" for s in SLOTS))
    for name, f1 in results.items():
        print(f"{name:>16} " + " ".join(f"{f1[s]:9.3f}" for s in SLOTS))

    plt = pyplot()
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    for name, losses in curves.items():
        ax[0].plot(np.convolve(losses, np.ones(10) / 10, mode="valid"), label=name)
    ax[0].set(xlabel="batch", ylabel="cross-entropy (moving average)", title="training")
    ax[0].legend()
    width = 0.38
    for k, (name, f1) in enumerate(results.items()):
        ax[1].bar(np.arange(len(SLOTS)) + (k - 0.5) * width, [f1[s] for s in SLOTS], width,
                  label=name)
    ax[1].set(xticks=range(len(SLOTS)), xticklabels=SLOTS, ylim=(0, 1.05),
              ylabel="F1 on held-out sentences", title="per-slot F1")
    ax[1].legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(f"{args.out}/slot_filling.png", dpi=100)
    return results


if __name__ == "__main__":
    main()
