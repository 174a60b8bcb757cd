"""Exact estimator moments by second-moment Bellman equations over the time to go.

Sobel (1982, "The variance of discounted Markov decision processes", J. Appl. Prob. 19) gives
the variance of the return by a Bellman equation for its second moment: with G = r + gamma G',
E[G^2 | s] = E[r^2 + 2 gamma r G' + gamma^2 G'^2 | s]. The same idea carries the score-function
products of a gradient estimator. Write the estimator as a linear tail recursion (``tails.py``):

    z = b + K z'              A_i = alpha_i + kappa_i . z'          Y_i = A_i psi + sum_j H_ij Y_j'

(primes: the tail from the next step). Conditional on the transition (s, a, s'), b, K, alpha,
kappa, H and psi = grad log pi(a | s) are fixed, and the tail from s' is independent of the past
(Markov property), so with m1 = E z, m2 = E z z', u_i = E Y_i, c_i = E z Y_i', M_il = E Y_i Y_l'
of the tail from s' with h - 1 steps to go:

    E z        = b + K m1
    E z z'     = b b' + b (K m1)' + (K m1) b' + K m2 K'
    E A_i      = alpha_i + kappa_i . m1
    E A_i A_l  = alpha_i alpha_l + alpha_i kappa_l . m1 + alpha_l kappa_i . m1 + kappa_i' m2 kappa_l
    E z A_i    = b E A_i + alpha_i K m1 + K m2 kappa_i
    E A_i Y_j' = alpha_i u_j + kappa_i' c_j
    E Y_i      = E[A_i] psi + sum_j H_ij u_j
    E z Y_i'   = E[z A_i] psi' + sum_j H_ij (b u_j' + K c_j)
    E Y_i Y_l' = E[A_i A_l] psi psi' + psi X_il' + X_li psi' + sum_jm H_ij H_lm M_jm,
                 X_il = sum_j H_lj E[A_i Y_j']

and the moments from s with h steps to go are these averaged over beta(a|s) P(s'|s, a). After
the end (a terminal s', or h = 0) z = z_end and Y = 0. Starting from h = 0 and stepping h up to
the cap T gives the moments of the estimator under the sampler's horizon cap T exactly, with
O(T S^2 A (k^2 + q^2 P^2)) work; E g = sum_s mu0(s) u_out(s, T) and E g g' = sum_s mu0(s)
M_out,out(s, T). ``trace_only=True`` carries E Y_i . Y_l (scalars) instead of the [P, P]
blocks, which is what variances and the optimal baseline need.

Limits: the recursion needs the estimator's weight to be such a linear tail functional (all of
``npg.estimators`` are, ``tails.tail_form``); an estimator with, say, a clipped or normalised
weight has none (use enumeration). Memory is S q^2 P^2 floats (S q^2 with ``trace_only``).
"""

from __future__ import annotations

import numpy as np

from ..checks import check_positive_int

__all__ = ["tail_moments"]


def _end_state(form, S, P, trace_only):
    k, q = form.z_end.size, form.alpha.shape[-1]
    m1 = np.tile(form.z_end, (S, 1))
    m2 = np.tile(np.outer(form.z_end, form.z_end), (S, 1, 1))
    u, c = np.zeros((S, q, P)), np.zeros((S, k, q, P))
    M = np.zeros((S, q, q) if trace_only else (S, q, q, P, P))
    return [m1, m2, u, c, M]


_PATHS: dict = {}


def _es(subscripts, *operands):
    """np.einsum with its contraction path planned once per (subscripts, shapes)."""
    key = (subscripts,) + tuple(x.shape for x in operands)
    path = _PATHS.get(key)
    if path is None:
        if len(_PATHS) > 1024:              # bounded: shapes vary only with the problem
            _PATHS.clear()
        path = _PATHS.setdefault(key, np.einsum_path(subscripts, *operands,
                                                      optimize="greedy")[0])
    return np.einsum(subscripts, *operands, optimize=path)


