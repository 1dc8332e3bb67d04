// Programs that misuse event payloads and the API: each line marked `// error` must be
// refused by `tsc --strict` (test/types/check.mjs checks that exactly those lines fail).
import { SlyChat } from "slychat-client";

const client = new SlyChat({ url: "http://127.0.0.1:8000", token: "jwt" });

client.on("message", (message) => message.text.toUpperCase()); // error: text may be null
client.on("read", (receipt) => receipt.messageIds.toFixed(0)); // error: a list, not a number
client.on("delivered", (d) => d.readAt); // error: no such field
client.on("typing", (t) => t.chatId.length); // error: chatId is null before the chat exists
client.on("presence", (p) => p.status); // error: `online`, not `status`
client.on("deleted", (d: { id: string }) => d.id); // error: the payload has no `id`
client.on("recieved", () => undefined); // error: no such event
void client.send({ productId: 12345, recipientId: 7, text: "hi" }); // error: productId is a string
void client.send({ productId: "p", recipientId: 7 }); // error: text is required
void client.markAsRead(42); // error: a chat id is a string
void client.block("7"); // error: a user id is a number
void client.reportMessage("m1", "rude"); // error: not one of the reasons
void client.reportUser({ userId: 7, reason: "spam" }); // error: userType is required
client.on("blocked", (list) => list.userId); // error: the whole list, not one user
