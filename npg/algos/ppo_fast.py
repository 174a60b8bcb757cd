"""PPO's inner loop on NumPy: the same update as ``PPO._inner_loop``, in preallocated buffers.

The reference loop (``PPO._inner_loop`` calling ``PPO.loss_and_grad``) builds dicts of fresh
arrays at every minibatch step: ~150 NumPy calls, most of them on tiny arrays, so per-call
overhead and NumPy's scalar float32 tanh dominate (measured: ~1.2 ms per 256-sample step, of
which the matrix products are a third). This loop computes the same quantities with

* the parameters theta [P] and the gradient g [P] as flat vectors, the networks' weights and
  gradient blocks being reshaped views into them, so the optimizer never packs or unpacks;
* every matrix product written with ``out=`` into buffers allocated once per update;
* the elementwise work fused into the Numba kernels of ``npg.algos._kernels``: bias +
  activation, activation backward + bias gradient, the whole categorical PPO loss layer
  (advantage normalisation, log-softmax, ratio, clipped surrogate, entropy, value loss and their
  derivatives), and global-norm clipping + Adam;
* float32 tanh by the kernels' rational approximation (error <= 5e-7, see ``_kernels``);
  float64 tanh stays NumPy's (``npg.nn``), so a float64 update matches the reference path to
  rounding (sums in another order), tested in tests/test_ppo_fast.py.

It applies to NumPy train states of separate categorical actor and critic MLPs (the tuned
CartPole configuration and every Discrete task); other cases (Gaussian or shared-trunk
policies, other array modules) run the reference loop.

Acting (``act_categorical``, ``value``) runs once per environment step on a few observations,
where the checked path's validation and generic dispatch cost ~10x the arithmetic. These
helpers run the networks through one ``_kernels.mlp_small`` call each and use the same Gumbel
draws as ``npg.distributions.categorical.sample``; log pi(a) comes from the
``categorical_act`` kernel. They equal the checked path to rounding (float64: ~1e-15; float32:
~1e-6, the approximate tanh, which the float32 training forward uses too); actions are the
same except where two perturbed logits tie to within that rounding. The only check left is
that the observations are finite.
"""

from __future__ import annotations

import math
import queue
import threading

import numpy as np

from ..backend import to_numpy
from ..nn import _activate_inplace, _tanh_f64_inplace
from . import _kernels as K

__all__ = ["applies", "inner_loop", "mlp_infer", "act_categorical", "value"]

_STAT_KEYS = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction")
_OUT_INDEX = (1, 2, 6, 4, 5)        # where ``ppo_categorical_loss`` writes each stat


def applies(algo, theta) -> bool:
    """True when ``inner_loop`` can run this update (else use the reference loop)."""
    return (type(theta) is np.ndarray and algo.spec.discrete and not algo.config.shared
            and algo.config.activation in K.ACT_CODES)


class _Net:
    """An MLP whose weights are views into theta and whose gradients go into views of g.

    forward(x [b, n_0]) -> out [b, n_L] (a buffer view, valid until the next forward);
    backward(x, d_out [b, n_L]) writes dL/dW_l = h_{l-1}^T g_l and dL/db_l = sum_b g_l into
    the gradient views, with g_L = d_out and g_{l-1} = (g_l W_l^T) * f'(a_{l-1}) (``npg.nn``).
    The narrow output layer (n_L = A or 1) and its backward, together with the activation
    below it, are one kernel call each (``head_forward``, ``head_backward``); the hidden
    layers use BLAS products into buffers and the fused activation kernels.
    """

    def __init__(self, params, grads, rows: int, activation: str, dtype):
        L = sum(1 for k in params if k.startswith("W"))
        self.W = [params[f"W{l}"] for l in range(1, L + 1)]
        self.b = [params[f"b{l}"] for l in range(1, L + 1)]
        self.gW = [grads[f"W{l}"] for l in range(1, L + 1)]
        self.gb = [grads[f"b{l}"] for l in range(1, L + 1)]
        self.h = [np.empty((rows, int(W.shape[1])), dtype) for W in self.W]
        self.d = [np.empty((rows, int(W.shape[1])), dtype) for W in self.W[:-1]]
        self.gWT = np.empty(tuple(self.W[-1].shape[::-1]), dtype)
        self.WT = None
        self.code = K.act_code(activation, dtype)
        self.numpy_tanh = self.code == K.ACT_CODES["tanh"]      # float64: exact NumPy tanh

    def forward(self, x):
        b, h = int(x.shape[0]), x
        last = len(self.W) - 1
        for l in range(last):
            a = self.h[l][:b]
            np.matmul(h, self.W[l], out=a)
            if self.numpy_tanh:
                a += self.b[l]
                _tanh_f64_inplace(a)
            else:
                K.bias_act(a, self.b[l], self.code)
            h = a
        out = self.h[last][:b]
        if last == 0:                                          # linear in the observation
            np.matmul(h, self.W[0], out=out)
            out += self.b[0]
            return out
        self.WT = np.ascontiguousarray(self.W[last].T)        # [n_L, H]: this step's weights
        K.head_forward(h, self.WT, self.b[last], out)
        return out

    def backward(self, x, d_out):
        b, last = int(x.shape[0]), len(self.W) - 1
        if last == 0:
            np.matmul(x.T, d_out, out=self.gW[0])
            self.gb[0][...] = np.sum(d_out, axis=0)
            return
        g = self.d[last - 1][:b]
        K.head_backward(self.h[last - 1][:b], self.WT, d_out, self.gWT, self.gb[last], g,
                        self.gb[last - 1], 0 if self.numpy_tanh else self.code)
        self.gW[last][...] = self.gWT.T
        for l in range(last - 1, -1, -1):
            h_prev = x if l == 0 else self.h[l - 1][:b]
            np.matmul(h_prev.T, g, out=self.gW[l])
            if l > 0:
                d = self.d[l - 1][:b]
                np.matmul(g, self.W[l].T, out=d)
                K.act_grad_colsum(d, h_prev, self.gb[l - 1], 0 if self.numpy_tanh else self.code)
                g = d


