"""rosbag2 folders (metadata.yaml + one MCAP file) written and read with the rosbags library.

No ROS install is needed: message definitions come from the .msg files of the installed packages
(found through the ament index) or from rosbags' own copy of the standard ROS 2 types, and are
embedded in the MCAP, so `ros2 bag info/play`, Foxglove and the mcap tools read a bag without this
project's packages.

BagWriter makes the bag complete on disk at every seal(): the chunks written since the last seal,
a fresh MCAP summary and footer go out in one write over the previous summary, and metadata.yaml
is replaced atomically. A recorder killed at any moment leaves a bag that opens, holding every
message up to its last seal.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from rosbags.interfaces import Connection, Nodetype, Qos
from rosbags.rosbag2 import Reader, ReaderError, StoragePlugin, Writer, WriterError
from rosbags.typesys import Stores, TypesysError, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore


class BagError(Exception):
    """A bag that cannot be written, opened or read; the message says which and why."""


# ---- message types ---------------------------------------------------------------------------
def _msg_file(msgtype: str) -> Path:
    from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
    package, kind, name = msgtype.split("/")
    try:
        return Path(get_package_share_directory(package)) / kind / f"{name}.msg"
    except PackageNotFoundError:
        raise BagError(f"message type {msgtype}: package {package} is not installed") from None


def _referenced_types(desc) -> list[str]:
    kind, args = desc
    if kind == Nodetype.NAME:
        return [args]
    if kind in (Nodetype.ARRAY, Nodetype.SEQUENCE) and args[0][0] == Nodetype.NAME:
        return [args[0][1]]
    return []


def add_message_types(typestore: Typestore, msgtypes: Iterable[str]) -> None:
    """Register `msgtypes` (and the types they use) that `typestore` lacks, from installed .msg files."""
    found: dict = {}
    pending = list(msgtypes)
    while pending:
        name = pending.pop()
        if name in typestore.fielddefs or name in found:
            continue
        path = _msg_file(name)
        if not path.is_file():
            raise BagError(f"message type {name}: no definition at {path}")
        try:
            found.update(get_types_from_msg(path.read_text(), name))
        except TypesysError as exc:
            raise BagError(f"message type {name}: cannot parse {path}: {exc}") from None
        for _, desc in found[name][1]:
            pending += _referenced_types(desc)
    if found:
        typestore.register(found)


def standard_typestore() -> Typestore:
    """rosbags' copy of the ROS 2 Kilted message types; add_message_types() adds the others."""
    return get_typestore(Stores.ROS2_KILTED)


# ---- writing ---------------------------------------------------------------------------------
class _SealedFile:
    """The MCAP writer's output: held in memory between seals, then written in one go.

    rosbags' MCAP writer writes chunks as they fill and the summary and footer on close(); here
    close() is a seal: the pending bytes go to disk with a single pwrite at the position they
    belong, so the file on disk always ends with a complete summary and footer.
    """

    def __init__(self, raw):
        raw.flush()
        self._raw = raw
        self._fd = raw.fileno()
        self._base = raw.tell()
        self._pending = bytearray()

    def write(self, data) -> int:
        self._pending += data
        return len(data)

    def tell(self) -> int:
        return self._base + len(self._pending)

    def close(self) -> None:
        os.pwrite(self._fd, self._pending, self._base)
        self._base += len(self._pending)
        self._pending.clear()

    def rewind(self, offset: int) -> None:
        """Continue writing at `offset` (over the summary just sealed) once the next seal comes."""
        self._base = offset

    def release(self) -> None:
        self._raw.close()


class BagWriter:
    """A rosbag2 folder with one MCAP file, readable after every seal()."""

    def __init__(self, path: Path | str, typestore: Typestore | None = None):
        self.path = Path(path)
        self._typestore = typestore or standard_typestore()
        try:
            self._writer = Writer(self.path, version=Writer.VERSION_LATEST, storage_plugin=StoragePlugin.MCAP)
            self._writer.open()
        except (WriterError, OSError) as exc:
            raise BagError(f"cannot create bag {self.path}: {exc}") from None
        self._storage = self._writer.storage
        self._file = _SealedFile(self._storage.bio)
        self._storage.bio = self._file
        self._connections: dict[str, Connection] = {}
        self._unsealed = True
        self.counts: dict[str, int] = {}
        self.seal()

    def add_topic(self, topic: str, msgtype: str, offered_qos: list[Qos]) -> None:
        """Declare a topic with its type and the QoS its publishers offered (replayed the same way)."""
        add_message_types(self._typestore, [msgtype])
        self._connections[topic] = self._writer.add_connection(
            topic, msgtype, typestore=self._typestore, offered_qos_profiles=offered_qos)
        self.counts[topic] = 0
        self._unsealed = True

    def write(self, topic: str, timestamp_ns: int, data: bytes) -> None:
        """One serialized (CDR) message of a declared topic, stamped with its receive time."""
        self._writer.write(self._connections[topic], timestamp_ns, data)
        self.counts[topic] += 1
        self._unsealed = True

    def seal(self) -> None:
        """Put everything written so far on disk as a complete bag (MCAP summary + metadata.yaml)."""
        if not self._unsealed:
            return
        if self._storage.chunk.bio.tell():
            self._storage.close_chunk()
        end_of_data = self._file.tell()
        self._writer.close()            # summary, footer (written by _SealedFile.close) and metadata.yaml
        self._writer.storage = self._storage
        self._file.rewind(end_of_data)
        self._unsealed = False

    def close(self) -> None:
        self.seal()
        self._writer.storage = None
        self._file.release()


# ---- reading ---------------------------------------------------------------------------------
def open_bag(path: Path | str) -> Reader:
    """An open rosbags Reader for a rosbag2 folder, .mcap or .db3 file; BagError with the reason."""
    path = Path(path)
    if not str(path) or not path.exists():
        raise BagError(f"bag {path} does not exist")
    try:
        reader = Reader(path)
        reader.open()
    except FileNotFoundError as exc:
        raise BagError(f"bag {path} is not a rosbag2 bag: {exc}") from None
    except (ReaderError, OSError, KeyError, ValueError, AssertionError) as exc:
        raise BagError(f"bag {path} cannot be read (truncated or damaged?): {exc or type(exc).__name__}") from None
    return reader


def read_messages(reader: Reader, connections: list[Connection], start_ns: int | None = None
                  ) -> Iterator[tuple[Connection, int, bytes]]:
    """Messages of `connections` in time order (per file), BagError where the file is damaged."""
    try:
        yield from reader.messages(connections, start=start_ns)
    except (ReaderError, OSError, KeyError, ValueError, AssertionError) as exc:
        raise BagError(f"bag {reader.path} is damaged: {exc or type(exc).__name__}") from None
