"""The trusted side of the worker's wire format: what crosses in, and bounded reading of answers.

In: call specs as JSON; every array argument lives in one shared input blob (a sealed memfd
the worker maps, ``{"$in": {"dtype", "shape", "offset"}}`` in the spec), so the trusted side
judges mutation by reading that memory after the call, not by anything the worker reports.
Out: one JSON answer per call on the status pipe, parsed by :func:`parse_answer` under hard
bounds (bytes, number of values, nesting depth, integer size); arrays as dtype, shape and
base64 bytes, rebuilt only as plain numeric arrays. Nothing is unpickled, nothing raises.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import marshal
import math
import mmap
import os
import pickle
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..cases import Call, Rng

MAX_VALUES = 100_000  # JSON values in one answer (a real answer has a few dozen)
MAX_TOTAL_VALUES = 1_000_000  # in all the answers of one submission
MAX_DEPTH = 25  # nesting of lists, tuples and dicts in an answer
MAX_INT_DIGITS = 19  # integers beyond 64 bits are not a counting answer
ALIGN = 64


@dataclass(frozen=True)
class Unsupported:
    """A returned value that cannot cross the boundary (not a plain array, number, ...)."""

    type_name: str


@dataclass(frozen=True)
class NpScalar:
    """A numpy scalar (``np.float64(3.0)``), carried as a 0-d array."""

    array: np.ndarray


MALFORMED = Unsupported("a malformed result")  # one object, however many there are


class AnswerError(ValueError):
    """An answer the trusted side refuses to read; the message is one sentence for the student."""


def digest(arr: np.ndarray) -> str:
    """dtype, shape and a hash of the bytes: what the mutation check compares."""
    arr = np.ascontiguousarray(arr) if arr.ndim else arr
    return f"{arr.dtype.str}|{tuple(arr.shape)}|{_hash(arr.reshape(-1).view(np.uint8))}"


def _hash(data: Any) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def arrays_in(value: Any, found: list | None = None) -> list[np.ndarray]:
    """The arrays of a call's arguments, in the order the worker meets them."""
    found = [] if found is None else found
    if isinstance(value, np.ndarray):
        found.append(value)
    elif isinstance(value, (list, tuple)):
        for v in value:
            arrays_in(v, found)
    elif isinstance(value, dict):
        for v in value.values():
            arrays_in(v, found)
    return found


