"""The bad-input table, part 4: every field of every updater's config, the updates with
non-finite or overflowing rollouts, acting, and finite MDPs (``Case`` format of
``bad_input_cases.py``, which collects every part)."""

from __future__ import annotations

import dataclasses

import numpy as np

from bad_input_cases import FINITE, INF, NAN, Case


# ------------------------------------------------------------------------------ algos: configs

def _kind(cls, f):
    d = f.default
    if f.name == "dtype" or isinstance(d, str):
        return "str"
    if isinstance(d, bool):
        return "bool"
    if f.name in ("hidden", "critic_hidden"):
        return "hidden"
    if f.name in ("sde_sample_freq", "n_step"):
        return "int_or_special"
    if f.name == "batch_size":                      # an int, or None for the whole rollout
        return "int"
    if isinstance(d, int):
        return "int"
    return "real"


_BAD = {
    "real": (("'0.5'", "0.5", TypeError), ("True", True, TypeError), ("NaN", NAN, ValueError),
             ("inf", INF, ValueError), ("-1", -1.0, ValueError), ("[0.5]", [0.5], TypeError)),
    "int": (("'8'", "8", TypeError), ("True", True, TypeError), ("2.5", 2.5, TypeError),
            ("0", 0, ValueError), ("-1", -1, ValueError), ("NaN", NAN, TypeError)),
    "int_or_special": (("'8'", "8", TypeError), ("True", True, TypeError), ("2.5", 2.5, TypeError),
                       ("0", 0, ValueError)),
    "bool": (("1", 1, TypeError), ("'True'", "True", TypeError), ("None", None, TypeError)),
    "str": (("3", 3, TypeError), ("'bogus'", "bogus", ValueError)),
    "hidden": (("(0,)", (0,), ValueError), ("'64'", "64", TypeError), ("(2.5,)", (2.5,), TypeError),
               ("(True,)", (True,), TypeError)),
}
_OPTIONAL = {"clip_range_vf", "max_grad_norm", "target_kl", "n_step",    # None is legal
             "batch_size"}
# fields whose legal range includes -1 or 0 (the sweep's "-1"/"0" would be legal there)
_NONNEG = {"ent_coef", "vf_coef", "log_std_init"}


def config_cases() -> list[Case]:
    from npg.algos import A2CConfig, ACConfig, PPOConfig, QACConfig, ReinforceConfig
    out = []
    for cls in (PPOConfig, ReinforceConfig, ACConfig, A2CConfig, QACConfig):
        for f in dataclasses.fields(cls):
            kind = _kind(cls, f)
            bad = _BAD[kind]
            if kind in ("real", "int") and f.name not in _OPTIONAL:
                bad = bad + (("None", None, TypeError),)
            for what, x, exc in bad:
                if f.name in _NONNEG and what == "-1" and f.name == "log_std_init":
                    continue
                if f.name == "dtype" and exc is ValueError:
                    x = "float16"
                if f.name == "sde_sample_freq" and what == "0":
                    pass
                out.append(Case(f"algos.{cls.__name__}", f"{f.name} = {what}",
                                lambda cls=cls, n=f.name, x=x: cls(**{n: x}), exc, (f.name,)))
        out.append(Case(f"algos.{cls.__name__}", "gamma = 1.5", lambda cls=cls: cls(gamma=1.5),
                        ValueError, ("gamma", "[0, 1]")))
    out += [
        Case("algos.PPOConfig", "gae_lambda = 1.5", lambda: PPOConfig(gae_lambda=1.5), ValueError,
             ("gae_lambda",)),
        Case("algos.PPOConfig", "batch_size > n_envs * n_steps",
             lambda: PPOConfig(n_envs=2, n_steps=4, batch_size=9), ValueError, ("batch_size",)),
        Case("algos.PPOConfig", "sde_sample_freq = -2", lambda: PPOConfig(sde_sample_freq=-2),
             ValueError, ("sde_sample_freq",)),
        Case("algos.ACConfig", "n_step = -1", lambda: ACConfig(n_step=-1), ValueError, ("n_step",)),
    ]
    return out


# ------------------------------------------------------------------------------ algos: updates

def _ppo(dtype="float64", discrete=True, **kw):
    from npg.algos import PPO
    from npg.envs import SpaceInfo
    spec = (SpaceInfo(3, "box", None, True, 2, None, None, None) if discrete else
            SpaceInfo(3, "box", None, False, None, 1, -np.ones(1), np.ones(1)))
    cfg = dict(n_envs=2, n_steps=4, batch_size=8, n_epochs=1, hidden=(4,), dtype=dtype)
    cfg.update(kw)
    algo = PPO(cfg, spec)
    return algo, algo.init(0)


