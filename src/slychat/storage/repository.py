"""Queries. Functions take an open connection and never commit; the unit of work does."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import (
    and_,
    bindparam,
    false,
    func,
    literal_column,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from slychat.domain import field_limits
from slychat.domain.identity import Role, User
from slychat.domain.models import (
    Chat,
    ChatKey,
    ChatSettings,
    Media,
    Message,
    Reaction,
    ReplyPreview,
)
from slychat.storage.rows import MEDIA_FIELDS, chat_from_row, media_from_row, message_from_row
from slychat.storage.sqlite_inline import off_the_loop
from slychat.storage.tables import (
    chat_settings,
    chats,
    last_seen,
    message_media,
    message_reactions,
    message_versions,
    messages,
    report_media,
)

_live = messages.c.deleted_at.is_(None)
# Written exactly as the partial index's predicate (`read = false`), or the planner will
# not use it: `read IS false` is a different expression to both engines.
_unread = messages.c.read == false()

# Hot-path statements are built once: SQLAlchemy memoizes a statement object's cache key,
# so reusing the object skips rebuilding and re-keying it on every message.
_is_key = and_(
    chats.c.product_id == bindparam("k_product"),
    chats.c.vendor_id == bindparam("k_vendor"),
    chats.c.customer_id == bindparam("k_customer"),
)
_CHAT_BY_KEY = select(chats).where(_is_key)
_BY_CLIENT_ID = (
    select(messages)
    .join(chats, chats.c.id == messages.c.chat_id)
    .where(
        _is_key,
        messages.c.sender_type == bindparam("p_sender"),
        messages.c.client_message_id == bindparam("p_client_id"),
    )
)


def _insert(conn: AsyncConnection, table: Any) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT on both engines."""
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    return module.insert(table)


def _user_column(role: Role) -> Any:
    return chats.c.vendor_id if role is Role.VENDOR else chats.c.customer_id


def _participant_column(role: Role) -> Any:
    """The message's copy of the chat's participant of that side."""
    return messages.c.vendor_id if role is Role.VENDOR else messages.c.customer_id


def _sent_to(recipient: Role) -> Any:
    """Sent by the other side, the side a literal: as the per-recipient partial indexes'
    predicates say it (a bound value would not match them: SQLite, PostgreSQL's generic
    plans)."""
    return messages.c.sender_type == literal_column(f"'{recipient.counterpart.value}'")


# --- chats -------------------------------------------------------------------------------


def _key_params(key: ChatKey) -> dict[str, Any]:
    return {"k_product": key.product_id, "k_vendor": key.vendor_id, "k_customer": key.customer_id}


async def chat_by_key(conn: AsyncConnection, key: ChatKey) -> Chat | None:
    row = (await conn.execute(_CHAT_BY_KEY, _key_params(key))).first()
    return chat_from_row(row) if row else None


async def chat_by_id(conn: AsyncConnection, chat_id: str) -> Chat | None:
    row = (await conn.execute(select(chats).where(chats.c.id == chat_id))).first()
    return chat_from_row(row) if row else None


async def list_chats(
    conn: AsyncConnection,
    user: User,
    before: tuple[int, str] | None,
    limit: int,
    archived: bool = False,
) -> list[Chat]:
    """The user's chats, latest activity first; `before` is the (last_message_at, id) of
    the last chat of the previous page. Those the user archived, or (`archived`) only
    those."""
    query = list_chats_query(user, before, limit, archived)
    return [chat_from_row(row) for row in await conn.execute(query)]


# The *_query / *_statement builders are what the functions execute; the benchmark
# EXPLAINs the very same statements.


