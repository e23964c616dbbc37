"""The web app: a JSON API over `JobManager`, and the page (static files built from ../../web/).

    GET    /                          the page
    GET    /api/options               the forms, generated from dioramic.config.OPTIONS (and the
                                      reconstruction's declarations, under "reconstruct")
    POST   /api/jobs                  multipart: photo (or source), option fields, timeline -> {"id": ...}
    POST   /api/reconstructions       multipart: files (the photos, or one video), option fields -> {"id"}
                                      (see dioramic.web.reconstruct_api)
    GET    /api/jobs/{id}             kind, state, progress, stage, error, files
    GET    /api/jobs/{id}/files/{f}   depth.png, depth.npy, scene.glb, video.mp4|webm|gif, render.json;
                                      a reconstruction's scene.glb, video.mp4, report.json
    DELETE /api/jobs/{id}             stop the job and remove its files

Refusals carry ``{"detail": "<one line>"}``: 413 for an upload over the limit, 415 for a photo that
is not an image, 422 for a bad option or timeline, 404 for an unknown job or file, 429 when too many
jobs wait, 501 for a reconstruction on a server without the `reconstruct` extra, 403 for a request
from another web site (or through another host name, when the server is bound to the loopback
interface).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile

from dioramic import __version__
from dioramic.errors import DioramicError, UsageError
from dioramic.executors import Executor, ExecutorSettings, make_executor
from dioramic.web.http import (
    FORM_BYTES,
    MB,
    PHOTO_FORMATS,
    BodyTooLargeError,
    JobCreated,
    Refusal,
    limit_body,
    refuse,
    save_upload,
    sniff_photo,
)
from dioramic.web.jobs import DOWNLOADS, JobManager, QueueFullError, local_executor
from dioramic.web.options import form_schema, openapi_properties, parse_form
from dioramic.web.reconstruct_api import RECONSTRUCTIONS_PATH, add_reconstruct_routes, reconstruct_schema
from dioramic.web.worker import JobSpec

log = logging.getLogger(__name__)

TIMELINE_MAX_BYTES = 1 * MB
_SPECIAL_FIELDS = ("photo", "timeline", "source", "until")
_MEDIA_TYPES = {
    ".png": "image/png",
    ".npy": "application/octet-stream",
    ".glb": "model/gltf-binary",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".gif": "image/gif",
    ".json": "application/json",
}
# The splat renderer (Spark, web/src/splats.js) sorts in a worker it starts from a blob: URL and
# decodes with WebAssembly: 'wasm-unsafe-eval' allows compiling WebAssembly, not JavaScript's eval
_CSP = (
    "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self' blob: data:; "
    "style-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class WebSettings:
    """How the server runs."""

    workdir: Path | None = None
    """Folder for the jobs' files; None: a new temporary folder, removed when the server stops."""
    workers: int | None = None
    """Jobs run at once; None: one per two cores (at least 1, at most 4)."""
    ttl: float = 3600.0
    """Seconds after which a job and its files are removed."""
    max_upload_bytes: int = 50 * MB
    """Largest photo accepted (bytes); larger uploads get 413."""
    max_reconstruct_bytes: int = 500 * MB
    """Largest total of the photos (or the video) of one reconstruction (bytes); beyond, 413."""
    max_images: int = 100
    """Most photos in one reconstruction, and most frames it may take from a video; beyond, 413."""
    max_queued: int = 32
    """Jobs that may wait for a worker; beyond, 429."""
    allowed_hosts: tuple[str, ...] | None = None
    """Host names the server answers to (DNS-rebinding guard); None: any."""
    executor: str = "local"
    """What runs the jobs: 'local' (processes on this machine) or 'ray' (see `dioramic.executors`)."""
    cpus_per_job: int | None = None
    """CPU cores a job uses; None: local shares the cores among the workers, Ray reserves 1."""
    ray_address: str | None = None
    """The Ray cluster's address; None: start a Ray on this machine (with executor 'ray')."""


