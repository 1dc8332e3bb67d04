"""Writing messages: send (idempotent), delete, offline delivery, typing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from sqlalchemy.ext.asyncio import AsyncConnection

from slychat.domain.errors import Forbidden, Invalid, NotFound
from slychat.domain.identity import SYSTEM_USER, User
from slychat.domain.ids import now_ms
from slychat.domain.models import (
    Chat,
    ChatDetails,
    ChatKey,
    Media,
    Message,
    Reaction,
    ReplyPreview,
)
from slychat.media.store import MediaStore, release
from slychat.moderation.split_numbers import MAX_FRAGMENTS
from slychat.moderation.split_numbers import WINDOW_SECONDS as SPLIT_WINDOW
from slychat.services import budget
from slychat.services.block_cache import BlockCache
from slychat.services.chat_directory import ChatDirectory
from slychat.services.chat_policies import ChatPolicies
from slychat.services.chat_policy import NewChatPolicy
from slychat.services.chats import ChatRef
from slychat.services.events import (
    ChatStarted,
    Event,
    EventSink,
    MessageDeleted,
    MessageEdited,
    MessageSent,
    ReactionsChanged,
    Typing,
    delivered,
)
from slychat.services.limits import Limits
from slychat.services.presence import PresenceService
from slychat.services.recent_runs import RecentRuns, Recorded
from slychat.services.sync import record_delivery
from slychat.services.text_rules import ContactPolicy, TextRules
from slychat.storage import feeds
from slychat.storage import repository as repo
from slychat.storage.database import Database
from slychat.storage.group_commit import GroupCommit
from slychat.storage.send_batch import ChatMissing, Outgoing, SendStore, Stored, UniqueViolation

BLOCKED = "You cannot message this user: one of you has blocked the other"

Spans = tuple[tuple[int, int], ...]
# Earlier messages holding pieces of a split number: each, its text as written, the spans.
Pieces = list[tuple[Message, str, Spans]]


@dataclass(frozen=True, slots=True)
class SendCommand:
    product_id: str
    recipient_id: int
    text: str | None
    client_message_id: str | None = None
    details: ChatDetails = field(default_factory=ChatDetails)
    media: tuple[Media, ...] = ()  # files already in the media store
    reply_to: str | None = None  # the id of the message of the chat this one answers


@dataclass(frozen=True, slots=True)
class Sent:
    key: ChatKey
    message: Message
    created: Chat | None  # the chat, when this message created it
    duplicate: bool  # a retry of a message stored before: nothing new happened
    # The sender's earlier messages masked again because this one completed a number
    # split over them: each re-emitted as edited, after this message.
    remasked: tuple[MessageEdited, ...] = ()

    @property
    def events(self) -> list[Event]:
        if self.duplicate:
            return []
        m = self.message
        if m.sender == SYSTEM_USER:  # a notice to both participants, from neither
            return [MessageSent(m, (self.key.customer, self.key.vendor))]
        recipient = self.key.counterpart_of(m.sender)
        # A message that reaches the recipient at once carries `deliveredAt` in the
        # sender's own copy and ack; `messagesDelivered` is for deliveries that come later.
        if self.created is not None:
            return [ChatStarted(self.created, m, recipient), MessageSent(m, (m.sender,))]
        return [MessageSent(m, (recipient, m.sender)), *self.remasked]


@dataclass(frozen=True, slots=True)
class Edited:
    message: Message  # as it reads now
    event: MessageEdited | None  # None: the text was the same, nothing changed
    flagged_by: tuple[str, ...] = ()  # the mask and flag rules the new text matched
    contacts: bool = False  # contact details were masked in the new text


@dataclass(frozen=True, slots=True)
class Reacted:
    chat_id: str
    message_id: str
    reactions: tuple[Reaction, ...]
    event: ReactionsChanged | None  # None: nothing changed


async def _message_of(conn: AsyncConnection, user: User, message_id: str) -> tuple[Message, Chat]:
    """A live message of a chat `user` takes part in, its row locked until commit (so that
    edits and reactions of one message queue), and its chat."""
    message = await repo.message_by_id(conn, message_id, for_update=True)
    if message is None or message.deleted_at is not None:
        raise NotFound("Message not found")
    chat = await repo.chat_by_id(conn, message.chat_id)
    if chat is None or not chat.has_participant(user):
        raise Forbidden("You are not a participant of this chat")
    return message, chat


async def tombstone(
    conn: AsyncConnection, chat: Chat, message_id: str
) -> tuple[MessageDeleted, list[str]]:
    """Make a live message of `chat` a tombstone, with its `deleted` change in both
    participants' feeds (deleteMessage, and a moderator's delete_message); the media keys
    to remove once committed."""
    now = now_ms()
    files = await repo.tombstone(conn, message_id, now)
    await feeds.append_feed(
        conn, (chat.customer, chat.vendor), "deleted", chat.id, now, message_id=message_id
    )
    return MessageDeleted(chat, message_id, now), files


class MessageService:
    def __init__(
        self,
        db: Database,
        store: SendStore,
        chats: ChatDirectory,
        presence: PresenceService,
        media_store: MediaStore,
        offline_batch: int,
        list_budget: int,
        new_chats: NewChatPolicy,
        limits: Limits,
        text_rules: TextRules,
        edit_window: float,
        sink: EventSink,
        policies: ChatPolicies,
        blocks: BlockCache,
        runs: RecentRuns | None = None,
    ) -> None:
        # Each chat's last messages on this node, for split numbers (None: always read).
        self.runs = runs
        if runs is not None:
            sink.observe(self._observe)
        self.blocks = blocks
        self.policies = policies
        self.sink = sink
        # Told of each message stored with contact details masked, after its commit (the
        # automatic reports: ReportService.masked, wired by the container); never waited for.
        self.on_masked: Callable[[Message], None] | None = None
        # And of each message whose text or chat fields matched moderation rules that mask
        # or flag (their ids, and whether contact details were masked in it too):
        # ReportService.flagged, wired by the container.
        self.on_flagged: Callable[[Message, tuple[str, ...], bool], None] | None = None
        self.text_rules = text_rules
        self.edit_window = edit_window  # seconds; 0: no edits
        self.limits = limits
        self.list_budget = list_budget
        self.new_chats = new_chats
        self.db = db
        self.media_store = media_store
        self.chats = chats
        self.presence = presence
        self.offline_batch = offline_batch
        self.store = store
        self.writer: GroupCommit[Outgoing, Stored] = GroupCommit(store.store)

    async def send(self, sender: User, cmd: SendCommand) -> Sent:
        """Store a message, creating the chat on first contact, and publish it."""
        sent = await self.store_message(sender, cmd)
        await self.sink(sent.events)
        return sent

    async def store_message(
        self, sender: User, cmd: SendCommand, *, any_starter: bool = False
    ) -> Sent:
        """Store a message, creating the chat on first contact; answered after commit, its
        events left to the caller to publish (with its own, in their order).
        `any_starter`: the platform (admin API) opens the chat on the sender's behalf, so
        SLYCHAT_CHAT_STARTERS and the sender's new-chat rate do not apply."""
        text = self.text_rules.apply(cmd.text, required=not cmd.media)
        key = ChatKey.between(sender, cmd.product_id, cmd.recipient_id)
        recipient = key.counterpart_of(sender)
        self.refuse_blocked(sender, recipient)
        chat_id = await self.chats.find(key)
        # Only a reply costs a query more: the message it quotes, which must be live and
        # in this very chat (a chat that does not exist yet has none).
        quote = None if cmd.reply_to is None else await self._quote(chat_id, cmd.reply_to)
        policy = self.text_rules.policy_for(await self._chat_policy(chat_id))
        pieces: Pieces = []
        also: Spans = ()
        # The last `seq` memory held when it answered that no split number ends here.
        answered_at: int | None = None
        if policy is not ContactPolicy.OFF and text is not None and chat_id is not None:
            also, pieces, answered_at = await self._split_number(chat_id, sender, text)
        written = await self.text_rules.check(text, policy, also)
        contacts = written.contacts
        details = cmd.details
        flagged_by = written.flagged_by
        if chat_id is None:
            details, in_details = await self.text_rules.details(details, policy)
            flagged_by = tuple(dict.fromkeys(flagged_by + in_details))
            self.new_chats.check(sender, cmd.details, any_starter=any_starter)
            if not any_starter:
                # Last, once the message is known to create the chat: a message to an
                # existing chat never spends it, and a refused one has stored nothing yet.
                await self.limits.new_chat(sender)
        item = Outgoing(
            key=key,
            chat_id=chat_id,
            sender=sender,
            text=written.text,
            original_text=written.original,
            client_message_id=cmd.client_message_id,
            recipient_online=await self.presence.is_online(recipient),
            # Emitted right after commit to every socket of the recipient, if they have one.
            delivered=await self.presence.has_chat_socket(recipient),
            details=None if chat_id is not None else details,
            media=cmd.media,
            reply_to_id=cmd.reply_to,
        )
        try:
            stored = await self.writer.submit(item)
        except UniqueViolation:
            # A concurrent retry with the same clientMessageId committed first: this
            # attempt rolled back whole, so answer with the message that won.
            if cmd.client_message_id is None:
                raise
            return await self._first_of(sender, key, cmd.client_message_id)
        except ChatMissing as exc:  # pragma: no cover - chats are never deleted
            raise NotFound("Chat not found") from exc
        if stored.created is not None:
            self.chats.remember(key, stored.created.id)
        message = stored.message
        if stored.duplicate:  # a retry, answered as the message reads now
            async with self.db.read() as conn:
                message = (await repo.complete(conn, [message]))[0]
        elif quote is not None:
            message = replace(message, reply_to=quote)
        if not stored.duplicate and self.runs is not None:
            self.runs.record(
                message.chat_id, Recorded(message.seq, sender, message.created_at, text)
            )
        gap = answered_at is not None and message.seq != answered_at + 1
        if gap and text is not None and not stored.duplicate:
            # Messages this node had not seen came in between (a concurrent send, another
            # process): memory may have missed pieces; the database says, and this
            # message's own pieces are masked now, as an edit.
            new, pieces = await self._split_from_db(
                message.chat_id, sender, text, message.created_at, before_seq=message.seq
            )
            if new:
                pieces.append((message, text, new))
                contacts = True
        remasked = () if stored.duplicate or not pieces else await self._remask(pieces)
        if not stored.duplicate:  # a retry's were reported the first time
            self._report(message, contacts, flagged_by)
        return Sent(key, message, stored.created, stored.duplicate, remasked)

    def refuse_blocked(self, user: User, other: User) -> None:
        """403 when either of the two blocks the other: nothing may flow between them (no
        message, file, new chat, edit, reaction or typing notice)."""
        if self.blocks.between(user, other):
            raise Forbidden(BLOCKED)

    def _report(self, message: Message, contacts: bool, flagged_by: tuple[str, ...]) -> None:
        """The automatic reports of a committed message: contact details masked in it, and
        the moderation rules (mask, flag) it matched."""
        if flagged_by and self.on_flagged is not None:  # one report says both
            self.on_flagged(message, flagged_by, contacts)
        elif contacts and self.on_masked is not None:
            self.on_masked(message)

    async def _split_number(
        self, chat_id: str, sender: User, text: str
    ) -> tuple[Spans, Pieces, int | None]:
        """The pieces of a phone number split between `text` and the sender's last
        messages in the chat (within SPLIT_WINDOW): spans of `text`, and each earlier
        message (with its text as written) and its spans; and, when this node's memory
        answered that there are none, the last `seq` it held (checked after the commit).

        Most texts start with a word that no number holds, or hold no digit nor number
        word, and no split number can end in them. Memory
        (RecentRuns) answers most others without a read; when it finds a number, or
        cannot be sure, the database says which messages hold it."""
        if not self.text_rules.detector.may_end_split_number(text):
            return (), [], None
        now = now_ms()
        run = None if self.runs is None else self.runs.run_of(chat_id, sender, now)
        if run is not None:
            if not run.texts:
                return (), [], run.last_seq
            split = await self.text_rules.split_numbers(
                text, now / 1000, [(t, at / 1000) for t, at in run.texts]
            )
            if split is None:
                return (), [], run.last_seq
        new, pieces = await self._split_from_db(chat_id, sender, text, now)
        return new, pieces, None

    async def _split_from_db(
        self, chat_id: str, sender: User, text: str, now: int, *, before_seq: int | None = None
    ) -> tuple[Spans, Pieces]:
        """`_split_number` from the sender's last messages as the database has them
        (before `before_seq`, when given), at `now` (ms)."""
        async with self.db.read() as conn:
            run = await repo.last_run_of(
                conn, chat_id, sender, now - int(SPLIT_WINDOW * 1000), MAX_FRAGMENTS, before_seq
            )
        if not run:
            return (), []
        split = await self.text_rules.split_numbers(
            text, now / 1000, [(original, m.created_at / 1000) for m, original in run]
        )
        if split is None:
            return (), []
        return split.new, [(run[i][0], run[i][1], spans) for i, spans in split.earlier]

    def _observe(self, event: Event) -> None:
        """An edit or deletion published on this node: the chat's run is read again."""
        if self.runs is not None and isinstance(event, MessageEdited | MessageDeleted):
            self.runs.forget(event.chat.id)

    async def _remask(self, pieces: Pieces) -> tuple[MessageEdited, ...]:
        """Mask the pieces of a split number in the sender's earlier messages (what they
        wrote kept), each change in both participants' feeds as an edit."""
        texts = [await self.text_rules.remask(original, spans) for _, original, spans in pieces]

        async def work(conn: AsyncConnection) -> tuple[MessageEdited, ...]:
            chat = await repo.chat_by_id(conn, pieces[0][0].chat_id)
            if chat is None:  # pragma: no cover - chats are never deleted
                return ()
            now = now_ms()
            changed = []
            for (m, original, _spans), text in zip(pieces, texts, strict=True):
                if text == m.text:
                    continue
                await repo.mask_earlier(conn, m.id, text, original)
                await feeds.append_feed(
                    conn, (chat.customer, chat.vendor), "edited", chat.id, now, message_id=m.id
                )
                changed.append(replace(m, text=text, masked=True))
            completed = await repo.complete(conn, changed)
            return tuple(MessageEdited(chat, m) for m in completed)

        return await self.db.write(work)

    async def _chat_policy(self, chat_id: str | None) -> str | None:
        """The platform's contact-detail policy for the chat, if it set one (a chat that
        does not exist yet has none)."""
        return None if chat_id is None else await self.policies.of(chat_id)

    async def _quote(self, chat_id: str | None, message_id: str) -> ReplyPreview:
        found = None
        if chat_id is not None:
            async with self.db.read() as conn:
                found = (await repo.quoted(conn, [message_id])).get(message_id)
        if found is None or found[0] != chat_id or found[1].deleted:
            raise Invalid("replyTo: must be the id of a message of this chat")
        return found[1]

    async def post_system(self, chat: Chat, text: str, client_message_id: str | None) -> Sent:
        """A SYSTEM notice in `chat`, through the same group commit as every message (so
        it has a `seq` and a place in both feeds); idempotent by `client_message_id`."""
        item = Outgoing(
            key=chat.key,
            chat_id=chat.id,
            sender=SYSTEM_USER,
            text=text,
            client_message_id=client_message_id,
            recipient_online=False,
            # Nobody's to deliver: never listed as offline nor counted as delivered later.
            delivered=False,
        )
        try:
            stored = await self.writer.submit(item)
        except UniqueViolation:
            if client_message_id is None:
                raise
            return await self._first_of(SYSTEM_USER, chat.key, client_message_id)
        sent = Sent(chat.key, stored.message, None, stored.duplicate)
        if not stored.duplicate and self.runs is not None:  # a notice ends both runs
            m = stored.message
            self.runs.record(m.chat_id, Recorded(m.seq, SYSTEM_USER, m.created_at, None))
        await self.sink(sent.events)
        return sent

    async def open_chat(self, key: ChatKey, details: ChatDetails) -> tuple[Chat, bool]:
        """The chat at `key`, opened without a message unless it exists (the admin API);
        whether this call created it. Its details are checked as a first message's are,
        whoever SLYCHAT_CHAT_STARTERS names."""
        self.new_chats.check(key.vendor, details, any_starter=True)
        chat, created = await self.store.open_chat(key, details)
        self.chats.remember(key, chat.id)
        return chat, created

    async def _first_of(self, sender: User, key: ChatKey, client_message_id: str) -> Sent:
        async with self.db.read() as conn:
            first = await repo.message_by_client_id(conn, key, sender.role, client_message_id)
        if first is None:
            raise NotFound("Message not found")
        return Sent(key, first, None, duplicate=True)

    async def delete(self, user: User, message_id: str, ref: ChatRef | None) -> MessageDeleted:
        """Only the sender deletes; the row stays as a tombstone for reconnecting clients,
        and the message's files leave the media store once the deletion has committed."""

        async def work(conn: AsyncConnection) -> tuple[MessageDeleted, list[str]]:
            message = await repo.message_by_id(conn, message_id)
            if message is None or message.deleted_at is not None:
                raise NotFound("Message not found")
            chat = await repo.chat_by_id(conn, message.chat_id)
            if chat is None or not chat.has_participant(user):
                raise Forbidden("You are not a participant of this chat")
            if ref is not None and ref.key_for(user) not in (None, chat.key):
                raise NotFound("Message not found in this chat")
            if message.sender != user:
                raise Forbidden("Only the sender can delete a message")
            return await tombstone(conn, chat, message.id)

        deleted, files = await self.db.write(work)
        await self.deleted(deleted, files)
        return deleted

    async def deleted(self, deleted: MessageDeleted, files: list[str]) -> None:
        """After a deletion's commit: its files leave the media store, and it is published."""
        await release(self.media_store, files)
        await self.sink([deleted])

    async def edit(self, user: User, message_id: str, text: str) -> Edited:
        """The sender's new text for their message, within the edit window; its earlier
        text is kept as a version (moderators only). The same text again changes nothing."""

        async def work(conn: AsyncConnection) -> Edited:
            message, chat = await _message_of(conn, user, message_id)
            if message.sender != user:
                raise Forbidden("Only the sender can edit a message")
            self.refuse_blocked(user, chat.counterpart_of(user))
            window_ms = int(self.edit_window * 1000)
            if window_ms == 0:
                raise Forbidden("Editing messages is turned off")
            now = now_ms()
            if now - message.created_at > window_ms:
                raise Forbidden("The time to edit this message has passed")
            new_text = self.text_rules.apply(text, required=not message.media_count)
            written = await self.text_rules.check(
                new_text, self.text_rules.policy_for(chat.contact_policy)
            )
            if written.text == message.text:
                return Edited(message, None)
            await repo.save_edit(conn, message, written.text, now, written.original)
            await feeds.append_feed(
                conn, (chat.customer, chat.vendor), "edited", chat.id, now, message_id=message.id
            )
            edited = replace(message, text=written.text, edited_at=now, masked=written.masked)
            event = MessageEdited(chat, edited)
            return Edited(edited, event, written.flagged_by, written.contacts)

        edited = await self.db.write(work)
        if edited.event is not None:
            await self.sink([edited.event])
            self._report(edited.message, edited.contacts, edited.flagged_by)
        return edited

    async def react(self, user: User, message_id: str, emoji: str | None) -> Reacted:
        """`user`'s reaction to a message of their chat (replacing theirs), or none
        (`emoji` None); the message's reactions after it."""

        async def work(conn: AsyncConnection) -> Reacted:
            message, chat = await _message_of(conn, user, message_id)
            self.refuse_blocked(user, chat.counterpart_of(user))
            mine = next((r for r in message.reactions if r.user == user), None)
            if (mine.emoji if mine else None) == emoji:
                return Reacted(chat.id, message.id, message.reactions, None)
            now = now_ms()
            reactions = await repo.set_reaction(conn, message.id, user, emoji, now)
            await feeds.append_feed(
                conn,
                (chat.customer, chat.vendor),
                "reactions",
                chat.id,
                now,
                message_id=message.id,
                reactions=reactions,
            )
            return Reacted(
                chat.id, message.id, reactions, ReactionsChanged(chat, message.id, reactions)
            )

        reacted = await self.db.write(work)
        if reacted.event is not None:
            await self.sink([reacted.event])
        return reacted

    async def take_offline(self, user: User) -> tuple[list[Message], bool]:
        """The next batch of messages to `user` that reached none of their sockets, now
        counted as delivered; and whether more remain."""
        now = now_ms()

        async def work(conn: AsyncConnection) -> tuple[list[Message], bool]:
            found, more = await repo.undelivered(conn, user, self.offline_batch)
            kept = budget.prefix(found, budget.message_cost, self.list_budget)
            await repo.mark_delivered(conn, [m.id for m in kept], now)
            taken = [replace(m, delivered_at=now) for m in kept]
            await record_delivery(conn, taken, now)
            return taken, more or len(kept) < len(found)

        taken, more = await self.db.write(work)
        await self.sink(delivered(taken))
        return taken, more

    async def typing(self, user: User, ref: ChatRef, *, stopped: bool) -> Typing:
        """Tell the recipient that `user` is typing (or stopped) in the chat `ref` names,
        which may not exist yet."""
        key = ref.key_for(user)
        if key is None:
            raise Invalid("productId and recipientId are required")
        chat_id = await self.chats.find(key)
        if chat_id is None and not self.new_chats.may_start(user):
            # Only someone who could start this chat may be about to: a vendor typing to
            # a customer who never wrote to them would be unsolicited.
            raise Forbidden("There is no chat with this user about this product")
        self.refuse_blocked(user, key.counterpart_of(user))
        notice = Typing(user, key.counterpart_of(user), key.product_id, chat_id, stopped)
        await self.sink([notice])
        return notice
