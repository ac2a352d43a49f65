"""Hidden suite for cnn/backward.py (part 2): the backward passes of conv, pooling, dense,
dropout and softmax + cross-entropy.

The plan fixes every shape, stride, padding, dilation, pool size, dropout mask and label set, the
same for every student; the values (x, kernel, dy, logits) are per student, drawn with
``layers.normal`` so that their order is planned too: no accidental tie in a max-pooling window.
Ties appear only in the planned tie cases, whose small-integer inputs come from the plan and
check the first-maximum rule. Named mistakes are computed here by slow loops with one thing
changed (``=`` instead of ``+=``, padding left on ``dx``, the gradient to every tied maximum or to
the last one, ...), so the feedback can say which one a wrong answer matches.
"""

from __future__ import annotations

import numpy as np

from .._shared.layers import close_case as _close
from .._shared.layers import normal, pick, raises_case, ri

MISTAKES = {
    "bwd-overwrite": "Your dx matches writing each window's gradient with `=` instead of adding "
    "it with `+=`: where windows overlap (stride smaller than the window), every window's "
    "contribution to a cell must be added.",
    "bwd-not-unpadded": "Your dx has the padded input's shape: with padding='same' the gradient "
    "of the padded input must be cropped back to x's shape (the padding is a constant).",
    "bwd-kernel-flipped": "Your dkernel matches the correct one flipped in space: the forward "
    "pass is a cross-correlation (no flip), so dkernel[a, b] pairs x at offset (a, b) with dy.",
    "bwd-kernel-transposed": "Your dkernel matches the correct one with its spatial axes "
    "transposed: kernel axes are (height, width, in, out).",
    "bwd-bias-not-summed": "Your dbias keeps the spatial (or leading) axes: dbias sums dy over "
    "every axis but the last, giving shape (C_out,).",
    "maxpool-all-ties": "Your dx gives the gradient to every tied maximum of a window: TF sends a "
    "window's whole gradient to its FIRST maximum in row-major order.",
    "maxpool-last-tie": "Your dx gives the gradient to the LAST maximum of a window: TF sends it "
    "to the FIRST maximum in row-major order.",
    "avgpool-count-pad": "Your dx matches dividing by the full window size: with 'same' each "
    "window averages (and so spreads its gradient) over its real cells only.",
    "dropout-not-scaled": "Your dx matches dy * mask: inverted dropout also scales by "
    "1 / (1 - rate), so its gradient does too.",
    "dropout-mask-ignored": "Your dx matches dy / (1 - rate) without the mask: the same mask as "
    "the forward pass must be reused, dropped units get no gradient.",
    "dense-bias-not-summed": "Your dbias keeps the leading axes: dbias sums dy over every axis "
    "but the last.",
    "ce-missing-mean": "Your gradient matches softmax(z) - y without the 1/N: the loss is the "
    "batch MEAN, so its gradient is (softmax(z) - y) / N.",
    "ce-sign": "Your gradient has the wrong sign: d loss / d logits = (softmax(z) - y) / N.",
}


def _conv_loop(dy, x, k, stride, dil, pads, overwrite=False, crop=True):
    """dx of a 2-D conv by windows (a named mistake's variant when a flag is set)."""
    (top, bottom), (left, right) = pads
    n, h, w, _ = x.shape
    kh, kw = k.shape[:2]
    dxp = np.zeros((n, h + top + bottom, w + left + right, x.shape[3]))
    for i in range(dy.shape[1]):
        for j in range(dy.shape[2]):
            r, c = i * stride[0], j * stride[1]
            rows = slice(r, r + (kh - 1) * dil[0] + 1, dil[0])
            cols = slice(c, c + (kw - 1) * dil[1] + 1, dil[1])
            part = np.einsum("no,abco->nabc", dy[:, i, j, :], k)
            if overwrite:
                dxp[:, rows, cols, :] = part
            else:
                dxp[:, rows, cols, :] += part
    if not crop:
        return dxp
    return dxp[:, top : top + h, left : left + w, :]


