"""Hostile submissions, built at test time: each one is the handout's stubs with an honest
``activations.py`` (the reference one) plus one attack in ``conv.py`` (or elsewhere).

Every payload is bounded (loops end by time, bombs by the sandbox's limits, daemons after a few
seconds) and harmless on a shared machine even if the sandbox failed: markers are empty files
named with a per-run token, floods stop at a few hundred MB of writes to limited files.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

CONV_ITEMS = ("conv.pad2d", "conv.conv1d", "conv.conv2d")
POOL_ITEMS = (
    "pooling.max_pool1d",
    "pooling.avg_pool1d",
    "pooling.max_pool2d",
    "pooling.avg_pool2d",
    "pooling.global_max_pool2d",
    "pooling.global_avg_pool2d",
)

# Imported by every payload module: tries to leave a marker in every place it might reach.
PRELUDE = '''
import os as _os, sys as _sys
_TOKEN = {token!r}
_PLACES = [{places}]

def _mark(tag):
    """Leave an empty marker file named with the run's token wherever possible."""
    extra = [_os.getcwd(), _os.path.expanduser("~"), "/", _os.environ.get("TMPDIR", "/tmp")]
    for d in _PLACES + extra:
        try:
            with open(_os.path.join(d, _TOKEN + "-" + tag), "w") as f:
                f.write("x")
        except BaseException:
            pass
