// fauxqs (an SQS emulator, in memory) on 127.0.0.1 only: its own start-up listens on 0.0.0.0.
// Usage: node fauxqs.mjs PORT   (benchmarks/sqs_endpoint.py starts it)
import { buildApp } from "fauxqs";

const port = Number.parseInt(process.argv[2] ?? "4566", 10);
const app = buildApp({ logger: false });
const address = await app.listen({ port, host: "127.0.0.1" });
console.log(`fauxqs listening on ${address}`);
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => app.close().then(() => process.exit(0)));
}
