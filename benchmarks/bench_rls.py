"""Cost of one full-FORCE training step: the library's in-place BLAS loop vs a textbook loop.

A training step is: both networks' rates, JD rD, [J r; W r], both errors, both Euler updates,
k = P r, c = 1/(1 + r.k), and the rank-1 updates of P, J and W. The library is timed through
``hintforce.force.train`` itself (one pass over a few conditions; its setup is included and
amortised over the steps); the textbook version below is the same algorithm written the
obvious numpy way (``P = P - c * np.outer(k, k)`` ...). Both run on one BLAS thread,
interleaved, and the median of several repeats is reported. The two must also agree on the
trained weights (checked and printed).

Run: ``python benchmarks/bench_rls.py``
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import scipy.linalg.blas  # noqa: F401  (load SciPy's BLAS before pinning its threads)
from threadpoolctl import threadpool_limits

from hintforce.force import ForceParams, draw_shared, train

N_CONDITIONS = 2
N_TIME = 40
N_OUT = 4
REPEATS = 7


def textbook_train(f_out: np.ndarray, shared, params: ForceParams) -> tuple[np.ndarray, ...]:
    """The same full-FORCE loop as ``train`` (FF), written with plain numpy temporaries."""
    n_cond, n_time, n_out = f_out.shape
    n_prep = params.n_prep
    a = params.leak
    fo = np.concatenate([np.repeat(f_out[:, :1], n_prep, axis=1), f_out], axis=1)  # held prep
    JD, u_in, u_out = shared.J_D, shared.u_in, shared.u_out
    J = JD.copy()
    W = np.zeros((n_out, params.n_units))
    P = np.eye(params.n_units) / params.alpha
    for p in range(params.n_passes):
        for c in shared.order[p]:
            x = shared.init_states[p, c].copy()
            xD = x.copy()
            for s in range(n_prep + n_time):
                f_in = u_in[:, c] if s < n_prep else 0.0
                rD = np.tanh(xD)
                r = np.tanh(x)
                JDrD = JD @ rD
                Jr = J @ r
                z = W @ r
                target_J = JDrD + u_out @ fo[c, s]
                xD = xD + a * (-xD + JDrD + f_in + u_out @ fo[c, s])
                x = x + a * (-x + Jr + f_in)
                k = P @ r
                cg = 1.0 / (1.0 + r @ k)
                P = P - cg * np.outer(k, k)
                e_J = Jr - target_J
                e_W = z - fo[c, s]
                J = J - cg * np.outer(e_J, k)
                W = W - cg * np.outer(e_W, k)
    return J, W


def main() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(N_TIME)
    f_out = 0.1 + 0.9 * np.sin(np.pi * (t[None, :, None] + 1) / (N_TIME + 1)) ** 2 * rng.uniform(
        0.5, 1.0, size=(N_CONDITIONS, 1, N_OUT)
    )
    rows = []
    with threadpool_limits(1):
        for n in (200, 300, 600, 1000):
            params = ForceParams(n_units=n, n_passes=1)
            shared = draw_shared(N_CONDITIONS, N_OUT, 0, params, np.random.default_rng(n))
            n_steps = N_CONDITIONS * (params.n_prep + N_TIME)
            lib_times, text_times = [], []
            for _ in range(REPEATS):
                t0 = time.perf_counter()
                net = train(f_out, shared, params)
                t1 = time.perf_counter()
                J_t, W_t = textbook_train(f_out, shared, params)
                t2 = time.perf_counter()
                lib_times.append((t1 - t0) / n_steps * 1e6)
                text_times.append((t2 - t1) / n_steps * 1e6)
            diff = max(np.abs(net.J - J_t).max(), np.abs(net.W - W_t).max())
            lib, text = statistics.median(lib_times), statistics.median(text_times)
            rows.append((n, lib, min(lib_times), text, min(text_times), text / lib, diff))

    print(
        f"full-FORCE training step, 1 BLAS thread, {N_CONDITIONS} conditions x "
        f"{ForceParams().n_prep + N_TIME} steps, median (best) of {REPEATS} interleaved repeats"
    )
    header = ("N", "library us/step", "textbook us/step", "speedup", "max|dW|")
    print(f"{header[0]:>6} {header[1]:>20} {header[2]:>20} {header[3]:>8} {header[4]:>9}")
    for n, lib, lib_best, text, text_best, ratio, diff in rows:
        print(
            f"{n:>6} {lib:>11.1f} ({lib_best:>6.1f}) {text:>11.1f} ({text_best:>6.1f}) "
            f"{ratio:>7.2f}x {diff:>9.1e}"
        )
    n300 = next(row for row in rows if row[0] == 300)
    print(f"RESULT us_per_step_n300={n300[1]:.1f} speedup_vs_textbook_n300={n300[5]:.2f}")


if __name__ == "__main__":
    main()