class InputBlob:
    """Every array argument of a submission's calls, laid out once in one buffer.

    ``specs[i]`` is call ``i`` for the worker: its program, its target and its arguments as a
    pickle (written here, by the trusted grader, read only by the worker: see
    ``worker.load_args``) in which every array is an offset into the blob; after the worker
    ran call ``i``, ``check(i)`` reads that call's stretch of the blob as the worker left it
    (student code may write it, but cannot make the grader read anything else) and compares it
    with the grader's own copy of what it wrote (:attr:`private`): :data:`UNCHANGED` when they
    are byte for byte the same, else the digests of each array argument in that read, as
    ``after(i)`` gives them.
    """

    def __init__(self, calls: list[Call]):
        # per call: (offset, nbytes, "dtype|shape|") of each array argument, in order
        self.regions: list[list[tuple[int, int, str]]] = []
        self.specs: list[dict] = []
        self.size = 0
        self._chunks: list[tuple[int, np.ndarray]] = []
        out = io.BytesIO()
        pickler = _ArgsPickler(out, self)
        for call in calls:
            pickler.regions = []
            out.seek(0)
            out.truncate()
            pickler.dump((list(call.args), dict(call.kwargs)))
            data = out.getvalue()
            self.specs.append({"program": call.program, "target": call.target, "args": data})
            self.regions.append(pickler.regions)
        # per call: the stretch of the blob its array arguments lie in (laid out one after
        # another, with only this call's padding between them)
        self.spans = [(r[0][0], r[-1][0] + r[-1][1]) if r else (0, 0) for r in self.regions]
        self.size = max(self.size, ALIGN)
        self._private: bytes | None = None
        self._buffer: bytearray | None = None
        self.fd = -1

    def job_bytes(self, **fields: Any) -> bytes:
        """The job file the worker loads (``marshal``: only lists, dicts, strings and numbers,
        written by the grader; read by the worker before any student code runs)."""
        return marshal.dumps({"calls": self.specs, "inputs_size": self.size, **fields})

    @property
    def private(self) -> bytes:
        """The grader's own copy of the blob's bytes (immutable), made from the call arguments
        the first time it is asked for: by :meth:`memfd`, before any worker can see the blob.
        :meth:`check` compares the worker's blob with it."""
        if self._private is None:
            pieces: list[Any] = []
            pos = 0
            for offset, arr in self._chunks:
                if offset > pos:
                    pieces.append(_ZEROS[: offset - pos])
                if arr.nbytes:
                    pieces.append(arr)  # C-contiguous (the pickler made sure)
                pos = offset + arr.nbytes
            pieces.append(bytes(self.size - pos))
            self._private = b"".join(pieces)
            self._chunks = []  # the arrays are in the copy now
        return self._private

    @property
    def buffer(self) -> bytearray:
        """The blob as bytes in this process, for in-process execution to write into (a copy
        of :attr:`private`, made once; the runner maps a memfd instead)."""
        if self._buffer is None:
            self._buffer = bytearray(self.private)
        return self._buffer

    def memfd(self) -> int:
        """A sealed (fixed-size) memfd holding the blob, for the worker to map read-write
        (written from :attr:`private` with ``pwrite``: no page faults of a mapping here).
        The caller closes it."""
        if hasattr(os, "memfd_create"):
            fd = os.memfd_create("cnn-inputs", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        else:  # pragma: no cover - not Linux: an unlinked temporary file
            import tempfile

            fd = os.dup(tempfile.TemporaryFile().fileno())
        os.ftruncate(fd, self.size)
        try:
            import fcntl

            seals = fcntl.F_SEAL_GROW | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_SEAL
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, seals)
        except (AttributeError, OSError):
            pass
        with memoryview(self.private) as data:
            written = 0
            while written < self.size:  # (one pwrite writes it all on Linux)
                n = os.pwrite(fd, data[written:], written)
                if n <= 0:  # pragma: no cover - never seen: through a mapping instead
                    with mmap.mmap(fd, self.size) as view:
                        view[:] = data
                    break
                written += n
        self.fd = fd
        return fd

    def check(self, index: int, memory: Any = None) -> Any:
        """:data:`UNCHANGED` when call ``index``'s array arguments are now, in the blob, byte
        for byte what the grader wrote; else their digests (as :meth:`after` gives them).

        One read of the call's stretch of the blob (the memfd as the worker left it, or
        ``memory``), compared with :attr:`private`; when they differ, the digests are of that
        same read. A change anywhere in the stretch (padding included) takes the slow way,
        which then says exactly which arrays changed: the outcome is the digests' either way.
        """
        regions = self.regions[index]
        if not regions:
            return []
        start, end = self.spans[index]
        if memory is None:  # the memfd, as the worker left it
            now = os.pread(self.fd, end - start, start)
        else:
            with memoryview(memory) as whole:
                now = bytes(whole[start:end])
        if len(now) != end - start:  # pragma: no cover - a short read (never seen)
            return self.after(index, memory)
        if self.private.startswith(now, start):  # now == private[start:end], without a copy
            return UNCHANGED
        with memoryview(now) as view:
            return [prefix + _hash(view[at - start : at - start + n]) for at, n, prefix in regions]

    def after(self, index: int, memory: Any = None) -> list[str]:
        """Digests of call ``index``'s array arguments as they are now in the blob (the same
        text as :func:`digest` of each array: dtype, shape, a hash of its C-order bytes)."""
        if memory is None:  # the memfd, as the worker left it
            fd = self.fd
            return [prefix + _hash(os.pread(fd, n, at)) for at, n, prefix in self.regions[index]]
        with memoryview(memory) as whole:
            return [prefix + _hash(whole[at : at + n]) for at, n, prefix in self.regions[index]]


_ZEROS = bytes(ALIGN)


