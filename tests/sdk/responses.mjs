// The official OpenAI Node SDK's Responses API against `batchwise serve`: responses.create (its output_text, usage
// and status as the SDK reads them; streamed, its events in order and the deltas joined equal to the closing
// event's text), then a batch of /v1/responses lines through files.create -> batches.create
// (endpoint "/v1/responses") -> files.content. Prints one JSON line with what it saw; exits 1 on the first thing a
// user of the SDK would call broken.
// Usage: BASE_URL=http://127.0.0.1:PORT/v1 node responses.mjs WORK_DIR
import fs from "node:fs";
import path from "node:path";
import OpenAI from "openai";
import { waitForBatch } from "./wait_batch.mjs";

const [workDir] = process.argv.slice(2);
const client = new OpenAI({ baseURL: process.env.BASE_URL, apiKey: process.env.API_KEY || "unused" });
const fail = (what) => { console.error("sdk test: " + what); process.exit(1); };

const model = (await client.models.list()).data[0].id;
const one = await client.responses.create({
  model, instructions: "You grade candidates.", input: "Candidate 3 wrote a compiler.", max_output_tokens: 5,
  temperature: 0,
});
if (one.object !== "response" || typeof one.output_text !== "string" || one.output_text.length === 0) {
  fail("responses.create returned " + JSON.stringify(one));
}
if (one.usage.output_tokens !== 5 || one.status !== "incomplete") fail("5 tokens asked, got " + JSON.stringify(one));

// Streamed: the Responses API's events in order, the deltas joined are the text of the closing event's Response.
const stream = await client.responses.create({
  model, instructions: "You grade candidates.", input: "Candidate 4 wrote a linker.", max_output_tokens: 6,
  temperature: 0, stream: true,
});
const types = [];
let deltas = "", last = null, sequence = -1;
for await (const event of stream) {
  if (event.sequence_number !== sequence + 1) fail("sequence_number " + event.sequence_number + " after " + sequence);
  sequence = event.sequence_number;
  if (types[types.length - 1] !== event.type) types.push(event.type);
  if (event.type === "response.output_text.delta") deltas += event.delta;
  if (event.type === "response.completed" || event.type === "response.incomplete") last = event.response;
}
const expectedTypes = ["response.created", "response.in_progress", "response.output_item.added",
  "response.content_part.added", "response.output_text.delta", "response.output_text.done",
  "response.content_part.done", "response.output_item.done", "response.incomplete"];
if (JSON.stringify(types) !== JSON.stringify(expectedTypes)) fail("stream events " + JSON.stringify(types));
if (!last || last.output[0].content[0].text !== deltas || deltas.length === 0 || last.usage.output_tokens !== 6) {
  fail("streamed text " + JSON.stringify(deltas) + " against " + JSON.stringify(last));
}

const lines = [0, 1, 2].map((i) => JSON.stringify({
  custom_id: `resp-${i}`, method: "POST", url: "/v1/responses",
  body: { model, instructions: "You grade candidates.", input: [{ role: "user", content: [{ type: "input_text", text: `Candidate ${i}.` }] }],
          max_output_tokens: 3 },
}));
const input = path.join(workDir, "responses.jsonl");
fs.writeFileSync(input, lines.join("\n") + "\n");
const file = await client.files.create({ file: fs.createReadStream(input), purpose: "batch" });
const batch = await client.batches.create({ input_file_id: file.id, endpoint: "/v1/responses", completion_window: "24h" });
const { batch: done } = await waitForBatch(client, batch.id,
  (status) => ["completed", "failed", "expired", "cancelled"].includes(status), 120000, fail);
if (done.status !== "completed" || done.request_counts.completed !== 3) fail("batch ended " + JSON.stringify(done));
const out = (await (await client.files.content(done.output_file_id)).text()).trim().split("\n").map((l) => JSON.parse(l));
const texts = out.map((l) => l.response.body.output[0].content[0].text);
if (out.length !== 3 || out.some((l) => l.response.body.object !== "response" || l.response.body.usage.output_tokens !== 3)) {
  fail("batch output " + JSON.stringify(out));
}
console.log(JSON.stringify({ output_text: one.output_text, status: one.status, streamed_events: sequence + 1,
  batch_endpoint: done.endpoint,
  batch_completed: done.request_counts.completed, batch_texts: texts.length }));
