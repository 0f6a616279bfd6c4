// `stream: true` through the official OpenAI Node SDK against `batchwise serve`: chat and completions arrive as
// several chunks whose text joined is the unstreamed answer's (greedy, one request at a time), the usage chunk comes
// when stream_options asks for it, and a stop string is never streamed, even in part. Prints one JSON line;
// exits 1 on the first thing a user of the SDK would call broken.
// Usage: BASE_URL=http://127.0.0.1:PORT/v1 node stream.mjs
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.env.BASE_URL, apiKey: process.env.API_KEY || "unused" });
const fail = (what) => { console.error("sdk stream test: " + what); process.exit(1); };
const model = (await client.models.list()).data[0].id;
const messages = [{ role: "user", content: "Write a few words" }];

async function chatStream(extra) {
  const stream = await client.chat.completions.create({ model, messages, max_tokens: 12, temperature: 0, stream: true, ...extra });
  let text = "", pieces = 0, finish = null, usage = null, role = null;
  for await (const chunk of stream) {
    if (chunk.object !== "chat.completion.chunk") fail("chunk object " + chunk.object);
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      if (c.delta.role) role = c.delta.role;
      if (c.delta.content) { text += c.delta.content; pieces++; }
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  return { text, pieces, finish, usage, role };
}

const whole = await client.chat.completions.create({ model, messages, max_tokens: 12, temperature: 0 });
const wholeText = whole.choices[0].message.content;
const streamed = await chatStream({ stream_options: { include_usage: true } });
if (streamed.role !== "assistant") fail("no assistant role in the first delta");
if (streamed.pieces < 2) fail(`the answer came in ${streamed.pieces} piece(s), not as it was generated`);
if (streamed.text !== wholeText) fail(`streamed ${JSON.stringify(streamed.text)} != ${JSON.stringify(wholeText)}`);
if (streamed.finish !== whole.choices[0].finish_reason) fail("finish_reason " + streamed.finish);
if (!streamed.usage || streamed.usage.completion_tokens !== whole.usage.completion_tokens) fail("usage " + JSON.stringify(streamed.usage));

// A stop string taken from the middle of the answer: the stream ends before it, as the whole answer does.
const cut = wholeText.length > 6 ? wholeText.slice(Math.floor(wholeText.length / 2), Math.floor(wholeText.length / 2) + 3) : null;
let stopped = null;
if (cut && cut.trim()) {
  const wholeStop = await client.chat.completions.create({ model, messages, max_tokens: 12, temperature: 0, stop: [cut] });
  stopped = await chatStream({ stop: [cut] });
  if (stopped.text !== wholeStop.choices[0].message.content) {
    fail(`with stop ${JSON.stringify(cut)}: streamed ${JSON.stringify(stopped.text)} != ${JSON.stringify(wholeStop.choices[0].message.content)}`);
  }
  if (stopped.text.includes(cut)) fail("the stop string was streamed");
}

const prompt = "Once upon a time";
const wholeCompletion = await client.completions.create({ model, prompt, max_tokens: 10, temperature: 0 });
let completionText = "", completionPieces = 0;
for await (const chunk of await client.completions.create({ model, prompt, max_tokens: 10, temperature: 0, stream: true })) {
  for (const c of chunk.choices) if (c.text) { completionText += c.text; completionPieces++; }
}
if (completionText !== wholeCompletion.choices[0].text) fail(`completion streamed ${JSON.stringify(completionText)}`);

console.log(JSON.stringify({ chat_pieces: streamed.pieces, chat_chars: streamed.text.length, usage: streamed.usage.completion_tokens,
  stop_checked: cut !== null && stopped !== null, completion_pieces: completionPieces }));
