"""The uncompressed bytes of a file, read and decompressed ahead in a thread.

Decompressing a zstd or gzip sim_telarray file takes about a third of the
time needed to read its events. zstandard and zlib release Python's global
interpreter lock while they work, so a thread that reads and decompresses
the next megabytes while the caller decodes the current ones uses a second
core at no cost to the first. The caller reads the stream sequentially; at
most ``ahead`` chunks of ``chunk_bytes`` wait decompressed, which bounds the
memory the thread can take whatever the file holds.
"""

from __future__ import annotations

import gzip
import queue
import threading
import weakref

import zstandard

__all__ = ["ReadAheadStream", "CHUNK_BYTES", "AHEAD_CHUNKS"]

#: uncompressed bytes the thread hands over at a time
CHUNK_BYTES = 8 * 2**20
#: decompressed chunks waiting for the caller at most
AHEAD_CHUNKS = 3

_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_GZIP_MAGIC = b"\x1f\x8b"
#: what the thread puts last: the end of the stream
_END = object()
#: seconds between two checks of the stop request while the caller is not reading
_POLL = 0.1


def _decompressed(raw):
    """A file object with the uncompressed bytes of the open binary file ``raw`` (by its magic bytes)."""
    magic = raw.read(4)
    raw.seek(0)
    if magic == _ZSTD_MAGIC:
        return zstandard.ZstdDecompressor().stream_reader(raw, read_size=2**20, read_across_frames=True)
    if magic[:2] == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb")
    return raw


def _produce(raw, chunk_bytes, chunks, stop):
    """Thread: decompress ``raw`` into ``chunks`` until the end, an error or ``stop``."""
    try:
        source = _decompressed(raw)
        while not stop.is_set():
            chunk = source.read(chunk_bytes)
            if not chunk:
                break
            _hand_over(chunks, stop, chunk)
    except Exception as err:  # noqa: BLE001 - handed to the caller, raised where the bytes stop
        _hand_over(chunks, stop, err)
    _hand_over(chunks, stop, _END)


def _hand_over(chunks, stop, item):
    """Queue ``item``, waiting for room unless the reader has been closed."""
    while not stop.is_set():
        try:
            chunks.put(item, timeout=_POLL)
            return
        except queue.Full:
            continue


class ReadAheadStream:
    """Sequential reader of a plain, gzip or zstd file's uncompressed bytes, decompressed in a thread.

    Parameters
    ----------
    path : str or Path
        The file; the compression is recognised by its first bytes.
    chunk_bytes : int
        Uncompressed bytes per chunk the thread hands over.
    ahead : int
        Chunks the thread decompresses ahead of the caller at most.

    Notes
    -----
    A read or decompression error is raised by the :meth:`read` or
    :meth:`skip` that reaches the position where it occurred, so the bytes
    before it are all delivered first. :meth:`close` stops the thread.
    """

    def __init__(self, path, *, chunk_bytes=CHUNK_BYTES, ahead=AHEAD_CHUNKS):
        self.path = path
        self._chunk_bytes = int(chunk_bytes)
        self._chunks = queue.Queue(maxsize=max(1, int(ahead)))
        self._stop = threading.Event()
        self._current = memoryview(b"")
        self._offset = 0
        self._position = 0
        self._ended = False
        self._raw = open(path, "rb")
        self._thread = threading.Thread(target=_produce, args=(self._raw, self._chunk_bytes, self._chunks, self._stop),
                                        name=f"iactx read-ahead {path}", daemon=True)
        self._thread.start()
        # a stream dropped without close() must not leave its thread waiting for room
        weakref.finalize(self, self._stop.set)

    def _next_chunk(self):
        """Make the next chunk current; False at the end of the stream."""
        if self._ended:
            return False
        item = self._chunks.get()
        if item is _END:
            self._ended = True
            return False
        if isinstance(item, Exception):
            self._ended = True
            raise item
        self._current, self._offset = memoryview(item), 0
        return True

    def _take(self, size, keep):
        """Consume up to ``size`` bytes; the pieces if ``keep``, else their count."""
        pieces, taken = [], 0
        while taken < size:
            if self._offset >= len(self._current) and not self._next_chunk():
                break
            piece = self._current[self._offset:self._offset + size - taken]
            self._offset += len(piece)
            taken += len(piece)
            if keep:
                pieces.append(piece)
        self._position += taken
        return pieces if keep else taken

    def read(self, size):
        """The next ``size`` bytes (fewer at the end of the stream)."""
        pieces = self._take(int(size), keep=True)
        return pieces[0].tobytes() if len(pieces) == 1 else b"".join(pieces)

    def skip(self, size):
        """Pass over the next ``size`` bytes; return how many there were."""
        return self._take(int(size), keep=False)

    def tell(self):
        """Uncompressed bytes consumed so far."""
        return self._position

    def close(self):
        """Stop the thread and close the file."""
        self._stop.set()
        self._thread.join()
        self._raw.close()
        self._current = memoryview(b"")
