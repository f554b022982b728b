"""The engine image: built from this checkout through the Docker SDK, tagged by content.

The build context is assembled here (the project's sources and `Dockerfile`),
and its sha256 (with the base image's id) is both the tag and a label of the image: an
unchanged checkout is never rebuilt, a changed one always is. An image name with a tag in
CLAIRE_DOCKER_ENGINE_IMAGE is used as it is (built elsewhere).
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.errors import DockerError
from engine.runtime.docker_api import DockerApi
from engine.runtime.docker_specs import LABEL_CONTENT
from engine.settings import Settings

DOCKERFILE = Path("Dockerfile")
_FILES = ("pyproject.toml", "README.md")
_TREES = ("engine", "src", "sql", "examples")
_SKIPPED_PARTS = {"__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
_CA_DIR = "build-ca"


@dataclass(frozen=True)
class EngineImage:
    """The image engine containers run."""

    ref: str
    image_id: str
    built: bool


def project_root() -> Path | None:
    """Return the checkout claire runs from, or None when installed without its sources."""
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / DOCKERFILE).is_file():
        return root
    return None


def context_files(root: Path) -> list[tuple[str, Path]]:
    """Every file of the build context as (name in the context, path), sorted."""
    files = [(name, root / name) for name in _FILES]
    for tree in _TREES:
        for path in sorted((root / tree).rglob("*")):
            relative = path.relative_to(root)
            skipped = _SKIPPED_PARTS & set(relative.parts) or path.suffix == ".pyc"
            if path.is_file() and not skipped:
                files.append((relative.as_posix(), path))
    files.append(("Dockerfile", root / DOCKERFILE))
    return sorted(files)


def content_hash(files: list[tuple[str, Path]], base_image_id: str) -> str:
    digest = hashlib.sha256(base_image_id.encode())
    for name, path in files:
        digest.update(name.encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def requirements(pyproject: Path) -> str:
    """The project's dependencies, one per line, as pip's requirements file."""
    listed = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    return "".join(f"{line}\n" for line in listed)


def build_context(files: list[tuple[str, Path]], ca_bundle: Path | None) -> bytes:
    """A tar of the files (reproducible: no owners, no times), the dependencies as a
    requirements file, and an optional CA bundle."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, path in files:
            _add(tar, name, path.read_bytes(), 0o644)
            if name == "pyproject.toml":
                _add(tar, "requirements.txt", requirements(path).encode(), 0o644)
        directory = tarfile.TarInfo(_CA_DIR)
        directory.type, directory.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(directory)
        if ca_bundle is not None:
            _add(tar, f"{_CA_DIR}/ca.crt", ca_bundle.read_bytes(), 0o644)
    return buffer.getvalue()


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    tar.addfile(info, io.BytesIO(data))


def ensure_image(api: DockerApi, ref: str, on_line: Callable[[str], None]) -> str:
    """Return the id of `ref`, pulling it when it is not here."""
    found = api.image(ref)
    if found is not None:
        return found[0]
    on_line(f"pulling {ref}")
    try:
        api.pull(ref, on_line)
    except DockerError as exc:
        raise DockerError(
            f"image {ref} is not here and could not be pulled: {exc.message}",
            hint="pull or build it, or name another image in the CLAIRE_DOCKER_*_IMAGE settings",
        ) from None
    pulled = api.image(ref)
    if pulled is None:
        raise DockerError(f"image {ref} is still missing after the pull")
    return pulled[0]


def engine_image(api: DockerApi, settings: Settings, on_line: Callable[[str], None]) -> EngineImage:
    """Return the engine image, building it first when the checkout changed."""
    wanted = settings.docker.engine_image
    if ":" in wanted.rsplit("/", 1)[-1]:
        return EngineImage(wanted, ensure_image(api, wanted, on_line), built=False)
    root = project_root()
    if root is None:
        raise DockerError(
            "claire builds its engine image from a checkout, and this installation has none",
            hint="set CLAIRE_DOCKER_ENGINE_IMAGE to a built image with its tag (NAME:TAG)",
        )
    base_id = ensure_image(api, settings.docker.python_image, on_line)
    files = context_files(root)
    digest = content_hash(files, base_id)
    ref = f"{wanted}:{digest[:12]}"
    found = api.image(ref)
    if found is not None and found[1].get(LABEL_CONTENT) == digest:
        return EngineImage(ref, found[0], built=False)
    image_id = api.build(
        build_context(files, settings.docker.build_ca_bundle),
        ref,
        buildargs={"BASE_IMAGE": settings.docker.python_image},
        labels={LABEL_CONTENT: digest},
        on_line=on_line,
    )
    return EngineImage(ref, image_id, built=True)
