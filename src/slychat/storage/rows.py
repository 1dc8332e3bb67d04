"""Rows as records, read by column position: SQLAlchemy's rows and the drivers' own alike.

The column lists are the tables' own (`tables.py`), in their order, so a statement that
selects `*_COLUMNS` (or a whole table) is read by the decoders below.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slychat.domain.identity import Role, User
from slychat.domain.models import Chat, ChatDetails, ChatKey, Media, Message
from slychat.storage.tables import chats, messages

CHAT_COLUMNS = ", ".join(column.name for column in chats.c)
MESSAGE_COLUMNS = ", ".join(f"m.{column.name}" for column in messages.c)
# In the order of `Media`'s fields.
MEDIA_FIELDS = ("id", "file_key", "mime_type", "size", "thumbnail_key", "width", "height")


def chat_from_row(row: Sequence[Any]) -> Chat:
    return Chat(
        id=row[0],
        key=ChatKey(row[1], row[2], row[3]),
        details=ChatDetails(*row[4:11]),
        last_seq=row[11],
        last_message_at=row[12],
        created_at=row[13],
        updated_at=row[14],
        contact_policy=row[15],
    )


def chat_row(chat: Chat) -> tuple[Any, ...]:
    """`chat` as the values of `CHAT_COLUMNS`."""
    k, d = chat.key, chat.details
    return (
        chat.id, k.product_id, k.vendor_id, k.customer_id, d.product_image_url,
        d.product_price, d.product_name, d.store_logo_url, d.customer_profile_pic,
        d.customer_name, d.store_name, chat.last_seq, chat.last_message_at, chat.created_at,
        chat.updated_at, chat.contact_policy,
    )  # fmt: skip


def message_from_row(row: Sequence[Any]) -> Message:
    return Message(
        id=row[0],
        chat_id=row[1],
        seq=row[2],
        sender=User(Role(row[4]), row[3]),
        text=row[5],
        client_message_id=row[6],
        created_at=row[7],
        recipient_online=bool(row[8]),
        read=bool(row[9]),
        read_at=row[10],
        delivered_at=row[11],
        deleted_at=row[12],
        # row[13], row[14]: the participants, which the chat knows
        customer_pos=row[15],
        vendor_pos=row[16],
        media_count=row[17],
        edited_at=row[18],
        reply_to_id=row[19],
        reaction_count=row[20],
        # row[21]: the original text, which only the admin export reads
        masked=row[21] is not None,
    )


def media_from_row(row: Sequence[Any]) -> Media:
    """A `message_media` row, as selected by `MEDIA_COLUMNS`."""
    return Media(*row)


def media_row(message_id: str, media: Media, position: int, at: int) -> tuple[Any, ...]:
    """The values of a `message_media` row, in the table's column order."""
    return (
        media.id, message_id, position, media.key, media.thumbnail_key, media.mime_type,
        media.size, media.width, media.height, at,
    )  # fmt: skip
