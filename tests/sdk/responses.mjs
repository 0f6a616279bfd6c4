// The official OpenAI Node SDK's Responses API against `batchwise serve`: responses.create (its output_text, usage
// and status as the SDK reads them; stream: true refused with 400), then a batch of /v1/responses lines through files.create -> batches.create
// (endpoint "/v1/responses") -> files.content. Prints one JSON line with what it saw; exits 1 on the first thing a
// user of the SDK would call broken.
// Usage: BASE_URL=http://127.0.0.1:PORT/v1 node responses.mjs WORK_DIR
import fs from "node:fs";
import path from "node:path";
import OpenAI from "openai";

const [workDir] = process.argv.slice(2);
const client = new OpenAI({ baseURL: process.env.BASE_URL, apiKey: process.env.API_KEY || "unused" });
const fail = (what) => { console.error("sdk test: " + what); process.exit(1); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const model = (await client.models.list()).data[0].id;
const one = await client.responses.create({
  model, instructions: "You grade candidates.", input: "Candidate 3 wrote a compiler.", max_output_tokens: 5,
  temperature: 0,
});
if (one.object !== "response" || typeof one.output_text !== "string" || one.output_text.length === 0) {
  fail("responses.create returned " + JSON.stringify(one));
}
if (one.usage.output_tokens !== 5 || one.status !== "incomplete") fail("5 tokens asked, got " + JSON.stringify(one));

// A streamed Response is a different event protocol, not served yet: a clear 400 before anything is sent.
let streamStatus = 0;
try {
  await client.responses.create({ model, input: "x", stream: true });
} catch (e) {
  streamStatus = e.status;
}
if (streamStatus !== 400) fail("responses.create with stream: true gave " + streamStatus + ", not 400");

const lines = [0, 1, 2].map((i) => JSON.stringify({
  custom_id: `resp-${i}`, method: "POST", url: "/v1/responses",
  body: { model, instructions: "You grade candidates.", input: [{ role: "user", content: [{ type: "input_text", text: `Candidate ${i}.` }] }],
          max_output_tokens: 3 },
}));
const input = path.join(workDir, "responses.jsonl");
fs.writeFileSync(input, lines.join("\n") + "\n");
const file = await client.files.create({ file: fs.createReadStream(input), purpose: "batch" });
const batch = await client.batches.create({ input_file_id: file.id, endpoint: "/v1/responses", completion_window: "24h" });
let done = batch;
for (const start = Date.now(); !["completed", "failed", "expired", "cancelled"].includes(done.status);) {
  if (Date.now() - start > 120000) fail(`batch ${batch.id} still ${done.status} after 120 s`);
  await sleep(200);
  done = await client.batches.retrieve(batch.id);
}
if (done.status !== "completed" || done.request_counts.completed !== 3) fail("batch ended " + JSON.stringify(done));
const out = (await (await client.files.content(done.output_file_id)).text()).trim().split("\n").map((l) => JSON.parse(l));
const texts = out.map((l) => l.response.body.output[0].content[0].text);
if (out.length !== 3 || out.some((l) => l.response.body.object !== "response" || l.response.body.usage.output_tokens !== 3)) {
  fail("batch output " + JSON.stringify(out));
}
console.log(JSON.stringify({ output_text: one.output_text, status: one.status, batch_endpoint: done.endpoint,
  batch_completed: done.request_counts.completed, batch_texts: texts.length }));
