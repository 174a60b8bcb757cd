"""Gymnasium environments for a linear-quadratic system, with its exact policy gradient.

The system of ``npg.mdp.lqr.LQR``: x_0 ~ N(0, Sigma0), x_{t+1} = A x_t + B u_t + w_t with
w_t ~ N(0, W), and the reward r_t = -(x_t' Q x_t + u_t' R u_t) for the action u_t the agent sent.
Episodes never terminate; they are truncated after ``max_steps`` steps (a time limit: the value
of the last state bootstraps). Observation Box(-inf, inf, (n,)), action Box(-inf, inf, (m,)), both
float64, so no clipping changes a Gaussian policy's action.

``LQREnv`` is one system (``gymnasium.Env``); ``LQRVectorEnv`` steps N independent copies in one
NumPy operation (``gymnasium.vector.VectorEnv``, SAME_STEP autoreset: a truncated copy is reset at
once, its real final observation in ``info["final_obs"]``), for ``npg.envs.rollout.Collector``.

The exact objective of npg's ``LinearGaussianPolicy`` with ``LinearFeatures`` (phi(x) = x, no
offset): the mean u = W' x is the gain K = -W' [m, n] and the noise sigma = exp(log_std), so

    J(W, log_std) = -C(K, sigma)                       (npg.mdp.lqr.cost)
    dJ/dW         = (grad_K C)'  [n, m]                (K = -W', npg.mdp.lqr.gradient)
    dJ/dlog_std   = -dC/dlog sigma  [m]                (npg.mdp.lqr.log_std_gradient)

(``exact_policy_gradient``), and the exact critic V(x) = -(x' P_K x + c_K) (``exact_value``).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv

from ..checks import as_generator, check_positive_int
from ..backend import get_xp
from ..mdp.lqr import LQR, gradient, log_std_gradient, value_constant, value_matrix

__all__ = ["LQREnv", "LQRVectorEnv", "LinearFeatures", "gain_of", "exact_policy_gradient",
           "exact_value"]


def _factor(S: np.ndarray) -> np.ndarray:
    """L with L L' = S for a symmetric PSD S (eigen-decomposition: S may be singular)."""
    w, U = np.linalg.eigh(S)
    return U * np.sqrt(np.maximum(w, 0.0))


def _check_lqr(lqr) -> LQR:
    if not isinstance(lqr, LQR):
        raise TypeError(f"lqr must be an npg.mdp.lqr.LQR; got {type(lqr).__name__}")
    return lqr


class _System:
    """The shared physics: costs, transitions and initial-state draws, batched over rows."""

    def __init__(self, lqr, max_steps):
        self.lqr = _check_lqr(lqr)
        self.max_steps = check_positive_int("max_steps", max_steps)
        self.L0, self.LW = _factor(lqr.Sigma0), _factor(lqr.W)
        self.observation_space = spaces.Box(-np.inf, np.inf, (lqr.n,), np.float64)
        self.action_space = spaces.Box(-np.inf, np.inf, (lqr.m,), np.float64)

    def draw_x0(self, rng, k):
        return rng.standard_normal((k, self.lqr.n)) @ self.L0.T

    def check_action(self, u, k):
        try:
            u = np.asarray(u, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"action must be a real array; got {type(u).__name__}") from None
        if u.size != k * self.lqr.m:
            raise ValueError(f"action must have {self.lqr.m} entries per system "
                             f"({k} systems); got shape {u.shape}")
        u = u.reshape(k, self.lqr.m)
        if not np.all(np.isfinite(u)):
            raise ValueError("action must be finite; it contains NaN or inf")
        return u

    def advance(self, x, u, rng):
        """(x_next [k, n], reward [k]) with r = -(x'Qx + u'Ru)."""
        q = self.lqr
        reward = -(np.einsum("ki,ij,kj->k", x, q.Q, x) + np.einsum("ki,ij,kj->k", u, q.R, u))
        x_next = x @ q.A.T + u @ q.B.T
        if np.any(q.W != 0):
            x_next = x_next + rng.standard_normal(x.shape) @ self.LW.T
        return x_next, reward


