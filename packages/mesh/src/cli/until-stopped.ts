/** How a foreground command waits for its end (shared by `up`, `proxy`, `wirespan-wg --netstack`). */

/** Resolves with the reason once SIGINT/SIGTERM arrives, `signal` aborts or `watch` calls stop. */
export function untilStopped(
  signal: AbortSignal | undefined,
  watch?: (stop: (why: string) => void) => void,
): Promise<string> {
  return new Promise<string>((resolve) => {
    const stop = (why: string) => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      resolve(why);
    };
    const onInt = () => stop("SIGINT");
    const onTerm = () => stop("SIGTERM");
    if (signal?.aborted) return resolve("abort");
    signal?.addEventListener("abort", () => stop("abort"), { once: true });
    process.on("SIGINT", onInt);
    process.on("SIGTERM", onTerm);
    watch?.(stop);
  });
}
