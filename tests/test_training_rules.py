"""Contract rules (no Keras) for activations, optimizers, regularization, training and model.

Invalid arguments raise ValueError naming the argument; float64 inputs are never modified
(bitwise); return types; optimizer state persists and is kept per position; every stub raises
NotImplementedError naming its function for valid arguments.
"""

from __future__ import annotations

import numpy as np
import pytest

X = np.linspace(-3, 3, 12).reshape(3, 4)
SHAPES = [(3, 3, 1, 32), (32,), (3, 3, 32, 64), (64,), (1600, 10), (10,)]


def lecture_weights(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(scale=0.2, size=s) for s in SHAPES]


# ----------------------------------------------------------------------------- ValueError
INVALID = [
    # (module, callable, args, kwargs, argument named in the message)
    ("activations", "leaky_relu", (X,), {"negative_slope": "0.2"}, "negative_slope"),
    ("activations", "softmax", (X,), {"axis": 2}, "axis"),
    ("activations", "softmax", (X,), {"axis": 1.0}, "axis"),
    ("activations", "softmax", (np.float64(1.0),), {}, "x"),
    ("activations", "relu", (np.array(["a", "b"]),), {}, "x"),
    ("optimizers", "SGD", (), {"momentum": 1.5}, "momentum"),
    ("optimizers", "SGD", (), {"momentum": -0.1}, "momentum"),
    ("optimizers", "SGD", (), {"learning_rate": -0.01}, "learning_rate"),
    ("optimizers", "SGD", (), {"nesterov": "yes"}, "nesterov"),
    ("optimizers", "RMSprop", (), {"momentum": 2.0}, "momentum"),
    ("optimizers", "RMSprop", (), {"epsilon": -1e-7}, "epsilon"),
    ("optimizers", "Adagrad", (), {"epsilon": -1.0}, "epsilon"),
    ("optimizers", "Adagrad", (), {"initial_accumulator_value": -0.1}, "initial_accumulator_value"),
    ("optimizers", "Adam", (), {"learning_rate": -1.0}, "learning_rate"),
    ("optimizers", "Adam", (), {"epsilon": -1e-7}, "epsilon"),
    ("optimizers", "Adam", (), {"beta_1": 1.5}, "beta_1"),
    ("regularization", "dropout", (X, 1.0), {}, "rate"),
    ("regularization", "dropout", (X, -0.1), {"training": True}, "rate"),
    ("regularization", "dropout", (X, 0.5), {"training": True, "mask": np.ones((4, 3))}, "mask"),
    ("regularization", "dropout", (X, 0.5), {"training": True, "rng": 0}, "rng"),
    ("regularization", "l2_penalty", (X,), {"l2": -0.01}, "l2"),
    ("regularization", "l2_grad", (X,), {"l2": -1.0}, "l2"),
    ("regularization", "EarlyStopping", (), {"mode": "minimum"}, "mode"),
    ("regularization", "EarlyStopping", (), {"patience": -1}, "patience"),
    ("regularization", "EarlyStopping", (), {"patience": 1.5}, "patience"),
    ("regularization", "EarlyStopping", (), {"monitor": "val_f1"}, "monitor"),
    ("regularization", "EarlyStopping", (), {"start_from_epoch": -1}, "start_from_epoch"),
    ("training", "minibatch_indices", (10, 0), {}, "batch_size"),
    ("training", "minibatch_indices", (-1, 4), {}, "n_samples"),
    ("training", "minibatch_indices", (10, 4), {"rng": 3}, "rng"),
    ("training", "categorical_crossentropy", (np.eye(3), np.eye(4)), {}, "y_pred"),
    ("training", "flatten", (np.float64(2.0),), {}, "x"),
    ("training", "dense", (X, np.ones((3, 2))), {}, "kernel"),
    ("training", "dense", (X, np.ones((4, 2)), np.ones(3)), {}, "bias"),
    ("training", "dense", (X, np.ones(4)), {}, "kernel"),
    (
        "model",
        "lecture_model_forward",
        (np.zeros((1, 28, 28, 1)), lecture_weights()[:5]),
        {},
        "weights",
    ),
    (
        "model",
        "lecture_model_forward",
        (np.zeros((1, 28, 28, 1)), lecture_weights()[:4] + [np.ones((10, 1600)), np.ones(10)]),
        {},
        "weights[4]",
    ),
    ("model", "lecture_model_forward", (np.zeros((1, 28, 28, 3)), lecture_weights()), {}, "x"),
    ("model", "lecture_model_forward", (np.zeros((28, 28, 1)), lecture_weights()), {}, "x"),
]


