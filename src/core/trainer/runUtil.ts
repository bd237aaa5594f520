/** Calls a listener; its failure must not end or corrupt the run. */
export function safeCall(fn: () => void): void {
  try {
    fn();
  } catch {
    /* a listener's failure is its own */
  }
}

/** Seconds as written in a reason or a time limit: whole, or to the millisecond. */
export function formatSeconds(s: number): string {
  return Number.isInteger(s) ? String(s) : String(Math.round(s * 1000) / 1000);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
