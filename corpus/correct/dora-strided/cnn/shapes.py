"""Sizes and counts: output lengths, 'same' padding, parameter counts, receptive fields.

Every function here works on plain Python integers and returns a Python ``int`` (or, for
``same_padding``, a tuple of two ints). The formulas are exactly those Keras 3 uses, so the
answers can be checked against ``layer.compute_output_shape`` and ``layer.count_params()``.
"""

from __future__ import annotations

from . import _checks


def conv_output_length(
    input_length: int,
    kernel_size: int,
    stride: int = 1,
    padding: str = "valid",
    dilation: int = 1,
) -> int:
    """Length of one spatial axis after a convolution (Keras ``Conv1D.compute_output_shape``).

    A dilated kernel of ``kernel_size`` taps spans ``k_eff`` input cells::

        k_eff = (kernel_size - 1) * dilation + 1
        'valid':  out = floor((input_length - k_eff) / stride) + 1
        'same':   out = ceil(input_length / stride)          # independent of kernel and dilation

    The lecture writes 'valid' as ``ceil((input_length - kernel_size + 1) / stride)``: that is
    the same number when ``dilation == 1``; with dilation, replace ``kernel_size`` by ``k_eff``.
    Each axis of a 2-D convolution uses this formula with its own kernel size, stride, dilation.

    Args:
        input_length: cells along the axis (>= 1).
        kernel_size: taps of the kernel along the axis (>= 1).
        stride: step between two successive windows (>= 1). Defaults to ``1``.
        padding: ``"valid"`` (no padding) or ``"same"``. Defaults to ``"valid"``.
        dilation: spacing between the kernel taps (>= 1). Defaults to ``1``.

    Returns:
        The output length, a Python ``int``.

    Raises:
        ValueError: a size < 1, an unknown ``padding``, ``stride > 1`` together with
            ``dilation > 1`` (Keras refuses it), or with 'valid' a ``k_eff`` larger than the input.
    """
    n = _checks.positive_int(input_length, "input_length")
    (k,) = _checks.int_tuple(kernel_size, 1, "kernel_size")
    (s,) = _checks.int_tuple(stride, 1, "stride")
    (d,) = _checks.int_tuple(dilation, 1, "dilation")
    padding = _checks.padding_mode(padding)
    _checks.stride_and_dilation((s,), (d,))
    if padding == "valid":
        _checks.window_fits(n, (k - 1) * d + 1, "length")
    # BEGIN STUDENT CODE: floor((n - k_eff) / s) + 1 or ceil(n / s), in integer arithmetic
    k_eff = d * (k - 1) + 1
    return (n + s - 1) // s if padding == "same" else 1 + (n - k_eff) // s
    # END STUDENT CODE


def same_padding(
    input_length: int, kernel_size: int, stride: int = 1, dilation: int = 1
) -> tuple[int, int]:
    """Cells TF/Keras 'same' padding adds before and after one axis.

    The total is what makes ``ceil(n / s)`` windows fit; it is NOT ``kernel_size - 1`` when
    ``stride > 1``, and it is split with the odd extra cell AFTER (bottom / right)::

        k_eff  = (kernel_size - 1) * dilation + 1
        total  = max((ceil(n / stride) - 1) * stride + k_eff - n, 0)
        before = total // 2            # top / left
        after  = total - before        # bottom / right

    Example: n=28, kernel_size=3, stride=2 gives (0, 1), not (1, 1).
    Keras counterpart: what ``Conv1D(..., padding="same")`` pads (probe it with a one-hot kernel).

    Args:
        input_length: cells along the axis (>= 1).
        kernel_size: taps of the kernel or pooling window along the axis (>= 1).
        stride: step between two successive windows (>= 1). Defaults to ``1``.
        dilation: spacing between the kernel taps (>= 1). Defaults to ``1``.

    Returns:
        ``(before, after)``, a tuple of two Python ints.

    Raises:
        ValueError: a size < 1 or ``stride > 1`` together with ``dilation > 1``.
    """
    n = _checks.positive_int(input_length, "input_length")
    (k,) = _checks.int_tuple(kernel_size, 1, "kernel_size")
    (s,) = _checks.int_tuple(stride, 1, "stride")
    (d,) = _checks.int_tuple(dilation, 1, "dilation")
    _checks.stride_and_dilation((s,), (d,))
    # BEGIN STUDENT CODE: total = max((ceil(n/s) - 1)*s + k_eff - n, 0); odd extra cell after
    k_eff = d * (k - 1) + 1
    rem = n % s
    total = max(k_eff - (s if rem == 0 else rem), 0)
    return total // 2, (total + 1) // 2
    # END STUDENT CODE


def pool_output_length(
    input_length: int, pool_size: int, stride: int | None = None, padding: str = "valid"
) -> int:
    """Length of one spatial axis after pooling (Keras ``MaxPooling1D.compute_output_shape``).

    ``stride=None`` means ``stride = pool_size`` (non-overlapping windows, as in Keras)::

        'valid':  out = floor((input_length - pool_size) / stride) + 1
        'same':   out = ceil(input_length / stride)

    Trailing cells that do not fill a whole window are dropped with 'valid' (13 -> 6 for a
    2-pool). The same numbers hold for average pooling.

    Args:
        input_length: cells along the axis (>= 1).
        pool_size: cells in one pooling window (>= 1).
        stride: step between two windows (>= 1), or ``None`` for ``pool_size``.
            Defaults to ``None``.
        padding: ``"valid"`` or ``"same"``. Defaults to ``"valid"``.

    Returns:
        The output length, a Python ``int``.

    Raises:
        ValueError: a size < 1, an unknown ``padding``, or with 'valid' a window larger than
            the input (Keras would return an empty tensor; this kit is stricter).
    """
    n = _checks.positive_int(input_length, "input_length")
    (p,) = _checks.int_tuple(pool_size, 1, "pool_size")
    (s,) = (p,) if stride is None else _checks.int_tuple(stride, 1, "stride")
    padding = _checks.padding_mode(padding)
    if padding == "valid":
        _checks.window_fits(n, p, "length", what="pool")
    # BEGIN STUDENT CODE: the convolution formulas with kernel_size = pool_size and dilation 1
    return len(range(0, n, s)) if padding == "same" else len(range(0, n - p + 1, s))
    # END STUDENT CODE


