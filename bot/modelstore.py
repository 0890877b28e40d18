"""Nashra's models folder: install, verify and describe Argos packages without argostranslate's
installer.

Only ``argostranslate.package`` (index and metadata) is used: Argos's translation module and
its own ``install_from_path`` (which imports that module) pull in stanza and torch, which Nashra
does not install, and install into the global Argos folder. Packages live in Nashra's own folder
instead.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

import httpx

from bot.errors import TranslateError
from bot.models import ModelInfo

_READ_CHUNK = 1 << 20
# Written into packages we install: their fingerprint, so listing models need not re-read them.
_SIDECAR = ".nashra-fingerprint"
_LOCK = ".lock"   # held by the process cleaning up or installing (see ModelStore)
_DOWNLOAD_TIMEOUT = httpx.Timeout(30.0, read=120.0)


# --- package inspection -----------------------------------------------------------------------


def _read_metadata(package_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((package_dir / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TranslateError(f"{package_dir}: unreadable metadata.json ({exc})") from exc
    if not isinstance(data, dict):
        raise TranslateError(f"{package_dir}: metadata.json is not an object")
    return data


def _check_pair(meta: Mapping[str, Any], source: str, target: str) -> None:
    got_from, got_to = meta.get("from_code"), meta.get("to_code")
    if (got_from, got_to) != (source, target):
        raise TranslateError(f"package translates {got_from}→{got_to}, expected {source}→{target}")


def _fingerprint(entries: Iterable[tuple[str, int, int]]) -> str:
    """Digest of (relative path, CRC-32, size) triples: equal for a zip and its unpacked folder."""
    digest = hashlib.sha256()
    for name, crc, size in sorted(entries):
        digest.update(f"{name}\0{crc:08x}\0{size}\n".encode())
    return digest.hexdigest()[:12]


def _file_crc(path: Path) -> int:
    crc = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_READ_CHUNK):
            crc = zlib.crc32(chunk, crc)
    return crc


def _folder_fingerprint(package_dir: Path) -> str:
    files = (p for p in package_dir.rglob("*") if p.is_file() and p.name != _SIDECAR)
    return _fingerprint((p.relative_to(package_dir).as_posix(), _file_crc(p), p.stat().st_size)
                        for p in files)


def _zip_top_folder(zf: zipfile.ZipFile) -> str:
    tops: set[str] = set()
    for name in zf.namelist():
        parts = PurePosixPath(name).parts
        if not parts or name.startswith("/") or ".." in parts or "\\" in name:
            raise TranslateError(f"unsafe path in package: {name!r}")
        tops.add(parts[0])
    if len(tops) != 1:
        raise TranslateError(f"package must contain exactly one top folder, found {len(tops)}")
    top = tops.pop()
    if f"{top}/metadata.json" not in zf.namelist():
        raise TranslateError("package has no metadata.json in its top folder")
    return top


def _zip_fingerprint(zf: zipfile.ZipFile, top: str) -> str:
    prefix = top + "/"
    return _fingerprint((i.filename[len(prefix):], i.CRC, i.file_size)
                        for i in zf.infolist()
                        if not i.is_dir() and i.filename != prefix + _SIDECAR)


def _open_package_zip(path: Path) -> tuple[zipfile.ZipFile, str, dict[str, Any]]:
    """Open and verify an .argosmodel archive; returns it with its top folder and metadata."""
    if not zipfile.is_zipfile(path):
        raise TranslateError(f"{path.name}: not a valid .argosmodel (not a zip archive)")
    zf = zipfile.ZipFile(path)
    try:
        bad = zf.testzip()
        if bad is not None:
            raise TranslateError(f"{path.name}: corrupt archive member {bad}")
        top = _zip_top_folder(zf)
        meta = json.loads(zf.read(f"{top}/metadata.json"))
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError) as exc:
        zf.close()
        raise TranslateError(f"{path.name}: corrupt archive ({exc})") from exc
    except TranslateError:
        zf.close()
        raise
    return zf, top, meta


def package_pair(path: Path) -> tuple[str, str]:
    """(from_code, to_code) of an unpacked package folder or an ``.argosmodel`` archive."""
    if path.is_dir():
        meta = _read_metadata(path)
    else:  # only the metadata is read: verifying every member would read the whole model
        try:
            with zipfile.ZipFile(path) as zf:
                meta = json.loads(zf.read(f"{_zip_top_folder(zf)}/metadata.json"))
        except (zipfile.BadZipFile, OSError, ValueError, KeyError) as exc:
            raise TranslateError(f"{path.name}: not a readable .argosmodel ({exc})") from exc
    if not isinstance(meta, dict):
        raise TranslateError(f"{path.name}: metadata.json is not an object")
    return str(meta.get("from_code")), str(meta.get("to_code"))


# --- the models folder ------------------------------------------------------------------------


class ModelStore:
    """Nashra's own models folder (e.g. ``data/models``): one unpacked Argos package per folder.

    Installs are atomic: a package is unpacked into a temporary folder inside ``root`` and only
    then renamed into place, so an interrupted install leaves the previous model working.
    Processes sharing the folder (workers and bot processes starting together) take turns:
    clean-up, installs and the check before an install hold a lock on ``root/.lock``, so
    one never removes another's unpacking folder or replaces a package it is renaming.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        with self._locked():
            self._recover()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with (self.root / _LOCK).open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)   # released when the file is closed
            yield

    def _recover(self) -> None:
        # A crash between the two renames of a replacement leaves ".old-<name>" without <name>.
        for entry in self.root.iterdir():
            if entry.name.startswith(".old-") and not (self.root / entry.name[5:]).exists():
                entry.rename(self.root / entry.name[5:])
            elif entry.name.startswith((".old-", ".tmp-")) and entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            elif entry.name.startswith(".tmp-"):
                entry.unlink(missing_ok=True)

    def installed(self) -> list[ModelInfo]:
        """Every usable package in the folder, sorted by pair then version."""
        models = []
        for entry in sorted(self.root.iterdir()):
            if entry.is_dir() and not entry.name.startswith(".") and (
                    entry / "metadata.json").is_file():
                try:
                    models.append(self.describe(entry))
                except TranslateError:
                    continue  # a broken folder must not hide the working ones
        return sorted(models, key=lambda m: (m.source, m.target, _version_key(m.version)))

    def find(self, source: str, target: str) -> ModelInfo | None:
        """The installed model for a pair (the newest version if several)."""
        matches = [m for m in self.installed() if (m.source, m.target) == (source, target)]
        return matches[-1] if matches else None

    def describe(self, package_dir: Path) -> ModelInfo:
        """A ModelInfo for a package folder; its id changes whenever the package's files do."""
        meta = _read_metadata(package_dir)
        if not (package_dir / "model" / "model.bin").is_file():
            raise TranslateError(f"{package_dir}: no model/model.bin")
        fingerprint = self._cached_fingerprint(package_dir) or _folder_fingerprint(package_dir)
        source, target = str(meta.get("from_code")), str(meta.get("to_code"))
        version = str(meta.get("package_version") or "0")
        size = sum(p.stat().st_size for p in package_dir.rglob("*") if p.is_file())
        return ModelInfo(id=f"{source}-{target}@{version}+{fingerprint}", source=source,
                         target=target, version=version, path=str(package_dir), size_bytes=size)

    def _cached_fingerprint(self, package_dir: Path) -> str | None:
        # Only trusted for folders we installed, and only while model.bin is untouched.
        sidecar = package_dir / _SIDECAR
        if package_dir.parent != self.root or not sidecar.is_file():
            return None
        try:
            saved = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        stat = (package_dir / "model" / "model.bin").stat()
        if saved.get("model_bin") != [stat.st_size, stat.st_mtime_ns]:
            return None
        value = saved.get("fingerprint")
        return value if isinstance(value, str) else None

    def install_from_path(self, path: Path, *, source: str, target: str) -> ModelInfo:
        """Install an ``.argosmodel`` archive or an unpacked package folder for a pair.

        Other versions of the same pair are removed once the new one is in place.
        """
        with self._locked():
            return self._install(path, source=source, target=target)

    def _install(self, path: Path, *, source: str, target: str) -> ModelInfo:
        staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.root))
        try:
            name, fingerprint = self._stage(path, staging, source, target)
            info = self._commit(staging / name, fingerprint)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        for other in self.installed():
            if (other.source, other.target) == (source, target) and other.path != info.path:
                shutil.rmtree(other.path, ignore_errors=True)
        return info

    def _stage(self, path: Path, staging: Path, source: str, target: str) -> tuple[str, str]:
        if path.is_dir():
            _check_pair(_read_metadata(path), source, target)
            shutil.copytree(path, staging / path.name, ignore=shutil.ignore_patterns(_SIDECAR))
            return path.name, _folder_fingerprint(staging / path.name)
        zf, top, meta = _open_package_zip(path)
        with zf:
            _check_pair(meta, source, target)
            try:
                zf.extractall(staging)
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
                raise TranslateError(f"{path.name}: extraction failed ({exc})") from exc
            return top, _zip_fingerprint(zf, top)

    def _commit(self, unpacked: Path, fingerprint: str) -> ModelInfo:
        if not (unpacked / "model" / "model.bin").is_file():
            raise TranslateError(f"{unpacked.name}: package has no model/model.bin")
        stat = (unpacked / "model" / "model.bin").stat()
        (unpacked / _SIDECAR).write_text(json.dumps(
            {"fingerprint": fingerprint, "model_bin": [stat.st_size, stat.st_mtime_ns]}))
        dest = self.root / unpacked.name
        backup = self.root / f".old-{unpacked.name}"
        if dest.exists():
            dest.rename(backup)
        unpacked.rename(dest)
        shutil.rmtree(backup, ignore_errors=True)
        return self.describe(dest)

    def install_from_index(self, source: str, target: str,
                           progress: Callable[[int, int | None], None] | None = None, *,
                           if_missing: bool = False) -> ModelInfo:
        """Download the pair's package listed in the Argos index and install it; with
        ``if_missing``, not when the pair is installed by the time this process's turn on
        the folder comes (another process starting at the same time installed it)."""
        package = _index_package(source, target)
        with self._locked():
            installed = self.find(source, target) if if_missing else None
            if installed is not None:
                return installed
            return self._download_and_install(package, source, target, progress)

    def _download_and_install(self, package: Any, source: str, target: str,
                              progress: Callable[[int, int | None], None] | None
                              ) -> ModelInfo:
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-download-", suffix=".argosmodel",
                                        dir=self.root)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            _download(list(package.links), tmp, progress)
            return self._install(tmp, source=source, target=target)
        finally:
            tmp.unlink(missing_ok=True)

    def resolve(self, configured: str, source: str, target: str) -> ModelInfo | None:
        """The model for the ``translation.model`` setting.

        ``""`` is the installed model for the pair (None if there is none); a path to an
        ``.argosmodel`` is installed unless the same package is installed already; a package
        folder is used in place.
        """
        if not configured:
            return self.find(source, target)
        path = Path(configured).expanduser()
        if path.is_dir():
            _check_pair(_read_metadata(path), source, target)
            return self.describe(path)
        if not path.is_file():
            raise TranslateError(f"translation model not found: {configured}")
        zf, top, meta = _open_package_zip(path)
        with zf:
            _check_pair(meta, source, target)
            fingerprint = _zip_fingerprint(zf, top)
        with self._locked():   # another process may be installing this very package
            current = self.find(source, target)
            if current is not None and current.id.endswith("+" + fingerprint):
                return current
            return self._install(path, source=source, target=target)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in version.split("."))


