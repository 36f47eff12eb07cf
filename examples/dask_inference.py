"""Batch inference over a dataset larger than one worker's share, on Dask.

A trained layer pickles, so Dask can ship it to worker processes. The
dataset is a dask.array (T, N, I) split into chunks of sequences along the
batch axis; map_blocks runs the layer on each chunk, on a LocalCluster of
worker processes with two threads each; each task sets rnnfast's OpenMP
threads for its worker. (A layer in eval mode may serve several threads at
once; training, forward then backward, needs one layer per thread.) The
result is checked against one in-process call: the bits are the same, since
rnnfast's results do not depend on how many threads or which process
computed them.

    python examples/dask_inference.py   # writes dask_inference.png
"""
import numpy as np

import rnnfast
from _common import parse, pyplot


def run_chunk(block, layer, threads):
    """One chunk of sequences (T, n, I) -> outputs (T, n, D*H), in a worker."""
    rnnfast.set_num_threads(threads)
    return layer(block)[0]


def main(argv=None, n_workers=2, threads_per_worker=2):
    args = parse(__doc__, argv)
    import dask.array as da
    from dask.distributed import Client, LocalCluster

    T, N, I, H = (20, 256, 16, 32) if args.quick else (50, 4096, 32, 64)
    chunk = N // 8
    layer = rnnfast.GRU(I, H, num_layers=2, bidirectional=True, seed=0).eval()
    rng = np.random.default_rng(0)
    data = rng.standard_normal((T, N, I)).astype(np.float32)
    x = da.from_array(data, chunks=(T, chunk, I))

    with LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker,
                      processes=True, dashboard_address=None) as cluster, Client(cluster):
        y = x.map_blocks(run_chunk, layer, threads_per_worker,
                         chunks=(T, chunk, 2 * H), dtype=np.float32)
        out = y.compute()
    want = layer(data)[0]
    same = bool(np.array_equal(out, want))
    print(f"{N} sequences in {N // chunk} chunks on {n_workers} worker processes x "
          f"{threads_per_worker} threads: equal to one in-process call, bit for bit: {same}")

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.imshow(out[:, ::max(1, N // 64), 0].T, aspect="auto", cmap="RdBu_r")
    ax.set(xlabel="step", ylabel="sequence (every chunk)", title="unit 0 of the Dask result")
    fig.tight_layout()
    fig.savefig(f"{args.out}/dask_inference.png", dpi=100)
    return same


if __name__ == "__main__":
    main()
