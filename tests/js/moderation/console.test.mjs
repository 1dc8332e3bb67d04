// The moderation console's pure pieces (src/slychat/static/moderation/js), run by node's
// test runner from tests/static/test_moderation_js.py: what a refusal says, which users
// the repeat-offenders panel ranks, what a pasted key and a suspension end may be.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ApiError, describe } from "../../../src/slychat/static/moderation/js/api.js";
import { messageText, untilFromInput, user } from "../../../src/slychat/static/moderation/js/format.js";
import { offendersOf } from "../../../src/slychat/static/moderation/js/queue.js";
import { keyId, parseKey } from "../../../src/slychat/static/moderation/js/session.js";

const KEY = `slyk_${"a1".repeat(12)}_${"S".repeat(43)}`;

function report(userType, userId, open) {
  return { target: { userType, userId }, targetOpenReports: open };
}

test("each refusal says what it means, and the server's reason", () => {
  assert.match(describe(new ApiError(401, "API key revoked")), /refused.*API key revoked.*Sign in again/);
  assert.match(describe(new ApiError(403, "")), /moderation:write/);
  assert.match(describe(new ApiError(409, "Report already resolved")), /already resolved/);
  assert.match(describe(new ApiError(429, "", 7)), /Try again in 7 s/);
  assert.match(describe(new ApiError(429, "")), /Wait a little/);
  assert.match(describe(new ApiError(503, "")), /HTTP 503/);
  assert.match(describe(new ApiError(0, "The server could not be reached")), /could not be reached/);
  assert.match(describe(new Error("boom")), /boom/);
});

test("repeat offenders: users with more than one open report, most first, each once", () => {
  const ranked = offendersOf([
    report("VENDOR", 1, 2),
    report("CUSTOMER", 9, 1), // one report: not a repeat offender
    report("VENDOR", 3, 5),
    report("VENDOR", 1, 2), // the same user again
    report("CUSTOMER", 1, 3), // customer 1 is not vendor 1
  ]);
  assert.deepEqual(
    ranked.map((o) => [user(o.userType, o.userId), o.open]),
    [["Vendor 3", 5], ["Customer 1", 3], ["Vendor 1", 2]],
  );
  const many = Array.from({ length: 9 }, (_, i) => report("VENDOR", i, 2 + i));
  assert.equal(offendersOf(many).length, 5);
  assert.equal(offendersOf(many)[0].open, 10);
});

test("only an API key is taken, with or without its Bearer prefix", () => {
  assert.equal(parseKey(`  Bearer ${KEY}\n`), KEY);
  assert.equal(keyId(KEY), "a1".repeat(12));
  for (const bad of ["", "eyJhbGciOiJIUzI1NiJ9.e30.sig", `slyk_${"z".repeat(24)}_x`, `${KEY} extra`]) {
    assert.throws(() => parseKey(bad), /not an API key/, bad);
  }
});

test("a suspension ends in the future, or never", () => {
  assert.equal(untilFromInput(""), null);
  const later = new Date(Date.now() + 3_600_000);
  const local = new Date(later.getTime() - later.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
  assert.equal(new Date(untilFromInput(local)).getTime(), new Date(local).getTime());
  assert.throws(() => untilFromInput("2001-01-01T00:00"), /future/);
  assert.throws(() => untilFromInput("soon"), /not a date/);
});

test("a snapshot message reads as its text, or what it carries", () => {
  assert.equal(messageText({ text: "hello", messageMedias: [] }), "hello");
  assert.equal(messageText({ text: "", messageMedias: [{ mimeType: "image/jpeg" }] }), "(a photo)");
  assert.equal(messageText({ text: "", messageMedia: [{ mimeType: "application/pdf" }] }), "(a file)");
  assert.equal(messageText({ text: "gone", deletedAt: "2026-01-01T00:00:00.000Z" }), "(deleted)");
});
