// Starts fauxqs (SQS + S3 stand-in) on 127.0.0.1 for docmill's tests.
// The stock CLI binds 0.0.0.0 and caps bodies at 11 MiB, so build the app
// ourselves: loopback only, a raw-buffer parser with a large body limit.
// Prints {"port": N} on the first line of stdout once listening; exits on
// SIGTERM/SIGINT or when stdin closes (the test process died).
import { buildApp } from "fauxqs";

const app = buildApp({ logger: false, host: "127.0.0.1" });
app.removeContentTypeParser("*");
app.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: 512 * 1048576 }, (_req, body, done) => {
  done(null, body);
});
const address = await app.listen({ host: "127.0.0.1", port: Number(process.env.PORT || 0) });
const port = Number(new URL(address).port);
process.stdout.write(JSON.stringify({ port }) + "\n");

const stop = async () => {
  try { await app.close(); } finally { process.exit(0); }
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop);
process.stdin.resume();