def _conv_offsets_overwrite(dy, x, k, stride, dil, pads):
    """dx when each kernel offset's contribution is written with `=` (the last offset wins)."""
    (top, bottom), (left, right) = pads
    n, h, w, c = x.shape
    dxp = np.zeros((n, h + top + bottom, w + left + right, c))
    span_h, span_w = (dy.shape[1] - 1) * stride[0] + 1, (dy.shape[2] - 1) * stride[1] + 1
    for a in range(k.shape[0]):
        for b in range(k.shape[1]):
            rows = slice(a * dil[0], a * dil[0] + span_h, stride[0])
            cols = slice(b * dil[1], b * dil[1] + span_w, stride[1])
            dxp[:, rows, cols, :] = dy @ k[a, b].T
    return dxp[:, top : top + h, left : left + w, :]


def _geometry(ref, size, window, stride, dil, padding):
    return ref.backward.window_geometry(size, window, stride, dil, padding)


def _pads2(ref, x_shape, window, stride, dil, padding):
    _, t, b = _geometry(ref, x_shape[1], window[0], stride[0], dil[0], padding)
    _, lft, rgt = _geometry(ref, x_shape[2], window[1], stride[1], dil[1], padding)
    return (t, b), (lft, rgt)


def _conv_mistakes(ref, dy, x, k, stride, dil, padding, right, dims):
    """Wrong outputs for a conv backward case (``right`` the reference's (dx, dk, db))."""
    dx, dk, db = right
    if dims == 1:
        dy2, x2, k2 = dy[:, None], x[:, None], k[None]
        s2, d2 = (1, stride), (1, dil)
    else:
        dy2, x2, k2, s2, d2 = dy, x, k, stride, dil
    pads = _pads2(ref, x2.shape, k2.shape[:2], s2, d2, padding)

    def squeeze(a):
        return a[:, 0] if dims == 1 else a

    out = {
        "bwd-overwrite": lambda: (squeeze(_conv_loop(dy2, x2, k2, s2, d2, pads, True)), dk, db),
        "bwd-overwrite-offsets": lambda: (
            squeeze(_conv_offsets_overwrite(dy2, x2, k2, s2, d2, pads)),
            dk,
            db,
        ),
        "bwd-kernel-flipped": lambda: (dx, dk[::-1] if dims == 1 else dk[::-1, ::-1], db),
        "bwd-bias-not-summed": lambda: (dx, dk, dy.sum(axis=0)),
    }
    if padding == "same":
        out["bwd-not-unpadded"] = lambda: (
            squeeze(_conv_loop(dy2, x2, k2, s2, d2, pads, crop=False)),
            dk,
            db,
        )
    if dims == 2 and k.shape[0] == k.shape[1]:
        out["bwd-kernel-transposed"] = lambda: (dx, dk.transpose(1, 0, 2, 3), db)
    return out


def _conv_case(ref, rng, group, dims, size, ksize, cin, cout, stride, padding, dil, n):
    item = f"backward.conv{dims}d_backward"
    fn = getattr(ref.backward, f"conv{dims}d_backward")
    x = normal(rng, (n, *size, cin))
    kernel = normal(rng, (*ksize, cin, cout), scale=0.5)
    fwd = getattr(ref.conv, f"conv{dims}d")
    kwargs = {"stride": stride, "padding": padding, "dilation": dil}
    y = fwd(x, kernel, np.zeros(cout), **kwargs)
    dy = normal(rng, y.shape)
    right = fn(dy, x, kernel, **kwargs)
    wrong = _conv_mistakes(ref, dy, x, kernel, stride, dil, padding, right, dims)
    args = (("dy", dy), ("x", x), ("kernel", kernel))
    return _close(fn, item, group, args, kwargs, wrong)


