"""Reading multipart uploads (cameo recordings, images to animate, takedown files).

BodyLimitMiddleware (services/gateway/bodylimit.py) has already capped a body's size per
route while it streamed in; here the form is parsed and its fields read.
"""

from __future__ import annotations

from fastapi import Request
from starlette.datastructures import FormData

from services.gateway.errors import ApiError


def is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").startswith("multipart/form-data")


async def read_upload(request: Request, field: str, *, required: bool = True):
    """(form, bytes, content_type, filename) of a multipart upload."""
    if not is_multipart(request):
        raise ApiError(415, "multipart_required", f"send multipart/form-data with the file in '{field}'")
    form = await request.form()
    upload = form.get(field)
    if upload is None or isinstance(upload, str):
        if required:
            raise ApiError(400, "missing_file", f"attach the file as the '{field}' form field")
        return form, b"", "", ""
    data = await upload.read()
    return form, data, upload.content_type or "", upload.filename or ""


def text_fields(form: FormData, *lists: str) -> dict:
    """A form's text fields as a dict; each name in `lists` (and its `name[]` form) as a list of all its values."""
    fields = {k: v for k, v in form.multi_items() if isinstance(v, str) and k not in lists}
    for name in lists:
        fields[name] = [v for k, v in form.multi_items() if k in (name, f"{name}[]") and isinstance(v, str)]
    return fields
