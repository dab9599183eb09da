"""Readers the decoder tests feed input through."""

from __future__ import annotations


class Pieces:
    """A reader that hands out ``n`` bytes at a time, like a pipe (or a file read in chunks)."""

    def __init__(self, data: bytes, n: int) -> None:
        self.data, self.n, self.pos = data, n, 0

    def read(self, size: int = -1) -> bytes:
        piece = self.data[self.pos : self.pos + self.n]
        self.pos += len(piece)
        return piece