@pytest.mark.parametrize(
    ("module", "name", "args", "kwargs", "arg"),
    INVALID,
    ids=[f"{m}.{n}-{a}" for m, n, _, _, a in INVALID],
)
def test_invalid_arguments_raise_value_error_naming_them(sol, module, name, args, kwargs, arg):
    with pytest.raises(ValueError) as info:
        getattr(getattr(sol, module), name)(*args, **kwargs)
    assert f"`{arg}`" in str(info.value) or arg in str(info.value), str(info.value)
    assert "Received" in str(info.value) or "must" in str(info.value)


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "RMSprop", "Adam"])
def test_optimizer_step_validation(sol, name):
    cls = getattr(sol.optimizers, name)
    with pytest.raises(ValueError, match="grads"):
        cls().step([np.zeros(2)], [np.zeros(2), np.zeros(2)])  # lengths differ
    with pytest.raises(ValueError, match="grads"):
        cls().step([np.zeros(2)], [np.zeros(3)])  # shapes differ
    with pytest.raises(ValueError, match="params"):
        cls().step(np.zeros(2), [np.zeros(2)])  # not a list
    with pytest.raises(ValueError, match=r"params\[0\]"):
        cls().step([[1.0, 2.0]], [np.zeros(2)])  # not updatable in place
    opt = cls()
    opt.step([np.zeros(2), np.zeros(3)], [np.ones(2), np.ones(3)])
    with pytest.raises(ValueError, match="params"):
        opt.step([np.zeros(2)], [np.ones(2)])  # other number than first


def test_early_stopping_epoch_and_logs_validation(sol):
    es = sol.regularization.EarlyStopping()
    es.on_train_begin()
    with pytest.raises(ValueError, match="epoch"):
        es.on_epoch_end(-1, {"val_loss": 1.0})
    with pytest.raises(ValueError, match="logs"):
        es.on_epoch_end(0, [("val_loss", 1.0)])


# ----------------------------------------------------------------------------- no mutation
def snapshot(args):
    return [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args]


def unchanged(before, after):
    return all(
        np.array_equal(b, a) if isinstance(b, np.ndarray) else True
        for b, a in zip(before, after, strict=True)
    )


def calls(sol):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 5))
    y = np.eye(5)[[0, 2, 4, 1]]
    mask = rng.random((4, 5)) > 0.5
    img = rng.uniform(size=(2, 28, 28, 1))
    w = lecture_weights()
    a, t, r, m = sol.activations, sol.training, sol.regularization, sol.model
    return [
        (a.sigmoid, (x,), {}),
        (a.sigmoid_grad, (x,), {}),
        (a.tanh, (x,), {}),
        (a.tanh_grad, (x,), {}),
        (a.relu, (x,), {}),
        (a.relu_grad, (x,), {}),
        (a.leaky_relu, (x,), {}),
        (a.leaky_relu_grad, (x,), {}),
        (a.softmax, (x,), {}),
        (r.dropout, (x, 0.3), {"training": True, "mask": mask}),
        (r.dropout, (x, 0.3), {"training": True, "rng": np.random.default_rng(1)}),
        (r.l2_penalty, ([x, x[0]],), {}),
        (r.l2_grad, (x,), {}),
        (t.categorical_crossentropy, (y, np.abs(x)), {}),
        (t.categorical_crossentropy, (y, x), {"from_logits": True}),
        (t.flatten, (x.reshape(2, 2, 5),), {}),
        (t.dense, (x, x.T[:, :3], x[0, :3]), {}),
        (m.lecture_model_forward, (img, w), {}),
        (m.lecture_model_forward, (img, w), {"training": True, "rng": np.random.default_rng(2)}),
    ]


def test_inputs_are_never_modified(sol):
    for fn, args, kwargs in calls(sol):
        flat = [*args, *kwargs.values()]
        flat += [v for v in args if isinstance(v, list) for v in v]
        before = snapshot(flat)
        fn(*args, **kwargs)
        assert unchanged(before, flat), f"{fn.__name__} modified an input"


def test_returned_arrays_do_not_alias_inputs_when_computed(sol):
    x = np.linspace(-1, 1, 6)
    for fn in (sol.activations.relu, sol.activations.leaky_relu, sol.activations.sigmoid):
        y = fn(x)
        y[...] = 42.0
        assert x[0] == -1.0, f"{fn.__name__} returned (a view of) its input"


def test_optimizers_only_modify_params(sol):
    g = [np.array([0.5, -0.25]), np.ones((2, 2))]
    g_before = snapshot(g)
    for opt in (
        sol.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
        sol.optimizers.Adagrad(),
        sol.optimizers.RMSprop(momentum=0.5, centered=True),
        sol.optimizers.Adam(amsgrad=True),
    ):
        params = [np.zeros(2), np.zeros((2, 2))]
        ids = [id(p) for p in params]
        opt.step(params, g)
        assert [id(p) for p in params] == ids, "params[i] are updated in place, not replaced"
        assert not np.array_equal(params[0], np.zeros(2))
        assert unchanged(g_before, g), f"{type(opt).__name__} modified grads"


def test_early_stopping_does_not_modify_logs_or_weights(sol):
    es = sol.regularization.EarlyStopping(restore_best_weights=True)
    es.on_train_begin()
    logs = {"val_loss": 0.3, "loss": 0.2}
    w = [np.array([1.0, 2.0])]
    es.on_epoch_end(0, logs, w)
    assert logs == {"val_loss": 0.3, "loss": 0.2}
    assert np.array_equal(w[0], [1.0, 2.0])
    assert es.best_weights[0] is not w[0], "store copies of the weights"


