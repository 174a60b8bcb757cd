"""npg.backend's module helpers: namespace_of, common_xp (two modules named), create, device_of."""

import numpy as np
import pytest

from npg.backend import (common_xp, create, device_of, get_xp, load_backend, namespace_of,
                         same_namespace)


def test_namespace_of(xp):
    assert namespace_of(xp.asarray([1.0])) is xp
    for x in (None, 1, 2.5, True, np.float64(1.0), "text", [1.0]):
        assert namespace_of(x) is None
    assert namespace_of(np.zeros(2)) is np


def test_common_xp_names_both_modules():
    import array_api_strict as strict
    a, b = strict.asarray([1.0]), np.asarray([1.0])
    assert common_xp(a, None, 2.0, a) is strict
    assert common_xp() is np and common_xp(None, 1.0) is np
    with pytest.raises(TypeError, match="argument 0 lives on array_api_strict but argument 2 "
                                        "lives on numpy"):
        common_xp(a, None, b)
    with pytest.raises(TypeError, match="x lives on numpy but y lives on array_api_strict"):
        common_xp(b, a, names=("x", "y"))
    with pytest.raises(ValueError, match="one label per array"):
        common_xp(a, b, names=("x",))
    # get_xp keeps its old rule: the first non-NumPy module, NumPy arrays ignored
    assert get_xp(b, a) is strict
    assert same_namespace(strict, a, "a") is a
    with pytest.raises(TypeError, match="v lives on numpy but the MDP lives on array_api_strict"):
        same_namespace(strict, b, "v")


def test_create_on_the_device_of_an_array(xp):
    like = xp.asarray([1.0, 2.0])
    dev = device_of(like)
    z = create(xp, "zeros", (2, 3), dtype=xp.float64, device=dev)
    assert namespace_of(z) is xp and device_of(z) == dev and tuple(z.shape) == (2, 3)
    e = create(xp, "eye", 3, dtype=xp.float64, device=dev)
    assert float(xp.sum(e)) == 3.0
    assert namespace_of(create(xp, "arange", 4)) is xp
    assert device_of(np.zeros(1)) == "cpu" and device_of(3.0) is None


def test_load_backend():
    import array_api_strict as strict
    assert load_backend("numpy") is np and load_backend("array-api-strict") is strict
    assert load_backend(strict) is strict
    with pytest.raises(ValueError, match="backend must be"):
        load_backend("torch")


def test_moving_an_mdp_to_cupy_without_cupy_is_a_clear_error():
    import importlib.util
    if importlib.util.find_spec("cupy") is not None:
        pytest.skip("CuPy is installed here: the error path cannot be reached")
    import npg.mdp as M
    with pytest.raises(ImportError, match="backend 'cupy' needs CuPy"):
        M.random_mdp(3, 2, 0).to("cupy")


def test_cumulative_max_matches_numpy(xp):
    from npg.backend import cumulative_max, to_numpy
    x = np.random.default_rng(0).integers(-5, 5, (7, 3))
    a = xp.asarray(x)
    np.testing.assert_array_equal(to_numpy(cumulative_max(a)), np.maximum.accumulate(x, 0))
    np.testing.assert_array_equal(to_numpy(cumulative_max(a, reverse=True, minimum=True)),
                                  np.minimum.accumulate(x[::-1], 0)[::-1])
    assert cumulative_max(xp.asarray(np.zeros((0, 2)))).shape[0] == 0


def test_resolve_device_and_tree_to():
    import array_api_strict as strict
    from npg.backend import resolve_device, tree_to, to_numpy
    dev = strict.Device("device1")
    assert resolve_device(dev) == (strict, dev)
    assert resolve_device(None) == (np, None) and resolve_device("cpu") == (np, None)
    tree = {"a": np.arange(3.0), "n": {"b": np.ones((2, 2), bool), "k": 3}, "s": None}
    moved = tree_to(tree, strict, dev)
    assert moved["a"].device == dev and moved["n"]["b"].device == dev and moved["n"]["k"] == 3
    back = tree_to(moved, np)
    np.testing.assert_array_equal(back["a"], tree["a"])
    assert isinstance(back["n"]["b"], np.ndarray) and back["s"] is None
    np.testing.assert_array_equal(to_numpy(moved["n"]["b"]), tree["n"]["b"])
    with pytest.raises(TypeError, match="device must be"):
        resolve_device(object())
