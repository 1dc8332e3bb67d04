"""The schema, as SQLAlchemy Core tables. Alembic migrations must produce exactly this."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from slychat import field_limits

# Times are epoch milliseconds (BIGINT): exact to the millisecond the wire shows, and the
# same type and ordering on SQLite and PostgreSQL.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

chats = Table(
    "chats",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("product_id", String(field_limits.PRODUCT_ID), nullable=False),
    Column("vendor_id", BigInteger, nullable=False),
    Column("customer_id", BigInteger, nullable=False),
    Column("product_image_url", Text),
    Column("product_price", String(field_limits.PRODUCT_PRICE)),
    Column("product_name", Text),
    Column("store_logo_url", Text),
    Column("customer_profile_pic", Text),
    Column("customer_name", Text),
    Column("store_name", Text),
    # The per-chat message counter: bumped under the chat's row lock, it hands out `seq`.
    Column("last_seq", BigInteger, nullable=False, server_default="0"),
    Column("last_message_at", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("product_id", "vendor_id", "customer_id"),
    # Chat lists: one user's chats, newest activity first, paged by (last_message_at, id).
    Index(None, "vendor_id", "last_message_at", "id"),
    Index(None, "customer_id", "last_message_at", "id"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("chat_id", String(24), ForeignKey("chats.id", ondelete="CASCADE"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("sender_id", BigInteger, nullable=False),
    Column("sender_type", String(8), nullable=False),
    Column("text", Text),
    Column("client_message_id", String(field_limits.CLIENT_MESSAGE_ID)),
    Column("created_at", BigInteger, nullable=False),
    Column("recipient_online", Boolean, nullable=False, server_default=false()),
    Column("read", Boolean, nullable=False, server_default=false()),
    Column("read_at", BigInteger),
    Column("delivered_at", BigInteger),
    # A deleted message keeps its row as a tombstone (id, chat, deleted_at), content erased.
    Column("deleted_at", BigInteger),
    # The chat's participants, copied from the chat so that a message is its own entry in
    # both participants' change feeds: (customer_id, customer_pos) and (vendor_id,
    # vendor_pos) are where it sits in each feed, and its `syncCursor`.
    Column("customer_id", BigInteger),
    Column("vendor_id", BigInteger),
    Column("customer_pos", BigInteger),
    Column("vendor_pos", BigInteger),
    # How many message_media rows the message has: listings look media up only for
    # messages that have some, so text-only pages cost no extra query.
    Column("media_count", Integer, nullable=False, server_default="0"),
    # Pages of a chat's history and the order of record.
    UniqueConstraint("chat_id", "seq"),
    # Idempotent sends: one stored message per (chat, sender side, client id).
    UniqueConstraint("chat_id", "sender_type", "client_message_id"),
    # syncMessages reads a user's messages by feed position.
    Index(None, "customer_id", "customer_pos"),
    Index(None, "vendor_id", "vendor_pos"),
)

# Unread counts and markAsRead touch only unread rows.
Index(
    "ix_messages_unread",
    messages.c.chat_id,
    messages.c.sender_type,
    postgresql_where=messages.c.read == false(),
    sqlite_where=messages.c.read == false(),
)
# offlineMessages reads only what was never delivered.
Index(
    "ix_messages_undelivered",
    messages.c.chat_id,
    postgresql_where=messages.c.delivered_at.is_(None),
    sqlite_where=messages.c.delivered_at.is_(None),
)

# The files of a message, in the order they were attached. `file_key` and `thumbnail_key`
# name objects in the media store; the orphan sweep removes stored files no row names.
message_media = Table(
    "message_media",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("message_id", String(24), ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("file_key", String(64), nullable=False, unique=True),
    Column("thumbnail_key", String(64), unique=True),
    Column("mime_type", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("width", Integer),
    Column("height", Integer),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("message_id", "position"),
)

last_seen = Table(
    "last_seen",
    metadata,
    Column("user_type", String(8), primary_key=True),
    Column("user_id", BigInteger, primary_key=True),
    Column("seen_at", BigInteger, nullable=False),
)

# Per-user change feeds (syncMessages). Each user's positions are handed out by bumping
# their feed_heads row, whose lock is held until commit: a user's feed is in commit order,
# so a cursor never skips a change that commits late. A message is its own feed entry (its
# positions are in its row); `feed` holds the other changes: chat, read, delivered, deleted.
feed_heads = Table(
    "feed_heads",
    metadata,
    Column("user_type", String(8), primary_key=True),
    Column("user_id", BigInteger, primary_key=True),
    Column("pos", BigInteger, nullable=False),
)

feed = Table(
    "feed",
    metadata,
    Column("user_type", String(8), primary_key=True),
    Column("user_id", BigInteger, primary_key=True),
    Column("pos", BigInteger, primary_key=True),
    # message | chat | read | delivered | deleted
    Column("kind", String(16), nullable=False),
    Column("chat_id", String(24), nullable=False),
    Column("message_id", String(24)),
    # JSON list of message ids, for read and delivered.
    Column("message_ids", Text),
    Column("actor_type", String(8)),
    Column("actor_id", BigInteger),
    Column("at", BigInteger, nullable=False),
    # Retention pruning deletes by age.
    Index(None, "at"),
)

# Tokens refused before their own expiry (`slychat revoke <jti>`). Every node reads the rows
# revoked since its last look; a row is pruned once `expires_at` passed, when no token it
# names can be accepted anymore.
revoked_tokens = Table(
    "revoked_tokens",
    metadata,
    Column("jti", String(255), primary_key=True),
    Column("revoked_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Index(None, "revoked_at"),
)

# Server-to-server API keys (`slychat apikey create`). A key is `slyk_<id>_<secret>`: the id
# finds the row, and only the SHA-256 of the secret is stored (keys are 256-bit random, so
# a slow hash would add nothing). `scopes` is a space-separated list.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("name", Text, nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("scopes", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("last_used_at", BigInteger),
    Column("revoked_at", BigInteger),
)

# Webhooks waiting to be sent, written in the transaction of the change they report. The
# id is the idempotency id receivers see; a row leaves the backlog when it is delivered or
# when its attempts ran out (`failed_at`).
webhook_outbox = Table(
    "webhook_outbox",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("event", String(32), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("delivered_at", BigInteger),
    Column("failed_at", BigInteger),
    Column("last_error", Text),
)

# The sender picks the due rows of the backlog.
Index(
    "ix_webhook_outbox_pending",
    webhook_outbox.c.next_attempt_at,
    postgresql_where=webhook_outbox.c.delivered_at.is_(None) & webhook_outbox.c.failed_at.is_(None),
    sqlite_where=webhook_outbox.c.delivered_at.is_(None) & webhook_outbox.c.failed_at.is_(None),
)

# message.unread: per recipient, the creation time of the newest unread message a webhook
# has already reported, so each unread message is reported once.
unread_notices = Table(
    "unread_notices",
    metadata,
    Column("user_type", String(8), primary_key=True),
    Column("user_id", BigInteger, primary_key=True),
    Column("notified_until", BigInteger, nullable=False),
)

# The unread scan reads unread messages by age.
Index(
    "ix_messages_unread_at",
    messages.c.created_at,
    postgresql_where=messages.c.read == false(),
    sqlite_where=messages.c.read == false(),
)

# Jobs that exactly one node runs at a time (the webhook sender): the holder renews its
# lease; when a node dies, another takes the job once the lease has expired.
leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("expires_at", BigInteger, nullable=False),
)
