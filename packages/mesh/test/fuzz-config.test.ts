/**
 * Fuzz of the config loader (bad user input → a clear error): whatever the text, `loadConfig`
 * returns a config or throws a ConfigError whose path names the key at fault — never a TypeError
 * or a YAML library error of its own.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { parse, stringify } from "yaml";
import { ConfigError, loadConfig, type MeshConfig } from "../src/kubespan/config.js";

const id = Buffer.alloc(32, 1).toString("base64");
const secret = Buffer.alloc(32, 2).toString("base64");

/** A valid document with every key the loader knows, as a plain tree. */
function validDoc(): Record<string, unknown> {
  return {
    version: "v1alpha1",
    machine: {
      network: {
        hostname: "node-1",
        kubespan: {
          enabled: true,
          interface: "kubespan",
          port: 51820,
          mtu: 1420,
          allowDownPeerBypass: false,
          advertiseKubernetesNetworks: false,
          advertisedNetworks: ["198.19.5.0/24"],
          harvestExtraEndpoints: false,
          extraAnnouncedEndpoints: ["198.18.9.9:40000"],
          filters: { endpoints: ["0.0.0.0/0", "!198.18.3.0/24"] },
        },
      },
    },
    cluster: {
      id,
      secret,
      discovery: {
        enabled: true,
        registries: {
          service: { disabled: false, endpoint: "http://198.18.2.254:3000" },
          kubernetes: { disabled: true },
        },
      },
    },
  };
}

/** Every key path of the valid document (mappings and leaves). */
function paths(o: unknown, prefix: string[] = []): string[][] {
  if (typeof o !== "object" || o === null || Array.isArray(o)) return [];
  const out: string[][] = [];
  for (const [k, v] of Object.entries(o)) {
    out.push([...prefix, k]);
    out.push(...paths(v, [...prefix, k]));
  }
  return out;
}
const allPaths = paths(validDoc());

