"""The web app's reconstructions: several photos or one video -> a 3D model, as `dioramic reconstruct`.

    POST /api/reconstructions   multipart: 'files' repeated (the photos, or one video), option fields
                                -> {"id"}; the job is then followed, downloaded from (scene.glb,
                                video.mp4, report.json) and removed as any job: /api/jobs/{id}...

Every file is checked before the job starts; a refusal is one line: 413 past the total size or the
number of files, 415 for a file that is neither a photo nor a video, 422 for a bad option, no files,
or a video sent with other files, 429 when too many jobs wait, 501 when the server lacks the
`reconstruct` extra. The uploads keep their own names (made safe), so that the job's errors name them
as the command line would.
"""

from __future__ import annotations

import importlib.util
import logging
import re
from pathlib import Path, PurePosixPath
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from starlette.datastructures import UploadFile

from dioramic.errors import DioramicError, MissingDependencyError
from dioramic.web.http import (
    MB,
    NOT_A_PHOTO,
    PHOTO_FORMATS,
    BodyTooLargeError,
    JobCreated,
    Refusal,
    refuse,
    sniff_photo,
)
from dioramic.web.jobs import JobManager, QueueFullError
from dioramic.web.options import openapi_properties, parse_reconstruct_form, reconstruct_form_schema
from dioramic.web.reconstruct_job import ReconstructSpec

log = logging.getLogger(__name__)

RECONSTRUCTIONS_PATH = "/api/reconstructions"
FILES_FIELD = "files"
INPUTS_DIR = "inputs"
"""The job's sub-folder holding the uploads."""
VIDEO_CONTAINERS = {"mov,mp4,m4a,3gp,3g2,mj2": ".mp4", "matroska,webm": ".webm", "avi": ".avi"}
"""PyAV (FFmpeg) container formats accepted as videos, and the suffix a video without one gets."""
_SUFFIX_FAMILIES = (
    {".jpg", ".jpeg", ".jpe", ".mpo"},
    {".tif", ".tiff"},
    {".heic", ".heif"},
    {".mp4", ".mov", ".m4v", ".3gp"},
    {".webm", ".mkv"},
)
_UNSAFE = re.compile(r"[^\w.-]+")
_ACCEPTED = "photos (JPEG, PNG, WebP, TIFF, BMP, GIF or HEIC) or one video (MP4, MOV, WebM, MKV or AVI)"


def missing_extra() -> str | None:
    """Why this server cannot reconstruct (one line naming the extra to install), or None."""
    for module in ("pycolmap", "open3d"):
        if importlib.util.find_spec(module) is None:
            return str(MissingDependencyError(module, "reconstruct", "reconstructions"))
    return None


def safe_name(filename: str | None, suffix: str, taken: set[str]) -> str:
    """A file name for an upload: its own base name with anything but letters, digits, '.', '-' and
    '_' replaced, ending in `suffix` unless its own suffix is another spelling of it, made unique
    among `taken` (and added to it).

    >>> taken = set()
    >>> [safe_name(n, s, taken) for n, s in
    ...  [("../../IMG 1.JPEG", ".jpg"), ("C:\\\\cam\\\\b.png", ".png"), ("b.png", ".png"), (None, ".jpg")]]
    ['IMG_1.JPEG', 'b.png', 'b_2.png', 'image.jpg']
    """
    base = PurePosixPath((filename or "").replace("\\", "/")).name
    own = PurePosixPath(base).suffix
    same = own.lower() == suffix or any({own.lower(), suffix} <= family for family in _SUFFIX_FAMILIES)
    stem = PurePosixPath(base).stem if own else base
    stem = _UNSAFE.sub("_", stem).strip("._")[:80] or "image"
    ending = own if same else suffix
    name, k = f"{stem}{ending}", 1
    while name.lower() in taken:
        k += 1
        name = f"{stem}_{k}{ending}"
    taken.add(name.lower())
    return name


def _video_suffix(path: Path) -> str | None:
    """The suffix of a video PyAV can read with a video stream, by its container; None otherwise."""
    import av

    try:
        with av.open(str(path)) as container:
            family = container.format.name
            streams = container.streams.video
            if not streams or not streams[0].codec_context.width:
                return None
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError):
        return None
    return VIDEO_CONTAINERS.get(family)


def sniff_input(path: Path, name: str) -> tuple[bool, str]:
    """(whether it is a video, the suffix to save it under) of an uploaded file the client called
    `name`; HTTPException 415 (413) naming it when it is neither a photo nor a video."""
    try:
        return False, sniff_photo(path)
    except HTTPException as exc:
        if not str(exc.detail).startswith(NOT_A_PHOTO):
            raise refuse(exc.status_code, f"{name}: {exc.detail}") from None
    suffix = _video_suffix(path)
    if suffix is None:
        raise refuse(415, f"{name}: the file is neither a photo nor a video: expected {_ACCEPTED}")
    return True, suffix


