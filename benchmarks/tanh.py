"""tanh in the compiled kernels against NumPy's and libm's, in ns per element on a [256, 64] block
(one hidden layer of PPO's minibatch), best of 7 timings in one run.

    float64  np.tanh (NumPy's own loop) | math.tanh in a Numba loop (libm) | npg's tanh64 loop
    float32  np.tanh                    | npg's rational tanh32 loop

Not part of the test suite.

    python benchmarks/tanh.py [--rows 256] [--cols 64]
"""

from __future__ import annotations

import argparse
import math
import timeit

import numpy as np
from numba import njit

from npg.engine import kernels as K
from npg.engine.tanh import tanh64_array


@njit(cache=True)
def _libm_tanh(x, out):
    for i in range(x.shape[0]):
        out[i] = math.tanh(x[i])


def _ns(fn, n: int) -> float:
    fn()
    number = 200
    return min(timeit.repeat(fn, number=number, repeat=7)) / number / n * 1e9


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--rows", type=int, default=256)
    p.add_argument("--cols", type=int, default=64)
    a = p.parse_args(argv)
    n = a.rows * a.cols
    x64 = np.random.default_rng(0).standard_normal(n) * 2.0
    x32, o64, o32 = x64.astype(np.float32), np.empty(n), np.empty(n, np.float32)
    rows = [("float64 np.tanh", _ns(lambda: np.tanh(x64, out=o64), n)),
            ("float64 math.tanh (libm) in Numba", _ns(lambda: _libm_tanh(x64, o64), n)),
            ("float64 npg tanh64", _ns(lambda: tanh64_array(x64, o64), n)),
            ("float32 np.tanh", _ns(lambda: np.tanh(x32, out=o32), n)),
            ("float32 npg tanh32", _ns(lambda: K.tanh32(x32, o32), n))]
    print(f"tanh on {a.rows} x {a.cols} = {n:,} elements, ns per element (best of 7)")
    for name, ns in rows:
        print(f"{name:36s} {ns:6.2f}")


if __name__ == "__main__":
    main()