function setAt(doc: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let o = doc;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string, unknown>;
  Object.defineProperty(o, path[path.length - 1], {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

/** Whether the yaml library reads `text` back (its serialiser can write what it refuses). */
function parses(text: string): boolean {
  try {
    parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Loads `text`; returns the config, or the ConfigError (anything else fails the test). */
function load(text: string): MeshConfig | ConfigError {
  try {
    return loadConfig(text);
  } catch (e) {
    if (!(e instanceof ConfigError)) {
      throw new Error(
        `loadConfig threw ${String(e)} (not a ConfigError) for ${JSON.stringify(text)}`,
      );
    }
    expect(e.message.length).toBeGreaterThan(0);
    expect(e.message.startsWith(e.path)).toBe(true);
    return e;
  }
}

/** What a successful load promises, whatever the input. */
function checkConfig(c: MeshConfig): void {
  const ks = c.kubespan;
  expect(Number.isInteger(ks.port) && ks.port >= 1 && ks.port <= 65535).toBe(true);
  expect(Number.isInteger(ks.mtu) && ks.mtu >= 1280 && ks.mtu <= 65535).toBe(true);
  expect(ks.interface).toMatch(/^[A-Za-z0-9_.-]{1,15}$/);
  for (const v of [ks.enabled, ks.allowDownPeerBypass, ks.harvestExtraEndpoints]) {
    expect(typeof v).toBe("boolean");
  }
  expect(typeof c.hostname).toBe("string");
  expect(c.cluster.id.length).toBeGreaterThan(0);
  expect(Buffer.from(c.cluster.secret, "base64")).toHaveLength(32);
  // Canonical lists load back unchanged.
  for (const list of [ks.advertisedNetworks, ks.extraAnnouncedEndpoints, ks.filters.endpoints]) {
    for (const item of list) expect(typeof item).toBe("string");
  }
}

/** Arbitrary values as YAML can carry them (and a few it only reaches through tags). */
const anyValue = fc.anything({
  maxDepth: 3,
  withBigInt: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withTypedArray: true,
  withNullPrototype: true,
  withSparseArray: true,
});

/** Fragments of YAML syntax, keys the loader knows, tags and directives. */
const yamlToken = fc.constantFrom(
  "\n",
  " ",
  "  ",
  ": ",
  "- ",
  "? ",
  "[",
  "]",
  "{",
  "}",
  ",",
  "#",
  '"',
  "'",
  "|",
  ">",
  "&a ",
  "*a",
  "<<: ",
  "!!set ",
  "!!omap ",
  "!!binary ",
  "!!int ",
  "!!float ",
  "!!timestamp ",
  "!!str ",
  "!custom ",
  "%YAML 1.1\n---\n",
  "---\n",
  "...\n",
  "~",
  "null",
  "true",
  ".nan",
  "-.inf",
  "0x10",
  "1e400",
  "51820",
  "__proto__",
  "constructor",
  "toString",
  "machine",
  "network",
  "kubespan",
  "cluster",
  "id",
  "secret",
  "discovery",
  "registries",
  "service",
  "endpoint",
  "filters",
  "endpoints",
  "port",
  "mtu",
  "interface",
  "advertisedNetworks",
  id,
  "\u0000",
  "\t",
);

describe("loadConfig fuzz", () => {
  // The yaml library reports unresolved tags and the like through process.emitWarning; fine for
  // one bad file, a flood here.
  beforeAll(() => {
    vi.spyOn(process, "emitWarning").mockImplementation(() => {});
  });
  afterAll(() => {
    vi.restoreAllMocks();
  });

  it("arbitrary text: a config or a ConfigError", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string({ unit: "grapheme" }),
          fc.uint8Array().map((b) => Buffer.from(b).toString("latin1")),
        ),
        (text) => {
          const r = load(text);
          if (!(r instanceof ConfigError)) checkConfig(r);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("YAML-shaped noise (tags, anchors, directives, known keys): a config or a ConfigError", () => {
    fc.assert(
      fc.property(fc.array(yamlToken, { maxLength: 60 }), (tokens) => {
        const r = load(tokens.join(""));
        if (!(r instanceof ConfigError)) checkConfig(r);
      }),
      { numRuns: 2000 },
    );
  });

  it("any value at any key of a valid config: accepted, or refused naming that key or below", () => {
    fc.assert(
      fc.property(fc.constantFrom(...allPaths), anyValue, fc.boolean(), (path, value, json) => {
        const doc = validDoc();
        setAt(doc, path, value);
        let text: string;
        try {
          text = json ? JSON.stringify(doc) : stringify(doc);
        } catch {
          return; // not representable as text (e.g. a bigint in JSON)
        }
        if (text === undefined || !parses(text)) return;
        const r = load(text);
        if (r instanceof ConfigError) {
          // The serialiser may have turned the value into something at a parent's level (an
          // undefined drops the key); otherwise the error names the path or a key below it.
          const want = path.join(".");
          expect(
            r.path === want || r.path.startsWith(`${want}.`) || r.path.startsWith(`${want}[`),
            `${r.path} vs ${want}`,
          ).toBe(true);
        } else {
          checkConfig(r);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("an unknown key anywhere is refused with its full path", () => {
    const mappings = [[], ...allPaths].filter((p) => {
      let o: unknown = validDoc();
      for (const k of p) o = (o as Record<string, unknown>)[k];
      return typeof o === "object" && o !== null && !Array.isArray(o);
    });
    fc.assert(
      fc.property(
        fc.constantFrom(...mappings),
        fc.string({ minLength: 1 }).filter((k) => !["version", "machine", "cluster"].includes(k)),
        anyValue,
        (at, key, value) => {
          const doc = validDoc();
          let o = doc;
          for (const k of at) o = o[k] as Record<string, unknown>;
          fc.pre(!Object.hasOwn(o, key));
          setAt(doc, [...at, key], value ?? null);
          const text = stringify(doc);
          fc.pre(parses(text)); // the serialiser can emit duplicate null keys from a Map
          const r = load(text);
          expect(r).toBeInstanceOf(ConfigError);
          expect((r as ConfigError).path).toBe([...at, key].join("."));
        },
      ),
      { numRuns: 1000 },
    );
  });
});