def _conv_gen(dims):
    def gen(ref, rng, group):
        one = dims == 1

        def sz(lo, hi):
            return (ri(rng, lo, hi),) if one else (ri(rng, lo, hi), ri(rng, lo, hi))

        def ks(k):
            return (k,) if one else (k, k)

        def st(s):
            return s if one else (s, s)

        specs = [  # (size, kernel, stride, padding, dilation): overlapping windows everywhere
            (sz(5, 7), ks(3), st(1), "valid", st(1)),
            (sz(6, 8), ks(3), st(2), "same", st(1)),
        ]
        if group == "hidden":
            specs += [
                (sz(7, 9), ks(2), st(1), "same", st(1)),  # uneven 'same': the extra cell after
                (sz(8, 10), ks(3), st(1), "valid", st(2)),  # dilation
                (sz(7, 9), ks(3), st(3), "same", st(1)),  # stride 3
                (sz(6, 8), (2,) if one else (2, 3), st(2) if one else (1, 2), "same", st(1)),
                (sz(8, 9), ks(3), st(1), "same", st(2)),
            ]
        cases = []
        for size, k, s, pad, d in specs:
            cin, cout, n = ri(rng, 1, 3), ri(rng, 1, 3), pick(rng, [1, 2, 3])
            cases.append(_conv_case(ref, rng, group, dims, size, k, cin, cout, s, pad, d, n))
        if group == "hidden":
            x = normal(rng, (1, *sz(5, 5), 2))
            kernel = normal(rng, (*ks(3), 2, 2))
            dy = normal(rng, (1, *((4,) if one else (4, 4)), 2))  # valid output is 3, not 4
            item = f"backward.conv{dims}d_backward"
            cases.append(
                raises_case(item, (("dy", dy), ("x", x), ("kernel", kernel)), {}, "dy shape")
            )
        return cases

    return gen


def _pool_loop(dy, x, pool, stride, pads, mode, rule="first", overwrite=False, count_pad=False):
    (top, bottom), (left, right) = pads
    n, h, w, c = x.shape
    xp = np.full((n, h + top + bottom, w + left + right, c), -np.inf)
    xp[:, top : top + h, left : left + w] = x
    real = np.isfinite(xp)
    dxp = np.zeros_like(xp)
    for b in range(n):
        for i in range(dy.shape[1]):
            for j in range(dy.shape[2]):
                r, q = i * stride[0], j * stride[1]
                for ch in range(c):
                    win = xp[b, r : r + pool[0], q : q + pool[1], ch]
                    g = np.zeros_like(win)
                    if mode == "max":
                        at = np.flatnonzero(win == win.max())
                        at = {"first": at[:1], "last": at[-1:], "all": at}[rule]
                        g.flat[at] = dy[b, i, j, ch]
                    else:
                        ok = real[b, r : r + pool[0], q : q + pool[1], ch]
                        g[ok] = dy[b, i, j, ch] / (win.size if count_pad else ok.sum())
                    if overwrite:
                        dxp[b, r : r + pool[0], q : q + pool[1], ch] = g
                    else:
                        dxp[b, r : r + pool[0], q : q + pool[1], ch] += g
    return dxp[:, top : top + h, left : left + w]


def _pool_offsets_overwrite(dy, x, pool, stride, pads, mode):
    """dx when each window offset's contribution is written with `=` (the last offset wins)."""
    (top, bottom), (left, right) = pads
    n, h, w, c = x.shape
    xp = np.full((n, h + top + bottom, w + left + right, c), -np.inf)
    xp[:, top : top + h, left : left + w] = x
    real = np.isfinite(xp[:1, :, :, :1]).astype(float)
    span_h, span_w = (dy.shape[1] - 1) * stride[0] + 1, (dy.shape[2] - 1) * stride[1] + 1
    offsets = [
        (slice(None), slice(a, a + span_h, stride[0]), slice(b, b + span_w, stride[1]))
        for a in range(pool[0])
        for b in range(pool[1])
    ]
    dxp = np.zeros_like(xp)
    if mode == "max":
        y = np.max([xp[cells] for cells in offsets], axis=0)
        found = np.zeros(y.shape, dtype=bool)
        for cells in offsets:
            win = (xp[cells] == y) & ~found
            found |= win
            dxp[cells] = np.where(win, dy, 0.0)
    else:
        share = dy / sum(real[cells] for cells in offsets)
        for cells in offsets:
            dxp[cells] = share * real[cells]
    return dxp[:, top : top + h, left : left + w]


