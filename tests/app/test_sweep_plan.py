"""Sweep plans, TOML plan and preset files, and their bad input (no training here)."""

from __future__ import annotations

import contextlib
import socket
import threading

import numpy as np
import pytest

from npg.app.sweep import (Dist, Plan, load_preset, make_plan, parse_dist, parse_grid, parse_seeds,
                       plan_from_toml, write_preset)
from npg.app.sweep.backends import check_address, make_backend


def test_grid_strings_parse_like_set_values():
    g = parse_grid(["lr=1e-3,3e-4", "hidden=(8,),(16,16)", "norm_adv=true,false",
                    "target_kl=None,0.02", "dtype=float32,float64"])
    assert g == {"lr": [1e-3, 3e-4], "hidden": [(8,), (16, 16)], "norm_adv": [True, False],
                 "target_kl": [None, 0.02], "dtype": ["float32", "float64"]}


def test_grid_product_order_and_job_ids():
    p = make_plan("CartPole-v1", "ppo", 100, {"lr": [1, 2], "gamma": [0.9, 0.99]}, seeds=[4, 7])
    assert p.configs == [{"lr": 1, "gamma": 0.9}, {"lr": 1, "gamma": 0.99},
                         {"lr": 2, "gamma": 0.9}, {"lr": 2, "gamma": 0.99}]
    jobs = p.jobs()
    assert [j["id"] for j in jobs[:3]] == ["c000-s4", "c000-s7", "c001-s4"]
    assert len(jobs) == 8 and jobs[-1]["config"] == {"lr": 2, "gamma": 0.99}


def test_base_overrides_reach_every_job_and_grid_wins():
    p = make_plan("CartPole-v1", "ppo", 100, {"lr": [1e-3]}, seeds=1, base={"n_envs": 2})
    assert p.jobs()[0]["config"] == {"n_envs": 2, "lr": 1e-3}


def test_random_draws_are_reproducible_and_inside_their_ranges():
    space = {"lr": Dist("loguniform", 1e-4, 1e-2), "n_epochs": Dist("int", 2, 5),
             "hidden": Dist("choice", values=((8,), (16,)))}
    a = make_plan("CartPole-v1", "ppo", 10, random=space, draws=50, plan_seed=3, seeds=1)
    b = make_plan("CartPole-v1", "ppo", 10, random=space, draws=50, plan_seed=3, seeds=1)
    c = make_plan("CartPole-v1", "ppo", 10, random=space, draws=50, plan_seed=4, seeds=1)
    assert a.configs == b.configs != c.configs
    lrs = np.array([cfg["lr"] for cfg in a.configs])
    assert np.all((lrs >= 1e-4) & (lrs <= 1e-2))
    assert {cfg["n_epochs"] for cfg in a.configs} == {2, 3, 4, 5}
    assert {cfg["hidden"] for cfg in a.configs} == {(8,), (16,)}


def test_dist_strings():
    assert parse_dist("lr=loguniform:1e-4:1e-2") == ("lr", Dist("loguniform", 1e-4, 1e-2))
    assert parse_dist("n=int:1:4") == ("n", Dist("int", 1.0, 4.0))
    assert parse_dist("h=choice:(8,),(16,16)") == ("h", Dist("choice", values=((8,), (16, 16))))


def test_seeds():
    assert parse_seeds(3) == [0, 1, 2] and parse_seeds("3") == [0, 1, 2]
    assert parse_seeds("0,5,9") == [0, 5, 9] and parse_seeds([2]) == [2]


@pytest.mark.parametrize("seeds, match", [([1, 2, 1], r"\[1\] more than once"),
                                          ("0,3,3", "more than once"), (0, ">= 1"),
                                          ([-1], "non-negative"), ("a,b", "comma-separated"),
                                          ([], "non-empty"), ([True], "non-negative ints")])
def test_bad_seeds(seeds, match):
    with pytest.raises(ValueError, match=match):
        parse_seeds(seeds)


def test_unknown_config_key_names_the_key_and_the_fields():
    with pytest.raises(ValueError, match=r"unknown config field\(s\) \['lrr'\] for ppo.*'lr'"):
        make_plan("CartPole-v1", "ppo", 100, {"lrr": [1e-3]})
    with pytest.raises(ValueError, match="unknown config field"):
        make_plan("CartPole-v1", "ppo", 100, base={"bogus": 1})


@pytest.mark.parametrize("grid, match", [({}, "grid is empty"), ({"lr": []}, "no values")])
def test_empty_grid(grid, match):
    with pytest.raises(ValueError, match=match):
        make_plan("CartPole-v1", "ppo", 100, grid)


@pytest.mark.parametrize("items, match", [(["lr"], "key=value"), (["lr="], "key=value"),
                                          (["lr=1,,2"], "empty value"),
                                          (["lr=1", "lr=2"], "given twice"),
                                          (["lr=1,1.0"], "twice")])
def test_bad_grid_strings(items, match):
    with pytest.raises(ValueError, match=match):
        parse_grid(items)


@pytest.mark.parametrize("kwargs, match", [
    (dict(kind="normal", low=0, high=1), "kind"), (dict(kind="uniform", low=1, high=1), "low <"),
    (dict(kind="loguniform", low=0, high=1), "low > 0"),
    (dict(kind="int", low=0.5, high=3), "integer"), (dict(kind="choice"), "at least one"),
    (dict(kind="uniform", low=float("nan"), high=1), "finite")])
