// How Node.js (the WHATWG URL standard, as browsers parse) and the demo page's own check
// read URLs, for tests/domain/test_web_urls.py. One JSON string per input line; one JSON
// object per output line: `url` is `new URL(u)`'s host, hostname and origin (null when it
// throws), `demo` the host of the demo page's safeUrl(u) (null when it refuses it).
import { createInterface } from "node:readline";

import { safeUrl } from "../../src/slychat/static/demo/js/dom.js";

function read(value) {
  try {
    const url = new URL(value);
    return { host: url.host, hostname: url.hostname, origin: url.origin };
  } catch {
    return null;
  }
}

for await (const line of createInterface({ input: process.stdin })) {
  const value = JSON.parse(line);
  const answer = { url: read(value), demo: safeUrl(value)?.host ?? null };
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}
