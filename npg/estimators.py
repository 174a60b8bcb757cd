"""Sampled policy-gradient estimators, and a harness that measures them against the exact gradient.

The discounted objective and the policy gradient theorem (Sutton et al., 2000; Sutton & Barto,
2nd ed., sec. 13.2):

    J(theta) = E[ sum_t gamma^t r_t ],
    grad J   = E[ sum_t gamma^t Q(s_t, a_t) grad log pi(a_t | s_t) ].

Every estimator here is one weighted score sum per trajectory m,

    g_m = sum_t w_t^m grad_theta log pi(a_t^m | s_t^m)                          g: [P],

and differs only in the weights w [T, M]:

| estimator                 | w_t                                           | unbiased for grad J |
|---------------------------|-----------------------------------------------|---------------------|
| ``WholeReturn``           | G_0 = sum_k gamma^k r_k                       | yes                 |
| ``RewardToGo()``          | gamma^t G_t,  G_t = sum_{k>=t} gamma^(k-t) r_k | yes                |
| ``RewardToGo(False)``     | G_t  (gamma^t dropped: common practice)       | no                  |
| ``Baseline(b)``           | gamma^t (G_t - b(s_t))                        | yes, any b [S]      |
| ``ExactQ(Q)``             | gamma^t Q(s_t, a_t)                           | yes                 |
| ``ExactA(A)``             | gamma^t A(s_t, a_t)                           | yes                 |
| ``TD(V)``                 | gamma^t delta_t                               | only if V = V^pi    |
| ``GAE(V, lam)``           | gamma^t sum_l (gamma lam)^l delta_{t+l}       | only if V = V^pi (or lam = 1) |
| ``ImportanceSampled(beta)`` | per-decision or whole-trajectory ratios     | yes (off-policy)    |

with the TD error delta_t = r_t + gamma (1 - terminated_t) V(s_{t+1}) - V(s_t). Why each is or
is not unbiased is derived in ``docs/estimators.md``; ``tests/test_estimators.py`` measures it.
An estimator is a frozen dataclass holding its tables (b, Q, A, V, beta) with
``weights(traj, gamma, pi) -> w [T, M]`` (0 after an episode's end) and ``behaviour`` (None, or
the behaviour policy matrix beta [S, A] that its trajectories must come from). Returns, TD errors
and GAE come from ``npg.returns`` with the sampler's terminated / truncated flags.

Fast path: on a finite MDP the score grad log pi(a | s) depends only on the pair (s, a), so the
policy's own ``scores`` are computed once for all S A pairs (a table ``[S A, P]``); the weights of
trajectory m are summed per pair (``bincount``) into ``W [M, S A]`` and the M estimates are the
product ``W @ table`` ``[M, P]``.

Array modules: the MDP's decides (``FiniteMDP.xp``). On a NumPy MDP everything is NumPy, as
always: the policy and its parameters may live on any module and its probabilities and score
table are converted once to NumPy. On an MDP moved with ``mdp.to("cupy")`` (or to
``array_api_strict``) the parameters and ``obs`` must live on that module (TypeError naming both
otherwise), and trajectories, weights, the score table and the estimates [M, P] all stay there
(``bincount`` where the module has it, NumPy and CuPy; a gather over the pairs, summed over t,
elsewhere). An estimator's own tables (b, Q, A, V, beta) may be given on any module: each
``weights`` call converts them once to the trajectories' module. ``summarize`` is the host
boundary: it converts the estimates [M, P] once to NumPy (a report is host data).

With a horizon cap T the sums stop at T: the Monte-Carlo estimators are then unbiased for the
T-step objective, whose value and gradient differ from J's by terms carrying gamma^T (J itself
by at most gamma^T max|R| / (1 - gamma)); pick T so that this is negligible next to the standard
error, or so that episodes terminate first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .checks import check_positive, check_unit_interval
from .backend import create, device_of, namespace_of, to_numpy
from .estimator_scores import (estimates_from_weights, expected_score_sum, mdp_score_table,
                               score_table)
from .mdp import default_obs, policy_gradient
from .mdp.sampler import Trajectories, as_generator, sample_trajectories
from .params import flatten
from .returns import discounted_returns, gae, td_errors

__all__ = [
    "WholeReturn", "RewardToGo", "Baseline", "ExactQ", "ExactA", "TD", "GAE", "ImportanceSampled",
    "EstimatorReport", "score_table", "expected_score_sum", "estimates_from_weights",
    "gradient_estimates", "summarize", "compare_estimators", "required_samples",
]


def _mc_returns(traj: Trajectories, gamma: float, rew=None) -> np.ndarray:
    """Monte-Carlo reward-to-go G_t = sum_{k=t}^{end} gamma^(k-t) r_k [T, M] (no bootstrap)."""
    return discounted_returns(traj.rew if rew is None else rew, traj.terminated, traj.truncated,
                              gamma)


def _gather(table, idx):
    """table[idx] for a flat table and an index array of any shape (``take`` on its flattening)."""
    xp = namespace_of(table)
    if xp is np:
        return table[idx]
    return xp.reshape(xp.take(table, xp.reshape(idx, (-1,))), idx.shape)


def _pairs(table, traj: Trajectories):
    """table[s_t, a_t] [T, M] of an [S, A] table."""
    xp = namespace_of(table)
    s, a = traj.states[:-1, :], traj.actions
    if xp is np:
        return table[s, a]
    return _gather(xp.reshape(table, (-1,)), s * table.shape[1] + a)


def _td(traj: Trajectories, values, gamma: float):
    """delta_t = r_t + gamma (1 - terminated_t) V(s_{t+1}) - V(s_t) [T, M]; at a truncation
    s_{t+1} is the real final state, so the error bootstraps from it."""
    return td_errors(traj.rew, _gather(values, traj.states[:-1, :]),
                     _gather(values, traj.states[1:, :]), traj.terminated, gamma)


def _discounts(traj: Trajectories, gamma: float):
    """gamma^t [T, 1]."""
    xp = namespace_of(traj.rew)
    t = create(xp, "arange", traj.horizon, dtype=xp.float64, device=device_of(traj.rew))
    return (gamma ** t)[:, None]


def _table(name: str, x, shape: tuple, like=None):
    """x as float64 on the module and device of ``like`` (NumPy when None): one conversion."""
    xp = np if like is None else namespace_of(like)
    if xp is np:
        a = np.asarray(to_numpy(x), dtype=np.float64)
    else:
        if namespace_of(x) not in (None, xp):
            x = to_numpy(x)
        a = xp.astype(create(xp, "asarray", x, device=device_of(like)), xp.float64)
    if tuple(a.shape) != shape:
        raise ValueError(f"{name} must have shape {list(shape)}; got {list(a.shape)}")
    if not bool(xp.all(xp.isfinite(a))):
        raise ValueError(f"{name} must be finite; it contains NaN or inf")
    return a


def _where_valid(traj: Trajectories, x):
    return namespace_of(traj.rew).where(traj.valid, x, 0.0)


# ----------------------------------------------------------------------------------------------
# Estimators: weights(traj, gamma, pi) -> w [T, M]; ``behaviour`` is None for on-policy ones.

@dataclass(frozen=True)
class WholeReturn:
    """REINFORCE with the whole return: w_t = G_0 = sum_k gamma^k r_k (Williams, 1992)."""

    behaviour = None
    name: str = "whole return"

    def weights(self, traj, gamma, pi):
        return _where_valid(traj, _mc_returns(traj, gamma)[0, :])


@dataclass(frozen=True)
class RewardToGo:
    """w_t = gamma^t G_t (``discount_weight=True``) or G_t (dropped: biased for grad J)."""

    discount_weight: bool = True
    behaviour = None

    @property
    def name(self):
        return "reward-to-go" + ("" if self.discount_weight else " (no gamma^t)")

    def weights(self, traj, gamma, pi):
        g = _mc_returns(traj, gamma)
        return _discounts(traj, gamma) * g if self.discount_weight else g


@dataclass(frozen=True)
class Baseline:
    """w_t = gamma^t (G_t - b(s_t)), b [S] any function of the state (constant, V^pi, ...)."""

    values: np.ndarray = field(repr=False)
    name: str = "baseline"
    behaviour = None

    def weights(self, traj, gamma, pi):
        b = _table("values", self.values, (pi.shape[0],), pi)
        g = _mc_returns(traj, gamma) - _gather(b, traj.states[:-1, :])
        return _where_valid(traj, _discounts(traj, gamma) * g)


@dataclass(frozen=True)
class ExactQ:
    """w_t = gamma^t Q(s_t, a_t) with a given Q [S, A] (exact Q^pi: unbiased)."""

    q: np.ndarray = field(repr=False)
    name: str = "exact Q"
    behaviour = None

    def weights(self, traj, gamma, pi):
        q = _pairs(_table("q", self.q, tuple(pi.shape), pi), traj)
        return _where_valid(traj, _discounts(traj, gamma) * q)


@dataclass(frozen=True)
class ExactA(ExactQ):
    """w_t = gamma^t A(s_t, a_t) with a given A [S, A] (exact A^pi = Q^pi - V^pi: unbiased)."""

    name: str = "exact A"


@dataclass(frozen=True)
class TD:
    """One-step actor-critic: w_t = gamma^t delta_t with delta from the critic V [S]."""

    values: np.ndarray = field(repr=False)
    name: str = "TD(0)"
    behaviour = None

    def weights(self, traj, gamma, pi):
        v = _table("values", self.values, (pi.shape[0],), pi)
        return _where_valid(traj, _discounts(traj, gamma) * _td(traj, v, gamma))


@dataclass(frozen=True)
class GAE:
    """w_t = gamma^t A_t^{GAE(gamma, lam)} with the critic V [S]."""

    values: np.ndarray = field(repr=False)
    lam: float = 0.95
    name: str = "GAE"
    behaviour = None

    def weights(self, traj, gamma, pi):
        lam = check_unit_interval("lam", self.lam)
        v = _table("values", self.values, (pi.shape[0],), pi)
        adv, _ = gae(traj.rew, _gather(v, traj.states[:-1, :]), _gather(v, traj.states[1:, :]),
                     traj.terminated, traj.truncated, gamma, lam)
        return _where_valid(traj, _discounts(traj, gamma) * adv)


@dataclass(frozen=True)
class ImportanceSampled:
    """Off-policy reward-to-go from trajectories of a behaviour policy beta [S, A].

    rho_t = pi(a_t | s_t) / beta(a_t | s_t),  c_k = rho_0 rho_1 ... rho_k (1 after the end).
    Per-decision (``per_decision=True``; Precup et al., 2000): the reward r_k only depends on the
    actions up to k, so it is reweighted by c_k alone:
        w_t = gamma^t sum_{k>=t} gamma^(k-t) c_k r_k.
    Whole trajectory: w_t = c_{T-1} gamma^t G_t. Both have expectation under beta equal to the
    on-policy reward-to-go's under pi. beta must be > 0 wherever pi is.
    """

    behaviour: np.ndarray = field(repr=False)
    per_decision: bool = True

    @property
    def name(self):
        return "IS " + ("per-decision" if self.per_decision else "whole trajectory")

    def weights(self, traj, gamma, pi):
        xp = namespace_of(pi)
        beta = _table("behaviour", self.behaviour, tuple(pi.shape), pi)
        rho = xp.where(traj.valid, _pairs(pi, traj) / _pairs(beta, traj), 1.0)
        c = (np.cumprod if xp is np else getattr(xp, "cumulative_prod", None) or xp.cumprod)(
            rho, axis=0)
        if self.per_decision:
            return _discounts(traj, gamma) * _mc_returns(traj, gamma, c * traj.rew)
        g = _discounts(traj, gamma) * _mc_returns(traj, gamma)
        return _where_valid(traj, c[-1, :] * g)


# ----------------------------------------------------------------------------------------------
# The harness

def _obs(mdp, policy, params, obs):
    if obs is not None:
        return obs
    return default_obs(mdp, policy, params)


def _behaviour(estimator, pi):
    beta = getattr(estimator, "behaviour", None)
    if beta is None:
        return pi
    beta = _table("behaviour", beta, tuple(pi.shape), pi)
    if bool(namespace_of(pi).any((beta <= 0) & (pi > 0))):
        raise ValueError("behaviour must be > 0 wherever the target policy pi is > 0 "
                         "(importance ratios would be infinite)")
    return beta


def gradient_estimates(mdp, policy, params, estimator, n_traj: int, horizon: int, rng,
                       obs=None) -> np.ndarray:
    """M independent estimates [M, P] of grad J: one trajectory each, from ``estimator``.

    Trajectories follow pi (or the estimator's ``behaviour`` matrix when it has one). The
    estimates live on the MDP's module (module docstring).
    """
    pi, table = mdp_score_table(mdp, policy, params, _obs(mdp, policy, params, obs))
    traj = sample_trajectories(mdp, _behaviour(estimator, pi), n_traj, horizon, as_generator(rng))
    return estimates_from_weights(traj, estimator.weights(traj, float(mdp.gamma), pi), table,
                                  pi.shape[1])


@dataclass(frozen=True, eq=False)
class EstimatorReport:
    """Statistics of M estimates g_1..g_M [P] of a gradient whose exact value is ``exact`` [P].

    mean = (1/M) sum_m g_m;  stderr_j = std_j / sqrt(M) (ddof 1);  bias = mean - exact;
    z_j = bias_j / stderr_j (0 where both are 0: a coordinate no sample touches);
    variance = trace Cov(g) = sum_j std_j^2;  mse = (1/M) sum_m ||g_m - exact||^2;
    cosine = cos(mean, exact);  mean_cosine = (1/M) sum_m cos(g_m, exact) (one-sample quality).
    """

    name: str
    n_samples: int
    mean: np.ndarray
    stderr: np.ndarray
    exact: np.ndarray
    bias: np.ndarray
    z: np.ndarray
    variance: float
    mse: float
    cosine: float
    mean_cosine: float

    @property
    def max_abs_z(self) -> float:
        return float(np.max(np.abs(self.z))) if self.z.size else 0.0

    @property
    def bias_norm(self) -> float:
        return float(np.linalg.norm(self.bias))


def _cos(a, b) -> np.ndarray:
    na, nb = np.linalg.norm(a, axis=-1), np.linalg.norm(b)
    den = na * nb
    return np.where(den > 0, (a @ b) / np.where(den > 0, den, 1.0), 0.0)


def summarize(estimates, exact, name: str = "") -> EstimatorReport:
    """The ``EstimatorReport`` of ``estimates`` [M, P] (M >= 2) against ``exact`` [P].

    The host boundary of the harness: estimates and exact from any module are converted once to
    NumPy float64, and the report holds NumPy arrays and floats.
    """
    g = np.asarray(to_numpy(estimates), dtype=np.float64)
    exact = np.asarray(to_numpy(exact), dtype=np.float64)
    if g.ndim != 2 or g.shape[0] < 2 or exact.shape != g.shape[1:]:
        raise ValueError(f"estimates must be [M, P] with M >= 2 and exact [P]; got "
                         f"{list(g.shape)} and {list(exact.shape)}")
    if not (np.all(np.isfinite(g)) and np.all(np.isfinite(exact))):
        raise ValueError("estimates and exact must be finite")
    m = g.shape[0]
    mean, std = g.mean(axis=0), g.std(axis=0, ddof=1)
    stderr, bias = std / math.sqrt(m), mean - exact
    scale = 1e-12 * (1.0 + np.abs(exact))
    z = np.where(stderr > 0, bias / np.where(stderr > 0, stderr, 1.0),
                 np.where(np.abs(bias) <= scale, 0.0, np.copysign(np.inf, bias)))
    return EstimatorReport(
        name=name, n_samples=m, mean=mean, stderr=stderr, exact=exact, bias=bias, z=z,
        variance=float(np.sum(std ** 2)), mse=float(np.mean(np.sum((g - exact) ** 2, axis=1))),
        cosine=float(_cos(mean, exact)), mean_cosine=float(np.mean(_cos(g, exact))))


def compare_estimators(mdp, policy, params, estimators, n_traj: int, horizon: int, rng,
                       obs=None, exact=None) -> dict:
    """``{name: EstimatorReport}`` for a dict (or list) of estimators against the exact grad J.

    The on-policy estimators share one set of M trajectories (a paired comparison); each
    off-policy one draws its own from its behaviour policy. ``exact`` defaults to
    ``npg.mdp.policy_gradient`` (the policy gradient theorem, solved exactly).
    """
    if not isinstance(estimators, dict):
        estimators = {e.name: e for e in estimators}
    rng = as_generator(rng)
    obs = _obs(mdp, policy, params, obs)
    if exact is None:
        exact = flatten(policy_gradient(mdp, policy, params, obs))
    pi, table = mdp_score_table(mdp, policy, params, obs)
    gamma, shared, out = float(mdp.gamma), None, {}
    for name, est in estimators.items():
        beta = _behaviour(est, pi)
        if beta is pi:
            if shared is None:
                shared = sample_trajectories(mdp, pi, n_traj, horizon, rng)
            traj = shared
        else:
            traj = sample_trajectories(mdp, beta, n_traj, horizon, rng)
        g = estimates_from_weights(traj, est.weights(traj, gamma, pi), table, pi.shape[1])
        out[name] = summarize(g, exact, name)
    return out


def required_samples(effect: float = 0.05, z_threshold: float = 4.5, z_power: float = 1.645) -> int:
    """M such that a bias of ``effect`` standard deviations gives E[z] = z_threshold + z_power.

    The mean of M estimates has standard error sd / sqrt(M), so a bias b = effect sd has
    E[z] = effect sqrt(M). Requiring effect sqrt(M) >= z_threshold + z_power (1.645: the bias is
    flagged with probability >= 95%) gives M = ceil(((z_threshold + z_power) / effect)^2);
    the defaults give 15 105.
    """
    check_positive("effect", effect)
    return math.ceil(((z_threshold + z_power) / effect) ** 2)