class _Worker:
    """A second thread for the critic's half of a minibatch step (``PPO.fast_threads = 2``).

    The actor and the critic read the same minibatch and write disjoint buffers and gradient
    views; BLAS and the kernels release the GIL, so the halves overlap on two free cores. The
    results do not depend on the timing (same numbers as one thread).
    """

    def __init__(self):
        self.jobs, self.done = queue.SimpleQueue(), queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while (job := self.jobs.get()) is not None:
            try:
                job[0](*job[1:])
                self.done.put(None)
            except BaseException as e:              # handed to the main thread in wait()
                self.done.put(e)

    def submit(self, fn, *args):
        self.jobs.put((fn,) + args)

    def wait(self):
        err = self.done.get()
        if err is not None:
            raise err

    def close(self):
        self.jobs.put(None)
        self.thread.join()


def inner_loop(algo, layout, theta, opt_state, batch, lr: float, clip: float, rng):
    """``n_epochs`` passes of shuffled minibatch steps on flat ``theta`` (updated in place).

    Same contract and random draws as ``PPO._inner_loop``: returns
    ``(theta, opt_state, stat sums, steps evaluated, steps taken)``.
    """
    c = algo.config
    B, dt = int(batch["adv"].shape[0]), theta.dtype
    n_mb = max(1, math.ceil(B / c.batch_size))
    rows = math.ceil(B / n_mb)
    grad = np.zeros_like(theta)
    params, grads = layout.unpack(theta), layout.unpack(grad)
    actor = _Net(params["policy"], grads["policy"], rows, c.activation, dt)
    critic = _Net(params["critic"], grads["critic"], rows, c.activation, dt)
    obs_src = np.ascontiguousarray(batch["obs"])
    act_src = np.ascontiguousarray(batch["act"])
    cols = np.stack([batch[k] for k in ("logp_old", "adv", "ret", "v_old")], axis=1)
    obs_buf, act_buf = np.empty((rows,) + obs_src.shape[1:], dt), np.empty(rows, act_src.dtype)
    col_buf = np.empty((rows, 4), dt)
    # the chunks of np.array_split(permutation, n_mb), as fixed bounds
    bounds = np.cumsum([0] + [len(p) for p in np.array_split(np.empty(B), n_mb)]).tolist()
    d_z = np.empty((rows, algo.spec.n_actions), dt)
    d_v = np.empty((rows, 1), dt)
    outs = np.zeros((c.n_epochs * n_mb, 7))
    m, v, t0 = opt_state["m.theta"], opt_state["v.theta"], int(opt_state["step"])
    vf_clip = -1.0 if c.clip_range_vf is None else float(c.clip_range_vf)
    max_norm = -1.0 if c.max_grad_norm is None else float(c.max_grad_norm)
    opt = algo._optimizer(lr)
    b1, b2, eps = opt.b1, opt.b2, opt.eps
    kl_stop = math.inf if c.target_kl is None else 1.5 * c.target_kl
    n_eval = n_taken = 0
    def critic_step(obs, col, b, out):          # value forward, loss and backward
        value = critic.forward(obs)
        K.ppo_value_loss(value[:, 0], col[:, 2], col[:, 3], c.vf_coef, vf_clip, d_v[:b, 0], out)
        critic.backward(obs, d_v[:b])

    worker = _Worker() if getattr(algo, "fast_threads", 1) >= 2 else None
    try:
        for _ in range(c.n_epochs):
            perm = rng.permutation(B)
            for start, stop in zip(bounds[:-1], bounds[1:]):
                idx, b = perm[start:stop], stop - start
                obs = np.take(obs_src, idx, axis=0, out=obs_buf[:b])
                act = np.take(act_src, idx, axis=0, out=act_buf[:b])
                col = np.take(cols, idx, axis=0, out=col_buf[:b])
                out = outs[n_eval]
                if worker is not None:                   # the critic on the second thread
                    worker.submit(critic_step, obs, col, b, out)
                z = actor.forward(obs)
                K.ppo_policy_loss(z, act, col[:, 0], col[:, 1], clip, c.ent_coef, c.norm_adv,
                                  d_z[:b], out)
                stopping = out[4] > kl_stop
                if not stopping:
                    actor.backward(obs, d_z[:b])
                if worker is not None:
                    worker.wait()
                else:
                    critic_step(obs, col, b, out)
                out[0] = out[1] + c.vf_coef * out[2] + c.ent_coef * out[3]
                n_eval += 1
                if stopping:
                    break
                K.clip_adam(theta, grad, m, v, t0 + n_taken, lr, b1, b2, eps, max_norm)
                n_taken += 1
            else:
                continue
            break
    finally:
        if worker is not None:
            worker.close()
    sums = outs[:n_eval, list(_OUT_INDEX)].sum(axis=0)
    opt_state = {"step": t0 + n_taken, "m.theta": m, "v.theta": v}
    return theta, opt_state, dict(zip(_STAT_KEYS, sums.tolist())), n_eval, n_taken


