"""What the web app's routes share: one-line refusals, the checks of uploaded files, the reply models.

A refusal is an `HTTPException` whose detail is one line (413 too large, 415 not a photo, 422 a bad
field, ...); the page shows it as it is.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from fastapi import HTTPException
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile

MB = 1_000_000
PHOTO_FORMATS = {
    "JPEG": ".jpg",
    "MPO": ".jpg",
    "PNG": ".png",
    "WEBP": ".webp",
    "TIFF": ".tif",
    "BMP": ".bmp",
    "GIF": ".gif",
    "HEIF": ".heic",
    "AVIF": ".avif",
}
"""Pillow formats accepted as photos, and the suffix they are saved with."""
NOT_A_PHOTO = "the file is not a photo"
"""How `sniff_photo`'s refusal of a file that is no image at all begins."""


class JobCreated(BaseModel):
    id: str = Field(description="the job's unguessable id: the only key to it and its files")
    status_url: str


class Refusal(BaseModel):
    detail: str


def refuse(status: int, message: str) -> HTTPException:
    """The refusal `message` (one line) with HTTP status `status`."""
    return HTTPException(status_code=status, detail=message)


def sniff_photo(path: Path) -> str:
    """The suffix to save the photo under; HTTPException 415 (413) for a non-image (an enormous one)."""
    from PIL import Image, UnidentifiedImageError

    with contextlib.suppress(ImportError):
        import pillow_heif

        pillow_heif.register_heif_opener()
    accepted = "JPEG, PNG, WebP, TIFF, BMP, GIF or HEIC"
    try:
        with Image.open(path) as image:
            fmt, (width, height) = image.format, image.size
    except Image.DecompressionBombError:
        raise refuse(413, "the photo declares too many pixels to decode safely") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise refuse(415, f"{NOT_A_PHOTO}: expected an image ({accepted})") from None
    if fmt not in PHOTO_FORMATS:
        raise refuse(415, f"{fmt} images are not accepted: expected {accepted}")
    if min(width, height) < 2:
        raise refuse(415, f"the image is {width}x{height} pixels: too small to be a photo")
    return PHOTO_FORMATS[fmt]


async def save_upload(upload: UploadFile, target: Path, limit: int, what: str) -> int:
    """Copy an upload to `target` (a name the server chose); 413 past `limit` bytes, 415 (a timeline:
    422) when it is empty. Returns the bytes written."""
    written = 0
    await upload.seek(0)
    with open(target, "wb") as out:
        while chunk := await upload.read(1 << 20):
            written += len(chunk)
            if written > limit:
                raise refuse(413, f"the {what} is larger than the limit of {limit / MB:g} MB")
            out.write(chunk)
    if written == 0:
        raise refuse(422 if what == "timeline" else 415, f"the {what} file is empty")
    return written


FORM_BYTES = 64 * 1024
"""What a form's text fields and multipart headers may add to the limit on its files."""


class BodyTooLargeError(Exception):
    """A request body went past its limit; ``str()`` is the one line the client is told."""


def limit_body(app: Any, limit: Callable[[str], tuple[int, str]]) -> Callable[..., Awaitable[None]]:
    """ASGI middleware: a request body past ``limit(path)[0]`` bytes raises `BodyTooLargeError`
    (with ``limit(path)[1]``) while it is read, so an enormous upload is never stored whole."""

    async def middleware(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await app(scope, receive, send)
            return
        most, message = limit(scope["path"])
        seen = 0

        async def counted() -> MutableMapping[str, Any]:
            nonlocal seen
            received = await receive()
            if received["type"] == "http.request":
                seen += len(received.get("body", b""))
                if seen > most:
                    raise BodyTooLargeError(message)
            return received

        await app(scope, counted, send)

    return middleware
