"""The same recursions for any array-API module (CuPy, array_api_strict): a Python loop over T,
each step vectorised over the N environments, rows collected and stacked (no item assignment).

Every function mirrors a kernel in ``_kernels.py`` operation for operation, so both paths give
the same numbers. ``xp.where`` picks branches without arithmetic on the unused side, so a NaN
``next_value`` at a terminated step never reaches the output.
"""

from __future__ import annotations

from ..backend import create, device_of


def _stack_backwards(xp, rows):
    return xp.stack(rows[::-1], axis=0)


def td_errors(xp, rew, value, next_value, terminated, gamma):
    """[T, N]: r_t + gamma (1 - d_t) V'_t - V_t."""
    boot = xp.where(terminated, xp.zeros_like(rew), gamma * next_value)
    return (rew - value) + boot


def gae(xp, rew, value, next_value, terminated, truncated, gamma, gamma_lam):
    """[T, N]: A_t = delta_t + gamma lam (1 - e_t) A_{t+1}, A_T = 0."""
    delta = td_errors(xp, rew, value, next_value, terminated, gamma)
    ended = terminated | truncated
    carry = xp.zeros_like(rew[0, :])
    rows = []
    for t in range(rew.shape[0] - 1, -1, -1):
        carry = xp.where(ended[t, :], delta[t, :], delta[t, :] + gamma_lam * carry)
        rows.append(carry)
    return _stack_backwards(xp, rows)


def _bootstrapped_scan(xp, rew, next_value, terminated, truncated, gamma, inside):
    """G_t = r_t + gamma B_t with B_t = 0 | V'_t | inside(V'_t, G_{t+1}) (see the kernels)."""
    T = rew.shape[0]
    zero = xp.zeros_like(rew[0, :])
    carry = zero
    rows = []
    for t in range(T - 1, -1, -1):
        nv = next_value[t, :]
        cont = inside(nv, carry)
        if t == T - 1:
            b = nv
        else:
            b = xp.where(truncated[t, :], nv, cont)
        b = xp.where(terminated[t, :], zero, b)
        carry = rew[t, :] + gamma * b
        rows.append(carry)
    return _stack_backwards(xp, rows)


def discounted(xp, rew, next_value, terminated, truncated, gamma, bootstrap):
    """[T, N]: bootstrapped (next_value given) or Monte-Carlo discounted return."""
    if not bootstrap:
        next_value = xp.zeros_like(rew)
    return _bootstrapped_scan(xp, rew, next_value, terminated, truncated, gamma,
                              lambda nv, g: g)


def lambda_returns(xp, rew, next_value, terminated, truncated, gamma, lam, one_minus_lam):
    """[T, N]: B_t = (1 - lam) V'_t + lam G_{t+1} inside an episode."""
    return _bootstrapped_scan(xp, rew, next_value, terminated, truncated, gamma,
                              lambda nv, g: one_minus_lam * nv + lam * g)


def nstep(xp, rew, next_value, terminated, truncated, gamma, n):
    """[T, N]: the n-step return, vectorised over all of [T, N], a loop over the window offset k.

    ``alive[t]`` says the window starting at t is still open at step t + k. At the window's last
    step (episode end, rollout end, or k = n - 1) it adds gamma^{k+1} (1 - d) V' and closes.
    """
    T = rew.shape[0]
    boot = xp.where(terminated, xp.zeros_like(rew), next_value)
    ended = terminated | truncated
    out = xp.zeros_like(rew)
    alive = xp.ones_like(ended)
    disc = 1.0                                          # gamma^k
    for k in range(min(n, T)):
        m = T - k                                       # windows t < m reach step t + k < T
        r_k, b_k = rew[k:, :], boot[k:, :]
        at_rollout_end = create(xp, "arange", m, device=device_of(rew))[:, None] == m - 1
        close = ended[k:, :] | at_rollout_end | (k == n - 1)
        zero = xp.zeros_like(r_k)
        step = disc * r_k + xp.where(close, (disc * gamma) * b_k, zero)
        pad = xp.zeros_like(rew[:k, :])
        out = out + xp.concat([xp.where(alive[:m, :], step, zero), pad], axis=0)
        alive = xp.concat([alive[:m, :] & ~close, xp.zeros_like(ended[:k, :])], axis=0)
        disc = disc * gamma
    return out


def episode_discount(xp, out, terminated, truncated, gamma, w0):
    """[T, N]: out[t] * w_t with w_0 = w0 [N], w_{t+1} = 1 if e_t else gamma w_t."""
    ended = terminated | truncated
    w = w0
    rows = []
    for t in range(out.shape[0]):
        rows.append(out[t, :] * w)
        w = xp.where(ended[t, :], xp.ones_like(w), gamma * w)
    return xp.stack(rows, axis=0)