def _pool_case(ref, group, mode, x, pool, stride, padding, dy_rng):
    item = f"backward.{mode}_pool2d_backward"
    fn = getattr(ref.backward, f"{mode}_pool2d_backward")
    kwargs = {"pool_size": pool, "stride": stride, "padding": padding}
    y = getattr(ref.pooling, f"{mode}_pool2d")(x, **kwargs)
    dy = normal(dy_rng, y.shape)
    s = pool if stride is None else stride
    pads = _pads2(ref, x.shape, pool, s, (1, 1), padding)

    def loop(**kw):
        return lambda: _pool_loop(dy, x, pool, s, pads, mode, **kw)

    wrong = {
        "bwd-overwrite": loop(overwrite=True),
        "bwd-overwrite-offsets": lambda: _pool_offsets_overwrite(dy, x, pool, s, pads, mode),
    }
    if mode == "max":
        wrong.update({"maxpool-all-ties": loop(rule="all"), "maxpool-last-tie": loop(rule="last")})
    else:
        wrong["avgpool-count-pad"] = loop(count_pad=True)
    return _close(fn, item, group, (("dy", dy), ("x", x)), kwargs, wrong)


def _pool_gen(mode):
    def gen(ref, rng, group):
        def size(lo, hi):
            return (ri(rng, lo, hi), ri(rng, lo, hi))

        specs = [  # (size, pool, stride, padding)
            (size(6, 6), (2, 2), None, "valid"),
            (size(5, 7), (3, 3), (2, 2), "same"),
        ]
        if group == "hidden":
            specs += [
                (size(5, 8), (3, 3), (1, 1), "valid"),  # heavily overlapping windows
                (size(5, 7), (2, 3), (1, 2), "same"),
                (size(7, 9), (3, 3), (3, 3), "same"),
                (size(6, 9), (2, 2), (1, 1), "same"),  # uneven 'same'
            ]
        cases = []
        for hw, pool, stride, pad in specs:
            n, c = pick(rng, [1, 2, 3]), ri(rng, 1, 3)
            x = normal(rng, (n, *hw, c), shift=pick(rng, [0.0, -1.0]))
            cases.append(_pool_case(ref, group, mode, x, pool, stride, pad, rng))
        if mode == "max":
            # planned ties: small integers from the plan (the same for every student), in
            # non-overlapping and overlapping windows, to check the first-maximum rule
            for pool, stride in (((2, 2), None), ((3, 3), (1, 1)), ((2, 2), (1, 1))):
                if group == "public" and stride is not None:
                    continue
                hw = size(4, 6)
                x = rng.integers(0, 3, (pick(rng, [1, 2]), *hw, ri(rng, 1, 2))).astype(float)
                cases.append(_pool_case(ref, group, mode, x, pool, stride, "valid", rng))
                cases[-1].name = "planned ties: " + cases[-1].name
        if group == "hidden":
            x = normal(rng, (1, 6, 6, 1))
            cases.append(
                raises_case(
                    f"backward.{mode}_pool2d_backward",
                    (("dy", normal(rng, (1, 2, 2, 1))), ("x", x)),
                    {},
                    "dy shape",
                )
            )
        return cases

    return gen