def list_chats_query(
    user: User, before: tuple[int, str] | None, limit: int, archived: bool = False
) -> Any:
    column = _user_column(user.role)
    # Archived chats are few: the probe is one primary-key lookup per chat listed.
    is_archived = (
        select(chat_settings.c.chat_id)
        .where(
            chat_settings.c.user_type == user.role.value,
            chat_settings.c.user_id == user.id,
            chat_settings.c.chat_id == chats.c.id,
            chat_settings.c.archived == true(),
        )
        .exists()
    )
    query = select(chats).where(column == user.id, is_archived if archived else ~is_archived)
    if before is not None:
        at, chat_id = before
        query = query.where(
            or_(
                chats.c.last_message_at < at,
                and_(chats.c.last_message_at == at, chats.c.id < chat_id),
            )
        )
    return query.order_by(chats.c.last_message_at.desc(), chats.c.id.desc()).limit(limit)


async def counterparts_of(conn: AsyncConnection, user: User) -> list[User]:
    """Everyone `user` shares a chat with."""
    other = user.role.counterpart
    column = _user_column(user.role)
    rows = await conn.execute(select(_user_column(other)).where(column == user.id).distinct())
    return [User(other, uid) for uid in rows.scalars()]


async def shares_chat(conn: AsyncConnection, vendor_id: int, customer_id: int) -> bool:
    query = (
        select(chats.c.id)
        .where(chats.c.vendor_id == vendor_id, chats.c.customer_id == customer_id)
        .limit(1)
    )
    return (await conn.execute(query)).first() is not None


async def settings_of(
    conn: AsyncConnection, user: User, chat_ids: Sequence[str]
) -> dict[str, ChatSettings]:
    """`user`'s own settings of those of these chats that have some."""
    if not chat_ids:
        return {}
    rows = await conn.execute(
        select(chat_settings.c.chat_id, chat_settings.c.muted, chat_settings.c.archived).where(
            chat_settings.c.user_type == user.role.value,
            chat_settings.c.user_id == user.id,
            chat_settings.c.chat_id.in_(chat_ids),
        )
    )
    return {chat_id: ChatSettings(bool(muted), bool(archived)) for chat_id, muted, archived in rows}


async def save_settings(
    conn: AsyncConnection, user: User, chat_id: str, settings: ChatSettings, now: int
) -> None:
    stmt = _insert(conn, chat_settings).values(
        user_type=user.role.value,
        user_id=user.id,
        chat_id=chat_id,
        muted=settings.muted,
        archived=settings.archived,
        updated_at=now,
    )
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["user_type", "user_id", "chat_id"],
            set_={
                "muted": stmt.excluded.muted,
                "archived": stmt.excluded.archived,
                "updated_at": stmt.excluded.updated_at,
            },
        )
    )


# --- messages ----------------------------------------------------------------------------


async def message_by_client_id(
    conn: AsyncConnection, key: ChatKey, sender: Role, client_message_id: str
) -> Message | None:
    """The message `sender` already stored in the chat at `key` under this client id."""
    params = _key_params(key) | {"p_sender": sender.value, "p_client_id": client_message_id}
    row = (await conn.execute(_BY_CLIENT_ID, params)).first()
    return (await complete(conn, [message_from_row(row)]))[0] if row else None


async def message_by_id(
    conn: AsyncConnection, message_id: str, *, for_update: bool = False
) -> Message | None:
    """The message, complete; `for_update`: its row locked until commit (PostgreSQL; SQLite
    has one writer), so that changes of one message queue instead of interleaving."""
    query = select(messages).where(messages.c.id == message_id)
    if for_update:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    return (await complete(conn, [message_from_row(row)]))[0] if row else None


def page_query(chat_id: str, before_seq: int | None, limit: int) -> Any:
    query = select(messages).where(messages.c.chat_id == chat_id, _live)
    if before_seq is not None:
        query = query.where(messages.c.seq < before_seq)
    return query.order_by(messages.c.seq.desc()).limit(limit)


async def message_page(
    conn: AsyncConnection, chat_id: str, before_seq: int | None, limit: int
) -> tuple[list[Message], bool]:
    """The latest `limit` live messages before `before_seq`, oldest first, and whether
    older ones exist."""
    rows = list(await conn.execute(page_query(chat_id, before_seq, limit + 1)))
    page = [message_from_row(row) for row in reversed(rows[:limit])]
    return await complete(conn, page), len(rows) > limit


