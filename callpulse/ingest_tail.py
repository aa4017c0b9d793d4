"""Reading a log file line by line by byte offset, following it like ``tail -F`` across rotation and truncation.

- **Rotation** (the file renamed, a new one created at the path): the old file is read to its end first.
  Asterisk keeps writing to the renamed file until it reopens its log, so the switch to the new file waits
  until the new file has data (written after the reopen, so the old file is complete).
- **Truncation** (the file shrinks below the position, or its first line changes): read again from offset
  0. With logrotate's ``copytruncate`` the lines not read yet are read from the copy first (a sibling with
  the same first line), so only what Asterisk wrote between the copy and the truncation is lost.
- **Resume**: a :class:`FilePosition` names the file by device, inode and first-line key; if that file has
  been rotated (or copied and truncated) meanwhile it is found among the path's siblings (``queue_log.1``,
  ``queue_log-20261123``), finished, and the current file follows. Only one rotation while stopped is
  recovered: a file rotated twice meanwhile (``.2``) is finished, the ``.1`` between is not read.

Lines are handed out only when complete (newline-terminated); a last line without newline is handed out
when the file is known to be final (``--once`` at end of file, or a rotated file).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from processors.queue_log import MAX_LINE_BYTES, file_key

log = logging.getLogger(__name__)

CHUNK_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class FilePosition:
    device: int
    inode: int
    file_key: str | None  # the first line's key (None: no complete line yet)
    offset: int  # just after the last line handed out


@dataclass(frozen=True, slots=True)
class Line:
    file_key: str
    offset: int
    raw: bytes  # without its newline


class FileTail:
    def __init__(self, path: Path, *, follow: bool) -> None:
        self.path = path
        self.follow = follow
        self.rotations = 0
        self.truncations = 0
        self.exhausted = False  # not following, and the end of the file was reached
        self._fd: int | None = None
        self._ident = (0, 0)
        self._key: str | None = None
        self._first: bytes | None = None  # the first line, to notice a rewritten file
        self._offset = 0  # file offset of _buffer[_pos]
        self._buffer = bytearray()
        self._pos = 0
        self._waiting_logged = False

    @property
    def position(self) -> FilePosition | None:
        if self._fd is None:
            return None
        return FilePosition(self._ident[0], self._ident[1], self._key, self._offset)

    @property
    def size(self) -> int:
        return os.fstat(self._fd).st_size if self._fd is not None else 0

    def start(self, resume: FilePosition | None, *, from_end: bool = False) -> str:
        """Open the file to read; say where reading starts. Raises FileNotFoundError when not following."""
        if resume is not None:
            found = self._find(resume)
            if found is not None:
                self._open(found, 0)
                if self.size < resume.offset:
                    self.truncations += 1
                    return f"{found} is shorter than the checkpoint's offset {resume.offset}: reading it from 0"
                self._offset = resume.offset
                return f"resuming {found} at byte {resume.offset}"
            log.warning(
                "the checkpoint's file (inode %d, first line key %s) is not %s nor a rotated copy of it: lines "
                "written to it after byte %d, if any, are lost; reading %s from the start",
                resume.inode,
                resume.file_key,
                self.path,
                resume.offset,
                self.path,
            )
        if not self.path.exists():
            if not self.follow:
                raise FileNotFoundError(f"{self.path} does not exist")
            return f"waiting for {self.path} to appear"
        self._open(self.path, 0)
        if from_end:
            self._offset = self._last_line_end()
            return f"following {self.path} from its end (byte {self._offset})"
        return f"reading {self.path} from the start"

    def read(self, max_lines: int) -> list[Line]:
        lines: list[Line] = []
        while len(lines) < max_lines:
            line = self._next_line()
            if line is None:
                break
            lines.append(line)
        return lines

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    # --- internals ------------------------------------------------------------------------------------

    def _find(self, resume: FilePosition) -> Path | None:
        siblings = sorted(p for p in self.path.parent.glob(f"{self.path.name}*") if p != self.path)
        for candidate in [self.path, *siblings]:
            try:
                stat = candidate.stat()
            except OSError:
                continue
            if (stat.st_dev, stat.st_ino) == (resume.device, resume.inode) and (
                resume.file_key is None or _first_line_key(candidate) == resume.file_key
            ):
                return candidate
        return None if resume.file_key is None else self._copy_of(resume.file_key, resume.offset)

    def _copy_of(self, key: str, min_size: int) -> Path | None:
        """A sibling holding the same lines (logrotate's copytruncate copies the file before truncating it)."""
        for candidate in sorted(p for p in self.path.parent.glob(f"{self.path.name}*") if p != self.path):
            try:
                if candidate.stat().st_size >= min_size and _first_line_key(candidate) == key:
                    return candidate
            except OSError:
                continue
        return None

    def _open(self, path: Path, offset: int) -> None:
        self.close()
        fd = os.open(path, os.O_RDONLY)
        stat = os.fstat(fd)
        self._fd, self._ident = fd, (stat.st_dev, stat.st_ino)
        self._buffer, self._pos, self._offset = bytearray(), 0, offset
        first = _first_line(fd)
        self._first, self._key = first, None if first is None else file_key(first)
        self._waiting_logged = False

    def _last_line_end(self) -> int:
        assert self._fd is not None
        size = self.size
        tail = os.pread(self._fd, min(size, MAX_LINE_BYTES + 1), max(0, size - MAX_LINE_BYTES - 1))
        newline = tail.rfind(b"\n")
        return size - len(tail) + newline + 1 if newline >= 0 else 0

    def _next_line(self) -> Line | None:
        while True:
            if self._fd is None and not self._open_path():
                return None
            newline = self._buffer.find(b"\n", self._pos)
            if newline >= 0 and newline - self._pos <= MAX_LINE_BYTES:
                return self._take(newline - self._pos, 1)
            if len(self._buffer) - self._pos > MAX_LINE_BYTES:
                return self._take(MAX_LINE_BYTES + 1, 0)  # an overlong piece: the mapper rejects it
            if self._fill():
                continue
            if self.follow:
                if not self._successor_ready():
                    return None  # nothing new yet
                if self._fill():
                    continue  # written just before Asterisk reopened its log: the new file's data came after
            # the file is final: no more bytes will come
            if self._pos < len(self._buffer):
                return self._take(len(self._buffer) - self._pos, 0)
            if not self.follow:
                self.exhausted = True
                return None
            log.info("%s was rotated: finished the old file at byte %d, reading the new one", self.path, self._offset)
            self.rotations += 1
            self.close()

    def _take(self, length: int, newline: int) -> Line:
        raw = bytes(self._buffer[self._pos : self._pos + length])
        start = self._offset
        self._pos += length + newline
        self._offset += length + newline
        if start == 0:
            self._first, self._key = raw, file_key(raw)
        return Line(self._key or file_key(b""), start, raw)

    def _fill(self) -> bool:
        assert self._fd is not None
        if self.follow:
            self._check_truncated()
        data = os.pread(self._fd, CHUNK_BYTES, self._offset + len(self._buffer) - self._pos)
        if not data:
            return False
        del self._buffer[: self._pos]
        self._pos = 0
        self._buffer += data
        return True

    def _successor_ready(self) -> bool:
        """Whether the path names another file than the one read, with data in it."""
        try:
            stat = self.path.stat()
        except OSError:
            return False
        return (stat.st_dev, stat.st_ino) != self._ident and stat.st_size > 0

    def _check_truncated(self) -> None:
        """Before reading on: if the file shrank below what was read or got another first line (copytruncate,
        rewritten in place), read it again from 0 rather than from the middle of other lines."""
        read_to = self._offset + len(self._buffer) - self._pos
        if self.size >= read_to and not self._rewritten():
            return
        self.truncations += 1
        copy = None if self._key is None else self._copy_of(self._key, read_to)
        if copy is not None:  # copytruncate: the lines not read yet are in the copy; then the path again from 0
            log.warning("%s was truncated: reading the rest of its copy %s first", self.path, copy)
            offset = self._offset
            self._open(copy, 0)
            self._offset = offset
            return
        log.warning("%s was truncated or rewritten: reading it again from the start", self.path)
        self._buffer, self._pos, self._offset = bytearray(), 0, 0
        self._first, self._key = None, None

    def _rewritten(self) -> bool:
        assert self._fd is not None
        if self._first is None:
            return False
        head = os.pread(self._fd, len(self._first) + 1, 0)
        return len(head) == len(self._first) + 1 and head != self._first + b"\n"

    def _open_path(self) -> bool:
        try:
            self._open(self.path, 0)
        except FileNotFoundError:
            if not self._waiting_logged:
                log.info("waiting for %s to appear", self.path)
                self._waiting_logged = True
            return False
        return True


def _first_line(fd: int) -> bytes | None:
    head = os.pread(fd, MAX_LINE_BYTES + 1, 0)
    newline = head.find(b"\n")
    return head[:newline] if newline >= 0 else None


def _first_line_key(path: Path) -> str | None:
    fd = os.open(path, os.O_RDONLY)
    try:
        first = _first_line(fd)
    finally:
        os.close(fd)
    return None if first is None else file_key(first)
