// A small program using the API as an app would: it must compile under `tsc --strict`.
import { SlyChat, SlyChatError, memoryStorage, type ChatView, type Message } from "slychat-client";

async function main(): Promise<void> {
  const client = new SlyChat({
    url: "http://127.0.0.1:8000",
    token: async () => "a-fresh-jwt",
    storage: memoryStorage(),
  });
  const off = client.on("message", (message: Message, chat: ChatView | null) => {
    const text: string | null = message.text;
    const seq: number = message.seq;
    const title = chat?.productName ?? chat?.productId ?? "?";
    console.log(title, seq, text?.toUpperCase(), message.messageMedias.map((m) => m.url));
  });
  client.on("read", (receipt) => console.log(receipt.messageIds.join(","), receipt.readAt));
  client.on("delivered", ({ chatId, deliveredAt }) => console.log(chatId, deliveredAt));
  client.on("deleted", ({ messageId }) => console.log(messageId));
  client.on("edited", (m) => console.log(m.editedAt ?? "never"));
  client.on("reactions", ({ reactions }) => console.log(reactions.map((r) => `${r.emoji}${r.userType}`)));
  client.on("typing", ({ chatId, typing }) => console.log(chatId ?? "new chat", typing ? "typing" : "stopped"));
  client.on("presence", ({ userId, online, lastSeen }) => console.log(userId, online, lastSeen));
  client.on("status", (status) => status === "online" && console.log("online"));
  client.on("error", (err) => console.log(err.statusCode, err.retryAfter));
  try {
    await client.connect();
  } catch (err) {
    if (err instanceof SlyChatError && err.statusCode === 401) return;
    throw err;
  }
  const stored = await client.send({
    productId: "12345", recipientId: 7, text: "Is it in stock?",
    productName: "Wireless Headphones", storeName: "Tech Haven", customerName: "John Doe",
  });
  await client.send({ chatId: stored.chatId, text: "Black, please", replyTo: stored.id });
  const chats: ChatView[] = client.chats;
  const unread: number = chats[0]?.unreadCount ?? 0;
  await client.markAsRead(stored.chatId);
  const older = await client.loadOlder(stored.chatId);
  const more: boolean = older.hasMore;
  await client.editMessage(stored.id, "Is it in stock in black?");
  await client.react(stored.id, "👍");
  await client.unreact(stored.id);
  const found = await client.search("black", { chatId: stored.chatId });
  console.log(unread, more, found.next, found.messages.length);
  client.typing(stored.chatId);
  await client.upload({ chatId: stored.chatId }, [new Blob(["%PDF-1.4"], { type: "application/pdf" })], { text: "invoice" });
  await client.deleteMessage(stored.id);
  const blocked = await client.block(7);
  const since: string | null = blocked.blockedAt;
  await client.unblock(7, "VENDOR");
  client.on("blocked", (list) => console.log(list.map((b) => `${b.userType}:${b.userId} since ${b.blockedAt}`)));
  const flagged: boolean = client.chats.some((c) => c.blocked);
  const report = await client.reportMessage(stored.id, "scam", "asks to pay outside");
  const created: boolean = report.created;
  const reported = await client.reportUser({ userId: 7, userType: "VENDOR", reason: "harassment", chatId: stored.chatId });
  console.log(since, flagged, created, report.id, reported.status === "open", client.blockedUsers.length);
  off();
  client.close();
}

void main();
