# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""A binary 3DGS PLY on disk as a RowSource: read a chunk, copy it on, reuse the buffer.

Reading a whole file first costs its size in fresh memory, and touching fresh
memory (a page fault per 4 KiB) is slower than the copy itself. Here one buffer
of a few megabytes takes the file chunk by chunk, and each chunk is handed out
as strided views of its records. The header rules are ``ply_header``'s, as for ``ply.py``.
"""

from __future__ import annotations

import itertools
import os
import threading

import numpy as np

from . import ply_header
from .cloud import SH_REST_COUNT, SplatFormatError
from .compressed_ply import is_compressed_ply
from .rows import RowBlock
from .upright import ply_upright

CHUNK_BYTES = 4 << 20
"""Bytes per read: of 256 KiB, 1 MiB and 4 MiB, 4 MiB measured fastest (fewer blocks)."""


def open_ply_rows(path: str | os.PathLike) -> PlyRows | None:
    """A RowSource over a binary splat PLY; None for files it does not stream.

    ASCII PLYs, plain point clouds (whose default size needs every point) and
    compressed PLYs (``compressed_ply``) are read whole by ``ply.read_ply`` instead.
    Header problems raise SplatFormatError here, before anything is allocated.
    """
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(min(size, ply_header.MAX_HEADER))
    header = ply_header.parse_header(memoryview(head))
    if is_compressed_ply(header):
        return None
    vertex, skip = ply_header.vertex_element(header)
    if header.fmt == "ascii" or not ply_header.check_vertex_props(vertex, header):
        return None
    return PlyRows(path, vertex, ply_header.binary_layout(size, header, vertex, skip))


class PlyRows:
    """Rows of a binary splat PLY read chunk by chunk; see ``rows.RowSource``."""

    def __init__(
        self,
        path: str | os.PathLike,
        vertex: ply_header.Element,
        layout: tuple[int, int, int, list[int], list[np.dtype]],
    ) -> None:
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115  (closed by close())
        self._reading = threading.Lock()  # one file position, several threads' blocks
        self._start, count, self._stride, self._offsets, self._dtypes = layout
        self._local = threading.local()  # each thread's buffer: its views outlive others' reads
        index = {name: i for i, (name, _) in enumerate(vertex.props)}
        rest_names, every_rest, k, warning = ply_header.sh_rest_layout(vertex)
        self._index = index
        # (K, 3) property indices: coefficient k of channel c.
        self._rest = [[index[rest_names[c * k + i]] for c in range(3)] for i in range(k)]
        self.count = count
        self.sh_degree = next(d for d, n in SH_REST_COUNT.items() if n == k)
        self.has_normals = all(name in index for name in ply_header.NORMALS)
        known = set(ply_header.REQUIRED) | set(every_rest)
        known |= set(ply_header.NORMALS) if self.has_normals else set()
        self.extra_names = tuple(name for name, _ in vertex.props if name not in known)
        self.warnings = [warning] if warning else []
        self.block_rows = max(1, CHUNK_BYTES // self._stride)
        upright = ply_upright(self.sh_degree)
        self.file_up, self.file_frame = upright.file_up, upright.file_frame

    def block(self, start: int, stop: int) -> RowBlock:
        """Rows start:stop as views of this thread's buffer (valid until its next call)."""
        rows = stop - start
        want = rows * self._stride
        buf = getattr(self._local, "buf", b"")
        if len(buf) < want:  # the old buffer lives on while views of it do
            buf = self._local.buf = bytearray(max(want, self.block_rows * self._stride))
        view = memoryview(buf)[:want]
        if self._read_at(view, self._start + start * self._stride) != want:
            raise SplatFormatError(
                "The PLY file got shorter while it was being read; wait until whatever "
                "writes it has finished, then import it again."
            )
        group = _Grouper(view, rows, self._stride, self._offsets, self._dtypes)
        i = self._index
        rest = self._rest
        return RowBlock(
            positions=group([i["x"], i["y"], i["z"]]),
            log_scales=group([i["scale_0"], i["scale_1"], i["scale_2"]]),
            rotations=group([i["rot_0"], i["rot_1"], i["rot_2"], i["rot_3"]]),
            opacity_logit=group([i["opacity"]])[:, 0],
            sh_dc=group([i["f_dc_0"], i["f_dc_1"], i["f_dc_2"]]),
            sh_rest=group.table(rest) if rest else np.zeros((rows, 0, 3), np.float32),
            normals=group([i[name] for name in ply_header.NORMALS]) if self.has_normals else None,
            extra={name: group([i[name]])[:, 0] for name in self.extra_names},
        )

    def _read_at(self, view: memoryview, offset: int) -> int:
        """Fill ``view`` from ``offset``; the bytes read (fewer only at the end of the file)."""
        with self._reading:
            self._file.seek(offset)
            done = 0
            while done < len(view):
                got = self._file.readinto(view[done:])
                if not got:
                    break
                done += got
        return done

    def close(self) -> None:
        self._file.close()


class _Grouper:
    """Views of properties in a chunk of records: one strided view per evenly spaced group.

    Properties written side by side with one type (x y z; rot_0..3; each channel's
    f_rest run) become a single (rows, width) view, which consumers copy as whole
    records; anything else is gathered into a small float32 copy.
    """

    def __init__(
        self, buf: memoryview, rows: int, stride: int, offsets: list[int], dtypes: list[np.dtype]
    ) -> None:
        self.buf, self.rows, self.stride = buf, rows, stride
        self.offsets, self.dtypes = offsets, dtypes

    def _spacing(self, indices: list[int]) -> int | None:
        """The byte step between the properties if it is one and their type is one."""
        dt = self.dtypes[indices[0]]
        if any(self.dtypes[j] != dt for j in indices):
            return None
        steps = {self.offsets[b] - self.offsets[a] for a, b in itertools.pairwise(indices)}
        if len(steps) > 1:
            return None
        step = steps.pop() if steps else dt.itemsize
        return step if step > 0 else None

    def _view(self, first: int, shape: tuple[int, ...], strides: tuple[int, ...]) -> np.ndarray:
        return np.ndarray(
            shape,
            dtype=self.dtypes[first],
            buffer=self.buf,
            offset=self.offsets[first],
            strides=strides,
        )

    def __call__(self, indices: list[int]) -> np.ndarray:
        """(rows, len(indices)) values of these properties."""
        step = self._spacing(indices)
        if step is not None:
            return self._view(indices[0], (self.rows, len(indices)), (self.stride, step))
        out = np.empty((self.rows, len(indices)), np.float32)
        with np.errstate(over="ignore"):  # doubles beyond float32 become ±inf, as in ply.py
            for j, index in enumerate(indices):
                out[:, j] = self._view(index, (self.rows,), (self.stride,))
        return out

    def table(self, indices: list[list[int]]) -> np.ndarray:
        """(rows, K, 3) values for a (K, 3) table of property indices."""
        k = len(indices)
        down = self._spacing([row[0] for row in indices])  # coefficient to coefficient
        across = self._spacing(indices[0])  # channel to channel
        regular = (
            down is not None
            and across is not None
            and all(self._spacing(row) == across for row in indices)
            and all(
                self.offsets[row[0]] - self.offsets[indices[0][0]] == r * down
                for r, row in enumerate(indices)
            )
        )
        if regular:
            strides = (self.stride, down, across)  # type: ignore[assignment]
            return self._view(indices[0][0], (self.rows, k, 3), strides)  # type: ignore[arg-type]
        out = np.empty((self.rows, k, 3), np.float32)
        for r, row in enumerate(indices):
            out[:, r] = self(row)
        return out
