"""Command line: run one playground experiment, print its progress, save a picture.

Example:
    python -m fastmlp.playground --dataset spiral --hidden 8,8 --activation tanh --epochs 300 \\
        --out spiral.png
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fastmlp.datasets.playground import GENERATORS
from fastmlp.playground._settings import (
    DEFAULT_LEARNING_RATE,
    INITS,
    OPTIMIZERS,
    RegularizationWarning,
    regularization_problem,
)
from fastmlp.playground.experiment import MODES, Playground

PICTURES = ("overview", "boundary", "neurons", "network", "loss")


def _int_list(text: str) -> tuple[int, ...]:
    """ "8,8" -> (8, 8); "" or "0" or "none" -> () (no hidden layer)."""
    if text.strip().lower() in ("", "0", "none"):
        return ()
    try:
        units = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected units per hidden layer such as 8,8 (or 0 for none), got {text!r}"
        ) from None
    if any(u < 1 for u in units):
        raise argparse.ArgumentTypeError(f"hidden layer sizes must be positive, got {text!r}")
    return units


def _name_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _at_least(low: float, kind: type = float) -> Callable[[str], Any]:
    """An argparse type: a finite number (kind int or float) >= low, refused with a message."""
    expected = f"{'an integer' if kind is int else 'a finite number'} >= {low:g}"

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not math.isfinite(value) or value < low:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    parse.__name__ = kind.__name__  # argparse's name for the type in its own messages
    return parse


class _DefaultsFormatter(argparse.HelpFormatter):
    """Appends "(default: ...)" to every option's help, once, unless its help already says it.

    (argparse's ArgumentDefaultsHelpFormatter skips options without help and writes
    "(default: None)" where the help explains the default in words.)
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        help_text = action.help or ""
        if "default" in help_text or action.default is None or action.default is argparse.SUPPRESS:
            return help_text
        default = "off" if action.default is False else "%(default)s"  # a flag
        return f"{help_text} (default: {default})"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `python -m fastmlp.playground`."""
    p = argparse.ArgumentParser(
        prog="python -m fastmlp.playground",
        description="Train a network on one of the TensorFlow Playground's datasets.",
        formatter_class=_DefaultsFormatter,
    )
    p.add_argument(
        "--dataset",
        default="circle",
        choices=list(GENERATORS),
        type=lambda name: name.strip().lower().replace("-", "_"),  # reg-plane, as the README
        help="the data",
    )
    p.add_argument(
        "--features",
        type=_name_list,
        default="x1,x2",
        help="comma-separated, among x1, x2, x1^2, x2^2, x1x2, sinx1, sinx2, which need no "
        "quotes in a shell (also written x1*x2, sin(x1), sin(x2), in quotes)",
    )
    p.add_argument(
        "--hidden",
        type=_int_list,
        default="4,2",
        help="units per hidden layer, e.g. 8,8; 0 for no hidden layer",
    )
    p.add_argument(
        "--activation",
        default="tanh",
        choices=["tanh", "relu", "sigmoid", "linear"],
        help="of the hidden layers",
    )
    p.add_argument(
        "--learning-rate",
        type=_at_least(0),
        default=DEFAULT_LEARNING_RATE,
        help="step size on the reported loss, for every optimizer",
    )
    p.add_argument(
        "--regularization",
        default="none",
        choices=["none", "l1", "l2"],
        help="penalty on the weights (give --regularization-rate too)",
    )
    p.add_argument("--regularization-rate", type=_at_least(0), default=0.0, help="its rate")
    p.add_argument(
        "--batch-size", type=_at_least(1, int), default=10, help="samples per gradient step"
    )
    p.add_argument("--ratio", type=float, default=0.5, help="fraction of the data that trains")
    p.add_argument("--noise", type=float, default=0.0, help="noise level, 0 to 0.5")
    p.add_argument(
        "--n-samples",
        type=_at_least(2, int),
        default=None,
        help="points to generate (default: 500, or 1200 for regression)",
    )
    p.add_argument(
        "--mode",
        default="playground",
        choices=list(MODES),
        help="playground: ½·MSE, SGD, U(-0.5, 0.5); modern: cross-entropy, Adam, Glorot",
    )
    p.add_argument(
        "--optimizer",
        default=None,
        choices=list(OPTIMIZERS),
        help="(default: the mode's, sgd in playground mode, adam in modern mode)",
    )
    p.add_argument(
        "--init",
        default=None,
        choices=list(INITS),
        help="initial weights (default: the mode's, playground or glorot)",
    )
    p.add_argument("--epochs", type=_at_least(1, int), default=300, help="epochs to train")
    p.add_argument(
        "--seed",
        type=_at_least(0, int),
        default=None,
        help="of the weights, the data and the shuffling (default: a random one, printed)",
    )
    p.add_argument(
        "--out", default=None, help="save a picture to this PNG file (default: no picture)"
    )
    p.add_argument(
        "--picture", default="overview", choices=list(PICTURES), help="which picture --out saves"
    )
    p.add_argument("--discretize", action="store_true", help="colour only the predicted class")
    p.add_argument("--quiet", action="store_true", help="print only the final result")
    return p


def _line(pg: Playground) -> str:
    last = {key: values[-1] for key, values in pg.history.items() if values}
    text = f"training loss {last['loss']:.4g}  test loss {last['test_loss']:.4g}"
    if pg.classification:
        text += (
            f"  training accuracy {last['accuracy']:.3f}  test accuracy {last['test_accuracy']:.3f}"
        )
    return text


def _save(pg: Playground, path: str, picture: str, discretize: bool) -> None:
    from fastmlp.playground import plots  # matplotlib only when a picture is asked for

    if picture == "overview":
        fig = plots.overview(pg, discretize=discretize)
    elif picture == "boundary":
        fig = plots.decision_boundary(pg, discretize=discretize)
    elif picture == "neurons":
        fig = plots.neuron_grid(pg)
    elif picture == "network":
        fig = plots.network_diagram(pg)
    else:
        fig = plots.loss_curves(pg)
    fig.savefig(path)


def _check_out(parser: argparse.ArgumentParser, path: str) -> None:
    """Refuse a picture that could not be saved, before training rather than after it."""
    folder = Path(path).parent
    if not folder.is_dir():
        parser.error(f"argument --out: folder {str(folder)!r} does not exist (for {path!r})")
    from fastmlp.playground._draw import matplotlib_parts

    try:
        matplotlib_parts()
    except ImportError as err:
        parser.error(f"argument --out: {err}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with `argv` (default: sys.argv[1:]); returns the exit status.

    Args:
        argv: The arguments. Defaults to None (the process's arguments).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.out:
        _check_out(parser, args.out)
    regularization = None if args.regularization == "none" else args.regularization
    try:
        with warnings.catch_warnings():
            # said below in the command line's words
            warnings.simplefilter("ignore", RegularizationWarning)
            pg = Playground(
                dataset=args.dataset,
                features=args.features,
                hidden=args.hidden,
                activation=args.activation,
                learning_rate=args.learning_rate,
                regularization=regularization,
                regularization_rate=args.regularization_rate,
                batch_size=args.batch_size,
                ratio=args.ratio,
                noise=args.noise,
                n_samples=args.n_samples,
                mode=args.mode,
                optimizer=args.optimizer,
                init=args.init,
                seed=args.seed,
            )
    except (TypeError, ValueError) as err:
        parser.error(str(err))
    names = ("--regularization", "--regularization-rate")
    problem = regularization_problem(regularization, args.regularization_rate, names)
    if problem:
        print(f"{parser.prog}: warning: {problem}", file=sys.stderr)
    if not args.quiet:
        print(f"{pg!r}  seed={pg.seed}")
    start = time.perf_counter()
    report_every = max(1, args.epochs // 10)
    while pg.epoch < args.epochs:
        pg.fit(min(report_every, args.epochs - pg.epoch))
        if not args.quiet:
            print(
                f"epoch {pg.epoch:>{len(str(args.epochs))}}/{args.epochs}  {_line(pg)}", flush=True
            )
    seconds = time.perf_counter() - start
    print(f"final after {pg.epoch} epochs ({seconds:.2f} s): {_line(pg)}")
    if args.out:
        _save(pg, args.out, args.picture, args.discretize)
        print(f"saved {args.picture} picture to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
