/* HAND-WRITTEN, TO BE REPLACED BY GENERATED TYPES.
 *
 * Shapes of contract features the server's docs/asyncapi.json does not document yet go
 * here, written by hand exactly as the contract names them, until `npm run generate`
 * puts them into src/generated/protocol.ts. None is left: edits, reactions, replies,
 * mute, archive, search, `masked` and `blocked` all moved to the generated types when the
 * server documented them. The names stay so that imports of them keep working.
 */

import type {
  Chat as DocumentedChat,
  Message as DocumentedMessage,
} from "./generated/protocol.js";

/** A message: every field is documented now. */
export type FeatureMessage = DocumentedMessage;

/** A chat: every field, `blocked` included, is documented now. */
export type FeatureChat = DocumentedChat;
