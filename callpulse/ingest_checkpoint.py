"""The ingest checkpoint: which file, up to which byte, and the parser state there; replaced atomically.

It is written only after Kafka acknowledged every event of the lines before that byte, so a restart
resumes exactly after the last line whose events are stored: nothing skipped, nothing sent twice (a kill
between the acknowledgement and the write repeats at most that batch, and the events' deterministic ids
make the worker drop the repeats).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from callpulse.ingest_tail import FilePosition

KIND = "callpulse.ingest.asterisk-queue-log"


class CheckpointError(ValueError):
    """The checkpoint file cannot be used; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    path: str  # the followed path (rotated files keep the name)
    source: str
    tenant: str
    channel: str
    position: FilePosition
    parser: dict[str, Any]  # QueueLogState.to_json()

    def check_matches(self, *, path: Path, source: str, tenant: str, channel: str) -> None:
        """Refuse a checkpoint written for another file or other event ids and labels."""
        wanted = {"path": str(path.absolute()), "source id": source, "tenant": tenant, "channel": channel}
        stored = {"path": self.path, "source id": self.source, "tenant": self.tenant, "channel": self.channel}
        for name, value in wanted.items():
            if stored[name] != value:
                raise CheckpointError(
                    f"the checkpoint was written for {name} {stored[name]!r}, not {value!r}: use another "
                    "--checkpoint file, or delete this one to start over"
                )


def load_checkpoint(path: Path) -> Checkpoint | None:
    """The checkpoint stored at ``path``; None when there is none yet."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from None
    try:
        data = orjson.loads(raw)
        if data.get("kind") != KIND or data.get("version") != 1:
            raise ValueError(f"kind {data.get('kind')!r} version {data.get('version')!r}")
        position = data["position"]
        return Checkpoint(
            path=str(data["path"]),
            source=str(data["source"]),
            tenant=str(data["tenant"]),
            channel=str(data["channel"]),
            position=FilePosition(
                int(position["device"]), int(position["inode"]), position["file_key"], int(position["offset"])
            ),
            parser=dict(data["parser"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(
            f"{path} is not a callpulse queue_log checkpoint ({exc}); move it away to start over"
        ) from None


def save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Write to a temporary file in the same directory, fsync, rename over ``path``, fsync the directory."""
    position = checkpoint.position
    document = {
        "kind": KIND,
        "version": 1,
        "path": checkpoint.path,
        "source": checkpoint.source,
        "tenant": checkpoint.tenant,
        "channel": checkpoint.channel,
        "position": {
            "device": position.device,
            "inode": position.inode,
            "file_key": position.file_key,
            "offset": position.offset,
        },
        "parser": checkpoint.parser,
    }
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("wb") as handle:
        handle.write(orjson.dumps(document, option=orjson.OPT_INDENT_2))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    with contextlib.suppress(OSError):  # not every file system lets a directory be opened
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