def conv_param_count(
    kernel_size: int | tuple[int, ...], in_channels: int, filters: int, use_bias: bool = True
) -> int:
    """Trainable parameters of a convolution layer (Keras ``Conv1D/Conv2D(...).count_params()``).

    One weight per kernel tap, per input channel, per filter, plus one bias per filter::

        params = prod(kernel_size) * in_channels * filters + (filters if use_bias else 0)

    An int ``kernel_size`` means a square 2-D kernel (``3`` is 3x3, as in ``Conv2D(32, 3)``); a
    tuple gives every spatial size (``(5,)`` for a 1-D kernel, ``(3, 2)`` for a 3x2 one).
    The parameter count does not depend on stride, padding, dilation or the input's size.
    Example: the lecture's ``Conv2D(64, (3, 3))`` on 32 channels has 3*3*32*64 + 64 = 18,496.

    Args:
        kernel_size: int (square 2-D kernel) or tuple of spatial sizes, each >= 1.
        in_channels: channels of the layer's input (>= 1).
        filters: output channels (>= 1).
        use_bias: whether the layer has a bias vector. Defaults to ``True``.

    Returns:
        The number of parameters, a Python ``int``.

    Raises:
        ValueError: a size < 1.
    """
    if isinstance(kernel_size, (tuple, list)):
        if len(kernel_size) == 0:
            raise ValueError(
                "`kernel_size` must be an int or a non-empty tuple of ints. Received: "
                f"kernel_size={kernel_size!r}."
            )
        sizes = tuple(_checks.positive_int(k, "kernel_size") for k in kernel_size)
    else:
        sizes = _checks.int_tuple(kernel_size, 2, "kernel_size")
    c_in = _checks.positive_int(in_channels, "in_channels")
    f = _checks.positive_int(filters, "filters")
    use_bias = bool(use_bias)
    # BEGIN STUDENT CODE: prod(kernel sizes) * in_channels * filters, plus one bias per filter
    import math

    return math.prod(sizes) * c_in * f + (f if use_bias else 0)
    # END STUDENT CODE


def dense_param_count(in_features: int, units: int, use_bias: bool = True) -> int:
    """Trainable parameters of a fully connected layer (Keras ``Dense(units).count_params()``).

    ::

        params = in_features * units + (units if use_bias else 0)

    Example: the lecture's ``Dense(10)`` after ``Flatten`` of 5x5x64 has 1600*10 + 10 = 16,010.

    Args:
        in_features: inputs per sample (>= 1).
        units: outputs (>= 1).
        use_bias: whether the layer has a bias vector. Defaults to ``True``.

    Returns:
        The number of parameters, a Python ``int``.

    Raises:
        ValueError: a size < 1.
    """
    n_in = _checks.positive_int(in_features, "in_features")
    n_out = _checks.positive_int(units, "units")
    use_bias = bool(use_bias)
    # BEGIN STUDENT CODE: one weight per (input, output) pair, plus one bias per unit
    return n_out * n_in + n_out * (1 if use_bias else 0)
    # END STUDENT CODE


def receptive_field(layers) -> int:
    """Input cells (along one axis) that one output cell of a stack of layers can see.

    ``layers`` lists ``(kernel_size, stride)`` from the input to the output; a pooling layer is
    ``(pool_size, stride)``. A layer's kernel widens the field by ``kernel_size - 1`` cells of
    its own input, and every stride before it makes those cells further apart::

        rf = 1 + sum_i (k_i - 1) * prod_{j < i} s_j          # [] gives 1

    Example: the lecture model's conv3 -> pool2 -> conv3 -> pool2 is
    ``[(3, 1), (2, 2), (3, 1), (2, 2)]`` with rf = 1 + 2 + 1 + 2*2 + 1*2 = 10.
    Keras counterpart: the support of the gradient of one output with respect to the input in a
    stack of ``Conv1D`` / ``AveragePooling1D`` layers (graded stacks have ``k_i >= s_i``).

    Args:
        layers: a sequence of ``(kernel_size, stride)`` pairs of ints >= 1.

    Returns:
        The receptive field, a Python ``int``.

    Raises:
        ValueError: an entry that is not a pair of ints >= 1.
    """
    pairs = []
    for layer in layers:
        if not isinstance(layer, (tuple, list)) or len(layer) != 2:
            raise ValueError(
                "`layers` must be a sequence of (kernel_size, stride) pairs. "
                f"Received an entry {layer!r}."
            )
        pairs.append(
            (
                _checks.positive_int(layer[0], "kernel_size"),
                _checks.positive_int(layer[1], "stride"),
            )
        )
    # BEGIN STUDENT CODE: walk from the input, keeping the product of the strides seen so far
    import math

    return 1 + sum((k - 1) * math.prod(s for _, s in pairs[:i]) for i, (k, _) in enumerate(pairs))
    # END STUDENT CODE
