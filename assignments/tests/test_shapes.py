"""Public tests for cnn/shapes.py: output sizes, 'same' padding, parameter counts, receptive fields.

Run them with ``pytest tests/test_shapes.py`` from your handout folder.
"""

import math

import pytest
from cnn import shapes


@pytest.mark.item("shapes.conv_output_length")
def test_conv_output_length_lecture_model():
    # Input 28x28 -> Conv2D(32, 3) -> 26 ; after the 2x2 pool: 13 -> Conv2D(64, 3) -> 11
    assert shapes.conv_output_length(28, 3) == 26, "a 3-tap 'valid' kernel fits 28 - 3 + 1 times"
    assert shapes.conv_output_length(13, 3) == 11


@pytest.mark.item("shapes.conv_output_length")
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_conv_output_length_valid_is_the_lecture_formula(stride):
    for n in range(1, 15):
        for k in range(1, n + 1):
            expected = math.ceil((n - k + 1) / stride)
            got = shapes.conv_output_length(n, k, stride=stride)
            assert got == expected, (
                f"conv_output_length({n}, {k}, stride={stride}) = {got}; the lecture's 'valid' "
                f"size is ceil((n - k + 1) / s) = {expected}, i.e. floor((n - k) / s) + 1"
            )


@pytest.mark.item("shapes.conv_output_length")
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_conv_output_length_same_is_ceil_n_over_stride(stride):
    for n in range(1, 15):
        for k in (1, 2, 3, 4, 5):
            got = shapes.conv_output_length(n, k, stride=stride, padding="same")
            assert got == math.ceil(n / stride), (
                f"'same' output length must be ceil(n / s) = {math.ceil(n / stride)} whatever "
                f"the kernel size; got {got} for n={n}, k={k}, s={stride}"
            )


@pytest.mark.item("shapes.conv_output_length")
def test_conv_output_length_with_dilation_uses_k_eff():
    # a 3-tap kernel with dilation 2 spans k_eff = (3 - 1) * 2 + 1 = 5 cells
    assert shapes.conv_output_length(7, 3, dilation=2) == 3, (
        "with dilation d a k-tap kernel spans k_eff = (k - 1) * d + 1 cells: use k_eff in place "
        "of k in the 'valid' formula"
    )
    assert shapes.conv_output_length(9, 2, dilation=3) == 6
    assert shapes.conv_output_length(7, 3, padding="same", dilation=2) == 7


@pytest.mark.item("shapes.conv_output_length")
def test_conv_output_length_returns_an_int():
    assert type(shapes.conv_output_length(10, 3, stride=2)) is int, "use // (not /): return an int"


@pytest.mark.item("shapes.same_padding")
@pytest.mark.parametrize(
    "n,k,s,d,expected",
    [
        (7, 3, 1, 1, (1, 1)),
        (5, 1, 1, 1, (0, 0)),
        (6, 4, 1, 1, (1, 2)),  # even kernel: total 3, the extra cell goes after
        (28, 3, 2, 1, (0, 1)),  # stride 2 on an even size: total 1, not k - 1 = 2
        (8, 3, 2, 1, (0, 1)),
        (10, 4, 3, 1, (1, 2)),
        (9, 3, 3, 1, (0, 0)),
        (7, 3, 1, 2, (2, 2)),  # k_eff = 5
    ],
)
def test_same_padding_follows_the_tf_split(n, k, s, d, expected):
    got = shapes.same_padding(n, k, stride=s, dilation=d)
    assert tuple(got) == expected, (
        f"same_padding({n}, {k}, stride={s}, dilation={d}) = {got}, expected {expected}: "
        "total = max((ceil(n/s) - 1)*s + k_eff - n, 0), before = total // 2, and the odd extra "
        "cell goes AFTER (bottom/right)"
    )


@pytest.mark.item("shapes.same_padding")
def test_same_padding_invariants():
    for n in range(1, 13):
        for k in range(1, 6):
            for s in (1, 2, 3):
                before, after = shapes.same_padding(n, k, stride=s)
                out = math.ceil(n / s)
                assert 0 <= after - before <= 1, "split evenly; any extra cell goes after"
                assert (out - 1) * s + k <= before + n + after, "the last window must fit"
                assert (out - 1) * s + k == before + n + after or before + after == 0, (
                    "pad no more than the last window needs"
                )


