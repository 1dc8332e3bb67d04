"""What a client may send fits what storage holds: every length-limited column of a
client-supplied field has the schema's limit, from the one table both read."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import Column, String

from slychat.domain import field_limits
from slychat.protocol.inbound import SendMessage
from slychat.storage.tables import chats, messages

# Each client field and the column that stores it.
STORED_AS = {
    "productId": chats.c.product_id,
    "productPrice": chats.c.product_price,
    "productName": chats.c.product_name,
    "productImageUrl": chats.c.product_image_url,
    "storeName": chats.c.store_name,
    "storeLogoUrl": chats.c.store_logo_url,
    "customerName": chats.c.customer_name,
    "customerProfilePic": chats.c.customer_profile_pic,
    "clientMessageId": messages.c.client_message_id,
}
VALID = {"productId": "p", "recipientId": 1}


def _value(field: str, length: int) -> Any:
    if field.endswith(("Url", "Pic")):
        prefix = "https://example.com/"
        return prefix + "a" * (length - len(prefix))
    return "a" * length


def _limit(field: str) -> int:
    """The longest value the schema accepts for `field`."""
    low, high = 1, 100_000
    while low < high:
        mid = (low + high + 1) // 2
        try:
            SendMessage.model_validate(VALID | {field: _value(field, mid)})
        except ValidationError:
            high = mid - 1
        else:
            low = mid
    return low


@pytest.mark.parametrize("field", list(STORED_AS))
def test_the_schema_never_accepts_more_than_the_column_holds(field: str) -> None:
    column = STORED_AS[field]
    limit = _limit(field)
    assert limit < 100_000, f"{field} has no length limit"
    if isinstance(column.type, String) and column.type.length is not None:
        assert limit == column.type.length, field


def _length(column: Column[Any]) -> int | None:
    """A string column's declared length."""
    assert isinstance(column.type, String), column
    return column.type.length


def test_the_limits_come_from_one_table() -> None:
    assert _length(chats.c.product_id) == field_limits.PRODUCT_ID
    assert _length(chats.c.product_price) == field_limits.PRODUCT_PRICE
    assert _length(messages.c.client_message_id) == field_limits.CLIENT_MESSAGE_ID
    assert _limit("productName") == field_limits.NAME
    assert _limit("storeLogoUrl") == field_limits.URL