class _Unchanged:
    """The type of :data:`UNCHANGED` (pickled as that one object)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNCHANGED"

    def __reduce__(self) -> str:
        return "UNCHANGED"


# ``Outcome.inputs_after`` of a call whose array arguments the grader found byte for byte as
# it wrote them (``InputBlob.check``): what digests all equal to the "before" ones would say.
UNCHANGED = _Unchanged()
_PLAIN = frozenset({int, float, str, bool, type(None), list, tuple})


class _ArgsPickler(pickle.Pickler):
    """Pickles a call's ``(args, kwargs)`` for the worker: plain lists, tuples, dicts with
    string keys, numbers, strings and None as themselves; as persistent ids (the worker's
    unpickler loads no class at all): an array as ``"a<dtype>:<shape>:<offset>"`` into the
    blob, an ``Rng`` as ``"r<seed>"``, a numpy scalar or a subclass of a plain type as
    ``("v", plain value)``, other tuples, lists and dicts as ``("t"|"l"|"d", items)``. No memo:
    an object met twice arrives twice, as separate copies, so one call's in-place change never
    reaches another argument."""

    def __init__(self, file: io.BytesIO, blob: InputBlob):
        super().__init__(file, protocol=5)
        self.fast = True
        self.blob = blob
        self.chunks = blob._chunks
        self.regions: list[tuple[int, int, str]] = []

    def persistent_id(self, obj: Any) -> Any:
        # called for every object of the arguments (~6000 per submission): arrays first, then
        # the plain types, the rest in _other
        t = type(obj)
        if t is np.ndarray:
            return self._array(obj)
        if t in _PLAIN:
            return None
        if t is dict:
            for k in obj:  # (a loop, not all() over a generator: most dicts are kwargs)
                if type(k) is not str:
                    return ("d", [(str(k), v) for k, v in obj.items()])
            return None
        return self._other(obj, t)

    def _array(self, obj: np.ndarray) -> str:
        # (np.ascontiguousarray would turn a 0-d array into shape (1,))
        arr = obj if obj.flags.c_contiguous else np.ascontiguousarray(obj)
        n, dtype, shape = arr.nbytes, arr.dtype.str, arr.shape
        names = _ARRAY_NAMES.get((dtype, shape)) or _array_names(dtype, shape)
        blob = self.blob
        offset = blob.size
        blob.size = offset + ((n or 1) + ALIGN - 1) // ALIGN * ALIGN
        self.chunks.append((offset, arr))
        self.regions.append((offset, n, names[1]))
        return names[0] + str(offset)

    def _other(self, obj: Any, t: type) -> Any:
        if isinstance(obj, np.ndarray):  # a subclass: as a plain array
            return self._array(obj)
        if isinstance(obj, Rng):
            return f"r{int(obj.seed)}"
        if isinstance(obj, (np.integer, np.floating, np.bool_)):
            return ("v", obj.item())
        if isinstance(obj, tuple):
            return ("t", list(obj))
        if isinstance(obj, list):
            return ("l", list(obj))
        if isinstance(obj, dict):
            return ("d", [(str(k), v) for k, v in obj.items()])
        for kind in (bool, int, float, str):  # a subclass (an IntEnum, ...): its plain value
            if isinstance(obj, kind):
                return ("v", kind(obj))
        raise TypeError(f"a call argument of type {t.__name__} cannot be sent to the worker")


# (dtype text, shape) -> (the array's persistent id without its offset, its region's digest
# prefix): the same few hundred pairs recur in every submission's calls
_ARRAY_NAMES: dict[tuple[str, tuple[int, ...]], tuple[str, str]] = {}


def _array_names(dtype: str, shape: tuple[int, ...]) -> tuple[str, str]:
    if len(_ARRAY_NAMES) >= 10_000:
        _ARRAY_NAMES.clear()
    names = (f"a{dtype}:{','.join(map(str, shape))}:", f"{dtype}|{shape}|")
    _ARRAY_NAMES[(dtype, shape)] = names
    return names


def count_values(data: bytes) -> int:
    """An upper bound on the number of JSON values in ``data`` (counted without parsing)."""
    return data.count(b",") + data.count(b":") + data.count(b"[") + data.count(b"{") + 1


def parse_answer(data: bytes) -> Any:
    """A worker's JSON answer under hard bounds; raises :class:`AnswerError` (one sentence)."""
    if count_values(data) > MAX_VALUES:
        raise AnswerError(f"its answer holds more than {MAX_VALUES} values")
    try:
        return json.loads(data.decode("utf-8"), parse_int=_bounded_int)
    except RecursionError:
        raise AnswerError("its answer is nested too deeply") from None
    except (ValueError, UnicodeDecodeError, MemoryError, OverflowError):
        raise AnswerError("its answer could not be read") from None


class _BigInt:
    pass


_BIG = _BigInt()
TOO_DEEP = Unsupported("a structure nested too deeply")
TOO_BIG = Unsupported("an integer too large")


def _bounded_int(text: str) -> Any:
    return _BIG if len(text.lstrip("-")) > MAX_INT_DIGITS else int(text)