def _rollout(algo, state, rew_value=1.0, dtype=np.float64, obs_value=None):
    from npg.envs.rollout import Rollout
    rng = np.random.default_rng(0)
    T, N = algo.config.n_steps, algo.config.n_envs
    obs = rng.standard_normal((T, N, 3)).astype(dtype)
    if obs_value is not None:
        obs[0, 0, 0] = obs_value
    act = (rng.integers(0, 2, (T, N)) if algo.spec.discrete
           else rng.standard_normal((T, N, 1)).astype(dtype))
    z = np.zeros((T, N), dtype)
    return Rollout(obs=obs, act=act, logp=z + np.log(0.5).astype(dtype),
                   rew=np.full((T, N), rew_value, dtype), terminated=np.zeros((T, N), bool),
                   truncated=np.zeros((T, N), bool), value=z.copy(), next_value=z.copy(),
                   valid=np.ones((T, N), bool), last_obs=obs[0], episode_returns=np.zeros(0),
                   episode_lengths=np.zeros(0, np.int64))


def _update(dtype="float64", rew=1.0, progress=0.5, rng=0, obs_value=None, **kw):
    algo, state = _ppo(dtype, **kw)
    ro = _rollout(algo, state, rew, np.dtype(dtype).type, obs_value)
    return algo.update(state, ro, progress, rng)[1]


def update_cases() -> list[Case]:
    A = "algos.PPO.update"
    out = []
    for fast in (True, False):
        tag = " (compiled path)" if fast else " (reference path)"

        def upd(fast=fast, **kw):
            algo, state = _ppo(kw.pop("dtype", "float64"))
            algo.fast_path = fast
            ro = _rollout(algo, state, kw.pop("rew", 1.0), algo.dtype.type)
            return algo.update(state, ro, 0.5, 0)[1]
        out += [
            Case(A, "float32 rewards 1e20: value targets overflow (V - y)^2" + tag,
                 lambda upd=upd: upd(dtype="float32", rew=1e20), ValueError,
                 ("value targets", "float32", "scale_reward", "float64")),
            Case(A, "float64 rewards 1e160: value targets overflow (V - y)^2" + tag,
                 lambda upd=upd: upd(rew=1e160), ValueError, ("value targets", "float64")),
            Case(A, "NaN rewards" + tag, lambda upd=upd: upd(rew=NAN), ValueError,
                 ("rew", "finite")),
            Case(A, "float32 rewards 1e10 (finite losses)" + tag,
                 lambda upd=upd: upd(dtype="float32", rew=1e10), FINITE),
        ]
    out += [
        Case(A, "progress NaN", lambda: _update(progress=NAN), ValueError, ("progress",)),
        Case(A, "progress 1.5", lambda: _update(progress=1.5), ValueError, ("progress",)),
        Case(A, "progress '0.5'", lambda: _update(progress="0.5"), TypeError, ("progress",)),
        Case(A, "progress True", lambda: _update(progress=True), TypeError, ("progress",)),
        Case(A, "rng None", lambda: _update(rng=None), TypeError, ("rng",)),
        Case(A, "NaN observation", lambda: _update(obs_value=NAN), ValueError, ("obs", "finite")),
        Case(A, "Gaussian policy, float32 rewards 1e20",
             lambda: _update("float32", rew=1e20, discrete=False), ValueError,
             ("value targets", "float32")),
        Case("algos.PPO", "spec not a SpaceInfo",
             lambda: __import__("npg.algos").algos.PPO(None, 3),
             TypeError, ("spec",)),
        Case("algos.PPO", "config a list", lambda: __import__("npg.algos").algos.PPO([1], None),
             TypeError, ("config",)),
        Case("algos.PPO", "config with an unknown field",
             lambda: __import__("npg.algos").algos.PPO({"gama": 0.9}, None), ValueError,
             ("gama",)),
        Case(A, "max_grad_norm None, float32 rewards 1e10 (finite)",
             lambda: _update("float32", rew=1e10, max_grad_norm=None), FINITE),
        Case("algos.PPO.act", "NaN observation",
             lambda: _ppo()[0].act(_ppo()[1], np.full((2, 3), NAN), 0), ValueError,
             ("obs", "finite")),
        Case("algos.PPO.act", "observation of wrong width",
             lambda: _ppo()[0].act(_ppo()[1], np.zeros((2, 4)), 0), ValueError, ("obs", "shape")),
        Case("algos.PPO.value", "NaN observation",
             lambda: _ppo()[0].value(_ppo()[1], np.full((2, 3), NAN)), ValueError,
             ("obs", "finite")),
        Case("algos.PPO.act", "Gaussian policy, NaN observation",
             lambda: _ppo(discrete=False)[0].act(_ppo(discrete=False)[1], np.full((2, 3), NAN), 0),
             ValueError, ("obs", "finite")),
    ]
    for name in ("A2C", "ActorCritic", "QActorCritic", "Reinforce"):
        U = f"algos.{name}.update"
        no_critic = name == "Reinforce"   # no critic: Adam's g^2 overflows instead of a loss
        out += [
            Case(U, "NaN rewards", lambda name=name: _pg_update(name, "float64", NAN), ValueError,
                 ("rew", "finite")),
            Case(U, "float32 rewards 1e20: " + ("Adam's g^2 overflows" if no_critic else
                                                "the value loss overflows"),
                 lambda name=name: _pg_update(name, "float32", 1e20), ValueError,
                 ("float32", "overflow") + (("'W2'",) if no_critic else ("scale_reward",))),
            Case(U, "float32 rewards 3e38: returns or losses overflow",
                 lambda name=name: _pg_update(name, "float32", 3e38), ValueError,
                 ("overflow",)),
            Case(U, "progress -0.5", lambda name=name: _pg_update(name, "float64", 1.0, -0.5),
                 ValueError, ("progress",)),
        ]
    return out