async def latest_pages(
    conn: AsyncConnection, chat_ids: Sequence[str], limit: int
) -> dict[str, tuple[list[Message], bool]]:
    """`message_page` for many chats in one round trip: one index-bounded branch per chat,
    so the cost follows the page size, never the length of a chat's history."""
    pages: dict[str, tuple[list[Message], bool]] = {cid: ([], False) for cid in chat_ids}
    if not chat_ids:
        return pages
    branches: list[Any] = [page_query(c, None, limit + 1).subquery().select() for c in chat_ids]
    query: Any = branches[0] if len(branches) == 1 else union_all(*branches)
    grouped: dict[str, list[Any]] = {cid: [] for cid in chat_ids}
    for row in await conn.execute(query):
        grouped[row.chat_id].append(row)
    for cid, rows in grouped.items():
        rows.sort(key=lambda r: r.seq, reverse=True)
        pages[cid] = ([message_from_row(r) for r in reversed(rows[:limit])], len(rows) > limit)
    everything = await complete(conn, [m for page, _ in pages.values() for m in page])
    found = {m.id: m for m in everything}
    return {cid: ([found[m.id] for m in page], more) for cid, (page, more) in pages.items()}


async def unread_counts(
    conn: AsyncConnection, chat_ids: Sequence[str], reader: User
) -> dict[str, int]:
    """Per chat, the messages the other party sent that `reader` has not read."""
    if not chat_ids:
        return {}
    return {chat_id: n for chat_id, n in await conn.execute(unread_counts_query(chat_ids, reader))}


def unread_counts_query(chat_ids: Sequence[str], reader: User) -> Any:
    # A range of ix_messages_unread_<side> per chat: (reader, chat).
    return (
        select(messages.c.chat_id, func.count())
        .where(
            _participant_column(reader.role) == reader.id,
            messages.c.chat_id.in_(chat_ids),
            _sent_to(reader.role),
            _unread,
            _live,
        )
        .group_by(messages.c.chat_id)
    )


async def total_unread(conn: AsyncConnection, reader: User) -> int:
    """Unread messages to `reader` across all their chats."""
    return int((await conn.execute(total_unread_query(reader))).scalar_one())


def total_unread_query(reader: User) -> Any:
    # By the message's own participant column (the chat's, copied): a range of the
    # reader's unread messages in ix_messages_unread_<side>, not a probe per chat.
    return (
        select(func.count())
        .select_from(messages)
        .where(
            _participant_column(reader.role) == reader.id,
            _sent_to(reader.role),
            _unread,
            _live,
        )
    )


async def mark_read(conn: AsyncConnection, chat_id: str, reader: User, now: int) -> list[str]:
    """Mark every unread message the other side sent `reader` in the chat as read (the
    reader takes part in it); their ids."""
    with off_the_loop():  # a backlog may be thousands of rows
        result = await conn.execute(mark_read_statement(chat_id, reader, now))
    return [row.id for row in sorted(result, key=lambda r: r.seq)]


def mark_read_statement(chat_id: str, reader: User, now: int) -> Any:
    # The range (reader, chat) of ix_messages_unread_<side>.
    return (
        update(messages)
        .where(
            _participant_column(reader.role) == reader.id,
            messages.c.chat_id == chat_id,
            _sent_to(reader.role),
            _unread,
            _live,
        )
        .values(read=True, read_at=now)
        .returning(messages.c.id, messages.c.seq)
    )


async def undelivered(
    conn: AsyncConnection, recipient: User, limit: int
) -> tuple[list[Message], bool]:
    """Up to `limit` live messages to `recipient` that reached none of their sockets, per
    chat in `seq` order; and whether more remain."""
    rows = list(await conn.execute(undelivered_query(recipient, limit + 1)))
    found = [message_from_row(row) for row in rows[:limit]]
    return await complete(conn, found), len(rows) > limit


