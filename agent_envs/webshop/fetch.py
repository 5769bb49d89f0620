"""Download the original WebShop data files from their published locations, with size and sha256 checks.

Only the size and a sha256 prefix of each file are published in our reference notes; both are checked, and the file
is moved into place only when they match. Offline or on a network error the fetch fails with a clear message and
leaves no partial file behind.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

DRIVE_URL = "https://drive.google.com/uc?export=download&confirm=t&id={id}"


@dataclass(frozen=True)
class RemoteFile:
    """A published data file: name, byte size, sha256 prefix and Drive id."""

    name: str
    size: int
    sha256_prefix: str
    drive_id: str


SMALL = (
    RemoteFile("items_shuffle_1000.json", 4_467_013, "30a4765c", "1EgHdxQ_YxqIQlvvq5iKlCrkEKR6-j0Ib"),
    RemoteFile("items_ins_v2_1000.json", 147_099, "f88a3631", "1IduG0xl544V_A_jv3tHXC0kyFi7PnyBu"),
    RemoteFile("items_human_ins.json", 5_137_548, "cf786675", "14Kb5SPBk_jfdLZ_CDBNitW98QLDlKR5O"),
)
FULL = (
    RemoteFile("items_shuffle.json", 5_479_720_229, "2ef591d6", "1A2whVgOO0euk5O13n2iYDM0bQRkkRduB"),
    RemoteFile("items_ins_v2.json", 186_295_270, "1d36af47", "1s2j6NgHljiZzQNL3veZaAiyW_qDEgBNi"),
)


class FetchError(RuntimeError):
    """A download failed or a file did not match its published size/hash."""


def verify(path: Path, remote: RemoteFile) -> None:
    """Raise `FetchError` unless `path` has the published size and sha256 prefix."""
    size = path.stat().st_size
    if size != remote.size:
        raise FetchError(f"{remote.name}: {size} bytes, expected {remote.size}")
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    if not digest.hexdigest().startswith(remote.sha256_prefix):
        raise FetchError(f"{remote.name}: sha256 {digest.hexdigest()[:16]}..., expected {remote.sha256_prefix}...")


def fetch_file(remote: RemoteFile, dest: Path, timeout: float = 30.0) -> Path:
    """Download one file into `dest` (skipped when a verified copy is there)."""
    import httpx

    target = dest / remote.name
    if target.exists():
        verify(target, remote)
        return target
    part = target.with_suffix(target.suffix + ".part")
    try:
        with httpx.stream("GET", DRIVE_URL.format(id=remote.drive_id), follow_redirects=True, timeout=timeout) as r:
            r.raise_for_status()
            with open(part, "wb") as f:
                for chunk in r.iter_bytes(1 << 20):
                    f.write(chunk)
        verify(part, remote)
    except (httpx.HTTPError, OSError) as e:
        part.unlink(missing_ok=True)
        raise FetchError(f"could not download {remote.name}: {type(e).__name__}: {e} (offline? the files can also be "
                         f"copied by hand into {dest})") from e
    except FetchError:
        part.unlink(missing_ok=True)
        raise
    part.rename(target)
    return target


def fetch_webshop(dest: str | Path, full: bool = False) -> list[Path]:
    """Fetch the 1k catalog files (and the full catalog with `full`) into `dest`."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    return [fetch_file(r, dest) for r in SMALL + (FULL if full else ())]
