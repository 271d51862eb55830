// Node's floor for a UAPI daemon (bench/footprint): the smallest Node program that does what the
// start-up benchmark waits for — listen on /var/run/wireguard/NAME.sock and answer `get=1` with
// `errno=0`. Its start-up time and idle RSS are what any Node daemon costs before its own code.
// Usage: node floor.mjs -f NAME
import { unlinkSync } from "node:fs";
import { createServer } from "node:net";

const name = process.argv[process.argv.length - 1];
const path = `/var/run/wireguard/${name}.sock`;
const server = createServer((c) => {
  c.on("data", () => c.end("errno=0\n\n"));
  c.on("error", () => {});
});
server.listen(path);
const stop = () => {
  server.close();
  try {
    unlinkSync(path);
  } catch {}
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