# ------------------------------------------------------------------------------- acting

_SMALL_BATCH = 64        # up to this many rows, ``_kernels.mlp_small`` beats BLAS calls


def mlp_infer(params, x, activation: str):
    """mlp(x) [M, n_L] without checks or saved activations: h_l = f(h_{l-1} W_l + b_l),
    identity output layer. Up to 64 rows through ``_kernels.mlp_small`` (one call, float32
    tanh by the kernels' rational approximation, as in training); more rows by the NumPy
    operations of ``npg.nn.mlp_forward``. Both agree with ``mlp_forward`` to rounding (5e-7 in
    float32: the approximate tanh)."""
    L = 1
    while f"W{L + 1}" in params:
        L += 1
    if x.shape[0] <= _SMALL_BATCH:
        Ws = tuple(np.ascontiguousarray(params[f"W{l}"]) for l in range(1, L + 1))
        bs = tuple(np.ascontiguousarray(params[f"b{l}"]) for l in range(1, L + 1))
        return K.mlp_small(np.ascontiguousarray(x), Ws, bs, K.act_code(activation, x.dtype))
    h = x
    for l in range(1, L + 1):
        a = h @ params[f"W{l}"]
        a += params[f"b{l}"]
        h = _activate_inplace(activation, a, np) if l < L else a
    return h


def check_obs(obs, obs_dim: int, dtype):
    """obs as a NumPy array [M, obs_dim] of ``dtype``, finite (typed errors otherwise)."""
    if not hasattr(obs, "shape"):
        raise TypeError(f"obs must be an array [M, {obs_dim}]; got {type(obs).__name__}")
    obs = np.asarray(to_numpy(obs), dtype=dtype)
    if obs.ndim != 2 or obs.shape[1] != obs_dim:
        raise ValueError(f"obs must have shape [M, {obs_dim}]; got {obs.shape}")
    if not np.isfinite(obs).all():
        raise ValueError("obs must be finite (no NaN or inf)")
    return obs


def act_categorical(params, obs, rng, deterministic: bool, activation: str):
    """(action [M] int64, log pi(action) [M]) for logits z = mlp(obs): the Gumbel-max draw
    a = argmax(z + g) of ``categorical.sample`` (same draws from ``rng``) or the mode, and
    log pi(a) = z_a - max z - log sum_j exp(z_j - max z) (``_kernels.categorical_act``)."""
    z = mlp_infer(params, obs, activation)
    g = (np.zeros_like(z) if deterministic
         else np.asarray(rng.gumbel(size=z.shape), dtype=z.dtype))
    a, logp = np.empty(z.shape[0], np.int64), np.empty(z.shape[0], z.dtype)
    K.categorical_act(z, g, a, logp)
    return a, logp


def value(params, obs, activation: str):
    """V(obs) = mlp(obs)[:, 0] [M] (the critic's forward without checks)."""
    return mlp_infer(params, obs, activation)[:, 0]
