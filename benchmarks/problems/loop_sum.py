"""A scalar loop over a long vector."""

import math


def loop_sum(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += math.sin(x[i]) * x[i] ** 2 + 0.5 * x[i]
    return s
