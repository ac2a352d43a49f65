"""Build the audit's part-2 correct styles: the reference package with cnn/backward.py's
regions rewritten as plain loops (ivo-loops-part2) or computed in float32 (jun-float32-part2).

Run: PYTHONPATH=. python3 scripts/build_part2_styles.py (rewrites the two folders).
"""

from __future__ import annotations

import shutil

from autograder.audit.corpus import CORRECT_DIR, Mutant, apply_patch
from autograder.paths import SOLUTIONS_DIR

LOOPS = {
    "conv1d_backward": """
x_pad = np.pad(x, ((0, 0), (before, after), (0, 0)))
dx_pad = np.zeros(x_pad.shape)
dkernel = np.zeros(kernel.shape)
dbias = np.zeros(kernel.shape[2])
for n in range(x.shape[0]):
    for i in range(out_len):
        for a in range(kernel.shape[0]):
            t = i * s + a * d
            for o in range(kernel.shape[2]):
                g = dy[n, i, o]
                dkernel[a, :, o] += x_pad[n, t, :] * g
                dx_pad[n, t, :] += kernel[a, :, o] * g
        dbias += dy[n, i]
return dx_pad[:, before : before + x.shape[1], :], dkernel, dbias
""",
    "conv2d_backward": """
x_pad = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
dx_pad = np.zeros(x_pad.shape)
dkernel = np.zeros(kernel.shape)
dbias = np.zeros(kernel.shape[3])
kh, kw = kernel.shape[:2]
for n in range(x.shape[0]):
    for i in range(h_out):
        for j in range(w_out):
            g = dy[n, i, j]
            for a in range(kh):
                for b in range(kw):
                    r, c = i * sh + a * dh, j * sw + b * dw
                    dkernel[a, b] += np.outer(x_pad[n, r, c], g)
                    dx_pad[n, r, c] += kernel[a, b] @ g
            dbias += g
return dx_pad[:, top : top + x.shape[1], left : left + x.shape[2]], dkernel, dbias
""",
    "max_pool2d_backward": """
(top, bottom), (left, right) = pads
x_pad = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=-np.inf)
dx_pad = np.zeros(x_pad.shape)
for n in range(x.shape[0]):
    for i in range(h_out):
        for j in range(w_out):
            for c in range(x.shape[3]):
                win = x_pad[n, i * sh : i * sh + ph, j * sw : j * sw + pw, c]
                a, b = np.unravel_index(np.argmax(win), win.shape)
                dx_pad[n, i * sh + a, j * sw + b, c] += dy[n, i, j, c]
return dx_pad[:, top : top + x.shape[1], left : left + x.shape[2]]
""",
    "avg_pool2d_backward": """
(top, bottom), (left, right) = pads
real = np.pad(np.ones(x.shape[1:3]), ((top, bottom), (left, right)))
dx_pad = np.zeros((x.shape[0], *real.shape, x.shape[3]))
for i in range(h_out):
    for j in range(w_out):
        rows, cols = slice(i * sh, i * sh + ph), slice(j * sw, j * sw + pw)
        cells = real[rows, cols]
        for n in range(x.shape[0]):
            for c in range(x.shape[3]):
                dx_pad[n, rows, cols, c] += cells * dy[n, i, j, c] / cells.sum()
return dx_pad[:, top : top + x.shape[1], left : left + x.shape[2]]
""",
    "dense_backward": """
x2 = x.reshape(-1, x.shape[-1])
dy2 = dy.reshape(-1, dy.shape[-1])
dkernel = np.zeros(kernel.shape)
dbias = np.zeros(kernel.shape[1])
dx2 = np.zeros(x2.shape)
for r in range(x2.shape[0]):
    dkernel += np.outer(x2[r], dy2[r])
    dbias += dy2[r]
    dx2[r] = kernel @ dy2[r]
return dx2.reshape(x.shape), dkernel, dbias
""",
    "dropout_backward": """
dx = np.zeros(dy.shape)
for index in np.ndindex(dy.shape):
    if mask[index]:
        dx[index] = dy[index] / (1.0 - rate)
return dx
""",
    "softmax_crossentropy_backward": """
out = np.zeros(logits.shape)
n = logits.shape[0]
for r in range(n):
    e = np.exp(logits[r] - np.max(logits[r]))
    out[r] = (e / e.sum() - y_true[r]) / n
return out
""",
}

F32 = {  # the reference's regions, with the inputs cast to float32 first
    "conv1d_backward": ["dy", "x", "kernel"],
    "conv2d_backward": ["dy", "x", "kernel"],
    "max_pool2d_backward": ["dy", "x"],
    "avg_pool2d_backward": ["dy", "x"],
    "dense_backward": ["dy", "x", "kernel"],
    "dropout_backward": ["dy"],
    "softmax_crossentropy_backward": ["y_true", "logits"],
}


def _build(name: str, style: str, patches: list[Mutant]) -> None:
    dest = CORRECT_DIR / name
    shutil.rmtree(dest, ignore_errors=True)
    (dest / "cnn").mkdir(parents=True)
    for path in SOLUTIONS_DIR.glob("*.py"):
        shutil.copyfile(path, dest / "cnn" / path.name)
    source = (dest / "cnn" / "backward.py").read_text(encoding="utf-8")
    for patch in patches:
        source = apply_patch(source, patch)
    (dest / "cnn" / "backward.py").write_text(source, encoding="utf-8")
    (dest / "STYLE").write_text(style + "\n", encoding="utf-8")


def main() -> None:
    _build(
        "ivo-loops-part2",
        "part 2 with plain Python loops over every window and sample (cs231n style)",
        [Mutant(f"loops-{t}", "backward", t, "", None, "", region=r) for t, r in LOOPS.items()],
    )
    _build("jun-float32-part2", "part 2 computed in float32 (inputs cast first)", [])
    path = CORRECT_DIR / "jun-float32-part2" / "cnn" / "backward.py"
    text = path.read_text(encoding="utf-8")
    for target, names in F32.items():
        start = text.index("# BEGIN STUDENT CODE", text.index(f"def {target}("))
        at = text.index("\n", start) + 1
        casts = "".join(f"    {v} = np.asarray({v}, dtype=np.float32)\n" for v in names)
        text = text[:at] + casts + text[at:]
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
