"""coursekit.digits gives the quantization assignment's data split and a model that learns it."""

import numpy as np

from coursekit.digits import LAYER_SIZES, accuracy, digits_split, mlp_forward, train_mlp


def test_split_is_fixed_disjoint_and_scaled():
    X_train, y_train, X_test, y_test = digits_split()
    assert (len(X_train), len(X_test)) == (1438, 359)  # 1797 bundled digits, one in five for testing
    assert X_train.dtype == np.float32 and X_train.shape[1] == LAYER_SIZES[0]
    assert X_train.min() == 0 and X_train.max() == 1
    train_rows = {row.tobytes() for row in X_train}
    assert sum(row.tobytes() in train_rows for row in X_test) < 5  # only exact duplicates of images
    again = digits_split()
    assert np.array_equal(again[2], X_test) and np.array_equal(again[3], y_test)


def test_forward_returns_every_layer_input_then_logits():
    rng = np.random.default_rng(0)
    layers = [(rng.standard_normal((4, 3)).astype(np.float32), np.ones(3, np.float32)),
              (rng.standard_normal((3, 2)).astype(np.float32), np.zeros(2, np.float32))]
    X = rng.standard_normal((5, 4)).astype(np.float32)
    seen = mlp_forward(layers, X)
    assert [a.shape for a in seen] == [(5, 4), (5, 3), (5, 2)]
    np.testing.assert_allclose(seen[1], np.maximum(X @ layers[0][0] + 1, 0), rtol=1e-6)
    assert (seen[2] < 0).any()  # no ReLU on the logits


def test_training_learns_the_digits_and_is_reproducible():
    X_train, y_train, X_test, y_test = digits_split()
    first = train_mlp(X_train, y_train, sizes=(64, 32, 10), epochs=3)
    second = train_mlp(X_train, y_train, sizes=(64, 32, 10), epochs=3)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(first, second, strict=True))
    assert accuracy(mlp_forward(first, X_test)[-1], y_test) > 0.85  # chance is 0.1
