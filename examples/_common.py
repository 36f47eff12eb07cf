"""What the examples share: command-line options and where pictures go."""
import argparse
import os


def parse(description: str, argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "output"),
                   help="folder for the PNG files (default: examples/output)")
    p.add_argument("--quick", action="store_true",
                   help="a few seconds' smoke run with fewer steps (used by the tests)")
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    return args


def pyplot():
    """matplotlib without a screen."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
