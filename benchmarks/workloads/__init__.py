"""The benchmark workloads, by name."""

from benchmarks.workloads import logreg, loop_sum, mlp, pendulum, rosenbrock
from benchmarks.workloads.base import Entry, Workload

WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (rosenbrock.WORKLOAD, mlp.WORKLOAD, logreg.WORKLOAD, loop_sum.WORKLOAD, pendulum.WORKLOAD)
}

__all__ = ["WORKLOADS", "Entry", "Workload"]
