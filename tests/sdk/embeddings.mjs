// The official OpenAI Node SDK's embeddings.create against `batchwise serve -m EMBEDDING.gguf`: the SDK asks for
// base64 by default and decodes it itself, so its float vectors check batchwise's encoding; then the same with
// encoding_format "float". Prints one JSON line with what it saw; exits 1 on the first thing a user would call broken.
// Usage: BASE_URL=http://127.0.0.1:PORT/v1 node embeddings.mjs
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.env.BASE_URL, apiKey: process.env.API_KEY || "unused" });
const fail = (what) => { console.error("sdk test: " + what); process.exit(1); };

const model = (await client.models.list()).data[0].id;
const input = ["The rubric says: clarity.", "Candidate 7 wrote a parser."];
const viaBase64 = await client.embeddings.create({ model, input });
const viaFloat = await client.embeddings.create({ model, input, encoding_format: "float" });
if (viaBase64.data.length !== 2 || viaFloat.data.length !== 2) fail("two inputs, answers " + JSON.stringify(viaFloat));
let maxDiff = 0, width = 0;
for (let i = 0; i < 2; i++) {
  const a = viaBase64.data[i].embedding, b = viaFloat.data[i].embedding;
  if (!Array.isArray(a) || a.length !== b.length) fail("the SDK decoded " + JSON.stringify(a).slice(0, 200));
  width = a.length;
  const norm = Math.sqrt(a.reduce((s, x) => s + x * x, 0));
  if (Math.abs(norm - 1) > 1e-5) fail("vector " + i + " has length " + norm);
  for (let k = 0; k < a.length; k++) maxDiff = Math.max(maxDiff, Math.abs(a[k] - b[k]));
}
if (maxDiff > 1e-6) fail("base64 and float answers differ by " + maxDiff);
console.log(JSON.stringify({ width, max_difference: maxDiff, prompt_tokens: viaFloat.usage.prompt_tokens }));