async def save_inputs(uploads: list[UploadFile], folder: Path, max_bytes: int) -> list[Path]:
    """Save and check the uploads into `folder` under safe names; refuses (413, 415, 422) files that
    are empty, neither photos nor videos, a video with other files, or past `max_bytes` in all."""
    folder.mkdir()
    saved: list[Path] = []
    videos: list[str] = []
    taken: set[str] = set()
    total = 0
    for k, upload in enumerate(uploads):
        shown = PurePosixPath((upload.filename or f"file {k + 1}").replace("\\", "/")).name
        raw = folder / f".upload-{k}"
        written = 0
        await upload.seek(0)
        with open(raw, "wb") as out:
            while chunk := await upload.read(1 << 20):
                written += len(chunk)
                if total + written > max_bytes:
                    raise refuse(413, f"the files are larger than the limit of {max_bytes / MB:g} MB in all")
                out.write(chunk)
        total += written
        if written == 0:
            raise refuse(415, f"{shown}: the file is empty")
        video, suffix = sniff_input(raw, shown)
        target = raw.rename(folder / safe_name(upload.filename, suffix, taken))
        saved.append(target)
        if video:
            videos.append(shown)
    if videos and len(saved) > 1:
        raise refuse(422, f"{videos[0]}: give one video alone, not with other videos or photos")
    return saved


def reconstruct_schema(max_bytes: int, max_images: int) -> dict[str, Any]:
    """The reconstruction's form (`reconstruct_form_schema`) with this server's limits, and whether it
    can reconstruct at all (`unavailable`: why not)."""
    schema = reconstruct_form_schema()
    schema["limits"] = {
        "max_bytes": max_bytes,
        "max_files": max_images,
        "photo_formats": sorted(set(PHOTO_FORMATS)),
        "video_suffixes": sorted({*VIDEO_CONTAINERS.values(), ".mov", ".m4v", ".mkv"}),
    }
    schema["unavailable"] = missing_extra()
    return schema


def _openapi() -> dict[str, Any]:
    """The multipart body of POST /api/reconstructions, generated from the form's declarations."""
    files = {"type": "string", "format": "binary"}
    props: dict[str, Any] = {
        FILES_FIELD: {
            "type": "array",
            "items": files,
            "description": "3 or more overlapping photos, or one video walking around the object",
        }
    }
    props.update(openapi_properties(reconstruct_form_schema()))
    schema = {"type": "object", "properties": props, "required": [FILES_FIELD]}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}


def add_reconstruct_routes(app: FastAPI, jobs: JobManager, max_bytes: int, max_images: int) -> None:
    """Add POST /api/reconstructions to `app`: jobs of `jobs` taking at most `max_images` files (or
    frames of a video) and `max_bytes` in all."""

    @app.post(
        RECONSTRUCTIONS_PATH,
        status_code=202,
        response_model=JobCreated,
        summary="Start a reconstruction: several photos or one video, and option fields",
        responses={c: {"model": Refusal} for c in (403, 413, 415, 422, 429, 501)},
        openapi_extra=_openapi(),
    )
    async def create_reconstruction(request: Request) -> JobCreated:
        if (why := missing_extra()) is not None:
            raise refuse(501, f"this server cannot reconstruct: {why}")
        too_many = f"too many files: at most {max_images} photos (or one video) in one reconstruction"
        try:
            form = await request.form(max_files=max_images + 1, max_fields=64, max_part_size=64 * 1024)
        except BodyTooLargeError as exc:
            raise refuse(413, str(exc)) from None
        except HTTPException as exc:
            if "Too many files" in str(exc.detail):
                raise refuse(413, too_many) from None
            raise
        except Exception as exc:  # malformed multipart bodies
            raise refuse(422, f"cannot read the form: {exc}") from None
        try:
            return await _create(request, form, too_many)
        finally:
            await form.close()

    async def _create(request: Request, form: Any, too_many: str) -> JobCreated:
        send = f"send the photos, or one video, as repeated files '{FILES_FIELD}'"
        texts = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        uploads = [v for k, v in form.multi_items() if k == FILES_FIELD and not isinstance(v, str)]
        for key, value in form.multi_items():
            if (key == FILES_FIELD) == isinstance(value, str):
                raise refuse(422, f"unexpected field '{key}' ({send})")
        try:
            options = parse_reconstruct_form(texts)
        except DioramicError as exc:
            raise refuse(422, str(exc)) from None
        if options.max_frames is not None and options.max_frames > max_images:
            raise refuse(422, f"frames: at most {max_images} on this server, got {options.max_frames}")
        if not uploads:
            raise refuse(422, f"{FILES_FIELD}: missing ({send})")
        if len(uploads) > max_images:
            raise refuse(413, too_many)
        try:
            job = jobs.create("reconstruct")
        except QueueFullError as exc:
            raise refuse(429, str(exc)) from None
        try:
            inputs = await save_inputs(uploads, job.folder / INPUTS_DIR, max_bytes)
        except BaseException:
            jobs.discard(job.id)
            raise
        jobs.start(job, ReconstructSpec(tuple(inputs), job.outdir, options))
        log.info("job %s queued (reconstruction of %d file(s))", job.id[:6], len(inputs))
        return JobCreated(id=job.id, status_url=str(request.url_for("job_status", job_id=job.id).path))