def undelivered_query(recipient: User, limit: int) -> Any:
    # A range of ix_messages_undelivered_<side>, already in (chat_id, seq) order.
    return (
        select(messages)
        .where(
            _participant_column(recipient.role) == recipient.id,
            _sent_to(recipient.role),
            messages.c.delivered_at.is_(None),
            _live,
        )
        .order_by(messages.c.chat_id, messages.c.seq)
        .limit(limit)
    )


async def tombstone(conn: AsyncConnection, message_id: str, now: int) -> list[str]:
    """Erase a message's content (its earlier versions and reactions too) and keep (id,
    chat, deleted_at) for late syncs, and its client id, so that a late retry of the send
    is answered with the tombstone instead of storing the message again; the media store
    keys of its files, whose rows are gone (the caller removes the files)."""
    await conn.execute(
        update(messages)
        .where(messages.c.id == message_id)
        .values(deleted_at=now, text=None, original_text=None, media_count=0, reaction_count=0)
    )
    await erase_extras(conn, [message_id])
    removed = await conn.execute(
        message_media.delete()
        .where(message_media.c.message_id == message_id)
        .returning(message_media.c.file_key, message_media.c.thumbnail_key)
    )
    keys = [key for row in removed for key in row if key is not None]
    # A file a report shows is evidence: it stays in the store (report_media names it).
    reported = await reported_keys(conn, keys)
    return [key for key in keys if key not in reported]


async def reported_keys(conn: AsyncConnection, keys: Sequence[str]) -> set[str]:
    """Those of `keys` that a report's snapshot shows (as a file or its thumbnail)."""
    if not keys:
        return set()
    rows = await conn.execute(
        select(report_media.c.file_key, report_media.c.thumbnail_key).where(
            or_(report_media.c.file_key.in_(keys), report_media.c.thumbnail_key.in_(keys))
        )
    )
    asked = set(keys)
    return {key for row in rows for key in row if key in asked}


async def erase_extras(conn: AsyncConnection, message_ids: Sequence[str]) -> None:
    """What a deleted message's tombstone no longer has: its earlier texts and reactions."""
    await conn.execute(
        message_versions.delete().where(message_versions.c.message_id.in_(message_ids))
    )
    await conn.execute(
        message_reactions.delete().where(message_reactions.c.message_id.in_(message_ids))
    )


# --- edits -------------------------------------------------------------------------------


async def last_run_of(
    conn: AsyncConnection,
    chat_id: str,
    sender: User,
    since: int,
    limit: int,
    before_seq: int | None = None,
) -> list[tuple[Message, str]]:
    """The messages `sender` wrote last in the chat (before `before_seq`, when given), one
    after the other with nobody else's (nor a deleted one) in between, stored at `since`
    or later, at most `limit`, oldest first; each with its text as the sender wrote it
    (the original, when masked)."""
    query = select(messages).where(messages.c.chat_id == chat_id, messages.c.created_at >= since)
    if before_seq is not None:
        query = query.where(messages.c.seq < before_seq)
    rows = await conn.execute(query.order_by(messages.c.seq.desc()).limit(limit))
    run: list[tuple[Message, str]] = []
    for row in rows:
        mine = row.sender_type == sender.role.value and row.sender_id == sender.id
        if not mine or row.deleted_at is not None:
            break
        if row.text is not None:
            run.append((message_from_row(row), row.original_text or row.text))
    run.reverse()
    return run


async def mask_earlier(conn: AsyncConnection, message_id: str, text: str, original: str) -> None:
    """Give a message its text with (more) contact details masked, keeping what its sender
    wrote; not an edit of theirs (no version, `edited_at` as it was)."""
    await conn.execute(
        update(messages)
        .where(messages.c.id == message_id)
        .values(text=text, original_text=original)
    )


