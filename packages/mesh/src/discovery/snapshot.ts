import { randomBytes } from "node:crypto";
import { open, readFile, rename, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import type { RegistryState } from "./registry.js";

/**
 * On-disk registry snapshot (kubespan.md §1.4 describes the reference server's periodic snapshot;
 * its storage proto is not published with field numbers, so wirespan keeps its own JSON format).
 * It holds only what the service already holds: encrypted blobs and absolute expirations.
 */

export const SNAPSHOT_FORMAT = "wirespan-discovery-snapshot";
export const SNAPSHOT_VERSION = 1;

interface SnapshotFile {
  format: string;
  version: number;
  clusters: {
    id: string;
    affiliates: {
      id: string;
      data: string;
      expiresAt: number;
      endpoints: { data: string; expiresAt: number }[];
    }[];
  }[];
}

export function encodeSnapshot(state: RegistryState): string {
  const file: SnapshotFile = {
    format: SNAPSHOT_FORMAT,
    version: SNAPSHOT_VERSION,
    clusters: state.clusters.map((c) => ({
      id: c.id,
      affiliates: c.affiliates.map((a) => ({
        id: a.id,
        data: Buffer.from(a.data).toString("base64"),
        expiresAt: a.expiresAt,
        endpoints: a.endpoints.map((e) => ({
          data: Buffer.from(e.data).toString("base64"),
          expiresAt: e.expiresAt,
        })),
      })),
    })),
  };
  return JSON.stringify(file);
}

/** Parse a snapshot; throws a clear Error on anything that is not a well-formed snapshot. */
export function decodeSnapshot(text: string): RegistryState {
  const fail = (why: string): never => {
    throw new Error(`discovery snapshot is malformed: ${why}`);
  };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return fail("not JSON");
  }
  const file = raw as Partial<SnapshotFile>;
  if (file?.format !== SNAPSHOT_FORMAT) fail("unknown format");
  // JSON.stringify, not String(): a parsed object such as {"toString":0} cannot be converted.
  if (file.version !== SNAPSHOT_VERSION) {
    fail(`unsupported version ${JSON.stringify(file.version)?.slice(0, 40)}`);
  }
  if (!Array.isArray(file.clusters)) fail("clusters missing");
  const isString = (v: unknown): v is string => typeof v === "string";
  const isTime = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
  return {
    clusters: file.clusters!.map((c) => {
      if (!isString(c?.id) || !Array.isArray(c.affiliates)) fail("bad cluster");
      return {
        id: c.id,
        affiliates: c.affiliates.map((a) => {
          if (!isString(a?.id) || !isString(a.data) || !isTime(a.expiresAt)) fail("bad affiliate");
          if (!Array.isArray(a.endpoints)) fail("bad endpoints");
          return {
            id: a.id,
            data: Buffer.from(a.data, "base64"),
            expiresAt: a.expiresAt,
            endpoints: a.endpoints.map((e) => {
              if (!isString(e?.data) || !isTime(e.expiresAt)) fail("bad endpoint");
              return { data: Buffer.from(e.data, "base64"), expiresAt: e.expiresAt };
            }),
          };
        }),
      };
    }),
  };
}

/** Read a snapshot; `undefined` when the file does not exist yet. */
export async function readSnapshot(file: string): Promise<RegistryState | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  return decodeSnapshot(text);
}

/**
 * Write atomically: a temporary file in the same directory, fsync, rename over the old one, then
 * fsync the directory, so a crash leaves either the old or the new snapshot, never a torn one.
 * Mode 0600: the blobs are encrypted, but cluster IDs are the service's only access key (§1.1).
 */
export async function writeSnapshot(file: string, state: RegistryState): Promise<void> {
  const temporary = `${file}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  const handle = await open(temporary, "wx", 0o600);
  try {
    await handle.writeFile(encodeSnapshot(state));
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(temporary).catch(() => {});
    throw error;
  }
  await handle.close();
  try {
    await rename(temporary, file);
  } catch (error) {
    await unlink(temporary).catch(() => {});
    throw error;
  }
  const directory = await open(dirname(file), "r").catch(() => undefined);
  if (directory) {
    await directory.sync().catch(() => {});
    await directory.close();
  }
}
