"""10: a rare class: accuracy says little; precision, recall and the area under the curves say more.

The task: is this MNIST digit an 8? Of the training digits we keep every other kind and only one
8 in twenty (about 0.5% of the set), so a network that never says "8" is already 99.5% accurate.
The same 784-64-1 network (sigmoid output, binary cross-entropy) is trained twice from the same
weights:

- as it is: high accuracy, but it finds few of the 8s (low recall);
- with class_weight, each 8 counting as much as all the others together (Keras's recipe for
  imbalanced data): it finds most 8s, and takes a few other digits for 8s (lower precision).

The area under the ROC curve (AUC) and under the precision-recall curve (PR AUC) judge the scores
at every threshold, not only at 0.5; the picture draws both curves for both networks, from the
test set (where 8s are 9.7% of the digits), at every score. The AUC metric (Keras's) counts at
200 thresholds evenly spaced in [0, 1]: where a network gives most of its scores below 1/199, as
the unweighted one does to the rare class, it cannot tell them apart and underestimates the area;
the legend shows the metric and the area of the drawn curve.

Run:  python examples/10_imbalanced.py [--epochs 3] [--out DIR]
Saves 10_imbalanced.png in DIR (default: the current folder). The MNIST files are found as in
example 07.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import fastmlp as fm
import numpy as np
from fastmlp.playground import figure

DIGIT, KEEP_ONE_IN = 8, 20


def metrics() -> list:
    return [
        "accuracy",
        fm.metrics.Precision(name="precision"),
        fm.metrics.Recall(name="recall"),
        fm.metrics.AUC(name="auc"),
        fm.metrics.AUC(curve="PR", name="pr_auc"),
    ]


def curves(p: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """The ROC and precision-recall curves of scores p for labels y, at every score."""
    order = np.argsort(-p)
    hits = y[order] == 1
    tp, fp = np.cumsum(hits), np.cumsum(~hits)
    fpr, tpr = fp / max(fp[-1], 1), tp / max(tp[-1], 1)
    # (the exact area: trapezoids between consecutive scores)
    area = float(np.sum(np.diff(fpr, prepend=0) * (tpr + np.concatenate([[0], tpr[:-1]])) / 2))
    return {"fpr": fpr, "tpr": tpr, "precision": tp / (tp + fp), "area": area}


def main(epochs: int = 3, out: str | Path = ".", samples: int = 60000) -> dict[str, dict]:
    fig = figure(figsize=(12, 5), dpi=100)  # (first: without matplotlib, fail before training)
    (x_train, y_train), (x_test, y_test) = fm.datasets.mnist.load_data()
    x_train, y_train = x_train[:samples] / 255.0, y_train[:samples]
    is_digit = y_train == DIGIT
    keep = ~is_digit | (np.cumsum(is_digit) % KEEP_ONE_IN == 1)
    x_train, y_train = x_train[keep], (y_train[keep] == DIGIT).astype("float32")
    x_test, y_test = x_test / 255.0, (y_test == DIGIT).astype("float32")
    positives = int(y_train.sum())
    print(f"training set: {len(y_train)} digits, {positives} of them 8s "
          f"({positives / len(y_train):.2%})")  # fmt: skip

    weights = {0: 1.0, 1: (len(y_train) - positives) / positives}
    first, results, drawn = None, {}, {}
    for name, class_weight in (("as it is", None), (f"class_weight 1 : {weights[1]:.0f}", weights)):
        model = fm.Sequential(
            [
                fm.layers.Flatten(input_shape=(28, 28)),
                fm.layers.Dense(64, activation="relu"),
                fm.layers.Dense(1, activation="sigmoid"),
            ],
            seed=0,
        )
        first = first or model.get_weights()
        model.set_weights(first)
        model.compile("adam", "binary_crossentropy", metrics=metrics())
        model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=0,
                  class_weight=class_weight)  # fmt: skip
        results[name] = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
        drawn[name] = curves(model.predict(x_test, verbose=0)[:, 0], y_test)
        results[name]["curve_auc"] = drawn[name]["area"]
        print(f"{name:<20} test: " + ", ".join(f"{k} {v:.4f}" for k, v in results[name].items()))

    roc = fig.add_axes((0.06, 0.12, 0.40, 0.74))
    pr = fig.add_axes((0.56, 0.12, 0.40, 0.74))
    for name, c in drawn.items():
        r = results[name]
        roc.plot(c["fpr"], c["tpr"], label=f"{name}: AUC {r['auc']:.4f} (curve {c['area']:.4f})")
        pr.plot(c["tpr"], c["precision"], label=f"{name}: PR AUC {r['pr_auc']:.4f}")
        # where the 0.5 threshold puts each network
        pr.plot(r["recall"], r["precision"], marker="o", color=roc.lines[-1].get_color())
    roc.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
    roc.set_xlim(0, 0.3)
    roc.set_xlabel("false positive rate (other digits called 8)")
    roc.set_ylabel("true positive rate = recall (8s found)")
    roc.set_title("ROC curve (x axis cut at 0.3)")
    roc.legend(fontsize=9, loc="lower right")
    pr.set_xlabel("recall (8s found)")
    pr.set_ylabel("precision (of the digits called 8, the 8s)")
    pr.set_title("precision-recall curve (dots: threshold 0.5)")
    pr.legend(fontsize=9, loc="lower left")
    fig.suptitle("MNIST: is it an 8? (0.5% of the training digits are)", fontsize=13)
    path = Path(out) / "10_imbalanced.png"
    fig.savefig(path)
    print(f"saved {path}")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", default=".", help="folder for the picture")
    args = parser.parse_args()
    main(args.epochs, args.out)