def test_bad_distributions(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Dist(**kwargs)


def test_other_bad_plans():
    with pytest.raises(ValueError, match="draws = 0"):
        make_plan("CartPole-v1", "ppo", 10, random={"lr": Dist("uniform", 0, 1)})
    with pytest.raises(ValueError, match="both in the grid"):
        make_plan("CartPole-v1", "ppo", 10, {"lr": [1]}, random={"lr": Dist("uniform", 0, 1)},
                  draws=2)
    with pytest.raises(ValueError, match="steps"):
        make_plan("CartPole-v1", "ppo", 0)
    with pytest.raises(ValueError, match="algorithm|algo"):
        make_plan("CartPole-v1", "nope", 10, {"lr": [1]})


def test_plan_json_round_trip():
    p = make_plan("CartPole-v1", "ppo", 100, {"hidden": [(8,), (4, 4)]}, seeds=2,
                  base={"n_envs": 2})
    q = Plan.from_json(__import__("json").loads(__import__("json").dumps(p.to_json())))
    assert q.same_as(p) and q.configs == p.configs and q.base == p.base     # tuples again
    assert not q.same_as(make_plan("CartPole-v1", "ppo", 100, {"hidden": [(8,)]}, seeds=2))


def test_plan_file(tmp_path):
    path = tmp_path / "plan.toml"
    path.write_text('env = "CartPole-v1"\nalgo = "ppo"\nsteps = 640\nseeds = [0, 2]\n'
                    '[base]\nn_envs = 2\nhidden = [8]\n[grid]\nlr = [1e-3, 3e-4]\n'
                    '[random]\ndraws = 2\nplan_seed = 1\n'
                    'ent_coef = { kind = "uniform", low = 0.0, high = 0.01 }\n')
    p = plan_from_toml(path)
    assert p.seeds == [0, 2] and p.base == {"n_envs": 2, "hidden": (8,)} and p.steps == 640
    assert [c.get("lr") for c in p.configs] == [1e-3, 3e-4, None, None]
    assert all(0 <= c["ent_coef"] <= 0.01 for c in p.configs[2:])
    path.write_text('env = "CartPole-v1"\nalgo = "ppo"\nsteps = 10\nstep = 3\n')
    with pytest.raises(ValueError, match=r"unknown keys \['step'\]"):
        plan_from_toml(path)
    path.write_text('env = "CartPole-v1"\nalgo = "ppo"\nsteps = 10\n[grid]\nlrr = [1]\n')
    with pytest.raises(ValueError, match="unknown config field"):
        plan_from_toml(path)
    path.write_text('env = "CartPole-v1\n')
    with pytest.raises(ValueError, match="invalid TOML"):
        plan_from_toml(path)


def test_preset_round_trip_through_npg_train_s_reader(tmp_path):
    from npg.app.presets import load_config_file
    cfg = {"lr": 6.9e-4, "hidden": (16, 16), "norm_adv": False, "dtype": 'float"32\\',
           "n_epochs": 3}
    path = write_preset(tmp_path / "best.toml", cfg, "CartPole-v1", "ppo", source="a test",
                        steps=640, normalize_obs=True)
    got = load_preset(path, algo="ppo")
    assert got == load_config_file(path) == {"config": cfg, "normalize_obs": True}
    assert type(got["config"]["hidden"]) is tuple
    text = open(path).read()
    assert "npg train CartPole-v1 --algo ppo --steps 640 --config" in text


def test_a_none_field_becomes_a_set_hint(tmp_path):
    path = write_preset(tmp_path / "p.toml", {"lr": 1e-3, "target_kl": None}, "CartPole-v1",
                        "ppo")
    assert load_preset(path) == {"config": {"lr": 1e-3}}
    assert "--set target_kl=None" in open(path).read()


def test_bad_presets(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[config]\nlrr = 1.0\n')
    with pytest.raises(ValueError, match="unknown config field"):
        load_preset(path, algo="ppo")
    path.write_text('algo = "ppo"\n[config]\nlr = 1.0\n')
    with pytest.raises(ValueError, match="extra keys"):
        load_preset(path)
    with pytest.raises(ValueError, match="finite"):
        write_preset(tmp_path / "q.toml", {"lr": float("inf")})
    with pytest.raises(TypeError, match="cannot write dict"):
        write_preset(tmp_path / "q.toml", {"lr": {"a": 1}})


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@contextlib.contextmanager
def _silent_server(reply: bytes = b""):
    """A local TCP port that accepts connections and sends ``reply`` (default: nothing)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    conns, stop = [], threading.Event()

    def accept():
        srv.settimeout(0.1)
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
                if reply:
                    conns[-1].sendall(reply)
            except OSError:
                pass
    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        yield srv.getsockname()[1]
    finally:
        stop.set()
        t.join()
        for c in conns:
            c.close()
        srv.close()


def test_an_address_that_does_not_answer_is_a_clear_error_within_the_timeout():
    with pytest.raises(ConnectionError, match="no Ray head node answers at '127.0.0.1:"):
        check_address(f"127.0.0.1:{_closed_port()}", timeout=2.0)
    # a port that accepts connections and never answers (where ray.init would retry for
    # minutes) must fail within the timeout, not hang
    with _silent_server() as port:
        with pytest.raises(ConnectionError, match=r"Ray head node.* within 0\.5 s"):
            check_address(f"127.0.0.1:{port}", timeout=0.5)
    with _silent_server(b"HTTP/1.1 400 Bad Request\r\n\r\n") as port:   # a web server
        with pytest.raises(ConnectionError, match="accepts connections but is not a Ray head"):
            check_address(f"127.0.0.1:{port}", timeout=2.0)
    with pytest.raises(ValueError, match="HOST:PORT"):
        check_address("localhost", timeout=1.0)


def test_bad_backend_arguments():
    with pytest.raises(ValueError, match="backend must be one of"):
        make_backend("dask")
    with pytest.raises(ValueError, match="workers"):
        make_backend("pool", workers=0)
    with pytest.raises(ValueError, match="address is for the ray backend"):
        make_backend("pool", address="auto")
