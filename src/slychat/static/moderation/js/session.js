// The API key, kept in this tab's sessionStorage only: never a cookie (nothing is sent that
// the page did not put in an Authorization header itself) nor localStorage (closing the
// tab forgets it).

const KEY = "slychat-moderation-key";
// What an API key looks like (`slychat apikey create`): checked before anything is sent,
// so that a pasted JWT or a stray word says so at once.
const API_KEY = /^slyk_[0-9a-f]{24}_[A-Za-z0-9_-]+$/;

export function readKey() {
  const key = sessionStorage.getItem(KEY);
  return key && API_KEY.test(key) ? key : null;
}

export function saveKey(key) {
  sessionStorage.setItem(KEY, key);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY);
}

// The pasted text as a key (a leading "Bearer " and whitespace dropped), or an Error.
export function parseKey(text) {
  const key = text.trim().replace(/^Bearer\s+/i, "");
  if (!API_KEY.test(key)) {
    throw new Error("That is not an API key: they look like slyk_ followed by 24 hex digits, an underscore and the secret.");
  }
  return key;
}

// The key's public id (the part `slychat apikey list` shows), never its secret.
export function keyId(key) {
  return key.split("_")[1];
}