@pytest.mark.item("shapes.pool_output_length")
def test_pool_output_length_lecture_model_drops_the_last_row():
    assert shapes.pool_output_length(26, 2) == 13
    assert shapes.pool_output_length(11, 2) == 5, (
        "'valid' pooling drops the trailing row that cannot fill a window: 11 -> 5, not 6"
    )


@pytest.mark.item("shapes.pool_output_length")
def test_pool_output_length_stride_defaults_to_pool_size():
    assert shapes.pool_output_length(9, 3) == 3, "stride=None means stride = pool_size"
    assert shapes.pool_output_length(9, 3, stride=1) == 7
    assert shapes.pool_output_length(9, 2, stride=None, padding="same") == 5, "'same': ceil(9/2)"


@pytest.mark.item("shapes.conv_output_length", "shapes.pool_output_length")
def test_lecture_model_output_sizes():
    n = 28
    sizes = []
    for step in ("conv", "pool", "conv", "pool"):
        n = shapes.conv_output_length(n, 3) if step == "conv" else shapes.pool_output_length(n, 2)
        sizes.append(n)
    assert sizes == [26, 13, 11, 5], f"28 -> 26 -> 13 -> 11 -> 5 expected, got {sizes}"


@pytest.mark.item("shapes.conv_param_count")
def test_conv_param_count_lecture_model():
    assert shapes.conv_param_count(3, 1, 32) == 320, "3*3*1*32 weights + 32 biases"
    assert shapes.conv_param_count((3, 3), 32, 64) == 18_496, "3*3*32*64 weights + 64 biases"


@pytest.mark.item("shapes.conv_param_count")
def test_conv_param_count_kernel_forms_and_bias():
    assert shapes.conv_param_count(3, 2, 4) == shapes.conv_param_count((3, 3), 2, 4), (
        "an int kernel_size means a square 2-D kernel"
    )
    assert shapes.conv_param_count((5,), 3, 8) == 5 * 3 * 8 + 8, "a 1-D kernel (5,)"
    assert shapes.conv_param_count((3, 2), 4, 6, use_bias=False) == 3 * 2 * 4 * 6


@pytest.mark.item("shapes.dense_param_count")
def test_dense_param_count_lecture_model():
    assert shapes.dense_param_count(5 * 5 * 64, 10) == 16_010, "1600*10 weights + 10 biases"
    assert shapes.dense_param_count(7, 3, use_bias=False) == 21
    total = (
        shapes.conv_param_count(3, 1, 32)
        + shapes.conv_param_count(3, 32, 64)
        + shapes.dense_param_count(1600, 10)
    )
    assert total == 34_826, "the lecture model has 34,826 parameters (model.summary())"


def _brute_force_receptive_field(layers):
    """Follow one output cell back to the input: the cells each layer's window reads."""
    cells = {0}
    for k, s in reversed(layers):
        cells = {j * s + a for j in cells for a in range(k)}
    return max(cells) - min(cells) + 1


@pytest.mark.item("shapes.receptive_field")
@pytest.mark.parametrize(
    "layers",
    [
        [],
        [(3, 1)],
        [(3, 1), (3, 1)],
        [(2, 2), (2, 2)],
        [(3, 1), (2, 2), (3, 1), (2, 2)],  # the lecture model
        [(5, 2), (3, 1), (4, 2), (3, 3)],
    ],
)
def test_receptive_field(layers):
    expected = _brute_force_receptive_field(layers)
    got = shapes.receptive_field(layers)
    assert got == expected, (
        f"receptive_field({layers}) = {got}, expected {expected}: each layer adds (k - 1) cells "
        "times the product of the strides BEFORE it"
    )


@pytest.mark.item("shapes.receptive_field")
def test_receptive_field_of_the_lecture_model_is_10():
    assert shapes.receptive_field([(3, 1), (2, 2), (3, 1), (2, 2)]) == 10


@pytest.mark.item(
    "shapes.conv_output_length", "shapes.conv_param_count", "shapes.pool_output_length", given=True
)
def test_invalid_arguments_raise_value_error():
    with pytest.raises(ValueError, match="stride"):
        shapes.conv_output_length(10, 3, stride=0)
    with pytest.raises(ValueError, match="padding"):
        shapes.conv_output_length(10, 3, padding="full")
    with pytest.raises(ValueError):
        shapes.conv_output_length(2, 3)  # a 'valid' kernel larger than the input
    with pytest.raises(ValueError):
        shapes.pool_output_length(2, 3)
    with pytest.raises(ValueError):
        shapes.conv_param_count(3, 0, 8)
