"""`summary()` against Keras 3's own output, character for character: the default table, a
Trainable column (Y / N / -), other line lengths and positions (rich's column arithmetic), long
names that wrap, a layer range, and the totals after training with Adam (optimizer variables)."""

from __future__ import annotations

import fastmlp as fm
import numpy as np
import pytest
from fastmlp import layers
from fastmlp._summary import column_widths
from keras_run import run_keras

SEPARATOR = "=" * 20

KERAS_SCRIPT = """
import numpy as np
def models():
    lecture = keras.Sequential([keras.Input((784,)), keras.layers.Dense(128, activation="relu"),
        keras.layers.Dropout(0.2), keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10, activation="softmax")], name="lecture")
    lecture.layers[0].trainable = False
    long = keras.Sequential([keras.Input((784,)),
        keras.layers.Dense(128, name="a_really_long_layer_name_here_xx"),
        keras.layers.Dense(10, name="averyveryveryveryverylongnamewithoutanyspaceatall")],
        name="long names")
    bn = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8),
        keras.layers.BatchNormalization(), keras.layers.Dense(2)], name="bn")
    bn.compile("adam", "mse")
    bn.fit(np.ones((8, 4)), np.ones((8, 2)), verbose=0)
    given = keras.Sequential([keras.Input((6,)),
        keras.layers.Normalization(mean=[1.0] * 6, variance=[4.0] * 6),
        keras.layers.Dense(3)], name="given")
    adapted = keras.Sequential([keras.Input((6,)), keras.layers.Normalization(),
        keras.layers.Dense(3)], name="adapted")
    adapted.layers[0].adapt(np.arange(24.0).reshape(4, 6))
    return lecture, long, bn, given, adapted
"""

CALLS = [
    ("lecture", {}),
    ("lecture", {"show_trainable": True}),
    ("lecture", {"line_length": 60}),
    ("lecture", {"line_length": 72, "positions": [0.3, 0.6, 1.0]}),
    ("lecture", {"line_length": 70, "show_trainable": True}),
    ("long", {}),
    ("long", {"line_length": 50}),
    ("long", {"show_trainable": True}),
    ("lecture", {"layer_range": ["dropout", "dense_2"]}),
    ("bn", {}),
    ("given", {"show_trainable": True}),
    ("adapted", {"show_trainable": True}),
]


def fastmlp_models():
    lecture = fm.Sequential(
        [
            fm.Input(shape=(784,)),
            layers.Dense(128, activation="relu", name="dense"),
            layers.Dropout(0.2, name="dropout"),
            layers.Dense(64, activation="relu", name="dense_1"),
            layers.Dense(10, activation="softmax", name="dense_2"),
        ],
        name="lecture",
    )
    lecture.layers[0].trainable = False
    long = fm.Sequential(
        [
            fm.Input(shape=(784,)),
            layers.Dense(128, name="a_really_long_layer_name_here_xx"),
            layers.Dense(10, name="averyveryveryveryverylongnamewithoutanyspaceatall"),
        ],
        name="long names",
    )
    bn = fm.Sequential(
        [
            fm.Input(shape=(4,)),
            layers.Dense(8, name="dense_3"),
            layers.BatchNormalization(name="batch_normalization"),
            layers.Dense(2, name="dense_4"),
        ],
        name="bn",
    )
    bn.compile("adam", "mse")
    bn.fit(np.ones((8, 4)), np.ones((8, 2)), verbose=0)
    given = fm.Sequential(
        [
            fm.Input(shape=(6,)),
            layers.Normalization(mean=[1.0] * 6, variance=[4.0] * 6, name="normalization"),
            layers.Dense(3, name="dense_5"),
        ],
        name="given",
    )
    adapted = fm.Sequential(
        [
            fm.Input(shape=(6,)),
            layers.Normalization(name="normalization_1"),
            layers.Dense(3, name="dense_6"),
        ],
        name="adapted",
    )
    adapted.layers[0].adapt(np.arange(24.0).reshape(4, 6))
    return {"lecture": lecture, "long": long, "bn": bn, "given": given, "adapted": adapted}


def test_summaries_are_keras_own_character_for_character() -> None:
    script = KERAS_SCRIPT + "lecture, long, bn, given, adapted = models()\n"
    script += "names = {'lecture': lecture, 'long': long, 'bn': bn, 'given': given, "
    script += "'adapted': adapted}\n"
    # (Keras names the lecture model's layers dense, dropout, dense_1, dense_2 in a new process)
    # (wider lines than 76 would be cropped by rich at the 80 columns of a console)
    for name, kwargs in CALLS:
        script += f"names[{name!r}].summary(**{kwargs!r})\nprint({SEPARATOR!r})\n"
    want = run_keras(script).split(SEPARATOR + "\n")[: len(CALLS)]
    models = fastmlp_models()
    for (name, kwargs), expected in zip(CALLS, want):
        lines: list[str] = []
        models[name].summary(print_fn=lines.append, **kwargs)
        assert "\n".join(lines) + "\n" == expected, (name, kwargs)


@pytest.mark.parametrize(
    ("line_length", "columns", "cells"),
    [(76, 3, [33, 24, 15]), (60, 3, [26, 19, 11]), (50, 3, [21, 16, 9]), (76, 4, [29, 23, 12, 7])],
)
def test_column_widths_follow_rich_reduction(line_length, columns, cells) -> None:
    assert column_widths(line_length, None, columns) == cells
    # the cells and their borders fill the line exactly
    assert sum(cells) + columns + 1 == line_length


def test_bad_summary_arguments_are_refused() -> None:
    model = fastmlp_models()["lecture"]
    with pytest.raises(ValueError, match="layer_range: no layer named 'nope'"):
        model.summary(layer_range=["dense", "nope"])
    with pytest.raises(ValueError, match="positions: expected 3"):
        model.summary(positions=[0.5, 1.0])
    with pytest.raises(ValueError, match="Insufficient console width"):
        model.summary(line_length=10)
    with pytest.raises(ValueError, match="line_length must be a positive int"):
        model.summary(line_length=0)
