/**
 * A capture of every frame crossing the mesh's bridge: tcpdump in the bridge's namespace writes
 * pcap to stdout (packet-buffered) and each frame is handed to a callback as it arrives. The
 * bridge is promiscuous while tcpdump runs, so frames forwarded between nodes are seen too.
 *
 * pcap file format (the classic libpcap one, which `tcpdump -w` writes): a 24-byte global header
 * (magic 0xa1b2c3d4, or 0xa1b23c4d for nanosecond stamps, in the writer's byte order; link type
 * at offset 20), then records of a 16-byte header (seconds, sub-seconds, captured length,
 * original length) and the captured bytes.
 */
import type { Daemon } from "../support/netns.js";
import type { SoakMesh } from "./mesh.js";

const LINKTYPE_ETHERNET = 1;

/** Splits a pcap byte stream into frames; throws on a stream that is not Ethernet pcap. */
export class PcapStream {
  private buf: Buffer = Buffer.alloc(0);
  private little: boolean | null = null;

  constructor(private readonly onFrame: (frame: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    if (this.little === null) {
      if (this.buf.length < 24) return;
      const magic = this.buf.readUInt32LE(0);
      if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) this.little = true;
      else if (this.buf.readUInt32BE(0) === 0xa1b2c3d4 || this.buf.readUInt32BE(0) === 0xa1b23c4d)
        this.little = false;
      else throw new Error(`not a pcap stream (magic ${magic.toString(16)})`);
      const link = this.little ? this.buf.readUInt32LE(20) : this.buf.readUInt32BE(20);
      if (link !== LINKTYPE_ETHERNET) throw new Error(`pcap link type ${link}, not Ethernet`);
      this.buf = this.buf.subarray(24);
    }
    let off = 0;
    while (this.buf.length - off >= 16) {
      const len = this.little ? this.buf.readUInt32LE(off + 8) : this.buf.readUInt32BE(off + 8);
      if (this.buf.length - off - 16 < len) break;
      this.onFrame(this.buf.subarray(off + 16, off + 16 + len));
      off += 16 + len;
    }
    this.buf = Buffer.from(this.buf.subarray(off));
  }
}

/** Starts tcpdump on `bridge` in the mesh's bridge namespace; frames go to `onFrame`. */
export async function captureBridge(
  mesh: SoakMesh,
  bridge: string,
  onFrame: (frame: Buffer) => void,
  onError: (err: Error) => void,
): Promise<Daemon> {
  const parser = new PcapStream(onFrame);
  const d = mesh.lab.spawn(
    mesh.bridgeNs,
    ["tcpdump", "-i", bridge, "-U", "-w", "-", "-s", "65535", "-nn"],
    process.env,
    4096,
  );
  let failed = false;
  d.child.stdout?.on("data", (chunk: Buffer) => {
    if (failed) return;
    try {
      parser.push(chunk);
    } catch (err) {
      failed = true;
      onError(err as Error);
    }
  });
  let listening = false;
  d.child.stderr?.on("data", (chunk: Buffer) => {
    if (chunk.toString().includes("listening on")) listening = true;
  });
  const started = performance.now();
  while (!listening) {
    if (d.child.exitCode !== null || performance.now() - started > 10_000) {
      throw new Error(`tcpdump did not start: ${d.output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return d;
}

/** Frames as a pcap file (microsecond stamps, Ethernet), e.g. the ones a check flagged. */
export function pcapFile(
  frames: readonly { readonly at: number; readonly frame: Buffer }[],
): Buffer {
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b2c3d4, 0);
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeUInt32LE(65535, 16);
  head.writeUInt32LE(LINKTYPE_ETHERNET, 20);
  const parts: Buffer[] = [head];
  for (const { at, frame } of frames) {
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(Math.floor(at / 1000), 0);
    rec.writeUInt32LE(Math.floor((at % 1000) * 1000), 4);
    rec.writeUInt32LE(frame.length, 8);
    rec.writeUInt32LE(frame.length, 12);
    parts.push(rec, frame);
  }
  return Buffer.concat(parts);
}