class LQREnv(gym.Env):
    """One linear-quadratic system (module docstring); episodes truncated at ``max_steps``."""

    metadata = {"render_modes": []}

    def __init__(self, lqr: LQR, max_steps: int = 200):
        self._sys = _System(lqr, max_steps)
        self.lqr, self.max_steps = self._sys.lqr, self._sys.max_steps
        self.observation_space, self.action_space = (self._sys.observation_space,
                                                     self._sys.action_space)
        self.x, self.t = None, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x = self._sys.draw_x0(self.np_random, 1)[0]
        self.t = 0
        return self.x.copy(), {}

    def step(self, action):
        if self.x is None:
            raise RuntimeError("call reset() before step()")
        u = self._sys.check_action(action, 1)
        x_next, r = self._sys.advance(self.x[None], u, self.np_random)
        self.x, self.t = x_next[0], self.t + 1
        return self.x.copy(), float(r[0]), False, self.t >= self.max_steps, {}


class LQRVectorEnv(VectorEnv):
    """``num_envs`` independent copies of the system stepped together (SAME_STEP autoreset)."""

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(self, lqr: LQR, num_envs: int, max_steps: int = 200):
        self._sys = _System(lqr, max_steps)
        self.lqr, self.max_steps = self._sys.lqr, self._sys.max_steps
        self.num_envs = check_positive_int("num_envs", num_envs)
        self.single_observation_space = self._sys.observation_space
        self.single_action_space = self._sys.action_space
        self.observation_space = spaces.Box(-np.inf, np.inf, (self.num_envs, lqr.n), np.float64)
        self.action_space = spaces.Box(-np.inf, np.inf, (self.num_envs, lqr.m), np.float64)
        self.render_mode = None
        self._rng = np.random.default_rng()
        self.x, self.t = None, None

    def reset(self, *, seed=None, options=None):
        if seed is not None:
            self._rng = as_generator(int(seed), "seed")
        self.x = self._sys.draw_x0(self._rng, self.num_envs)
        self.t = np.zeros(self.num_envs, np.int64)
        return self.x.copy(), {}

    def step(self, actions):
        if self.x is None:
            raise RuntimeError("call reset() before step()")
        u = self._sys.check_action(actions, self.num_envs)
        x_next, r = self._sys.advance(self.x, u, self._rng)
        self.t += 1
        truncated = self.t >= self.max_steps
        terminated = np.zeros(self.num_envs, bool)
        info = {}
        if truncated.any():
            info = {"final_obs": x_next.copy(), "_final_obs": truncated.copy()}
            x_next = x_next.copy()
            x_next[truncated] = self._sys.draw_x0(self._rng, int(truncated.sum()))
            self.t[truncated] = 0
        self.x = x_next
        return x_next.copy(), r, terminated, truncated, info


class LinearFeatures:
    """phi(x) = x [B, n]: the mean of ``LinearGaussianPolicy`` is then W' x (no offset)."""

    discrete = False
    state_action = False

    def __init__(self, n: int):
        self.n = check_positive_int("n", n)

    @property
    def dim(self) -> int:
        return self.n

    def __repr__(self):
        return f"LinearFeatures({self.n})"

    def __call__(self, obs, dtype=None):
        if not hasattr(obs, "shape") or len(obs.shape) != 2 or int(obs.shape[1]) != self.n:
            raise ValueError(f"obs must have shape [B, {self.n}]; got "
                             f"{getattr(obs, 'shape', type(obs).__name__)}")
        xp = get_xp(obs)
        return obs if dtype is None or obs.dtype == dtype else xp.astype(obs, dtype)


def gain_of(params) -> tuple[np.ndarray, np.ndarray]:
    """(K [m, n], sigma [m]) of LinearGaussianPolicy params {"W": [n, m], "log_std": [m]}."""
    W = np.asarray(params["W"], dtype=np.float64)
    return -W.T, np.exp(np.asarray(params["log_std"], dtype=np.float64))


def exact_policy_gradient(lqr: LQR, params) -> dict:
    """grad J of J = -C for the policy's params: {"W": (grad_K C)' [n, m], "log_std": [m]}.

    With K = -W', dJ/dW_ij = -sum dC/dK_ji dK_ji/dW_ij = (grad_K C)_ji; dJ/dlog_std =
    -dC/dlog sigma. Valid inside the log_std clip range of npg's Gaussian policies.
    """
    K, sigma = gain_of(params)
    return {"W": gradient(lqr, K, sigma).T, "log_std": -log_std_gradient(lqr, K, sigma)}


def exact_value(lqr: LQR, params):
    """V(x) = -(x' P_K x + c_K) for the policy's params, as a function obs [B, n] -> [B]."""
    K, sigma = gain_of(params)
    P, c = value_matrix(lqr, K), value_constant(lqr, K, sigma)
    return lambda x: -(np.einsum("bi,ij,bj->b", np.asarray(x, np.float64), P,
                                 np.asarray(x, np.float64)) + c)
