import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def regression(rng):
    """A small least-squares problem: X (N × d, C order), w, y."""
    n, d = 60, 4
    X = rng.standard_normal((n, d))
    w_true = np.array([1.5, -2.0, 0.5, 3.0])
    y = X @ w_true + 0.1 * rng.standard_normal(n)
    w = rng.standard_normal(d)
    return X, w, y


def finite_difference_gradient(fun, x, h=1e-6):
    """Central differences of a scalar function of an array."""
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = h
        grad[i] = (fun(x + step) - fun(x - step)) / (2 * h)
    return grad
