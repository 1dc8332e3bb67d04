"""The schema, as SQLAlchemy Core tables. Alembic migrations must produce exactly this."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    false,
)

from slychat.domain import field_limits

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
    # The platform's contact-detail policy for this chat (off, mask, refuse); null: the
    # setting's (SLYCHAT_CONTACT_POLICY).
    Column("contact_policy", String(8)),
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
    # When the text was last edited (null until then); earlier texts are message_versions.
    Column("edited_at", BigInteger),
    # The message this one quotes (same chat); its preview is read as it is now.
    Column("reply_to_id", String(24)),
    # How many message_reactions rows the message has: as media_count, so that pages of
    # messages nobody reacted to cost no extra query.
    Column("reaction_count", Integer, nullable=False, server_default="0"),
    # The text as its sender wrote it when contact details were masked in `text` (null
    # otherwise): moderators only (the admin export), never read into a `Message`.
    Column("original_text", Text),
    # Pages of a chat's history and the order of record.
    UniqueConstraint("chat_id", "seq"),
    # Idempotent sends: one stored message per (chat, sender side, client id).
    UniqueConstraint("chat_id", "sender_type", "client_message_id"),
    # syncMessages reads a user's messages by feed position.
    Index(None, "customer_id", "customer_pos"),
    Index(None, "vendor_id", "vendor_pos"),
)

# A user's unread (in all, per chat, and what markAsRead marks) and their offline
# messages are read by the message's own participant column, one partial index per
# recipient side holding only the live unread (or undelivered) messages the other side
# sent: a range of that user's rows (of one chat's, by its id next), in the order asked
# (per chat, by seq), chosen without statistics (the server never runs ANALYZE).
# A message is in one index of each kind at most (a SYSTEM message in none). The predicates are
# written as the queries write them (the sender's side as a literal), or the planners
# will not use them.
for _recipient, _sender in (("customer", "VENDOR"), ("vendor", "CUSTOMER")):
    _to_them = messages.c.sender_type == _sender
    _unread_to = and_(messages.c.read == false(), messages.c.deleted_at.is_(None), _to_them)
    _undelivered_to = and_(
        messages.c.delivered_at.is_(None), messages.c.deleted_at.is_(None), _to_them
    )
    Index(
        f"ix_messages_unread_{_recipient}",
        messages.c[f"{_recipient}_id"],
        messages.c.chat_id,
        postgresql_where=_unread_to,
        sqlite_where=_unread_to,
    )
    Index(
        f"ix_messages_undelivered_{_recipient}",
        messages.c[f"{_recipient}_id"],
        messages.c.chat_id,
        messages.c.seq,
        postgresql_where=_undelivered_to,
        sqlite_where=_undelivered_to,
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

# Every earlier text of an edited message, for moderators only (the admin export): never
# sent to clients. `version` counts from 1; a message has versions only once edited.
message_versions = Table(
    "message_versions",
    metadata,
    Column(
        "message_id", String(24), ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("version", Integer, primary_key=True),
    Column("text", Text),
    # When this text was written (sent or edited), and when an edit replaced it.
    Column("written_at", BigInteger, nullable=False),
    Column("replaced_at", BigInteger, nullable=False),
)

# One reaction per participant per message: a new one replaces theirs (the primary key).
message_reactions = Table(
    "message_reactions",
    metadata,
    Column(
        "message_id", String(24), ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("user_type", String(8), primary_key=True),
    Column("user_id", BigInteger, primary_key=True),
    Column("emoji", String(field_limits.EMOJI), nullable=False),
    Column("reacted_at", BigInteger, nullable=False),
)

# A user's own settings of one chat (mute, archive); no row means neither.
chat_settings = Table(
    "chat_settings",
    metadata,
    Column("user_type", String(8), primary_key=True),
    Column("user_id", BigInteger, primary_key=True),
    Column("chat_id", String(24), ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True),
    Column("muted", Boolean, nullable=False, server_default=false()),
    Column("archived", Boolean, nullable=False, server_default=false()),
    Column("updated_at", BigInteger, nullable=False),
)

# One user blocking another (their counterpart), one row per (blocker, blocked) pair
# covering all their chats. Unblocking keeps the row (`unblocked_at` set) so that every
# node's poll of `changed_at` hears of it; blocking again clears it.
blocks = Table(
    "blocks",
    metadata,
    Column("blocker_type", String(8), primary_key=True),
    Column("blocker_id", BigInteger, primary_key=True),
    Column("blocked_type", String(8), primary_key=True),
    Column("blocked_id", BigInteger, primary_key=True),
    Column("blocked_at", BigInteger, nullable=False),
    Column("unblocked_at", BigInteger, nullable=True),
    Column("changed_at", BigInteger, nullable=False),
)

# Every node's poll reads the blocks changed since its last look.
Index("ix_blocks_changed_at", blocks.c.changed_at)

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
    # message | chat | read | delivered | deleted | edited | reactions | settings
    Column("kind", String(16), nullable=False),
    Column("chat_id", String(24), nullable=False),
    Column("message_id", String(24)),
    # JSON list of message ids, for read and delivered.
    Column("message_ids", Text),
    Column("actor_type", String(8)),
    Column("actor_id", BigInteger),
    Column("at", BigInteger, nullable=False),
    # JSON: what a reactions or settings change said when it happened.
    Column("data", Text),
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

# Moderators' rules (admin API): a term or a regular expression and what a match does.
# Never changed, only added or deleted; every node reads the whole (small) table every
# SLYCHAT_REVOCATION_POLL and compiles it again when the set of ids changed.
moderation_rules = Table(
    "moderation_rules",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("kind", String(8), nullable=False),
    Column("pattern", Text, nullable=False),
    Column("action", String(8), nullable=False),
    Column("note", Text),
    Column("created_at", BigInteger, nullable=False),
    # The API key that added it (no foreign key: a key's row outlives nothing it did).
    Column("key_id", String(24), nullable=False),
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

# Secrets the servers make themselves: the first node to need one stores it, every node
# reads it (the sync cursor key, when no shared JWT secret exists to derive one from).
server_secrets = Table(
    "server_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("secret", LargeBinary, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# Reports for the platform's moderators (docs/admin-api.md, "Moderation"): a user's
# reportMessage/reportUser, or an automatic one (reporter SYSTEM 0) when contact details
# were masked or a rule flagged a text. `snapshot` (JSON) is what the reported message and
# the messages around it looked like when the report was made, written in the same
# transaction and never changed after (report_media names the stored files it shows).
# `target_key` is what one reporter may have one
# open report about ("message:<id>" or "user:<TYPE>:<id>"): the partial unique index
# below folds duplicates.
reports = Table(
    "reports",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("reason", String(16), nullable=False),
    Column("note", Text),
    Column("automatic", Boolean, nullable=False, server_default=false()),
    Column("reporter_type", String(8), nullable=False),
    Column("reporter_id", BigInteger, nullable=False),
    Column("target_kind", String(8), nullable=False),
    Column("target_user_type", String(8), nullable=False),
    Column("target_user_id", BigInteger, nullable=False),
    Column("target_message_id", String(24)),
    Column("target_chat_id", String(24)),
    Column("target_key", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("resolved_at", BigInteger),
    Column("snapshot", Text, nullable=False),
    # The queue, newest first, by status; a user's reports (repeat offenders).
    Index(None, "status", "id"),
    Index(None, "target_user_type", "target_user_id", "status"),
)

Index(
    "uq_reports_open_target",
    reports.c.reporter_type,
    reports.c.reporter_id,
    reports.c.target_key,
    unique=True,
    postgresql_where=reports.c.status == "open",
    sqlite_where=reports.c.status == "open",
)

# The stored files a report's snapshot shows. They are evidence: deleting the message
# (its sender, or a moderator) keeps the files these rows name, and the orphan sweep
# counts them as referenced; erasing the sender's data (users:erase) removes them.
report_media = Table(
    "report_media",
    metadata,
    Column("report_id", String(24), ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True),
    Column("media_id", String(24), primary_key=True),
    Column("message_id", String(24), nullable=False),
    Column("file_key", String(64), nullable=False),
    Column("thumbnail_key", String(64)),
    Column("mime_type", String(64), nullable=False),
    Index(None, "file_key"),
    Index(None, "thumbnail_key"),
    Index(None, "message_id"),
)

# Every decision about a report, in order: which API key (and its name then) decided what,
# when, with which note.
report_decisions = Table(
    "report_decisions",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("report_id", String(24), ForeignKey("reports.id", ondelete="CASCADE"), nullable=False),
    Column("action", String(16), nullable=False),
    Column("note", Text),
    Column("until", BigInteger),
    Column("key_id", String(24), nullable=False),
    Column("key_name", Text, nullable=False),
    Column("decided_at", BigInteger, nullable=False),
    Index(None, "report_id", "decided_at"),
)

# Suspended users: refused at the handshake, on live sockets and on the HTTP routes while
# a row is in force (`lifted_at` null, `until` null or later than now). A lifted or
# expired suspension stays as history; at most one is unlifted per user.
suspensions = Table(
    "suspensions",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("user_type", String(8), nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("until", BigInteger),
    Column("suspended_at", BigInteger, nullable=False),
    Column("key_id", String(24)),
    Column("report_id", String(24)),
    Column("lifted_at", BigInteger),
)

Index(
    "uq_suspensions_unlifted",
    suspensions.c.user_type,
    suspensions.c.user_id,
    unique=True,
    postgresql_where=suspensions.c.lifted_at.is_(None),
    sqlite_where=suspensions.c.lifted_at.is_(None),
)
