r"""Closed forms for the tabular softmax policy pi(a|s) = exp(theta[s, a]) / sum_b exp(theta[s, b]).

Its score is :math:`\partial \log \pi(a|s) / \partial \theta_{s', b} = 1[s = s'] (1[a = b] - \pi(b|s))`,
so (Agarwal, Kakade, Lee & Mahajan, 2021, "On the theory of policy gradient methods",
Lemma C.1 and sec. 5.3), ``[S, A]``:

.. math::

    \frac{\partial J}{\partial \theta_{s, a}} = d(s)\, \pi(a|s)\, A(s, a)

(d unnormalised discounted visitation; the policy gradient theorem with
:math:`\sum_b \pi(b|s) Q(s, b) = V(s)`), and the Fisher matrix is block-diagonal over states,
blocks ``[A, A]``:

.. math::

    F_s = d(s) \left(\mathrm{diag}(\pi(\cdot|s)) - \pi(\cdot|s)\, \pi(\cdot|s)^T\right)

so :math:`F_s x = g_s` reads :math:`\pi(a|s) (x_a - \sum_b \pi(b|s) x_b) = \pi(a|s) A(s, a)`:
:math:`x = A(s, \cdot) + c \mathbf{1}`. The min-norm solution (the pseudo-inverse) is, on the
states with d(s) > 0,

.. math::

    \tilde\nabla J(s, a) = A(s, a) - \frac{1}{|A|} \sum_b A(s, b)

and a natural-gradient step of size eta gives
:math:`\pi'(a|s) \propto \pi(a|s) \exp(\eta A(s, a))`, a soft policy-iteration step. These are
checked against the general path of ``npg.mdp.gradient`` in the tests.
"""

from __future__ import annotations

import numpy as np

from ..backend import create
from .exact import check_policy_matrix, evaluate, visitation
from .finite import FiniteMDP

__all__ = ["tabular_softmax_gradient", "tabular_softmax_fisher",
           "tabular_softmax_natural_gradient"]


def tabular_softmax_gradient(mdp: FiniteMDP, pi) -> np.ndarray:
    """dJ/dtheta[s, a] = d(s) pi(a|s) A(s, a), ``[S, A]``."""
    pi = check_policy_matrix(mdp, pi)
    _, _, A = evaluate(mdp, pi)
    return visitation(mdp, pi)[:, None] * pi * A


def tabular_softmax_fisher(mdp: FiniteMDP, pi) -> np.ndarray:
    """Block-diagonal F with blocks d(s) (diag(pi_s) - pi_s pi_s^T), ``[S*A, S*A]`` (theta
    flattened s-major, as ``flatten({"theta": theta})`` orders it)."""
    pi = check_policy_matrix(mdp, pi)
    d = visitation(mdp, pi)
    xp, (S, A) = mdp.xp, pi.shape
    eye_A = create(xp, "eye", A, dtype=xp.float64, device=mdp.device)
    blocks = d[:, None, None] * (pi[:, :, None] * eye_A - pi[:, :, None] * pi[:, None, :])
    same = create(xp, "eye", S, dtype=xp.bool, device=mdp.device)[:, None, :, None]
    F = xp.where(same, blocks[:, :, None, :], 0.0)                         # [S, A, S, A]
    return xp.reshape(F, (S * A, S * A))


def tabular_softmax_natural_gradient(mdp: FiniteMDP, pi) -> np.ndarray:
    """Min-norm natural gradient A(s, a) - mean_b A(s, b) (0 where d(s) = 0), ``[S, A]``."""
    pi = check_policy_matrix(mdp, pi)
    _, _, A = evaluate(mdp, pi)
    reached = visitation(mdp, pi) > 0
    return mdp.xp.where(reached[:, None], A - mdp.xp.mean(A, axis=1, keepdims=True), 0.0)