def dense_gen(ref, rng, group):
    fn, item = ref.backward.dense_backward, "backward.dense_backward"
    specs = [((3,), 4, 2), ((2, 3), 3, 5)]  # (leading shape, in, units)
    if group == "hidden":
        specs += [((1,), 5, 3), ((4,), 6, 1), ((2, 2), 4, 4), ((5,), 3, 3)]
    cases = []
    for lead, fin, units in specs:
        lead = tuple(ri(rng, max(1, d - 1), d + 1) for d in lead)
        x, kernel = normal(rng, (*lead, fin)), normal(rng, (fin, units))
        dy = normal(rng, (*lead, units))
        dx, dk, db = fn(dy, x, kernel)
        wrong = {"dense-bias-not-summed": lambda dy=dy, dx=dx, dk=dk: (dx, dk, dy.sum(axis=0))}
        if len(lead) > 1 or lead[0] > 1:
            wrong["bwd-kernel-transposed"] = lambda dx=dx, dk=dk, db=db: (dx, dk.T, db)
        cases.append(_close(fn, item, group, (("dy", dy), ("x", x), ("kernel", kernel)), {}, wrong))
    if group == "hidden":
        x, kernel = normal(rng, (2, 3)), normal(rng, (3, 4))
        args = (("dy", normal(rng, (2, 3))), ("x", x), ("kernel", kernel))
        cases.append(raises_case(item, args, {}, "dy shape"))
    return cases


def dropout_gen(ref, rng, group):
    fn, item = ref.backward.dropout_backward, "backward.dropout_backward"
    specs = [((4, 5), 0.5), ((2, 3, 3, 2), 0.25)]
    if group == "hidden":
        specs += [((6, 4), 0.2), ((3, 7), 0.6), ((2, 4, 4, 3), 0.4), ((5,), 0.1)]
    cases = []
    for shape, rate in specs:
        mask = rng.random(shape) >= rate  # planned: the same kept units for every student
        mask.flat[0], mask.flat[-1] = True, False  # at least one kept and one dropped unit
        dy = normal(rng, shape)
        wrong = {
            "dropout-not-scaled": lambda dy=dy, m=mask: dy * m,
            "dropout-mask-ignored": lambda dy=dy, r=rate: dy / (1 - r),
        }
        args = (("dy", dy), ("mask", mask), ("rate", rate))
        cases.append(_close(fn, item, group, args, {}, wrong))
    return cases


def softmax_ce_gen(ref, rng, group):
    fn, item = ref.backward.softmax_crossentropy_backward, "backward.softmax_crossentropy_backward"
    specs = [(4, 3, "onehot"), (3, 5, "soft")]
    if group == "hidden":
        specs += [(1, 4, "onehot"), (6, 10, "onehot"), (5, 3, "soft"), (2, 2, "onehot")]
    cases = []
    for n, k, kind in specs:
        logits = normal(rng, (n, k), scale=2.0)
        if kind == "onehot":
            y = np.eye(k)[rng.integers(0, k, n)]
        else:  # normalised soft labels (TF's fused gradient assumes rows summing to 1)
            y = rng.random((n, k)) + 0.1
            y /= y.sum(axis=1, keepdims=True)
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        wrong = {"ce-sign": lambda p=p, y=y, n=n: (y - p) / n}
        if n > 1:
            wrong["ce-missing-mean"] = lambda p=p, y=y: p - y
        cases.append(_close(fn, item, group, (("y_true", y), ("logits", logits)), {}, wrong))
    return cases


MISTAKES["bwd-overwrite-offsets"] = MISTAKES["bwd-overwrite"]

GENERATORS = {
    "backward.conv1d_backward": _conv_gen(1),
    "backward.conv2d_backward": _conv_gen(2),
    "backward.max_pool2d_backward": _pool_gen("max"),
    "backward.avg_pool2d_backward": _pool_gen("avg"),
    "backward.dense_backward": dense_gen,
    "backward.dropout_backward": dropout_gen,
    "backward.softmax_crossentropy_backward": softmax_ce_gen,
}
