#!/usr/bin/env python3
"""The peer for bench/http_dispatch.sh: a plain Python asyncio + aiohttp batch client doing the same
work as `batchwise run --endpoint` minus durability: read the batch JSONL, POST every body to the
endpoint with C requests in flight over a keep-alive pool, parse each answer, write one output line
per request. Prints one JSON line: {"requests": N, "wall_s": ..., "requests_per_s": ...}.

usage: aiohttp_client.py IN.jsonl OUT.jsonl BASE_URL CONCURRENCY
"""
import asyncio
import json
import sys
import time

import aiohttp


async def main(in_path, out_path, base_url, concurrency):
    start = time.monotonic()
    with open(in_path) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    queue = asyncio.Queue()
    for line in lines:
        queue.put_nowait(line)
    results = []

    async def worker(session):
        while True:
            try:
                line = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            async with session.post(base_url + line["url"], json=line["body"]) as resp:
                body = await resp.json()
                results.append({"custom_id": line["custom_id"],
                                "response": {"status_code": resp.status, "body": body}})

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    with open(out_path, "w") as f:
        for r in results:
            f.write(json.dumps(r) + "\n")
    wall = time.monotonic() - start
    print(json.dumps({"requests": len(results), "wall_s": round(wall, 3),
                      "requests_per_s": round(len(results) / wall, 1)}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3].rstrip("/"), int(sys.argv[4])))