def decode(value: Any, depth: int = 0) -> Any:
    """Rebuild a worker's result from its parsed JSON, trusting none of it."""
    if depth > MAX_DEPTH:
        return TOO_DEEP
    if value is _BIG:
        return TOO_BIG
    if isinstance(value, list):
        return [decode(v, depth + 1) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, inner),) = value.items()
            if key in ("$arr", "$npscalar"):
                arr = unpack(inner)
                if arr is None:
                    return Unsupported("an array the grader could not read")
                return NpScalar(arr) if key == "$npscalar" else arr
            if key == "$tuple" and isinstance(inner, list):
                return tuple(decode(v, depth + 1) for v in inner)
            if key == "$dict" and isinstance(inner, list):
                out = {}
                for pair in inner:
                    if isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str):
                        out[pair[0]] = decode(pair[1], depth + 1)
                return out
            if key == "$unsupported" and isinstance(inner, str):
                return Unsupported(inner[:200])
        return MALFORMED
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return MALFORMED


def unpack(spec: Any) -> np.ndarray | None:
    """An array from the worker's JSON, or None when it is not a plain numeric array."""
    if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "b64"}:
        return None
    dtype_text, shape, b64 = spec["dtype"], spec["shape"], spec["b64"]
    if not isinstance(dtype_text, str) or not isinstance(b64, str) or len(dtype_text) > 16:
        return None
    if not isinstance(shape, list) or len(shape) > 32:
        return None
    if not all(type(n) is int and 0 <= n <= 1 << 40 for n in shape):
        return None
    try:
        dtype = np.dtype(dtype_text)
        if dtype.kind not in "biuf" or dtype.fields is not None or dtype.subdtype is not None:
            return None
        if math.prod(shape) * dtype.itemsize != len(b64) // 4 * 3 - b64[-2:].count("="):
            return None
        data = base64.b64decode(b64, validate=True)
        if len(data) != math.prod(shape) * dtype.itemsize:
            return None
        return np.frombuffer(data, dtype=dtype).reshape(shape).copy()
    except (TypeError, ValueError, binascii.Error):
        return None


# The binary answer (worker.py writes it; read_answer reads it). Little-endian throughout:
#   answer := b"O" f64:seconds value
#           | b"E" f64:seconds u8:flags (1 ValueError, 2 NotImplementedError) str:type
#             str:message str:where
#   value  := b"N" | b"T" | b"F" | b"i" i64 | b"f" f64 | b"s" str | b"u" str (unsupported)
#           | b"l" u32:n value*n | b"t" u32:n value*n | b"d" u32:n (str value)*n
#           | b"a" array | b"g" array (a numpy scalar: 0-d)
#   array  := u8:len dtype-text u8:ndim u64*ndim raw C-order bytes
#   str    := u32:len UTF-8 bytes
_I64, _F64 = struct.Struct("<q"), struct.Struct("<d")
_U8, _U32, _U64 = struct.Struct("<B"), struct.Struct("<I"), struct.Struct("<Q")
MAX_DIM = 1 << 40
_PLAIN_DTYPES = {
    np.dtype(f"{order}{kind}{size}").str: np.dtype(f"{order}{kind}{size}")
    for order in "<>"
    for kind, sizes in (("i", (1, 2, 4, 8)), ("u", (1, 2, 4, 8)), ("f", (2, 4, 8)))
    for size in sizes
}
_PLAIN_DTYPES |= {"|b1": np.dtype(bool), "|i1": np.dtype("i1"), "|u1": np.dtype("u1")}
_PLAIN_DTYPES |= {d.str: d for d in (np.dtype(np.longdouble),) if d.kind == "f"}


_BAD = "its answer could not be read"
_SHAPES = [struct.Struct(f"<{n}Q") for n in range(33)]
# the same table by the dtype's text as bytes, as it comes in an answer (an undecodable text
# is no key either way)
_DTYPES_BY_TEXT = {text.encode("ascii"): dtype for text, dtype in _PLAIN_DTYPES.items()}
_NONE, _TRUE, _FALSE, _INT, _FLOAT, _STR, _UNSUP, _LIST, _TUPLE, _DICT, _ARR, _SCALAR = (
    b"NTFifsultdag"
)