def _index_package(source: str, target: str) -> Any:
    """The newest translate package for the pair in the Argos package index."""
    import argostranslate.package as argos_package
    import argostranslate.settings as argos_settings

    argos_package.update_package_index()  # logs and keeps the old index when offline
    if not Path(argos_settings.local_package_index).is_file():
        # get_available_packages() would retry the download forever (it recurses).
        raise TranslateError(
            f"cannot reach the Argos package index at {argos_settings.remote_package_index}; "
            "install a model from a file with `nashra models install --from FILE`")
    try:
        available = argos_package.get_available_packages()
    except (OSError, ValueError) as exc:
        raise TranslateError(f"Argos package index unavailable ({exc})") from exc
    matches = [p for p in available if p.type == "translate"
               and (p.from_code, p.to_code) == (source, target) and p.links]
    if not matches:
        raise TranslateError(f"no {source}→{target} package in the Argos index")
    return max(matches, key=lambda p: _version_key(str(p.package_version)))


def _download(links: Sequence[str], dest: Path,
              progress: Callable[[int, int | None], None] | None) -> None:
    """Download the first link that works into ``dest``; the archive is verified after."""
    errors = []
    for url in links:
        try:
            _download_one(url, dest, progress)
            return
        except (httpx.HTTPError, TranslateError) as exc:
            errors.append(f"{url}: {exc}")
    raise TranslateError("download failed: " + ("; ".join(errors) or "no links"))


def _download_one(url: str, dest: Path,
                  progress: Callable[[int, int | None], None] | None) -> None:
    with httpx.stream("GET", url, follow_redirects=True, timeout=_DOWNLOAD_TIMEOUT) as response:
        response.raise_for_status()
        length = response.headers.get("content-length")
        total = int(length) if length and length.isdigit() else None
        done = 0
        with dest.open("wb") as fh:
            for chunk in response.iter_bytes(_READ_CHUNK):
                fh.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
        # Compare bytes on the wire (Content-Length counts those, not decoded bytes): a
        # connection cut short must not install half a model.
        if total is not None and response.num_bytes_downloaded != total:
            raise TranslateError(f"incomplete download: {response.num_bytes_downloaded} of "
                                 f"{total} bytes")
