"""Part-2 stubs (backward, gradcheck, model additions, data): generated from the solutions, no
solution line leaks, and every function the student writes raises NotImplementedError naming
itself when called with valid arguments."""

from __future__ import annotations

import numpy as np
import pytest
from _part2 import PART2_FUNCTIONS, PART2_HELPERS, load_part2

from autograder.paths import SOLUTIONS_DIR, STUBS_DIR
from autograder.stubs import make_stub


@pytest.fixture(scope="module")
def stub():
    return load_part2("stubs")


@pytest.mark.parametrize("module", ["backward", "gradcheck", "model", "data"])
def test_stub_is_generated_and_holds_no_solution_line(module):
    solution = (SOLUTIONS_DIR / f"{module}.py").read_text()
    stub_text = (STUBS_DIR / f"{module}.py").read_text()
    assert stub_text == make_stub(solution, module)
    for region in solution.split("# BEGIN STUDENT CODE")[1:]:
        body = region.split("# END STUDENT CODE")[0].splitlines()[1:]
        for line in (x.strip() for x in body if len(x.strip()) > 25):
            assert line not in stub_text, f"{module}: solution line leaked: {line}"


def test_data_is_given_code_identical_in_the_stub():
    assert (STUBS_DIR / "data.py").read_text() == (SOLUTIONS_DIR / "data.py").read_text()
    assert "# BEGIN STUDENT CODE" not in (SOLUTIONS_DIR / "data.py").read_text()


def _valid_calls(pkg):
    """name -> a call with valid arguments, for every part-2 function and helper."""
    rng = np.random.default_rng(0)
    x4, k4 = rng.normal(size=(1, 5, 5, 2)), rng.normal(size=(3, 3, 2, 3))
    x3, k3 = rng.normal(size=(1, 6, 2)), rng.normal(size=(3, 2, 3))
    b, g = pkg.backward, pkg.gradcheck
    digits = rng.uniform(size=(2, 28, 28, 1))
    labels = np.eye(10)[[1, 4]]
    weights = pkg.data.lecture_model_init(rng)
    return {
        "unpad2d": lambda: b.unpad2d(x4, ((1, 0), (0, 1))),
        "conv2d_window_backward": lambda: b.conv2d_window_backward(np.ones(3), x4[0, :3, :3], k4),
        "max_pool_window_backward": lambda: b.max_pool_window_backward(1.0, np.eye(2)),
        "avg_pool_window_backward": lambda: b.avg_pool_window_backward(1.0, np.eye(2) > 0),
        "conv1d_backward": lambda: b.conv1d_backward(np.ones((1, 4, 3)), x3, k3),
        "conv2d_backward": lambda: b.conv2d_backward(np.ones((1, 3, 3, 3)), x4, k4),
        "max_pool2d_backward": lambda: b.max_pool2d_backward(np.ones((1, 2, 2, 2)), x4),
        "avg_pool2d_backward": lambda: b.avg_pool2d_backward(np.ones((1, 2, 2, 2)), x4),
        "dense_backward": lambda: b.dense_backward(
            np.ones((4, 3)), np.ones((4, 2)), np.ones((2, 3))
        ),
        "dropout_backward": lambda: b.dropout_backward(np.ones(4), np.ones(4) > 0, 0.5),
        "softmax_crossentropy_backward": lambda: b.softmax_crossentropy_backward(labels, labels),
        "numerical_gradient": lambda: g.numerical_gradient(lambda t: float(t.sum()), np.ones(3)),
        "relative_error": lambda: g.relative_error(np.ones(3), np.ones(3)),
        "lecture_model_loss_and_grads": lambda: pkg.model.lecture_model_loss_and_grads(
            digits, labels, weights
        ),
        "train_lecture_model": lambda: pkg.model.train_lecture_model(
            digits, labels, weights, pkg.optimizers.SGD(), batch_size=2
        ),
    }


NAMES = [f for fs in (*PART2_FUNCTIONS.values(), *PART2_HELPERS.values()) for f in fs]


@pytest.mark.parametrize("name", NAMES)
def test_every_part2_stub_raises_not_implemented_naming_itself(stub, name):
    with pytest.raises(NotImplementedError, match=rf"^{name} is not implemented yet"):
        _valid_calls(stub)[name]()


@pytest.mark.parametrize("name", NAMES)
def test_the_same_calls_work_on_the_solutions(name):
    _valid_calls(load_part2())[name]()


def test_the_stub_data_loader_and_init_work(stub):
    x_train, y_train, x_test, y_test = stub.data.load_digits28()
    assert x_train.shape == (1437, 28, 28, 1) and y_test.shape == (360, 10)
    assert len(stub.data.lecture_model_init(np.random.default_rng(0))) == 6
