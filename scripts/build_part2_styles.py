"""Build the audit's part-2 correct styles: the reference package with cnn/backward.py's
regions rewritten as plain loops (ivo-loops-part2) or computed in float32 (jun-float32-part2).

Run: PYTHONPATH=. python3 scripts/build_part2_styles.py (rewrites the two folders).
"""

from __future__ import annotations

import shutil

from autograder.audit.corpus import CORRECT_DIR, Mutant, apply_patch
from autograder.paths import SOLUTIONS_DIR

# Loops over every output position and kernel (or window) offset, vectorised over the batch
# and the channels only: the loop style that still trains the README's outcome run inside its
# time limit (a loop over every sample and channel too takes about 5.6 s of CPU per batch of
# 32, 500 s for the run: such code loses the outcome case, as the handout says).
LOOPS = {
    "conv1d_backward": """
x_pad = np.pad(x, ((0, 0), (before, after), (0, 0)))
dx_pad = np.zeros(x_pad.shape)
dkernel = np.zeros(kernel.shape)
dbias = np.zeros(kernel.shape[2])
for i in range(out_len):
    g = dy[:, i, :]
    for a in range(kernel.shape[0]):
        t = i * s + a * d
        dkernel[a] += x_pad[:, t, :].T @ g
        dx_pad[:, t, :] += g @ kernel[a].T
    dbias += g.sum(axis=0)
return dx_pad[:, before : before + x.shape[1], :], dkernel, dbias
""",
    "conv2d_backward": """
x_pad = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
dx_pad = np.zeros(x_pad.shape)
dkernel = np.zeros(kernel.shape)
dbias = np.zeros(kernel.shape[3])
kh, kw = kernel.shape[:2]
for i in range(h_out):
    for j in range(w_out):
        g = dy[:, i, j, :]
        for a in range(kh):
            for b in range(kw):
                r, c = i * sh + a * dh, j * sw + b * dw
                dkernel[a, b] += x_pad[:, r, c, :].T @ g
                dx_pad[:, r, c, :] += g @ kernel[a, b].T
        dbias += g.sum(axis=0)
return dx_pad[:, top : top + x.shape[1], left : left + x.shape[2]], dkernel, dbias
""",
    "max_pool2d_backward": """
(top, bottom), (left, right) = pads
x_pad = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=-np.inf)
dx_pad = np.zeros(x_pad.shape)
n, c = x.shape[0], x.shape[3]
samples, channels = np.meshgrid(np.arange(n), np.arange(c), indexing="ij")
for i in range(h_out):
    for j in range(w_out):
        win = x_pad[:, i * sh : i * sh + ph, j * sw : j * sw + pw, :].reshape(n, ph * pw, c)
        a, b = np.unravel_index(np.argmax(win, axis=1), (ph, pw))
        dx_pad[samples, i * sh + a, j * sw + b, channels] += dy[:, i, j, :]
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
        share = dy[:, i, j, :] / cells.sum()
        dx_pad[:, rows, cols, :] += cells[None, :, :, None] * share[:, None, None, :]
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
keep = np.asarray(mask) != 0
for r in range(dy.shape[0]):
    dx[r] = np.where(keep[r], dy[r] / (1.0 - rate), 0.0)
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
        "part 2 with plain Python loops over every window position and kernel offset (cs231n "
        "style), vectorised over the batch and channels only",
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
