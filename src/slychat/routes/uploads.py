"""The upload routes: `POST /api/v1/chat/send-image`, `/send-pdf` and `/send-video`.

The multipart body is parsed as it arrives (python-multipart's streaming parser): each
file goes straight to a temporary file through an `Upload`, which refuses it as soon as
its first bytes show the wrong type or its size crosses the limit. No file is ever held
whole in memory, and the body as a whole is bounded before a byte of it is read.
"""

from __future__ import annotations

import logging
from typing import Any

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from slychat.container import Container
from slychat.domain.errors import (
    AppError,
    Forbidden,
    Invalid,
    TooLarge,
    UnsupportedMedia,
)
from slychat.domain.identity import Role
from slychat.domain.models import ChatView
from slychat.media.kinds import MediaKind
from slychat.protocol.inbound import SendMessage, parse
from slychat.routes.http_errors import error_response
from slychat.services.media import Upload, readable_size
from slychat.sockets.presenter import Presenter
from slychat.sockets.tokens import bearer_token, verified

log = logging.getLogger(__name__)

ROUTES = {"send-image": MediaKind.IMAGE, "send-pdf": MediaKind.PDF, "send-video": MediaKind.VIDEO}
_UPLOADERS = frozenset({Role.CUSTOMER, Role.VENDOR})
# The form's text fields: a message's text and the new-chat fields, with room to spare.
_MAX_FIELD_BYTES = 64 * 1024
_MAX_FIELDS = 32
_FIELDS_BUDGET = 256 * 1024


class _Form:
    """The callbacks of python-multipart's parser: text fields are collected (bounded),
    files are streamed into `Upload`s."""

    def __init__(self, container: Container, kind: MediaKind) -> None:
        self.media = container.media
        self.kind = kind
        self.max_files = container.settings.media_max_files
        self.fields: dict[str, str] = {}
        self.uploads: list[Upload] = []
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""
        self._name: str | None = None
        self._upload: Upload | None = None

    def callbacks(self) -> Any:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self._headers = {}
        self._field = self._value = b""
        self._name = None
        self._upload = None

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field = self._value = b""

    def _headers_finished(self) -> None:
        disposition, params = parse_options_header(self._headers.get(b"content-disposition"))
        if disposition != b"form-data" or b"name" not in params:
            raise Invalid("Each part of the form needs a Content-Disposition with a name")
        if b"filename" not in params:
            if len(self.fields) >= _MAX_FIELDS:
                raise Invalid("The form has too many fields")
            self._name = params[b"name"].decode("utf-8", "replace")
            return
        _check_filename(params[b"filename"])
        if len(self.uploads) >= self.max_files:
            raise TooLarge(f"At most {self.max_files} files per message")
        self._upload = self.media.receive(self.kind)
        self.uploads.append(self._upload)

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._upload is not None:
            self._upload.write(data[start:end])
            return
        self._value += data[start:end]
        if len(self._value) > _MAX_FIELD_BYTES:
            raise TooLarge(f"A form field is longer than {readable_size(_MAX_FIELD_BYTES)}")

    def _part_end(self) -> None:
        if self._upload is not None:
            self._upload.finish()
        elif self._name is not None:
            try:
                self.fields[self._name] = self._value.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise Invalid(f"Form field {self._name[:64]!r} is not UTF-8 text") from exc
        self._value = b""

    def discard(self) -> None:
        for upload in self.uploads:
            upload.discard()


def _check_filename(raw: bytes) -> None:
    """The client's file name is never used (keys are the server's own), but a name that
    tries to climb directories is a hostile client, refused as such."""
    name = raw.decode("utf-8", "replace")
    if "/" in name or "\\" in name or ".." in name or any(ord(c) < 32 for c in name):
        raise Invalid("Invalid file name")


class _BodyTooLarge(TooLarge):
    """The body as a whole is over its budget: not worth reading to the end."""


async def _read_form(request: Request, form: _Form, budget: int) -> None:
    content_type, params = parse_options_header(request.headers.get("content-type"))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise UnsupportedMedia("The body must be multipart/form-data")
    parser = MultipartParser(boundary, form.callbacks())
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > budget:
            raise _BodyTooLarge(f"The upload is larger than {readable_size(budget)}")
        parser.write(chunk)
    parser.finalize()


async def _drain(request: Request, budget: int) -> None:
    """Read what is left of a refused body (up to the budget), so that the client, still
    sending, reads the error instead of a reset connection."""
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > budget:
                return
    except Exception:  # the client gave up: nothing left to answer
        return


def upload_routes(container: Container, presenter: Presenter) -> list[Route]:
    return [
        Route(f"/api/v1/chat/{name}", _endpoint(container, presenter, kind), methods=["POST"])
        for name, kind in ROUTES.items()
    ]


def _endpoint(container: Container, presenter: Presenter, kind: MediaKind) -> Any:
    settings = container.settings

    async def upload(request: Request) -> JSONResponse:
        budget = settings.media_max_files * container.media.limits.max_bytes[kind]
        budget += _FIELDS_BUDGET
        form = _Form(container, kind)
        try:
            authorization = bearer_token(request.headers.get("authorization"))
            user = verified(container, authorization).user
            if user.role not in _UPLOADERS:
                raise Forbidden("Only customers and vendors send messages")
            # Before a byte of the body is read; an upload also counts as a message.
            await container.limits.upload(user)
            declared = request.headers.get("content-length")
            if declared is not None and (not declared.isdigit() or int(declared) > budget):
                # Refused before a byte is read (a client sending `Expect: 100-continue`
                # never sends the body at all).
                raise _BodyTooLarge(f"The upload is larger than {readable_size(budget)}")
            try:
                await _read_form(request, form, budget)
            except _BodyTooLarge:
                raise
            except AppError:
                await _drain(request, budget)
                raise
            except Exception as exc:  # the parser refused the body itself
                await _drain(request, budget)
                raise Invalid(f"Malformed multipart body: {exc}") from exc
            cmd = parse(SendMessage, (form.fields,)).command()
            sent = await container.media.send(user, cmd, form.uploads)
        except AppError as exc:
            form.discard()
            return error_response(exc)
        except BaseException:
            form.discard()
            raise
        if sent.created is not None:
            data = presenter.chat(ChatView(sent.created, [sent.message]), user)
            text = "Chat has been created successfully"
        else:
            data = presenter.message(sent.message, user)
            text = "Media has been sent successfully"
        body = {"statusCode": 201, "error": False, "message": text, "data": data}
        return JSONResponse(body, status_code=201)

    return upload
