"""Reading a multipart/form-data media upload incrementally, the file part straight to disk.

werkzeug's own form parser spools files to the system temp folder; this reader streams the
`file` part into the media store's temp area instead (hashed, bounded, fsynced) and keeps the
small text fields in memory, so one copy of the file is ever written before it is verified.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from media.incoming import CHUNK_SIZE, FileSink, IncomingFile
from media.storage import MediaStore
from server.errors import ApiError, ValidationFailed

FILE_FIELD = "file"
MAX_FIELD_BYTES = 64 * 1024
MAX_PARTS = 20
#: The decoder's own buffer bound: it must hold a read chunk plus a partial boundary.
DECODER_BUFFER = 4 * CHUNK_SIZE


@dataclass
class MediaForm:
    """The text fields, and the file part (if any) already in the temp area."""

    fields: dict[str, str] = field(default_factory=dict)
    file: IncomingFile | None = None
    filename: str | None = None
    content_type: str | None = None


def read_media_form(store: MediaStore, read: Callable[[int], bytes], boundary: bytes,
                    limit: int) -> MediaForm:
    """Parse the whole body; the file part goes to a FileSink bounded by `limit` bytes."""
    decoder = MultipartDecoder(boundary, max_form_memory_size=DECODER_BUFFER, max_parts=MAX_PARTS)
    form = MediaForm()
    sink: FileSink | None = None
    text: list[bytes] | None = None
    name = ""
    try:
        while True:
            event = decoder.next_event()
            if isinstance(event, NeedData):
                decoder.receive_data(read(CHUNK_SIZE) or None)
                continue
            if isinstance(event, Epilogue):
                break
            if isinstance(event, File) and event.name == FILE_FIELD:
                if sink is not None or form.file is not None:
                    raise ValidationFailed(errors={FILE_FIELD: ["Send exactly one file."]})
                sink = FileSink(store, limit)
                form.filename = event.filename
                form.content_type = event.headers.get("Content-Type")
                text = None
            elif isinstance(event, Field | File):
                name, text = event.name, []
            elif isinstance(event, Data):
                if sink is not None:
                    sink.write(event.data)
                    if not event.more_data:
                        form.file = sink.finish()
                        sink = None
                elif text is not None:
                    text.append(event.data)
                    if sum(len(part) for part in text) > MAX_FIELD_BYTES:
                        raise ValidationFailed(errors={name: ["The field is too long."]})
                    if not event.more_data:
                        form.fields[name] = b"".join(text).decode("utf-8", "replace")
                        text = None
    except ApiError:
        _discard(sink, form)
        raise
    except ValueError as error:
        _discard(sink, form)
        raise ValidationFailed("The multipart body is malformed.",
                               errors={FILE_FIELD: ["The multipart body is malformed."]}) from error
    except BaseException:
        _discard(sink, form)
        raise
    if sink is not None:
        _discard(sink, form)
        raise ValidationFailed(errors={FILE_FIELD: ["The file part is incomplete."]})
    return form


def _discard(sink: FileSink | None, form: MediaForm) -> None:
    if sink is not None:
        sink.abort()
    if form.file is not None:
        form.file.discard()
        form.file = None
