"""HTTP under ASGI that runs Django's synchronous stack once per request, in a thread pool.

Django's own ASGI handler runs every sync middleware and view through ``sync_to_async`` hops, in
one thread per process (``thread_sensitive``), and starts a disconnect-listening task per request:
measured on the 2-core machine, it served the constant view at about 45 % of a WSGI server's rate
(README, "Production server"). Here the body is read on the event loop, then one job in a thread
pool does what a WSGI server's thread would do (``request_started``, the sync middleware chain,
the view, ``response.close()`` and so ``request_finished``), and the event loop sends the result.
WebSocket stays on Channels in the same process and port (``inventory_site.asgi``).

Each pool thread has its own database connection (Django's are thread-local), taken from and given
back to the process's psycopg pool at ``request_started``/``request_finished`` as under WSGI.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import tempfile
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestDataTooBig
from django.core.handlers import base
from django.core.handlers.asgi import ASGIRequest, get_script_prefix
from django.http import FileResponse, HttpResponse, HttpResponseBadRequest, HttpResponseServerError
from django.http.response import HttpResponseBase
from django.urls import set_script_prefix

logger = logging.getLogger(__name__)

CHUNK = 2**16
_END = object()


class SyncHandler(base.BaseHandler):
    """Django's middleware chain loaded in sync mode: a request is one call, as under WSGI."""

    def __init__(self) -> None:
        super().__init__()
        self.load_middleware(is_async=False)


class SyncDjangoHTTP:
    """ASGI application for ``http`` scopes."""

    def __init__(self, *, threads: int | None = None) -> None:
        self.handler = SyncHandler()
        self.pool = ThreadPoolExecutor(max_workers=threads or settings.WEB_THREADS, thread_name_prefix="http")
        self._frozen = False

    def _freeze_heap(self) -> None:
        """Once the first request has loaded what requests need (URLconf, views, serializers), move
        every object alive to the permanent generation: a full collection then no longer walks the
        whole application's heap, which showed as the slowest requests' latency (the p99)."""
        self._frozen = True
        gc.collect()
        gc.freeze()

    async def __call__(self, scope, receive, send) -> None:
        body = await self._read_body(receive)
        if body is None:
            return  # the client went away before sending its body
        loop = asyncio.get_running_loop()
        ready: asyncio.Future = loop.create_future()
        chunks: asyncio.Queue = asyncio.Queue()
        job = loop.run_in_executor(self.pool, self._respond, scope, body, loop, ready, chunks)
        # ``ready`` resolves once the response exists; a streaming one is still being read in its thread.
        await asyncio.wait([ready, job], return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            body.close()
            logger.error("HTTP handler failed outside Django's exception handling", exc_info=job.exception())
            response = HttpResponseServerError("Internal Server Error", content_type="text/plain")
            await send({"type": "http.response.start", "status": 500, "headers": _headers(response)})
            await send({"type": "http.response.body", "body": response.content})
            return
        response, content = ready.result()
        if not self._frozen:
            self._freeze_heap()
        await send({"type": "http.response.start", "status": response.status_code, "headers": _headers(response)})
        if content is not None:
            for start in range(0, max(len(content), 1), CHUNK):
                part, more = content[start : start + CHUNK], start + CHUNK < len(content)
                await send({"type": "http.response.body", "body": part, "more_body": more})
        elif response.is_async:
            # An async iterator belongs to the event loop; close() runs in the pool afterwards.
            try:
                async for part in response:
                    await send({"type": "http.response.body", "body": bytes(part), "more_body": True})
            finally:
                await loop.run_in_executor(self.pool, response.close)
            await send({"type": "http.response.body"})
        else:
            while (part := await chunks.get()) is not _END:
                await send({"type": "http.response.body", "body": part, "more_body": True})
            await send({"type": "http.response.body"})
        try:
            await job
        except Exception:
            logger.exception("HTTP handler failed while streaming a response")
        finally:
            body.close()

    def _respond(self, scope, body, loop, ready: asyncio.Future, chunks: asyncio.Queue) -> None:
        """In a pool thread: the whole request as a WSGI server's thread would run it.

        Resolves ``ready`` with ``(response, content)``: ``content`` is the body of a plain response
        (already closed); None for a streaming one, whose parts a sync iterator then feeds to ``chunks``
        from this thread (so ``request_finished`` and the connection it gives back stay on this thread).
        """
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        try:
            request = ASGIRequest(scope, body)
        except UnicodeDecodeError:
            response = HttpResponseBadRequest()
        except RequestDataTooBig:
            response = HttpResponse("413 Payload too large", status=413)
        else:
            response = self.handler.get_response(request)
        response._handler_class = self.__class__
        if not response.streaming:
            content = response.content
            response.close()
            loop.call_soon_threadsafe(ready.set_result, (response, content))
            return
        if isinstance(response, FileResponse):
            response.block_size = CHUNK
        loop.call_soon_threadsafe(ready.set_result, (response, None))
        if response.is_async:
            return
        try:
            for part in response:
                loop.call_soon_threadsafe(chunks.put_nowait, bytes(part))
        finally:
            response.close()
            loop.call_soon_threadsafe(chunks.put_nowait, _END)

    @staticmethod
    async def _read_body(receive):
        # Closed by the caller once the response is sent (a context manager cannot span that).
        body = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, mode="w+b")  # noqa: SIM115
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                body.close()
                return None
            if "body" in message:
                body.write(message["body"])
            if not message.get("more_body", False):
                break
        body.seek(0)
        return body


def _headers(response: HttpResponseBase) -> list[tuple[bytes, bytes]]:
    headers = [
        (name.encode("ascii") if isinstance(name, str) else bytes(name), value.encode("latin1"))
        for name, value in response.items()
    ]
    headers += [(b"Set-Cookie", c.output(header="").encode("ascii").strip()) for c in response.cookies.values()]
    return headers
