"""L2-regularised logistic regression, labels in {-1, +1}, softplus written stably."""

import numpy as np

LAM = 1e-3


def logreg_loss(w, b, X, y):
    m = -y * (X @ w + b)
    softplus = np.maximum(m, 0.0) + np.log1p(np.exp(-np.abs(m)))
    return np.mean(softplus) + 0.5 * LAM * np.sum(w * w)