def _step(form, w, psi, state, trace_only):
    """One step of the recursion (module docstring); w = beta(a|s) P(s'|s, a) [S, A, S]."""
    m1, m2, u, c, M = state
    b, K, al, ka, H = form.b, form.K, form.alpha, form.kappa, form.H
    Km1 = _es("satkj,tj->satk", K, m1)
    km1 = _es("satik,tk->sati", ka, m1)
    EA = al + km1
    n_m1 = _es("sat,satk->sk", w, b + Km1)
    Ezz = (b[..., :, None] * (b + 2 * Km1)[..., None, :]
           + _es("satkj,tjl,satml->satkm", K, m2, K))
    n_m2 = _es("sat,satkm->skm", w, Ezz)
    n_m2 = 0.5 * (n_m2 + np.swapaxes(n_m2, 1, 2))
    EAA = (al[..., :, None] * (al + 2 * km1)[..., None, :]
           + _es("satik,tkj,satlj->satil", ka, m2, ka))
    EAA = 0.5 * (EAA + np.swapaxes(EAA, -1, -2))
    EzA = (b[..., :, None] * EA[..., None, :] + Km1[..., :, None] * al[..., None, :]
           + _es("satkj,tjl,satil->satki", K, m2, ka))
    wEA, wEzA = _es("sat,sati->sai", w, EA), _es("sat,satki->saki", w, EzA)
    n_u = (_es("sai,sap->sip", wEA, psi)
           + _es("sat,satij,tjp->sip", w, H, u))
    n_c = (_es("saki,sap->skip", wEzA, psi)
           + _es("sat,satij,satk,tjp->skip", w, H, b, u)
           + _es("sat,satij,satkl,tljp->skip", w, H, K, c))
    # X[s, a, i, l, p] = sum_s' w sum_j H_lj (alpha_i u_j + kappa_i' c_j)
    X = (_es("sat,satlj,sati,tjp->sailp", w, H, al, u)
         + _es("sat,satlj,satik,tkjp->sailp", w, H, ka, c))
    wEAA = _es("sat,satil->sail", w, EAA)
    if trace_only:
        T1 = _es("sap,sailp->sil", psi, X)
        n_M = (_es("sail,sa->sil", wEAA, np.sum(psi * psi, axis=-1)) + T1
               + np.swapaxes(T1, 1, 2) + _es("sat,satij,satlm,tjm->sil", w, H, H, M))
    else:
        T1 = _es("sap,sailq->silpq", psi, X)
        n_M = (_es("sail,sap,saq->silpq", wEAA, psi, psi) + T1
               + np.transpose(T1, (0, 2, 1, 4, 3))
               + _es("sat,satij,satlm,tjmpq->silpq", w, H, H, M))
    return [n_m1, n_m2, n_u, n_c, n_M]


def tail_moments(mdp, form, psi: np.ndarray, horizon: int, trace_only: bool = False):
    """(E Y [q, P], E Y Y' [q, q, P, P] or E Y_i . Y_l [q, q]) of the tails from s_0 ~ mu0.

    ``form`` is a ``tails.TailForm``; ``psi`` [S, A, P] the score table; ``horizon`` the cap T.
    """
    T = check_positive_int("horizon", horizon)
    S, A, P = psi.shape
    w = form.sampling[:, :, None] * np.asarray(mdp.P)
    terminal = np.asarray(mdp.terminal)
    end = _end_state(form, S, P, trace_only)
    state = [x.copy() for x in end]
    for _ in range(T):
        state = _step(form, w, psi, state, trace_only)
        for x, e in zip(state, end):
            x[terminal] = e[terminal]
    mu0 = np.asarray(mdp.mu0)
    u, M = state[2], state[4]
    return _es("s,sip->ip", mu0, u), _es("s,sil...->il...", mu0, M)