class JobStatusOut(BaseModel):
    id: str
    kind: str = Field(description="photo (POST /api/jobs) or reconstruct (POST /api/reconstructions)")
    state: str = Field(description="queued, running, done or failed")
    progress: float = Field(description="0..1")
    stage: str = Field(description="what the job is doing, in words")
    error: str | None = Field(description="why the job failed, in one line")
    files: list[str] = Field(description="files ready for download, in the order written")
    urls: dict[str, str] = Field(description="download URL of each file")
    warnings: list[str] = Field(description="what the job warned about, one line each")
    depth_backend: str | None = Field(description="the depth backend in use, once the depth is estimated")
    queue_position: int = Field(description="jobs ahead of this one (0 when running or finished)")
    expires_in: float = Field(description="seconds until the job and its files are removed")


def _host_name(header: str) -> str:
    """The host name of a Host header, without the port: 'localhost:8000' -> 'localhost', '[::1]:80' -> '::1'.

    >>> _host_name("LocalHost:8000"), _host_name("[::1]:8000"), _host_name("[::1]"), _host_name("a.b")
    ('localhost', '::1', '::1', 'a.b')
    """
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0]


def _static_dir() -> Path:
    return Path(str(resources.files("dioramic.web") / "static"))


def _check_timeline(path: Path, fmt: str) -> None:
    """Parse the timeline against a stand-in scene so that its mistakes get 422 before any work."""
    from dioramic.motion import parse_timeline
    from dioramic.types import Camera, Scene

    scene = Scene((), Camera.from_fov(64, 48, 40.0), near=1.0, far=8.0, focus=2.0)
    try:
        text = path.read_text("utf-8")
        parse_timeline(text, scene, source="timeline", fmt=fmt)  # type: ignore[arg-type]
    except UnicodeDecodeError:
        raise refuse(422, "timeline: the file is not UTF-8 text (YAML or JSON)") from None
    except DioramicError as exc:
        raise refuse(422, f"timeline: {exc}") from None


def _status_out(request: Request, status: Any) -> JobStatusOut:
    data = asdict(status)
    data["files"] = list(status.files)
    data["warnings"] = list(status.warnings)
    data["urls"] = {n: str(request.url_for("job_file", job_id=status.id, name=n).path) for n in status.files}
    return JobStatusOut(**data)


def _jobs_openapi() -> dict[str, Any]:
    """The multipart body of POST /api/jobs, generated from the form's declarations."""
    props: dict[str, Any] = {
        "photo": {"type": "string", "format": "binary", "description": "the photo (unless 'source')"},
        "source": {"type": "string", "description": "id of an earlier job whose photo (and depth) to reuse"},
        "until": {
            "type": "string",
            "enum": ["video", "scene"],
            "default": "video",
            "description": "'scene' stops after depth.png and scene.glb (a preview)",
        },
        "timeline": {"type": "string", "format": "binary", "description": "a motion timeline (.yaml/.json)"},
    }
    props.update(openapi_properties(form_schema()))
    body = {"content": {"multipart/form-data": {"schema": {"type": "object", "properties": props}}}}
    return {"requestBody": {"required": True, **body}}


def _executor(settings: WebSettings) -> Executor:
    """The executor that runs the jobs (UsageError for settings it cannot use)."""
    if settings.executor == "local" and settings.cpus_per_job is None:
        return local_executor(settings.workers)
    if settings.ray_address is not None and not (settings.workdir and Path(settings.workdir).is_absolute()):
        raise UsageError(
            "--workdir: a Ray cluster's workers need the jobs' folder as an absolute path on storage "
            "they all share"
        )
    config = ExecutorSettings(settings.workers, settings.cpus_per_job, settings.ray_address)
    return make_executor(settings.executor, config)