def _pg_update(name, dtype, rew, progress=0.5):
    import npg.algos as algos
    from npg.envs import SpaceInfo
    spec = SpaceInfo(3, "box", None, True, 2, None, None, None)
    algo = getattr(algos, name)(dict(n_envs=2, n_steps=4, hidden=(4,), dtype=dtype), spec)
    state = algo.init(0)
    ro = _rollout(algo, state, rew, np.dtype(dtype).type)
    ro.terminated[-1] = True                 # complete episodes (REINFORCE learns from those)
    return algo.update(state, ro, progress, 0)[1]


# ------------------------------------------------------------------------------ mdp

OPEN: set = set()   # bad inputs still accepted silently (strict xfails); none left


def mdp_cases() -> list[Case]:
    from npg import mdp as M
    P = np.zeros((2, 1, 2))
    P[:, 0, 1] = 1.0
    R, mu0 = np.zeros((2, 1)), np.array([1.0, 0.0])
    D = "mdp"

    def fm(**kw):
        a = dict(P=P, R=R, mu0=mu0, gamma=0.9)
        a.update(kw)
        return M.FiniteMDP(**a)
    return [
        Case(D, "FiniteMDP: gamma '0.9'", lambda: fm(gamma="0.9"), TypeError, ("gamma",)),
        Case(D, "FiniteMDP: gamma True", lambda: fm(gamma=True), TypeError, ("gamma",)),
        Case(D, "FiniteMDP: gamma 1.5", lambda: fm(gamma=1.5), ValueError, ("gamma",)),
        Case(D, "FiniteMDP: gamma NaN", lambda: fm(gamma=NAN), ValueError, ("gamma",)),
        Case(D, "FiniteMDP: P rows do not sum to 1", lambda: fm(P=P * 0.5), ValueError,
             ("P", "sum to 1")),
        Case(D, "FiniteMDP: negative P", lambda: fm(P=P - 0.5), ValueError, ("P", ">= 0")),
        Case(D, "FiniteMDP: NaN R", lambda: fm(R=R + NAN), ValueError, ("R", "finite")),
        Case(D, "FiniteMDP: R of wrong shape", lambda: fm(R=np.zeros((2, 2))), ValueError,
             ("R", "shape")),
        Case(D, "FiniteMDP: mu0 not a distribution", lambda: fm(mu0=np.array([0.5, 0.1])),
             ValueError, ("mu0", "sum to 1")),
        Case(D, "FiniteMDP: P a str", lambda: fm(P="P"), TypeError, ("P",)),
        Case(D, "random_mdp: n_states 0", lambda: M.random_mdp(0, 2, 0), ValueError,
             ("n_states",)),
        Case(D, "random_mdp: gamma '0.9'", lambda: M.random_mdp(2, 2, 0, gamma="0.9"), TypeError,
             ("gamma",)),
        Case(D, "random_mdp: alpha '1'", lambda: M.random_mdp(2, 2, 0, alpha="1"), TypeError,
             ("alpha",)),
        Case(D, "random_mdp: reward_scale '1'", lambda: M.random_mdp(2, 2, 0, reward_scale="1"),
             TypeError, ("reward_scale",)),
        Case(D, "random_mdp: p_terminate True", lambda: M.random_mdp(2, 2, 0, p_terminate=True),
             TypeError, ("p_terminate",)),
        Case(D, "random_mdp: rng None", lambda: M.random_mdp(2, 2, None), TypeError, ("rng",)),
        Case(D, "evaluate: pi rows do not sum to 1",
             lambda: M.evaluate(fm(), np.array([[0.5], [0.5]])), ValueError, ("pi",)),
        Case(D, "evaluate: NaN pi", lambda: M.evaluate(fm(), np.array([[NAN], [1.0]])),
             ValueError, ("pi",)),
        Case(D, "evaluate: gamma 1 with a non-terminating policy",
             lambda: M.evaluate(fm(gamma=1.0), np.ones((2, 1))), ValueError, ("gamma",)),
        Case(D, "finite_horizon_objective: horizon 0",
             lambda: M.finite_horizon_objective(fm(), np.ones((2, 1)), 0), ValueError,
             ("horizon",)),
        Case(D, "finite_horizon_objective: horizon 2.5",
             lambda: M.finite_horizon_objective(fm(), np.ones((2, 1)), 2.5), TypeError,
             ("horizon",)),
        Case(D, "finite_horizon_objective: gamma '1'",
             lambda: M.finite_horizon_objective(fm(), np.ones((2, 1)), 3, gamma="1"), TypeError,
             ("gamma",)),
        Case(D, "sample_trajectories: rng None", lambda: M.sample_trajectories(
             fm(), np.ones((2, 1)), 2, 3, None), TypeError, ("rng",)),
    ]


