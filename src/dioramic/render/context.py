"""The one place where an OpenGL context is created.

Everything that draws asks `create_context` for a headless moderngl context. The backend is an
argument, never a global environment variable: 'egl' (the default) works without a display, on Mesa's
llvmpipe software rasteriser on a CPU-only machine and on the GPU's driver where there is one.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from dioramic.errors import DioramicError, MissingDependencyError

if TYPE_CHECKING:
    import moderngl

logger = logging.getLogger(__name__)

REQUIRED_GL_VERSION = 330
"""The renderer's shaders are GLSL 3.30: the context must offer OpenGL 3.3 core or later."""

_HINTS = {
    "egl": "install the EGL and Mesa drivers (Debian/Ubuntu: apt-get install libegl1 libgl1-mesa-dri)",
    "x11": "run under an X display, or use the 'egl' backend (needs libegl1 and libgl1-mesa-dri)",
}


class GLContextError(DioramicError):
    """No usable OpenGL context could be created (missing drivers, no display, too old a GL)."""


def create_context(backend: str = "egl") -> moderngl.Context:
    """Create a standalone (headless) moderngl context.

    Parameters
    ----------
    backend
        'egl' (headless, the default) or 'x11' (GLX on an X display). The context is current on the
        calling thread; use it from that thread only.

    Returns
    -------
    A moderngl context offering at least OpenGL 3.3. The caller releases it (``ctx.release()``).

    Raises
    ------
    GLContextError
        When no context can be created or it is older than OpenGL 3.3; the message says what to
        install.
    MissingDependencyError
        When the moderngl package is not installed.
    """
    if backend not in _HINTS:
        raise GLContextError(f"unknown OpenGL backend '{backend}' (choose from: {', '.join(_HINTS)})")
    try:
        import moderngl
    except ImportError:
        raise MissingDependencyError("moderngl", "render", "rendering videos") from None
    kwargs = {"backend": "egl"} if backend == "egl" else {}
    try:
        ctx = moderngl.create_standalone_context(require=REQUIRED_GL_VERSION, **kwargs)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GLContextError(
            f"cannot create an OpenGL {REQUIRED_GL_VERSION // 100}.{REQUIRED_GL_VERSION % 100 // 10} "
            f"context with {backend.upper()} ({reason}): {_HINTS[backend]}"
        ) from exc
    logger.debug("OpenGL context: %s, %s (%s)", ctx.info["GL_RENDERER"], ctx.info["GL_VERSION"], backend)
    return ctx
