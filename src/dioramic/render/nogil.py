"""The renderer's long OpenGL calls made without holding Python's GIL.

moderngl holds the GIL through every OpenGL call. With llvmpipe a draw call is where the triangles
are set up (milliseconds of CPU work on the calling thread) and a read back waits for the rasteriser
threads, so a thread that renders holds the GIL most of the time, and the thread beside it that
encodes the video (PyAV, whose own calls release it) waits at every step in between. These few calls,
made through ctypes (which releases the GIL around a foreign call) on the same context, let the two
overlap: a draw of a vertex array, and a fence to wait on before reading a frame back.

The functions come from the context's own loader (``eglGetProcAddress`` or ``glXGetProcAddressARB``),
which returns entry points that dispatch to the current context; `gl_calls` returns None where they
cannot be had, and the renderer then makes the same calls through moderngl.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from typing import Any

logger = logging.getLogger(__name__)

__all__ = ["GLCalls", "gl_calls"]

_GL_TRIANGLES = 0x0004
_GL_UNSIGNED_INT = 0x1405
_GL_SYNC_GPU_COMMANDS_COMPLETE = 0x9117
_GL_SYNC_FLUSH_COMMANDS_BIT = 0x00000001
_GL_WAIT_FAILED = 0x911D
_GL_TIMEOUT_EXPIRED = 0x911B
_WAIT_NS = 1_000_000_000  # one wait: a second, repeated while the fence times out


class GLCalls:
    """The calls, bound to function pointers of the current context's driver."""

    def __init__(self, lookup: Any) -> None:
        def function(name: str, result: Any, *arguments: Any) -> Any:
            address = lookup(name.encode())
            if not address:
                raise OSError(f"no {name}")
            return ctypes.CFUNCTYPE(result, *arguments)(address)

        uint, sync = ctypes.c_uint, ctypes.c_void_p
        self._use_program = function("glUseProgram", None, uint)
        self._bind_vertex_array = function("glBindVertexArray", None, uint)
        self._draw_elements = function(
            "glDrawElementsInstanced", None, uint, ctypes.c_int, uint, ctypes.c_void_p, ctypes.c_int
        )
        self._fence_sync = function("glFenceSync", sync, uint, uint)
        self._client_wait_sync = function("glClientWaitSync", uint, sync, uint, ctypes.c_uint64)
        self._delete_sync = function("glDeleteSync", None, sync)

    def draw(self, vao: Any) -> None:
        """`vao.render(moderngl.TRIANGLES)` for a vertex array with a 4-byte index buffer."""
        self._use_program(vao.program.glo)
        self._bind_vertex_array(vao.glo)
        self._draw_elements(_GL_TRIANGLES, vao.vertices, _GL_UNSIGNED_INT, None, 1)

    def fence(self) -> int:
        """A fence after the commands issued so far (it also sends them to be executed)."""
        return int(self._fence_sync(_GL_SYNC_GPU_COMMANDS_COMPLETE, 0))

    def wait(self, fence: int) -> None:
        """Wait until the commands before `fence` are done, then delete it."""
        try:
            while True:
                status = self._client_wait_sync(fence, _GL_SYNC_FLUSH_COMMANDS_BIT, _WAIT_NS)
                if status == _GL_WAIT_FAILED:
                    raise RuntimeError("glClientWaitSync failed")
                if status != _GL_TIMEOUT_EXPIRED:
                    return
        finally:
            self._delete_sync(fence)


def _loader(backend: str) -> Any:
    """The context's GetProcAddress: (name: bytes) -> address or None."""
    if backend == "egl":
        library = ctypes.CDLL(ctypes.util.find_library("EGL") or "libEGL.so.1")
        lookup = library.eglGetProcAddress
    else:
        library = ctypes.CDLL(ctypes.util.find_library("GL") or "libGL.so.1")
        lookup = library.glXGetProcAddressARB
    lookup.restype = ctypes.c_void_p
    lookup.argtypes = [ctypes.c_char_p]
    return lookup


def gl_calls(backend: str) -> GLCalls | None:
    """The calls for a context of `backend` ('egl' or 'x11'), current on this thread; None where the
    driver's functions cannot be found (the caller goes through moderngl)."""
    try:
        return GLCalls(_loader(backend))
    except (OSError, AttributeError) as exc:
        logger.debug("OpenGL calls through moderngl only (%s)", exc)
        return None