async def chat_contact_policy(conn: AsyncConnection, chat_id: str) -> str | None:
    """The contact-detail policy the platform set for the chat (None: the setting's)."""
    found = await conn.execute(select(chats.c.contact_policy).where(chats.c.id == chat_id))
    return found.scalar()


async def set_chat_contact_policy(conn: AsyncConnection, chat_id: str, policy: str | None) -> bool:
    """Set (or with None, clear) the chat's contact-detail policy; whether the chat exists."""
    done = await conn.execute(
        update(chats).where(chats.c.id == chat_id).values(contact_policy=policy)
    )
    return done.rowcount > 0


async def save_edit(
    conn: AsyncConnection,
    message: Message,
    text: str | None,
    now: int,
    original: str | None = None,
) -> None:
    """Keep `message`'s current text as its next version (as its sender wrote it, when it
    was masked) and give it `text`, edited now; `original`: what the sender wrote, when
    `text` has contact details masked."""
    await conn.execute(
        message_versions.insert().values(
            message_id=message.id,
            version=select(func.coalesce(func.max(message_versions.c.version), 0) + 1)
            .where(message_versions.c.message_id == message.id)
            .scalar_subquery(),
            text=select(func.coalesce(messages.c.original_text, messages.c.text))
            .where(messages.c.id == message.id)
            .scalar_subquery(),
            written_at=message.edited_at or message.created_at,
            replaced_at=now,
        )
    )
    await conn.execute(
        update(messages)
        .where(messages.c.id == message.id)
        .values(text=text, original_text=original, edited_at=now)
    )


# --- reactions ---------------------------------------------------------------------------


async def set_reaction(
    conn: AsyncConnection, message_id: str, user: User, emoji: str | None, now: int
) -> tuple[Reaction, ...]:
    """Put `user`'s reaction to the message (replacing theirs), or remove it (`emoji`
    None); the message's reactions now, oldest first."""
    who = (
        message_reactions.c.message_id == message_id,
        message_reactions.c.user_type == user.role.value,
        message_reactions.c.user_id == user.id,
    )
    if emoji is None:
        await conn.execute(message_reactions.delete().where(*who))
    else:
        stmt = _insert(conn, message_reactions).values(
            message_id=message_id,
            user_type=user.role.value,
            user_id=user.id,
            emoji=emoji,
            reacted_at=now,
        )
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["message_id", "user_type", "user_id"],
                set_={"emoji": stmt.excluded.emoji, "reacted_at": stmt.excluded.reacted_at},
            )
        )
    reactions = (await reactions_of(conn, [message_id])).get(message_id, ())
    await conn.execute(
        update(messages).where(messages.c.id == message_id).values(reaction_count=len(reactions))
    )
    return reactions


async def reactions_of(
    conn: AsyncConnection, message_ids: Sequence[str]
) -> dict[str, tuple[Reaction, ...]]:
    found: dict[str, list[Reaction]] = {}
    rows = await conn.execute(
        select(message_reactions)
        .where(message_reactions.c.message_id.in_(message_ids))
        .order_by(
            message_reactions.c.message_id,
            message_reactions.c.reacted_at,
            message_reactions.c.user_type,
            message_reactions.c.user_id,
        )
    )
    for r in rows:
        found.setdefault(r.message_id, []).append(
            Reaction(r.emoji, User(Role(r.user_type), r.user_id), r.reacted_at)
        )
    return {mid: tuple(rs) for mid, rs in found.items()}


# --- replies -----------------------------------------------------------------------------


async def quoted(
    conn: AsyncConnection, message_ids: Sequence[str] | set[str]
) -> dict[str, tuple[str, ReplyPreview]]:
    """The messages these ids name, as a reply previews them now; by id, with their chat."""
    if not message_ids:
        return {}
    rows = await conn.execute(
        select(
            messages.c.id,
            messages.c.chat_id,
            messages.c.sender_id,
            messages.c.sender_type,
            func.substr(messages.c.text, 1, field_limits.REPLY_PREVIEW),
            messages.c.media_count,
            messages.c.deleted_at,
        ).where(messages.c.id.in_(list(message_ids)))
    )
    return {
        mid: (
            chat_id,
            ReplyPreview(
                mid,
                User(Role(sender_type), sender_id),
                None if deleted_at is not None else text,
                bool(media_count),
                deleted_at is not None,
            ),
        )
        for mid, chat_id, sender_id, sender_type, text, media_count, deleted_at in rows
    }