# ----------------------------------------------------------------------------- return types
def test_return_types(sol):
    for fn, args, kwargs in calls(sol):
        out = fn(*args, **kwargs)
        if fn is sol.regularization.l2_penalty:
            assert type(out) is float
        else:
            assert isinstance(out, np.ndarray), f"{fn.__name__} returned {type(out)}"
    for fn in (sol.activations.sigmoid, sol.activations.relu, sol.activations.tanh_grad):
        out = fn(0.5)
        # a scalar in: a 0-d array or a numpy scalar out (exercise-api.md, Precise rules)
        assert isinstance(out, (np.ndarray, np.generic)) and np.shape(out) == ()
    batches = sol.training.minibatch_indices(7, 3, rng=np.random.default_rng(0))
    assert isinstance(batches, list)
    assert all(isinstance(b, np.ndarray) and np.issubdtype(b.dtype, np.integer) for b in batches)
    assert sol.training.minibatch_indices(0, 3) == []
    es = sol.regularization.EarlyStopping()
    es.on_train_begin()
    assert es.on_epoch_end(0, {"val_loss": 1.0}) is False
    assert es.on_epoch_end(1, {"val_loss": 2.0}) is True
    assert es.on_train_end() is None
    opt = sol.optimizers.Adam()
    assert opt.iterations == 0 and type(opt.iterations) is int


# ----------------------------------------------------------------------------- optimizer state
@pytest.mark.parametrize(
    "make",
    [
        lambda o: o.SGD(0.1, momentum=0.9),
        lambda o: o.SGD(0.1, momentum=0.5, nesterov=True),
        lambda o: o.Adagrad(0.1),
        lambda o: o.RMSprop(0.01, momentum=0.9, centered=True),
        lambda o: o.Adam(0.01, amsgrad=True),
    ],
)
def test_optimizer_state_persists_and_is_per_position(sol, make):
    rng = np.random.default_rng(0)
    gs = [[rng.normal(size=3), rng.normal(size=(2, 2))] for _ in range(4)]
    together = make(sol.optimizers)
    p = [np.ones(3), np.ones((2, 2))]
    for g in gs:
        together.step(p, g)
    assert together.iterations == 4
    for i in range(2):
        alone = make(sol.optimizers)
        q = [np.ones(3), np.ones((2, 2))][i]
        for g in gs:
            alone.step([q], [g[i]])
        np.testing.assert_allclose(p[i], q, rtol=1e-13, err_msg=f"state of position {i}")
    fresh = [np.ones(3), np.ones((2, 2))]
    for g in gs:
        make(sol.optimizers).step(fresh, g)
    assert not np.allclose(p[0], fresh[0]), "state must persist across steps"


# ----------------------------------------------------------------------------- stubs
def valid_calls(pkg):
    """One valid call per public function/method of the five modules: (name, thunk)."""
    x = np.linspace(-1, 1, 6).reshape(2, 3)
    o, r, t = pkg.optimizers, pkg.regularization, pkg.training
    es = r.EarlyStopping()
    out = [
        (f"{n}", (lambda n=n: getattr(pkg.activations, n)(x)))
        for n in (
            "sigmoid",
            "sigmoid_grad",
            "tanh",
            "tanh_grad",
            "relu",
            "relu_grad",
            "leaky_relu",
            "leaky_relu_grad",
            "softmax",
        )
    ]
    out += [
        (f"{c}.step", lambda c=c: getattr(o, c)().step([np.zeros(2)], [np.ones(2)]))
        for c in ("SGD", "Adagrad", "RMSprop", "Adam")
    ]
    out += [
        ("dropout", lambda: r.dropout(x, 0.5, training=True, rng=np.random.default_rng(0))),
        ("l2_penalty", lambda: r.l2_penalty(x)),
        ("l2_grad", lambda: r.l2_grad(x)),
        ("EarlyStopping.on_train_begin", es.on_train_begin),
        ("EarlyStopping.on_epoch_end", lambda: es.on_epoch_end(0, {"val_loss": 1.0})),
        ("EarlyStopping.on_train_end", es.on_train_end),
        ("minibatch_indices", lambda: t.minibatch_indices(5, 2)),
        ("categorical_crossentropy", lambda: t.categorical_crossentropy(np.eye(3), np.eye(3))),
        ("flatten", lambda: t.flatten(x)),
        ("dense", lambda: t.dense(x, np.ones((3, 2)))),
        (
            "lecture_model_forward",
            lambda: pkg.model.lecture_model_forward(np.zeros((1, 28, 28, 1)), lecture_weights()),
        ),
    ]
    return out


def test_stubs_raise_not_implemented_naming_the_function(stubs, sol):
    for _name, thunk in valid_calls(sol):
        thunk()  # valid for the solutions
    for name, thunk in valid_calls(stubs):
        with pytest.raises(NotImplementedError) as info:
            thunk()
        assert str(info.value).startswith(f"{name} is not implemented yet"), str(info.value)
