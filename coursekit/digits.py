"""The quantization assignment's model, for the chapter: scikit-learn's bundled digits and an MLP.

The quantization chapter judges its claims on the model the assignment quantizes, so this
module reproduces the assignment's setup cell step for step: the same split of the 1797
bundled 8 x 8 digits (`sklearn.datasets.load_digits`, shipped inside the package, no
download), the same layer sizes, initialisation, minibatch order and update rule, in float32.
It is the *given* model of the assignment (a locked cell there), not a graded solution.
A layer is a pair `(W, b)` computing `x @ W + b`, followed by ReLU on every layer but the last.
"""

from __future__ import annotations

import itertools

import numpy as np
from sklearn.datasets import load_digits

# The assignment's choices, kept identical so that the chapter's model is the assignment's.
SPLIT_SEED = 0  # the permutation that splits the digits into test and training sets
TEST_FRACTION_DENOMINATOR = 5  # one digit in five goes to the test set (20%)
PIXEL_MAX = 16  # load_digits stores intensities 0..16; dividing maps them onto [0, 1]
LAYER_SIZES = (64, 256, 256, 10)  # 64 pixels in, two hidden ReLU layers, 10 digits out
EPOCHS, BATCH, LEARNING_RATE, MOMENTUM, TRAIN_SEED = 15, 64, 0.05, 0.9, 0


def digits_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """X_train, y_train, X_test, y_test: float32 pixels in [0, 1] and integer labels."""
    digits = load_digits()
    pixels = (digits.data / PIXEL_MAX).astype(np.float32)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(pixels))
    n_test = len(pixels) // TEST_FRACTION_DENOMINATOR
    test, train = order[:n_test], order[n_test:]
    return pixels[train], digits.target[train], pixels[test], digits.target[test]


def mlp_forward(layers, X) -> list[np.ndarray]:
    """The input of every layer and, last, the logits."""
    seen = [np.asarray(X, dtype=np.float32)]
    for depth, (W, b) in enumerate(layers):
        h = seen[-1] @ W + b
        seen.append(h if depth == len(layers) - 1 else np.maximum(h, 0))
    return seen


def train_mlp(X_train, y_train, sizes=LAYER_SIZES, epochs=EPOCHS, batch=BATCH,
              learning_rate=LEARNING_RATE, momentum=MOMENTUM, seed=TRAIN_SEED) -> list[tuple]:
    """Softmax cross-entropy, minibatch SGD with momentum, He initialisation, float32."""
    generator = np.random.default_rng(seed)
    layers = [((generator.standard_normal((m, n)) * np.sqrt(2 / m)).astype(np.float32),
               np.zeros(n, dtype=np.float32)) for m, n in itertools.pairwise(sizes)]
    velocity = [[np.zeros_like(W), np.zeros_like(b)] for W, b in layers]
    for _ in range(epochs):
        shuffled = generator.permutation(len(X_train))
        for start in range(0, len(shuffled), batch):
            rows = shuffled[start:start + batch]
            seen = mlp_forward(layers, X_train[rows])
            grad = np.exp(seen[-1] - seen[-1].max(axis=1, keepdims=True))
            grad /= grad.sum(axis=1, keepdims=True)
            grad[np.arange(len(rows)), y_train[rows]] -= 1
            grad /= len(rows)
            for n in reversed(range(len(layers))):
                W, b = layers[n]
                steps = (seen[n].T @ grad, grad.sum(axis=0))
                if n > 0:
                    grad = (grad @ W.T) * (seen[n] > 0)
                for slot, (param, step) in enumerate(zip((W, b), steps, strict=True)):
                    velocity[n][slot] = momentum * velocity[n][slot] - learning_rate * step
                    param += velocity[n][slot]
    return layers


def accuracy(logits, labels) -> float:
    """Fraction of rows whose largest logit is at the label."""
    return float(np.mean(np.argmax(logits, axis=1) == labels))
