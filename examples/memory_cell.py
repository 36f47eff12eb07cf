"""The lecture's LSTM memory cell, learned from scratch and then set by hand.

Inputs per step are (x1, x2, x3): x2 = 1 adds x1 into the memory, x2 = -1
resets it, x3 = 1 reads it out (the output is the memory at read steps and 0
otherwise). One LSTM cell with a linear cell input and output (activations
sigmoid, identity, identity, as in the lecture) can do this exactly. Here it
learns the task from random sequences with backpropagation through time,
Adam and gradient clipping, and then the lecture's hand-set weights run the
lecture's sequence, giving 0 0 0 0 0 7 0 0 6.

    python examples/memory_cell.py      # writes memory_cell_loss.png
"""
import numpy as np

import rnnfast
from _common import parse, pyplot

ACTS = ("sigmoid", "identity", "identity")


def batch(rng, T: int, B: int):
    """Random sequences and their targets."""
    x1 = rng.integers(1, 4, (T, B)).astype(float)
    x2 = rng.choice([1.0, -1.0, 0.0], (T, B), p=[0.15, 0.15, 0.7])
    x3 = (rng.random((T, B)) < 0.3).astype(float)
    mem, target = np.zeros(B), np.zeros((T, B))
    for t in range(T):
        mem = np.where(x2[t] == -1, 0.0, mem) + np.where(x2[t] == 1, x1[t], 0.0)
        target[t] = mem * x3[t]
    return np.stack([x1, x2, x3], axis=2), target[..., None]


def lecture_weights():
    """Gates i, f, g, o from inputs (x1, x2, x3), as drawn in the lecture."""
    w_ih = np.array([[0, 100, 0], [0, 100, 0], [1, 0, 0], [0, 0, 100]], dtype=float)
    b_ih = np.array([-10.0, 10.0, 0.0, -10.0])
    return w_ih, np.zeros((4, 1)), b_ih


def main(argv=None):
    args = parse(__doc__, argv)
    rng = np.random.default_rng(0)
    cell = rnnfast.LSTM(3, 1, activations=ACTS, dtype=np.float64, seed=0)
    # Start with the input gate mostly shut and the forget gate mostly open
    # (a common LSTM initialisation): from a random start the cell first
    # settles for predicting the average read-out, and learns no memory.
    cell.bias_ih_l0[:2] = (-3.0, 3.0)
    opt = rnnfast.optim.Adam(cell, lr=0.03)
    steps = 1000 if args.quick else 3000
    losses = []
    for step in range(steps):
        x, target = batch(rng, 12, 64)
        y, _ = cell(x)
        err = y - target
        losses.append(float(np.mean(err ** 2)))
        cell.zero_grad()
        cell.backward(2 * err / err.size)
        rnnfast.clip_grad_norm(cell.grads, 5.0)
        opt.step()

    cell.eval()
    x, target = batch(np.random.default_rng(1), 12, 2000)
    y, _ = cell(x)
    read = x[..., 2] == 1
    accuracy = float(np.mean(np.abs(y[..., 0] - target[..., 0])[read] < 0.5))
    print(f"trained one-cell LSTM: mean squared error {np.mean((y - target) ** 2):.4f}, "
          f"read-outs within 0.5 of the memory: {accuracy:.1%}")

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.semilogy(losses)
    ax.set(xlabel="Adam step (batch of 64 sequences)", ylabel="mean squared error",
           title="one LSTM cell learning the memory task")
    fig.tight_layout()
    fig.savefig(f"{args.out}/memory_cell_loss.png", dpi=100)

    seq = np.array([(1, 0, 0), (3, 1, 0), (2, 0, 0), (4, 1, 0), (2, 0, 0), (1, 0, 1),
                    (3, -1, 0), (6, 1, 0), (1, 0, 1)], dtype=float)[:, None, :]
    y_hand, _, _ = rnnfast.lstm(seq, *lecture_weights(), activations=ACTS)
    print("hand-set weights on the lecture's sequence:", np.round(y_hand[:, 0, 0], 3))
    return dict(losses=losses, accuracy=accuracy, hand=y_hand[:, 0, 0])


if __name__ == "__main__":
    main()
