"""Read a source file as text: one read, size and binary guards, UTF-8 or a PEP 263 coding line."""

from __future__ import annotations

import codecs
import os
import re
import stat
from pathlib import Path
from typing import NamedTuple

_SNIFF = 8192
# PEP 263: a comment on line 1 or 2 naming the source encoding.
_CODING_RE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")
_BLANK_RE = re.compile(rb"^[ \t\f]*(?:[#\r\n]|$)")
_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


class ReadError(Exception):
    """A file that cannot be read as text, or text a reader cannot understand."""

    def __init__(self, reason: str, line: int | None = None, column: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.line = line
        self.column = column

    def __str__(self) -> str:
        if self.line is None:
            return self.reason
        return f"{self.reason} (line {self.line}, column {self.column or 1})"


def read_text(path: Path, *, max_bytes: int = 8_000_000, python: bool = False) -> str:
    return read_source(path, max_bytes=max_bytes, python=python).text


class Source(NamedTuple):
    """A text file as read, with what it takes to write its text back byte for byte."""

    text: str
    encoding: str  # a codec name: utf-8, a PEP 263 coding line's, utf-16-le/-be
    bom: bytes  # the byte order mark the file starts with, or b""
    data: bytes  # the bytes read


def read_source(path: Path, *, max_bytes: int = 8_000_000, python: bool = False) -> Source:
    data = _read_bytes(Path(path), max_bytes)
    for bom, encoding in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            return Source(_decode(data[len(bom):], encoding), encoding, bom, data)
    if b"\0" in data[:_SNIFF]:
        raise ReadError("binary file, not text")
    bom = codecs.BOM_UTF8 if data.startswith(codecs.BOM_UTF8) else b""
    body = data[len(bom):]
    encoding = (_coding_line(body, bool(bom)) if python else None) or "utf-8"
    return Source(_decode(body, encoding), encoding, bom, data)


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    try:
        st = os.stat(path)
        _check_regular(st)
        _check_size(st.st_size, max_bytes)
        # O_NONBLOCK: if the path was swapped for a FIFO after the stat, open must not hang.
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        fd = os.open(path, flags)
        try:
            _check_regular(os.fstat(fd))
            chunks, total = [], 0
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
                total += len(chunk)
                _check_size(total, max_bytes)
        finally:
            os.close(fd)
    except OSError as exc:
        raise ReadError(f"cannot read file: {(exc.strerror or type(exc).__name__).lower()}") from None
    return b"".join(chunks)


def _check_regular(st: os.stat_result) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise ReadError(f"not a regular file ({_KINDS.get(stat.S_IFMT(st.st_mode), 'special file')})")


def _check_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise ReadError(f"file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:g} MB cap; skipped")


def _coding_line(data: bytes, bom: bool) -> str | None:
    """The encoding a PEP 263 line declares, checked and normalised; None if there is none."""
    lines = data.split(b"\n", 2)[:2]
    for number, line in enumerate(lines, 1):
        match = _CODING_RE.match(line)
        if match:
            name = match.group(1).decode("ascii", "replace")
            try:
                codec = codecs.lookup(name).name
            except LookupError:
                raise ReadError(f"unknown encoding in coding line: {name}", number, 1) from None
            if bom and codec != "utf-8":
                raise ReadError(f"UTF-8 byte order mark but coding line says {name}", number, 1)
            return codec
        if not _BLANK_RE.match(line):
            return None
    return None


def _decode(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line, column = _position(data, exc.start, encoding)
        bad = data[exc.start:exc.start + 1].hex()
        raise ReadError(f"not valid {encoding} text (byte 0x{bad})", line, column) from None


def _position(data: bytes, offset: int, encoding: str) -> tuple[int | None, int | None]:
    if encoding.startswith("utf-16"):  # newlines are not single bytes there
        return None, None
    start = data.rfind(b"\n", 0, offset) + 1
    prefix = data[start:offset].decode(encoding, "replace")
    return data.count(b"\n", 0, offset) + 1, len(prefix) + 1