# ------------------------------------------------------------------------------ devices

def _device_update(mixed: bool):
    """A PPO update with a rollout on array_api_strict and a NumPy train state (mixed=False),
    or with a train state whose policy is on array_api_strict and critic on NumPy."""
    import array_api_strict as strict
    from npg.backend import tree_to
    algo, state = _ppo()
    ro = _rollout(algo, state)
    if mixed:
        return algo.update(dict(state, policy=tree_to(state["policy"], strict)), ro, 0.0, 0)
    return algo.update(state, ro.to(strict), 0.0, 0)


def _numpy_only_on_device():
    """``Agent(device=...)``'s check for an Algorithm that leaves ``any_namespace`` False."""
    import array_api_strict as strict
    from npg.algos import Algorithm
    from npg.app.agent_device import resolve

    class NumpyOnly(Algorithm):
        name = "numpy_only"
    return resolve(strict.Device("device1"), NumpyOnly)


def device_cases() -> list[Case]:
    """``Agent(device=...)`` and the updaters' namespace boundary (the missing-CuPy case only
    where CuPy is not installed)."""
    import importlib.util
    from npg.app.agent import Agent
    D = "Agent device"
    out = [
        Case(D, "device 'tpu'", lambda: Agent("CartPole-v1", "ppo", device="tpu"), ValueError,
             ("device must be", "'cuda'", "'tpu'")),
        Case(D, "device 'cuda:x'", lambda: Agent("CartPole-v1", "ppo", device="cuda:x"),
             ValueError, ("device", "cuda:N")),
        Case(D, "device 3", lambda: Agent("CartPole-v1", "ppo", device=3), TypeError,
             ("device must be", "int")),
        Case(D, "an algorithm without any_namespace on a device", _numpy_only_on_device,
             ValueError, ("device", "'numpy_only'", "NumPy only")),
        Case(D, "update: rollout on array_api_strict, train state on NumPy",
             lambda: _device_update(False), TypeError,
             ("rollout lives on array_api_strict", "train state lives on numpy")),
        Case(D, "update: train state on two array modules", lambda: _device_update(True),
             TypeError, ("policy/W1", "array_api_strict", "critic/W1", "numpy")),
    ]
    if importlib.util.find_spec("cupy") is None:
        out.append(Case(D, "device 'cuda' without CuPy",
                        lambda: Agent("CartPole-v1", "ppo", device="cuda"), ImportError,
                        ("device='cuda'", "needs CuPy")))
    return out


def algo_cases() -> list[Case]:
    return config_cases() + update_cases() + mdp_cases() + device_cases()
