"""The AsyncAPI 3.0 document of the Socket.IO protocol: the /presence and /chat namespaces
as channels, every client event with its payload model (the one the server validates
with) and its ack, and every server event with its envelope model."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import version

from pydantic import BaseModel, Field

from slychat.contracts.components import Components, plain_discriminators
from slychat.protocol import envelopes as e
from slychat.protocol import inbound as schemas
from slychat.protocol.namespaces import CHAT_NAMESPACE, PRESENCE_NAMESPACE
from slychat.protocol.types import Json


class HandshakeAuth(BaseModel):
    """The Socket.IO `auth` object of a namespace connection."""

    token: str = Field(
        description="The user's JWT (a `token` or `Authorization: Bearer` header, or "
        "`?token=`, are read when auth has none)"
    )
    syncCursor: str | None = Field(
        default=None,
        description="/chat only: the last syncCursor the client holds; the server then "
        "emits syncMessages with what changed since, after userChats",
    )


@dataclass(frozen=True)
class ClientEvent:
    """An event the server handles: its payload model, its ack on success (an error
    object otherwise), and the server events it may cause."""

    name: str
    payload: type[BaseModel]
    ack: type[BaseModel]
    summary: str
    emits: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServerEvent:
    name: str
    payload: type[BaseModel]
    summary: str


@dataclass(frozen=True)
class Namespace:
    key: str  # the channel's key in the document
    address: str
    description: str
    client: tuple[ClientEvent, ...]
    server: tuple[ServerEvent, ...]


_APP_ERROR = ServerEvent(
    "appError", e.Error, "An event of this socket failed: the same object as its ack"
)
_CONNECT_ERROR = ServerEvent(
    "connect_error",
    e.ConnectRefused,
    "The connection was refused (401, 403, 429, 503): Socket.IO's connect_error",
)
_ONLINE = ServerEvent("userIsOnline", e.UserIsOnline, "A user sharing a chat came online")

PRESENCE = Namespace(
    "presence",
    PRESENCE_NAMESPACE,
    "Online while any connection of the user is open. Customers, vendors and admins. "
    "Connect here first: /chat waits for it.",
    client=(
        ClientEvent(
            "checkOnlinePresence",
            schemas.CheckOnlinePresence,
            e.OnlinePresence,
            "Whether a user sharing a chat with the caller is online, and when last seen",
            emits=("onlinePresence",),
        ),
    ),
    server=(
        ServerEvent("userIsOnline", e.UserIsOnline, "This connection is counted online"),
        ServerEvent("onlinePresence", e.OnlinePresence, "The answer to checkOnlinePresence"),
        _APP_ERROR,
        _CONNECT_ERROR,
    ),
)

_LIST = "the list comes as its reply event; the ack says how much it carried"

CHAT = Namespace(
    "chat",
    CHAT_NAMESPACE,
    "Chats and messages; customers and vendors. On connect the server emits userChats, "
    "then syncMessages (when auth.syncCursor was given), then offlineMessages.",
    client=(
        ClientEvent(
            "joinChat",
            schemas.JoinChat,
            e.JoinChatAck,
            f"Open a chat: a page of its messages, marked read ({_LIST})",
            emits=("loadMessages", "updateReadReceipts"),
        ),
        ClientEvent(
            "getUserChats",
            schemas.GetUserChats,
            e.UserChatsAck,
            f"A page of the caller's chats ({_LIST})",
            emits=("userChats",),
        ),
        ClientEvent(
            "joinRooms",
            schemas.GetUserChats,
            e.UserChatsAck,
            "As getUserChats (the original system's name)",
            emits=("userChats",),
        ),
        ClientEvent(
            "sendMessage",
            schemas.SendMessage,
            e.MessageSent,
            "Send a text message; the first one about a product opens the chat",
            emits=("receiveMessage", "newChat"),
        ),
        ClientEvent(
            "editMessage",
            schemas.EditMessage,
            e.MessageEdited,
            "Change the text of one of the caller's messages, within SLYCHAT_EDIT_WINDOW",
            emits=("messageEdited",),
        ),
        ClientEvent(
            "addReaction",
            schemas.AddReaction,
            e.MessageReactions,
            "React to a message with one emoji (replacing the caller's reaction)",
            emits=("messageReactions",),
        ),
        ClientEvent(
            "removeReaction",
            schemas.RemoveReaction,
            e.MessageReactions,
            "Take the caller's reaction to a message back",
            emits=("messageReactions",),
        ),
        ClientEvent(
            "updateChatSettings",
            schemas.UpdateChatSettings,
            e.ChatSettings,
            "Mute or archive a chat, for the caller only",
            emits=("chatSettings",),
        ),
        ClientEvent(
            "markAsRead",
            schemas.MarkAsRead,
            e.ReadReceipts,
            "Mark the chat's messages to the caller read",
            emits=("updateReadReceipts",),
        ),
        ClientEvent(
            "deleteMessage",
            schemas.DeleteMessage,
            e.MessageDeleted,
            "Delete one of the caller's messages",
            emits=("messageDeleted",),
        ),
        ClientEvent(
            "typing",
            schemas.Typing,
            e.TypingNotice,
            "Tell the recipient the caller is typing",
            emits=("userTyping",),
        ),
        ClientEvent(
            "stoppedTyping",
            schemas.Typing,
            e.TypingNotice,
            "Tell the recipient the caller stopped typing",
            emits=("stoppedTyping",),
        ),
        ClientEvent(
            "syncMessages",
            schemas.SyncMessages,
            e.SyncAck,
            f"What changed since a sync cursor ({_LIST})",
            emits=("syncMessages", "messagesDelivered"),
        ),
        ClientEvent(
            "getOfflineMessages",
            schemas.Payload,
            e.OfflineAck,
            f"The next batch of undelivered messages ({_LIST})",
            emits=("offlineMessages", "messagesDelivered"),
        ),
        ClientEvent(
            "searchMessages",
            schemas.SearchMessages,
            e.SearchAck,
            "The caller's messages holding every word of a query (the last as a prefix), "
            f"newest first; page on with `before` = the page's `next` ({_LIST})",
            emits=("searchMessages",),
        ),
        ClientEvent(
            "blockUser",
            schemas.BlockUser,
            e.BlockAck,
            "Block a counterpart (a customer blocks vendors, a vendor customers): no "
            "message, file, typing, new chat or presence flows between the two, either "
            "way, in any of their chats (403); history stays. Blocking again changes nothing",
            emits=("blockedUsers",),
        ),
        ClientEvent(
            "unblockUser",
            schemas.BlockUser,
            e.BlockAck,
            "Lift the caller's block of a user (no failure when there was none)",
            emits=("blockedUsers",),
        ),
        ClientEvent(
            "getBlockedUsers",
            schemas.GetBlockedUsers,
            e.BlockedUsersAck,
            f"Every user the caller blocks ({_LIST})",
            emits=("blockedUsers",),
        ),
        ClientEvent(
            "reportMessage",
            schemas.ReportMessage,
            e.ReportReceived,
            "Report a message of one of the caller's chats to the platform's moderators "
            "(201; 200 with the caller's open report of the same message)",
        ),
        ClientEvent(
            "reportUser",
            schemas.ReportUser,
            e.ReportReceived,
            "Report a user the caller shares a chat with (`chatId`: which chat's latest "
            "messages the report shows; 201, or 200 with the caller's open report of them)",
        ),
    ),
    server=(
        ServerEvent("userChats", e.UserChats, "A page of the user's chats"),
        ServerEvent("offlineMessages", e.OfflineMessages, "Messages that reached no socket"),
        ServerEvent("loadMessages", e.ChatPage, "The chat joinChat opened, with a page"),
        ServerEvent("newChat", e.NewChat, "A chat with the user was opened"),
        ServerEvent("receiveMessage", e.ReceiveMessage, "A new text message in a chat"),
        ServerEvent("receiveMedia", e.ReceiveMessage, "A new message with files"),
        ServerEvent("messagesDelivered", e.MessagesDelivered, "The user's messages arrived"),
        ServerEvent("updateReadReceipts", e.ReadReceipts, "The other party read messages"),
        ServerEvent("messageDeleted", e.MessageDeleted, "A message of the chat was deleted"),
        ServerEvent("messageEdited", e.MessageEdited, "A message of the chat was edited"),
        ServerEvent("messageReactions", e.MessageReactions, "A message's reactions changed"),
        ServerEvent("chatSettings", e.ChatSettings, "The user changed their settings of a chat"),
        ServerEvent("userTyping", e.TypingNotice, "The other party is typing"),
        ServerEvent("stoppedTyping", e.TypingNotice, "The other party stopped typing"),
        ServerEvent("syncMessages", e.SyncChanges, "The changes since a sync cursor"),
        ServerEvent("searchMessages", e.SearchResults, "A page of search results"),
        ServerEvent("blockedUsers", e.BlockedUsers, "The users the user blocks (after a change)"),
        _ONLINE,
        ServerEvent("userIsOffline", e.UserIsOffline, "A user sharing a chat went offline"),
        _APP_ERROR,
        _CONNECT_ERROR,
    ),
)

NAMESPACES = (PRESENCE, CHAT)


def client_key(name: str) -> str:
    return f"client.{name}"


def ack_key(name: str) -> str:
    return f"ack.{name}"


def server_key(name: str) -> str:
    return f"server.{name}"


def document() -> Json:
    """The AsyncAPI 3.0 document."""
    components = Components()
    messages: Json = {}
    channels: Json = {}
    operations: Json = {}
    auth = components.ref(HandshakeAuth)
    for ns in NAMESPACES:
        channel_messages: Json = {}
        channel = f"#/channels/{ns.key}"
        for c in ns.client:
            messages[client_key(c.name)] = {
                "name": c.name,
                "title": f"{c.name} (client to server)",
                "summary": c.summary,
                "payload": components.ref(c.payload),
            }
            messages[ack_key(c.name)] = {
                "name": c.name,
                "title": f"the ack of {c.name}",
                "summary": "The event's ack: its result, or the error object",
                "payload": {"anyOf": [components.ref(c.ack), components.ref(e.Error)]},
            }
            for key in (client_key(c.name), ack_key(c.name)):
                channel_messages[key] = {"$ref": f"#/components/messages/{key}"}
            operation: Json = {
                "action": "receive",
                "channel": {"$ref": channel},
                "summary": c.summary,
                "messages": [{"$ref": f"{channel}/messages/{client_key(c.name)}"}],
                "reply": {
                    "channel": {"$ref": channel},
                    "messages": [{"$ref": f"{channel}/messages/{ack_key(c.name)}"}],
                },
            }
            if c.emits:
                operation["description"] = "Emits: " + ", ".join(c.emits) + "."
            operations[f"{ns.key}.{c.name}"] = operation
        for s in ns.server:
            key = server_key(s.name)
            messages.setdefault(
                key,
                {
                    "name": s.name,
                    "title": f"{s.name} (server to client)",
                    "summary": s.summary,
                    "payload": components.ref(s.payload),
                },
            )
            channel_messages[key] = {"$ref": f"#/components/messages/{key}"}
            operations[f"{ns.key}.{s.name}.emit"] = {
                "action": "send",
                "channel": {"$ref": channel},
                "summary": s.summary,
                "messages": [{"$ref": f"{channel}/messages/{key}"}],
            }
        channels[ns.key] = {
            "address": ns.address,
            "title": f"The {ns.address} namespace",
            "description": ns.description,
            "messages": channel_messages,
            "x-handshake-auth": auth,
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "slychat real-time protocol",
            "version": version("slychat"),
            "description": "Socket.IO v5 (Engine.IO v4). Each namespace is a channel; a "
            "client event's ack is its reply. Every payload is one JSON object. "
            "Connect with `auth: {token}` (see x-handshake-auth); a refusal is "
            "connect_error. The HTTP routes are in /openapi.json.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "slychat": {
                "host": "localhost:8000",
                "protocol": "ws",
                "pathname": "/socket.io/",
                "description": "The server's own host and port (SLYCHAT_PUBLIC_URL); "
                "Socket.IO over WebSocket, or HTTP long-polling where enabled",
                "security": [{"$ref": "#/components/securitySchemes/userJwt"}],
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": plain_discriminators(components.sorted()),
            "messages": {key: messages[key] for key in sorted(messages)},
            "securitySchemes": {
                "userJwt": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "The user's JWT, as the handshake's `auth.token`",
                }
            },
        },
    }
