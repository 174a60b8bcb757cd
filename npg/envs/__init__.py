"""Gymnasium glue: spaces -> vectors, building vector envs, normalisers, toy environments."""

from .make import MODES, autoreset_mode_of, make_vec_env
from .normalize import ObsNormalizer, RewardScaler, RunningMeanVar
from .spaces import SpaceInfo, action_decoder, clip_action, obs_encoder, space_info
from .toy import CountingEnv

__all__ = ["make_vec_env", "autoreset_mode_of", "MODES", "ObsNormalizer", "RewardScaler",
           "RunningMeanVar", "SpaceInfo", "space_info", "obs_encoder", "action_decoder",
           "clip_action", "CountingEnv"]

from .lqr_env import LinearFeatures, LQREnv, LQRVectorEnv  # noqa: E402  (appended export)

__all__ += ["LQREnv", "LQRVectorEnv", "LinearFeatures"]
