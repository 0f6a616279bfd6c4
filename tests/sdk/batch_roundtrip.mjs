// The official OpenAI Node SDK against `batchwise serve`: files.create -> batches.create -> poll to
// completed -> files.content, then batches.create + batches.cancel, then batches.list. Prints one JSON
// line with what it saw; exits 1 on the first thing a user of the SDK would call broken.
// Usage: BASE_URL=http://127.0.0.1:PORT/v1 node batch_roundtrip.mjs INPUT.jsonl EXPECTED_LINES
import fs from "node:fs";
import OpenAI from "openai";
import { waitForBatch } from "./wait_batch.mjs";

const [input, expectedText] = process.argv.slice(2);
const expected = Number(expectedText);
const client = new OpenAI({ baseURL: process.env.BASE_URL, apiKey: process.env.API_KEY || "unused" });
const fail = (what) => { console.error("sdk test: " + what); process.exit(1); };
const waitFor = (id, done, limitMs) => waitForBatch(client, id, done, limitMs, fail);

const file = await client.files.create({ file: fs.createReadStream(input), purpose: "batch" });
if (!file.id.startsWith("file-") || file.purpose !== "batch") fail("files.create returned " + JSON.stringify(file));
const batch = await client.batches.create({
  input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h", metadata: { run: "sdk" },
});
if (batch.status !== "validating" && batch.status !== "in_progress") fail("new batch is " + batch.status);
const { batch: done, seen } = await waitFor(batch.id, (s) => ["completed", "failed", "expired", "cancelled"].includes(s), 120000);
if (done.status !== "completed") fail("batch ended " + done.status + ": " + JSON.stringify(done.errors));
if (done.request_counts.total !== expected || done.request_counts.completed !== expected) {
  fail("request_counts " + JSON.stringify(done.request_counts));
}
const content = await client.files.content(done.output_file_id);
const lines = (await content.text()).trim().split("\n").map((l) => JSON.parse(l));
const ids = new Map();
for (const l of lines) ids.set(l.custom_id, (ids.get(l.custom_id) || 0) + 1);
if (lines.length !== expected || ids.size !== expected || [...ids.values()].some((n) => n !== 1)) {
  fail(`output has ${lines.length} lines, ${ids.size} distinct ids`);
}
if (lines[0].response.status_code !== 200 || !lines[0].response.body.choices) fail("output line " + JSON.stringify(lines[0]));

const second = await client.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
const cancelling = await client.batches.cancel(second.id);
if (!["cancelling", "cancelled", "completed"].includes(cancelling.status)) fail("cancel gave " + cancelling.status);
const { batch: cancelled } = await waitFor(second.id, (s) => s === "cancelled" || s === "completed", 60000);

const list = await client.batches.list({ limit: 10 });
const listed = list.data.map((b) => b.id);
if (!listed.includes(batch.id) || !listed.includes(second.id)) fail("batches.list lacks the batches: " + listed);
const models = await client.models.list();
const chat = await client.chat.completions.create({
  model: models.data[0].id, messages: [{ role: "user", content: "Say hi" }], max_tokens: 4,
});
if (!chat.choices || chat.choices.length !== 1) fail("chat.completions.create returned " + JSON.stringify(chat));
console.log(JSON.stringify({ statuses: seen, completed: done.request_counts.completed, cancelled: cancelled.status,
  cancelled_counts: cancelled.request_counts, listed: listed.length, chat_tokens: chat.usage?.completion_tokens }));