def create_app(settings: WebSettings | None = None) -> FastAPI:
    """The web app; its jobs run until the app's lifespan ends (or `app.state.jobs.close()`)."""
    settings = settings or WebSettings()
    executor = _executor(settings)
    own_dir = settings.workdir is None
    root = Path(tempfile.mkdtemp(prefix="dioramic-web-")) if own_dir else Path(settings.workdir)  # type: ignore[arg-type]
    jobs = JobManager(root, executor=executor, ttl=settings.ttl, max_queued=settings.max_queued)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        jobs.close()
        if own_dir:
            shutil.rmtree(root, ignore_errors=True)

    app = FastAPI(
        title="Dioramic",
        version=__version__,
        description="Turn one photo into a 3D scene and film it: depth map, textured mesh (GLB), video.",
        lifespan=lifespan,
    )
    app.state.jobs = jobs
    app.state.settings = settings

    def body_limit(path: str) -> tuple[int, str]:
        """The most bytes a request to `path` may send, and what a larger one is told."""
        if path == RECONSTRUCTIONS_PATH:
            limit = settings.max_reconstruct_bytes
            return limit + FORM_BYTES, f"the files are larger than the limit of {limit / MB:g} MB in all"
        limit = settings.max_upload_bytes
        message = f"the upload is larger than the limit of {limit / MB:g} MB"
        return limit + TIMELINE_MAX_BYTES + FORM_BYTES, message

    app.add_middleware(limit_body, limit=body_limit)  # type: ignore[arg-type]

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        host = _host_name(request.headers.get("host") or "")
        if settings.allowed_hosts is not None and host not in settings.allowed_hosts:
            return JSONResponse({"detail": f"unknown host '{host}'"}, status_code=403)
        origin = request.headers.get("origin")
        if request.method not in ("GET", "HEAD", "OPTIONS") and origin is not None:
            own = f"{request.url.scheme}://{request.headers.get('host', '')}"
            if origin != own:
                return JSONResponse({"detail": "requests from other web sites are refused"}, status_code=403)
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", _CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    @app.exception_handler(BodyTooLargeError)
    async def too_large(request: Request, exc: BodyTooLargeError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=413)

    static = _static_dir()

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(static / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=static), name="static")

    @app.get("/api/options", summary="The form's controls, generated from the option declarations")
    def options() -> dict[str, Any]:
        schema = form_schema()
        schema["limits"] = {
            "max_upload_bytes": settings.max_upload_bytes,
            "ttl_seconds": settings.ttl,
            "photo_formats": sorted(set(PHOTO_FORMATS)),
        }
        schema["reconstruct"] = reconstruct_schema(settings.max_reconstruct_bytes, settings.max_images)
        return schema

    @app.post(
        "/api/jobs",
        status_code=202,
        response_model=JobCreated,
        summary="Start a job: a photo (or an earlier job's) and option fields",
        responses={c: {"model": Refusal} for c in (403, 404, 413, 415, 422, 429)},
        openapi_extra=_jobs_openapi(),
    )
    async def create_job(request: Request) -> JobCreated:
        try:
            form = await request.form(max_files=2, max_fields=64, max_part_size=64 * 1024)
        except BodyTooLargeError as exc:
            raise refuse(413, str(exc)) from None
        except HTTPException:
            raise
        except Exception as exc:  # malformed multipart bodies
            raise refuse(422, f"cannot read the form: {exc}") from None
        try:
            return await _create(request, form)
        finally:
            await form.close()

    async def _create(request: Request, form: Any) -> JobCreated:
        texts = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        uploads = {k: v for k, v in form.multi_items() if not isinstance(v, str)}
        for key in uploads:
            if key not in ("photo", "timeline"):
                raise refuse(422, f"unexpected file field '{key}' (send 'photo' and optionally 'timeline')")
        until = texts.get("until", "video").strip() or "video"
        if until not in ("video", "scene"):
            raise refuse(422, f"until: expected 'video' or 'scene', got '{until}'")
        try:
            values = parse_form({k: v for k, v in texts.items() if k not in _SPECIAL_FIELDS})
        except DioramicError as exc:
            raise refuse(422, str(exc)) from None
        source_id = texts.get("source", "").strip()
        source = jobs.get(source_id) if source_id else None
        if source_id and (source is None or not isinstance(source.spec, JobSpec)):
            raise refuse(404, "no such job (it may have expired): upload the photo again")
        if source is None and "photo" not in uploads:
            raise refuse(422, "photo: missing (send the photo as the multipart field 'photo')")
        try:
            job = jobs.create()
        except QueueFullError as exc:
            raise refuse(429, str(exc)) from None
        try:
            options = values.options
            if "timeline" in uploads:
                options = replace(options, motion=str(await _take_timeline(uploads["timeline"], job.folder)))
            if source is not None and isinstance(source.spec, JobSpec):
                photo = job.folder / f"photo{source.spec.photo.suffix}"
                try:
                    shutil.copyfile(source.spec.photo, photo)
                except OSError:
                    raise refuse(404, "no such job (it may have expired): upload the photo again") from None
                reuse, reuse_options = source.folder / "state", source.spec.options
            else:
                raw = job.folder / "upload"
                await save_upload(uploads["photo"], raw, settings.max_upload_bytes, "photo")
                photo = raw.rename(job.folder / f"photo{sniff_photo(raw)}")
                reuse, reuse_options = None, None
            spec = JobSpec(photo, job.outdir, options, values.video_format, until, reuse, reuse_options)  # type: ignore[arg-type]
        except BaseException:
            jobs.discard(job.id)
            raise
        jobs.start(job, spec)
        log.info("job %s queued (%s)", job.id[:6], until)
        return JobCreated(id=job.id, status_url=str(request.url_for("job_status", job_id=job.id).path))

    add_reconstruct_routes(app, jobs, settings.max_reconstruct_bytes, settings.max_images)

    async def _take_timeline(upload: UploadFile, folder: Path) -> Path:
        name = (upload.filename or "").lower()
        fmt = "json" if name.endswith(".json") else "yaml"
        target = folder / f"timeline.{fmt}"
        await save_upload(upload, target, TIMELINE_MAX_BYTES, "timeline")
        _check_timeline(target, fmt)
        return target

    @app.get(
        "/api/jobs/{job_id}",
        name="job_status",
        response_model=JobStatusOut,
        responses={404: {"model": Refusal}},
        summary="A job's state, progress and files",
    )
    def job_status(job_id: str, request: Request) -> JobStatusOut:
        status = jobs.status(job_id)
        if status is None:
            raise refuse(404, "no such job (it may have expired)")
        return _status_out(request, status)

    @app.get(
        "/api/jobs/{job_id}/files/{name}",
        name="job_file",
        response_class=FileResponse,
        responses={404: {"model": Refusal}},
        summary=f"Download one of a job's files: {', '.join(sorted(DOWNLOADS))}",
    )
    def job_file(job_id: str, name: str, download: bool = False) -> FileResponse:
        path = jobs.file(job_id, name)
        if path is None:
            if name not in DOWNLOADS:
                raise refuse(404, f"no file '{name}': a job has {', '.join(sorted(DOWNLOADS))}")
            raise refuse(404, "no such job or file (not written yet, or expired)")
        return FileResponse(
            path,
            media_type=_MEDIA_TYPES.get(path.suffix, "application/octet-stream"),
            filename=f"dioramic-{name}",
            content_disposition_type="attachment" if download else "inline",
            headers={"Cache-Control": "private, max-age=3600"},
        )

    @app.delete(
        "/api/jobs/{job_id}",
        status_code=204,
        responses={404: {"model": Refusal}},
        summary="Stop a job and remove its files",
    )
    def delete_job(job_id: str) -> Response:
        if not jobs.discard(job_id):
            raise refuse(404, "no such job (it may have expired)")
        return Response(status_code=204)

    return app


def app_factory() -> FastAPI:
    """`uvicorn --factory dioramic.web.app:app_factory` with the default settings."""
    return create_app()
