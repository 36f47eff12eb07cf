"""The lecture's w^999 toy: why RNN gradients explode, and how clipping helps.

A linear RNN with one unit, recurrent weight w and input 1 at the first of
1000 steps, outputs y = w^999 at the last. Around w = 1 the output and its
gradient 999 w^998 change by orders of magnitude (w = 1.01 gives about
2.08e4, w = 0.99 about 4.4e-5). Fitting y to a target by plain SGD then
throws w far away; clipping the gradient norm at 15 keeps every step small
and training converges.

    python examples/exploding_gradients.py        # writes exploding_*.png
"""
import numpy as np

import rnnfast
from _common import parse, pyplot

T = 1000


def output_and_grad(w: float, target: float = 0.0):
    """y = w^999 and d(0.5 (y - target)^2)/dw, through rnnfast's BPTT."""
    x = np.zeros((T, 1, 1))
    x[0] = 1.0
    out = rnnfast.rnn(x, [[1.0]], [[w]], nonlinearity="identity", keep_tape=True)
    y = float(out.h_n[0, 0])
    g = rnnfast.rnn_backward(out, dh_n=np.array([[y - target]]))
    return y, g.dw_hh  # dw_hh (1, 1)


def train(w0: float, target: float, lr: float, steps: int, clip=None):
    w, path = w0, []
    for _ in range(steps):
        y, g = output_and_grad(w, target)
        if clip is not None:
            rnnfast.clip_grad_norm([g], clip)
        path.append((w, 0.5 * (y - target) ** 2))
        w -= lr * float(g[0, 0])
        if not np.isfinite(w) or abs(w) > 10:
            path.append((w, np.inf))
            break
    return path


def main(argv=None):
    args = parse(__doc__, argv)
    plt = pyplot()
    ws = np.linspace(0.98, 1.02, 41 if args.quick else 401)
    ys, gs = zip(*[(lambda r: (r[0], float(r[1][0, 0])))(output_and_grad(w, 0.0)) for w in ws])
    gs = [g / max(y, 1e-300) for g, y in zip(gs, ys)]  # d y / dw = 999 w^998
    for w in (1.0, 1.01, 0.99):
        print(f"w = {w}: y = w^999 = {output_and_grad(w)[0]:.3g}")

    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    ax[0].semilogy(ws, ys)
    ax[0].set(xlabel="w", ylabel="y = w^999", title="output after 1000 steps")
    ax[1].semilogy(ws, np.abs(gs))
    ax[1].set(xlabel="w", ylabel="|dy/dw|", title="its gradient (BPTT)")
    fig.tight_layout()
    fig.savefig(f"{args.out}/exploding_surface.png", dpi=100)

    target, lr, steps, w0 = 2.0, 1e-5, 60 if args.quick else 200, 1.003
    plain = train(w0, target, lr, steps)
    clipped = train(w0, target, lr, steps, clip=15.0)
    fig, ax = plt.subplots(figsize=(6, 4))
    for path, label in ((plain, "plain SGD"), (clipped, "SGD, gradient norm clipped at 15")):
        loss = [min(l_, 1e30) for _, l_ in path]
        ax.semilogy(range(len(loss)), loss, label=label)
    ax.set(xlabel="step", ylabel="loss 0.5 (w^999 - 2)^2", title=f"fitting y = 2 from w = {w0}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(f"{args.out}/exploding_training.png", dpi=100)
    w_end, loss_end = clipped[-1]
    print(f"plain SGD: {'diverged' if not np.isfinite(plain[-1][1]) else 'stayed finite'} "
          f"at step {len(plain) - 1} (w = {plain[-1][0]:.4g})")
    print(f"clipped:   w = {w_end:.6f} (exact {target ** (1 / 999):.6f}), loss {loss_end:.2e}")
    return dict(plain=plain, clipped=clipped, target=target)


if __name__ == "__main__":
    main()
