"""Train a small classifier from scratch and report its validation loss.

The data is made here and is the same on every run: points in 10 dimensions whose labels (one
of 4 classes) are drawn from the probabilities of a fixed random "teacher" network, so even a
perfect model cannot be sure. The model is a one-hidden-layer ReLU network trained with SGD and
momentum for a fixed number of passes over the training points.

The four settings below are the knobs of the experiment. The run ends by printing
``val_loss``, the cross-entropy on held-out points: lower is better.
"""

from __future__ import annotations

import os

# One thread: the same numbers and about the same time on any machine.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import numpy as np  # noqa: E402

LEARNING_RATE = 0.001
HIDDEN = 8
WEIGHT_DECAY = 0.0001
BATCH_SIZE = 256

MOMENTUM = 0.9
EPOCHS = 30
INPUTS = 10
CLASSES = 4
TEACHER_HIDDEN = 32
TRAIN_POINTS = 16000
VAL_POINTS = 4000
DATA_SEED = 1234


@dataclass(frozen=True)
class Result:
    val_loss: float
    val_accuracy: float
    train_loss: float
    seconds: float


def make_data(seed: int = DATA_SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    w1 = rng.standard_normal((INPUTS, TEACHER_HIDDEN)) * 2.0 / np.sqrt(INPUTS)
    b1 = rng.standard_normal(TEACHER_HIDDEN) * 0.5
    w2 = rng.standard_normal((TEACHER_HIDDEN, CLASSES)) * 1.5
    points = rng.standard_normal((TRAIN_POINTS + VAL_POINTS, INPUTS))
    logits = np.tanh(points @ w1 + b1) @ w2
    # Adding Gumbel noise and taking the largest draws each label from softmax(logits).
    labels = (logits + rng.gumbel(size=logits.shape)).argmax(axis=1)
    return (
        points[:TRAIN_POINTS],
        labels[:TRAIN_POINTS],
        points[TRAIN_POINTS:],
        labels[TRAIN_POINTS:],
    )


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def cross_entropy(log_probs: np.ndarray, labels: np.ndarray) -> float:
    return float(-log_probs[np.arange(len(labels)), labels].mean())


def forward(params: list[np.ndarray], points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    w1, b1, w2, b2 = params
    hidden = np.maximum(points @ w1 + b1, 0.0)
    return hidden, log_softmax(hidden @ w2 + b2)


def train(
    learning_rate: float = LEARNING_RATE,
    hidden: int = HIDDEN,
    weight_decay: float = WEIGHT_DECAY,
    batch_size: int = BATCH_SIZE,
    seed: int = 0,
) -> Result:
    """Train once; the seed sets the initial weights and the order of the batches."""
    start = time.perf_counter()
    x_train, y_train, x_val, y_val = make_data()
    rng = np.random.default_rng(seed)
    params = [
        rng.standard_normal((INPUTS, hidden)) * np.sqrt(2.0 / INPUTS),
        np.zeros(hidden),
        rng.standard_normal((hidden, CLASSES)) * np.sqrt(1.0 / hidden),
        np.zeros(CLASSES),
    ]
    velocity = [np.zeros_like(p) for p in params]
    for _ in range(EPOCHS):
        order = rng.permutation(TRAIN_POINTS)
        for begin in range(0, TRAIN_POINTS, batch_size):
            batch = order[begin : begin + batch_size]
            points, labels = x_train[batch], y_train[batch]
            activations, log_probs = forward(params, points)
            d_logits = np.exp(log_probs)
            d_logits[np.arange(len(labels)), labels] -= 1.0
            d_logits /= len(labels)
            d_hidden = (d_logits @ params[2].T) * (activations > 0)
            grads = [
                points.T @ d_hidden,
                d_hidden.sum(axis=0),
                activations.T @ d_logits,
                d_logits.sum(axis=0),
            ]
            for param, grad, speed in zip(params, grads, velocity, strict=True):
                speed *= MOMENTUM
                speed += grad + weight_decay * param
                param -= learning_rate * speed
        if not all(np.isfinite(p).all() for p in params):
            break
    _, val_log_probs = forward(params, x_val)
    _, train_log_probs = forward(params, x_train)
    return Result(
        val_loss=cross_entropy(val_log_probs, y_val),
        val_accuracy=float((val_log_probs.argmax(axis=1) == y_val).mean()),
        train_loss=cross_entropy(train_log_probs, y_train),
        seconds=time.perf_counter() - start,
    )


def main() -> int:
    seed = int(os.environ.get("AUTORESEARCH_SEED", "0"))
    with np.errstate(all="ignore"):
        result = train(seed=seed)
    print("---")
    print(f"val_loss:      {result.val_loss:.6f}")
    print(f"val_accuracy:  {result.val_accuracy:.4f}")
    print(f"train_loss:    {result.train_loss:.6f}")
    print(f"train_seconds: {result.seconds:.2f}")
    if not np.isfinite(result.val_loss):
        print("training diverged: the loss is not a number", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
