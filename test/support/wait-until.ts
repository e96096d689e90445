/**
 * Waits for a condition (a marker file, a database row), never for a fixed time: polls every 50 ms
 * and fails after a deadline generous enough for a loaded machine, saying what never happened.
 */
export async function waitUntil(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