# --- media -------------------------------------------------------------------------------

_MEDIA_BY_MESSAGE = select(
    message_media.c.message_id, *(message_media.c[name] for name in MEDIA_FIELDS)
).order_by(message_media.c.message_id, message_media.c.position)


async def complete(conn: AsyncConnection, found: list[Message]) -> list[Message]:
    """`found` with what their rows only count or name: media, reactions, the preview of
    the message each quotes. One query for each that some message of `found` needs, none
    otherwise (a page of plain text messages costs nothing more)."""
    found = await with_media(conn, found)
    ids = [m.id for m in found if m.reaction_count and not m.reactions]
    if ids:
        reactions = await reactions_of(conn, ids)
        found = [replace(m, reactions=reactions[m.id]) if m.id in reactions else m for m in found]
    quoting = {m.reply_to_id for m in found if m.reply_to_id and m.reply_to is None}
    if quoting:
        previews = await quoted(conn, quoting)
        found = [
            replace(m, reply_to=previews[m.reply_to_id][1])
            if m.reply_to_id in previews and m.reply_to is None
            else m
            for m in found
        ]
    return found


async def with_media(conn: AsyncConnection, found: list[Message]) -> list[Message]:
    """`found`, with the media of those that have some (one query, none if no message
    has media)."""
    ids = [m.id for m in found if m.media_count]
    if not ids:
        return found
    media: dict[str, list[Media]] = {}
    for row in await conn.execute(_MEDIA_BY_MESSAGE.where(message_media.c.message_id.in_(ids))):
        media.setdefault(row[0], []).append(media_from_row(row[1:]))
    return [replace(m, media=tuple(media.get(m.id, ()))) if m.media_count else m for m in found]


async def referenced_keys(conn: AsyncConnection, keys: Sequence[str]) -> set[str]:
    """Those of `keys` that a message's media row or a report's snapshot names (as a file
    or its thumbnail)."""
    if not keys:
        return set()
    rows = await conn.execute(
        select(message_media.c.file_key, message_media.c.thumbnail_key).where(
            or_(message_media.c.file_key.in_(keys), message_media.c.thumbnail_key.in_(keys))
        )
    )
    asked = set(keys)
    return {key for row in rows for key in row if key in asked} | await reported_keys(conn, keys)


# --- presence ----------------------------------------------------------------------------


async def save_last_seen(conn: AsyncConnection, user: User, at: int) -> None:
    stmt = _insert(conn, last_seen).values(user_type=user.role.value, user_id=user.id, seen_at=at)
    stmt = stmt.on_conflict_do_update(
        index_elements=["user_type", "user_id"], set_={"seen_at": stmt.excluded.seen_at}
    )
    await conn.execute(stmt)


async def load_last_seen(conn: AsyncConnection, user: User) -> int | None:
    query = select(last_seen.c.seen_at).where(
        last_seen.c.user_type == user.role.value, last_seen.c.user_id == user.id
    )
    value = (await conn.execute(query)).scalar()
    return int(value) if value is not None else None


async def mark_delivered(conn: AsyncConnection, message_ids: Sequence[str], now: int) -> list[str]:
    """Set deliveredAt on those of `message_ids` that had none; the ids that changed."""
    if not message_ids:
        return []
    result = await conn.execute(
        update(messages)
        .where(messages.c.id.in_(message_ids), messages.c.delivered_at.is_(None))
        .values(delivered_at=now)
        .returning(messages.c.id)
    )
    return list(result.scalars())