'''

CONV_DEFS = ("pad2d", "conv1d", "conv2d")


def _conv(body: str, defs=CONV_DEFS, args="*a, **k") -> str:
    """A conv.py whose three functions all run ``body``."""
    out = [body]
    for name in defs:
        out.append(f"def {name}({args}):\n    return _attack()\n")
    return "\n".join(out)


@dataclass
class Payload:
    name: str
    modules: dict[str, str]  # module name -> source (the prelude is prepended)
    faked: tuple[str, ...] = CONV_ITEMS  # items it tries to fake: must score 0
    keeps_honest: bool = True  # the honest activations still earn their points
    extra_files: dict[str, str] = field(default_factory=dict)  # path in the submission -> text


def payloads() -> list[Payload]:
    P: list[Payload] = []
    add = P.append
    add(
        Payload(
            "spin_sigterm",
            {
                "conv": _conv("""
import signal, time
def _attack():
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _mark("spin")
    end = time.monotonic() + 60
    while time.monotonic() < end:
        pass
""")
            },
        )
    )
    add(
        Payload(
            "spin_at_import",
            {
                "pooling": """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
_end = time.monotonic() + 60
while time.monotonic() < _end:
    pass
"""
            },
            faked=POOL_ITEMS,
        )
    )
    add(
        Payload(
            "memory_bomb",
            {
                "conv": _conv("""
def _attack():
    blocks = []
    for _ in range(400):  # 40 GB if nothing stops it
        blocks.append(bytearray(100 * 1024 * 1024))
""")
            },
        )
    )
    add(
        Payload(
            "disk_bomb",
            {
                "conv": _conv("""
import tempfile
def _attack():
    for d in ["/tmp", "/dev/shm", "/var/tmp", _os.getcwd(), _os.path.join(_os.getcwd(), "out")]:
        try:
            with open(_os.path.join(d, _TOKEN + "-disk"), "wb") as f:
                for _ in range(300):  # 300 MB per place unless a limit stops it
                    f.write(b"\\0" * (1 << 20))
        except BaseException:
            pass
    return None
""")
            },
        )
    )
    add(Payload("os_exit_at_import", {"conv": "_mark('exit-import')\n_os._exit(0)\n"}))
    add(Payload("sys_exit_at_import", {"pooling": "import sys\nsys.exit(0)\n"}, faked=POOL_ITEMS))
    add(
        Payload(
            "exit_in_calls",
            {
                "conv": """
import sys
def pad2d(*a, **k):
    _os._exit(0)
def conv1d(*a, **k):
    sys.exit(0)
def conv2d(*a, **k):
    raise SystemExit(0)
"""
            },
        )
    )
    add(
        Payload(
            "segfault_and_recursion",
            {
                "conv": """
import ctypes, signal, sys
def pad2d(*a, **k):
    ctypes.string_at(0)
def conv1d(*a, **k):
    _os.kill(_os.getpid(), signal.SIGSEGV)
def _deep(n):
    return _deep(n + 1) + 1
def conv2d(*a, **k):
    sys.setrecursionlimit(10 ** 7)
    return _deep(0)
"""
            },
        )
    )
    add(
        Payload(
            "monkeypatch_numpy",
            {
                "conv": _conv("""
import builtins, numpy as np
np.testing.assert_allclose = lambda *a, **k: None
np.allclose = lambda *a, **k: True
np.array_equal = lambda *a, **k: True
np.isclose = lambda *a, **k: True
builtins.isinstance = lambda *a: True
builtins.abs = lambda x: 0
def _attack():
    return np.zeros(1)
"""),
                "pooling": """
import numpy as np
np.ndarray.__eq__ = lambda self, other: True
""",
            },
            faked=CONV_ITEMS + POOL_ITEMS,
            keeps_honest=False,
        )
    )
    add(
        Payload(
            "fake_equality",
            {
                "conv": """
import numpy as np
class Yes:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    __hash__ = None
    def __array__(self, *a, **k): return np.zeros(3)
class Close(np.ndarray):
    def __eq__(self, other): return np.ones(1, bool)
    def __array_ufunc__(self, *a, **k): return np.zeros(1)
    def __array_function__(self, *a, **k): return True
def pad2d(*a, **k):
    return Yes()
def conv1d(x, *a, **k):
    return np.zeros(3).view(Close)
def conv2d(*a, **k):
    return np.array([Yes()], dtype=object)
"""
            },
        )
    )
    add(
        Payload(
            "malicious_reduce",
            {
                "conv": """
class Evil:
    def __reduce__(self):
        return (_mark, ("reduce",))
class EvilError(Exception):
    def __reduce__(self):
        return (_mark, ("reduce-exc",))
def pad2d(*a, **k):
    return Evil()
def conv1d(*a, **k):
    return [Evil(), {"x": Evil()}]
def conv2d(*a, **k):
    raise EvilError(Evil())
"""
            },
        )
    )
    # The reference conv with one twist: it zeroes the arrays it is given after computing.
    add(
        Payload(
            "mutates_inputs",
            {
                "conv": "@SOLUTION:conv@"
                + """
_orig = (pad2d, conv1d, conv2d)
def _wrap(fn):
    def inner(*a, **k):
        out = fn(*a, **k)
        for v in list(a) + list(k.values()):
            if hasattr(v, "fill") and getattr(v, "flags", None) is not None and v.flags.writeable:
                v.fill(7.0)
        return out
    return inner
pad2d, conv1d, conv2d = (_wrap(f) for f in _orig)
"""
            },
            faked=("conv.conv2d",),
        )
    )
    add(
        Payload(
            "read_secrets",
            {
                "conv": _conv("""
def _grab():
    found = []
    paths = ["/proc/%d/cmdline" % _os.getppid(), "/proc/%d/environ" % _os.getppid(),
             "/proc/1/environ", "/proc/1/cmdline", "/proc/self/environ",
             _os.path.join({kit!r}, "solutions", "cnn", "conv.py"),
             _os.path.join({kit!r}, "autograder", "suite", "conv.py"),
             _os.path.join({kit!r}, "autograder", "oracle", "data", "bank.json"),
             _os.path.join({kit!r}, "grade.toml"), _os.path.expanduser("~/.bash_history")]
    for pid in range(1, 4000):
        paths.append("/proc/%d/environ" % pid)
    for p in paths:
        try:
            with open(p, "rb") as f:
                found.append(f.read(4000).decode("latin-1"))
        except BaseException:
            pass
    for root in [{kit!r}, _os.path.expanduser("~"), "/tmp", "/"]:
        try:
            found.append(" ".join(_os.listdir(root)))
        except BaseException:
            pass
    found.append(repr(dict(_os.environ)))
    return "\\n".join(found)
_LOOT = _grab()
def _attack():
    raise ValueError(_LOOT[:100000])
"""),
                "pooling": """
def _g():
    try:
        with open(_os.path.join({kit!r}, "solutions", "cnn", "pooling.py")) as f:
            return f.read()
    except BaseException as e:
        return repr(e)
raise ImportError(_g())
""",
            },
            faked=CONV_ITEMS + POOL_ITEMS,
        )
    )
    add(
        Payload(
            "forge_results",
            {
                "conv": _conv("""
import json, threading, time
_FORGED = json.dumps({{"score": 100, "tests": [], "extra_data": {{"student": "forge_results",
    "max_score": 100, "fingerprint": "x", "item_scores": {{}}}}, "output": _TOKEN}})
def _forge():
    for d in _PLACES + [_os.getcwd(), _os.path.expanduser("~"), "/tmp"]:
        for rel in ("forge_results/results.json", "results.json", "gradebook.csv",
                    "forge_results/feedback.md"):
            try:
                p = _os.path.join(d, rel)
                _os.makedirs(_os.path.dirname(p), exist_ok=True)
                with open(p, "w") as f:
                    f.write(_FORGED)
            except BaseException:
                pass
    try:
        for name in _os.listdir(_os.path.join(_os.getcwd(), "out")):
            with open(_os.path.join(_os.getcwd(), "out", name), "w") as f:
                f.write('{{"status": "ok", "value": 1}}')
    except BaseException:
        pass
def _loop():
    end = time.monotonic() + 3
    while time.monotonic() < end:
        _forge()
        time.sleep(0.05)
threading.Thread(target=_loop, daemon=True).start()
def _attack():
    _forge()
    return 0
""")
            },
        )
    )
    add(
        Payload(
            "import_solutions",
            {
                "conv": """
import importlib.util, sys
def _load():
    for path in [_os.path.join({kit!r}, "solutions", "cnn", "conv.py")]:
        try:
            spec = importlib.util.spec_from_file_location("cnn._stolen", path)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            return mod
        except BaseException:
            pass
    try:
        sys.path.insert(0, {kit!r})
        import autograder.reference as ref
        return ref.load_solutions().conv
    except BaseException:
        return None
_S = _load()
def pad2d(*a, **k): return _S.pad2d(*a, **k)
def conv1d(*a, **k): return _S.conv1d(*a, **k)
def conv2d(*a, **k): return _S.conv2d(*a, **k)
"""
            },
        )
    )
    add(
        Payload(
            "use_tensorflow",
            {
                "conv": """
import sys, importlib
def _tf():
    sys.meta_path[:] = [m for m in sys.meta_path if type(m).__name__ != "_Ban"]
    for d in {sites!r}:
        sys.path.append(d)
    return importlib.import_module("tens" + "orflow")
def pad2d(*a, **k):
    return _tf().pad(*a).numpy()
def conv1d(*a, **k):
    _tf()
    return 0
def conv2d(*a, **k):
    _tf()
    return 0
"""
            },
        )
    )
    add(
        Payload(
            "shadow_numpy",
            {
                "conv": _conv("""
from . import numpy as fake_np
import json  # the student's json.py must not shadow the standard one
def _attack():
    return fake_np.zeros(3)
"""),
                "numpy": """
def zeros(n):
    _mark("shadow")
    return [0] * n
""",
                "json": "_mark('shadow-json')\nraise ImportError('shadowed json')\n",
            },
            extra_files={
                "numpy/__init__.py": "open('/tmp/{token}-shadow-top', 'w')\n"
                "raise ImportError('shadow')\n"
            },
        )
    )
    add(
        Payload(
            "daemon",
            {
                "conv": _conv("""
import subprocess, time, signal, json
def _daemon():
    try:
        pid = _os.fork()
    except BaseException:
        return
    if pid == 0:
        try:
            _os.setsid()
            if _os.fork() == 0:
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                for k in list(_os.environ):
                    del _os.environ[k]
                time.sleep(3)
                _mark("daemon-late")
                for d in _PLACES:
                    try:
                        with open(_os.path.join(d, "daemon", "results.json"), "w") as f:
                            f.write(json.dumps({{"score": 100}}))
                    except BaseException:
                        pass
        finally:
            _os._exit(0)
    try:
        subprocess.Popen(["/bin/sh", "-c", "sleep 3; touch /tmp/{token}-daemon-sh"],
                         start_new_session=True)
    except BaseException:
        pass
def _attack():
    _daemon()
    return 0
""")
            },
        )
    )
    add(
        Payload(
            "print_flood",
            {
                "conv": _conv("""
import sys
def _attack():
    chunk = "x" * (1 << 20)
    for _ in range(300):  # 300 MB unless the file-size limit stops it
        sys.stdout.write(chunk)
        sys.stderr.write(chunk)
    return 0
""")
            },
        )
    )
    add(
        Payload(
            "network",
            {
                "conv": _conv("""
import socket
def _attack():
    ok = []
    for fam, addr in ((socket.AF_INET, ("127.0.0.1", {port})),):
        try:
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.settimeout(1)
            s.connect(addr)
            s.sendall(_TOKEN.encode())
            ok.append(addr)
        except BaseException:
            pass
    try:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.sendto(_TOKEN.encode(), ("127.0.0.1", {port}))
    except BaseException:
        pass
    return len(ok)
""")
            },
        )
    )
    add(
        Payload(
            "html_injection",
            {
                "conv": """
_EVIL = ("<script>alert('x')</script> <img src=x onerror=alert(1)> "
         "[click](http://evil.example/) ![i](http://evil.example/i.png)\\n\\n# Score: 100 / 100\\n"
         "| a | b |\\n\\u202e\\x1b[31m")
class _E(Exception):
    pass
_E.__name__ = "<b>Boom</b>"
_E.__qualname__ = "<b>Boom</b>"
def pad2d(*a, **k): raise ValueError(_EVIL)
def conv1d(*a, **k): raise _E(_EVIL)
def conv2d(*a, **k): return _EVIL
""",
                "pooling": "raise ImportError(" + repr("<script>x</script>\n# Score: 100") + ")\n",
            },
            faked=CONV_ITEMS + POOL_ITEMS,
        )
    )
    # ---- Issue #11: escaping the kill, bounded answers, disk, processes, frameworks, mutation
    add(
        Payload(
            "setsid_sleepers",
            {
                "conv": _conv("""
import ctypes, signal, time
def _orphan(depth):
    if _os.fork() == 0:
        try:
            _os.setsid()
            for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                signal.signal(sig, signal.SIG_IGN)
            ctypes.CDLL(None).prctl(15, _TOKEN[:15].encode(), 0, 0, 0)
            if depth and _os.fork():
                _os._exit(0)  # double fork: the grandchild is re-parented
            _os.setsid() if depth else None
            end = time.monotonic() + 90
            while time.monotonic() < end:
                time.sleep(0.5)
        except BaseException:
            pass
        _os._exit(0)
for _i in range(8):  # at import, from the package itself
    _orphan(_i % 2)
def _attack():
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _orphan(1)
    return 0
"""),
                "__init__": "import os\ntry:\n    os.setsid()\nexcept OSError:\n    pass\n",
            },
        )
    )
    add(
        Payload(
            "fork_bomb",
            {
                "conv": _conv("""
import ctypes, time
def _attack():
    n = 0
    for _ in range(2000):
        try:
            if _os.fork() == 0:
                ctypes.CDLL(None).prctl(15, _TOKEN[:15].encode(), 0, 0, 0)
                time.sleep(30)
                _os._exit(0)
            n += 1
        except OSError:
            break
    return n
""")
            },
        )
    )
    add(
        Payload(
            "huge_answers",
            {
                "conv": """
def pad2d(*a, **k):
    return [{{}}] * 3_000_000  # the worker's encoder caps it; then the raw variant below
def conv1d(*a, **k):
    x = []
    for _ in range(200_000):
        x = [x]
    return x
def conv2d(*a, **k):
    return 10 ** 4000
""",
            },
        )
    )
    add(
        Payload(
            "raw_pipe_answers",
            {
                "conv": """
import os, sys, json
_STATUS = int(sys.argv[3])
_N = [0]
def _forge(value):
    # Answer every call twice: a hostile one for each plausible index, then return.
    data = b'{{"status": "ok", "seconds": 1' + b"0" * 500 + b', "value": ' + value + b"}}"
    for i in range(0, 700):
        try:
            os.write(_STATUS, b"done %d %d\\n" % (i, len(data)) + data)
        except OSError:
            break
def pad2d(*a, **k):
    _forge(b"[" * 100_000 + b"]" * 100_000)
def conv1d(*a, **k):
    _forge(b"[" + b"{{}}," * 3_000_000 + b"{{}}]")
def conv2d(*a, **k):
    _forge(b"9" * 4000)
""",
            },
            keeps_honest=False,  # forging costs the submission's own time budget
        )
    )
    add(
        Payload(
            "status_line_disk_bomb",
            {
                "conv": _conv("""
import sys
def _attack():
    status = int(sys.argv[3])
    block = b"x" * (1 << 20)
    written = 0
    for place in [_os.getcwd(), "/tmp/cnn-job", "/tmp", "/dev/shm", "/var/tmp",
                  _os.path.expanduser("~"), "/run/lock"]:
        for i in range(400):  # 400 MB per place unless the kernel stops it
            try:
                with open(_os.path.join(place, _TOKEN + "-bomb%d" % i), "wb") as f:
                    f.write(block)
                written += 1
                _os.write(status, b"import conv\\n")  # keep the status channel busy
            except OSError:
                break
    return written
""")
            },
        )
    )
    add(
        Payload(
            "tensorflow_by_path",
            {
                "conv": """
import sys, os, importlib
def _find():
    sys.meta_path[:] = [m for m in sys.meta_path if "Ban" not in type(m).__name__]
    roots = [sys.prefix, sys.base_prefix, "/tmp/cnn-job/ro", "/usr", "/usr/local",
             os.path.expanduser("~")] + list({sites!r})
    found = []
    for root in roots:
        for dirpath, dirs, files in os.walk(root):
            if dirpath.count(os.sep) - root.count(os.sep) > 5:
                dirs[:] = []
            if os.path.basename(dirpath) in ("site-packages", "dist-packages"):
                found.append(dirpath)
                dirs[:] = []
    sys.path.extend(found)
    for name in ("tensorflow", "keras", "torch", "scipy.signal"):
        try:
            return importlib.import_module(name)
        except BaseException:
            continue
    return None
_M = _find()
def pad2d(x, *a, **k):
    return _M.pad(x, *a).numpy()
def conv1d(*a, **k):
    return _M.nn.conv1d(*a).numpy()
def conv2d(x, w, *a, **k):
    return _M.nn.conv2d(x, w, 1, "VALID").numpy()
""",
            },
        )
    )
    add(
        Payload(
            "hidden_mutation",
            {
                "conv": """
@SOLUTION:conv@
import sys as _sys2
_real = {{n: globals()[n] for n in ("pad2d", "conv1d", "conv2d")}}
def _hide():
    # Rewrite whatever the worker might use to report inputs back, then damage the inputs.
    main = _sys2.modules.get("__main__")
    for name in ("digest", "arrays_in"):
        if main is not None:
            setattr(main, name, lambda *a, **k: [])
def _wrap(name):
    def f(*a, **k):
        out = _real[name](*a, **k)
        _hide()
        for v in a:
            if hasattr(v, "fill"):
                v.fill(0.0)
        return out
    return f
pad2d, conv1d, conv2d = _wrap("pad2d"), _wrap("conv1d"), _wrap("conv2d")
""",
            },
            faked=("conv.pad2d", "conv.conv1d", "conv.conv2d"),
        )
    )
    add(
        Payload(
            "gradebook.csv",
            {"conv": _conv("def _attack():\n    return 0\n")},
        )
    )
    add(
        Payload(
            "summary.html",
            {"conv": _conv("def _attack():\n    return 0\n")},
        )
    )
    add(
        Payload(
            "mistakes.csv",
            {"conv": _conv("def _attack():\n    return 0\n")},
        )
    )
    return P


def render(p: Payload, **values) -> dict[str, str]:
    """The payload's files with the placeholders filled in (``{token}``, ``{kit}``, ...)."""
    prelude = PRELUDE.format(**values)
    out = {}
    for module, src in p.modules.items():
        body = textwrap.dedent(src)
        body = body.replace("{{", "\0L").replace("}}", "\0R")
        for key, value in values.items():
            if isinstance(value, (str, int, list)):
                body = body.replace("{" + key + "!r}", repr(value))
                body = body.replace("{" + key + "}", str(value))
        body = body.replace("\0L", "{").replace("\0R", "}")
        for name, text in values.get("solutions", {}).items():
            text = text.replace("from __future__ import annotations", "")
            body = body.replace(f"@SOLUTION:{name}@", text + "\n")
        out[f"cnn/{module}.py"] = prelude + "\n" + body
    for path, text in p.extra_files.items():
        out[path] = text.replace("{token}", values["token"])
    return out