class _Reader:
    """A bounded, non-recursive-in-data reader: every length is checked against what is left."""

    def __init__(self, data: bytes):
        self.data, self.pos, self.values, self.end = bytes(data), 0, 0, len(data)

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise AnswerError(_BAD)
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: struct.Struct) -> Any:
        if self.pos + fmt.size > self.end:
            raise AnswerError(_BAD)
        value = fmt.unpack_from(self.data, self.pos)[0]
        self.pos += fmt.size
        return value

    def text(self) -> str:
        return self.take(self.unpack(_U32)).decode("utf-8", "replace")

    def count(self) -> int:
        n = self.unpack(_U32)
        if n > self.end - self.pos:  # every item takes at least one byte
            raise AnswerError(_BAD)
        return n

    def value(self, depth: int = 0) -> Any:
        self.values += 1
        if self.values > MAX_VALUES:
            raise AnswerError(f"its answer holds more than {MAX_VALUES} values")
        if depth > MAX_DEPTH:
            raise AnswerError("its answer is nested too deeply")
        pos = self.pos
        if pos >= self.end:
            raise AnswerError(_BAD)
        tag = self.data[pos]
        self.pos = pos + 1
        # the tags in the order a real answer has them most (counts, arrays, lists, ...)
        if tag == _INT or tag == _FLOAT:
            if pos + 9 > self.end:
                raise AnswerError(_BAD)
            self.pos = pos + 9
            return (_I64 if tag == _INT else _F64).unpack_from(self.data, pos + 1)[0]
        if tag == _ARR:
            return self.array()
        if tag == _LIST or tag == _TUPLE:
            items = [self.value(depth + 1) for _ in range(self.count())]
            return items if tag == _LIST else tuple(items)
        if tag == _NONE:
            return None
        if tag == _DICT:
            out = {}
            for _ in range(self.count()):
                key = self.text()
                out[key] = self.value(depth + 1)
            return out
        if tag == _TRUE or tag == _FALSE:
            return tag == _TRUE
        if tag == _STR:
            return self.text()
        if tag == _UNSUP:
            return Unsupported(self.text()[:200])
        if tag == _SCALAR:
            arr = self.array()
            return NpScalar(arr) if arr.ndim == 0 else MALFORMED
        raise AnswerError(_BAD)

    def array(self) -> np.ndarray:
        data, pos, end = self.data, self.pos, self.end
        if pos + 2 > end:
            raise AnswerError(_BAD)
        n = data[pos]
        dtype_at, pos = pos + 1, pos + 1 + n
        if pos + 1 > end:
            raise AnswerError(_BAD)
        ndim = data[pos]
        pos += 1
        if ndim > 32 or pos + 8 * ndim > end:
            raise AnswerError(_BAD)
        shape = _SHAPES[ndim].unpack_from(data, pos)
        pos += 8 * ndim
        if ndim and max(shape) > MAX_DIM:
            raise AnswerError(_BAD)
        # never np.dtype() on the worker's bytes: the worker sends only plain arrays
        dtype = _DTYPES_BY_TEXT.get(data[dtype_at : dtype_at + n])
        if dtype is None:
            raise AnswerError(_BAD)
        count = math.prod(shape)
        size = count * dtype.itemsize
        if pos + size > end:
            raise AnswerError(_BAD)
        self.pos = pos + size
        # (what np.frombuffer(...).reshape(shape).copy() gives, in one call less)
        return np.ndarray(shape, dtype, data, pos).copy()


def read_answer(data: bytes) -> dict:
    """A worker's binary answer under hard bounds (bytes, values, depth, array sizes checked
    before anything is allocated); raises :class:`AnswerError` (one sentence), nothing else.

    Returns ``{"status": "ok", "seconds", "value", "values"}`` or ``{"status": "error",
    "seconds", "exception": {...}, "values"}`` with the value already rebuilt (arrays, tuples,
    :class:`NpScalar`, :class:`Unsupported`).
    """
    reader = _Reader(data)
    try:
        kind = reader.take(1)
        seconds = reader.unpack(_F64)
        if not math.isfinite(seconds) or not 0 <= seconds < 1e6:
            seconds = 0.0
        if kind == b"O":
            out: dict = {"status": "ok", "seconds": seconds, "value": reader.value()}
        elif kind == b"E":
            flags = reader.unpack(_U8)
            exc = {
                "type": reader.text(),
                "value_error": bool(flags & 1),
                "not_implemented": bool(flags & 2),
                "message": reader.text(),
                "where": reader.text(),
            }
            out = {"status": "error", "seconds": seconds, "exception": exc}
        else:
            raise AnswerError("its answer could not be read")
    except (struct.error, MemoryError, ValueError) as exc:
        if isinstance(exc, AnswerError):
            raise
        raise AnswerError("its answer could not be read") from None
    if reader.pos != reader.end:
        raise AnswerError("its answer could not be read")
    out["values"] = reader.values
    return out
