/** The zod issues a `parseParams` threw, as [path, message] pairs. */
export function issuesOf(parse: () => unknown): [string, string][] {
  try {
    parse();
  } catch (error) {
    return (error as { issues: { path: PropertyKey[]; message: string }[] }).issues.map((i) => [i.path.join('.'), i.message]);
  }
  throw new Error('parsed without an issue');
}
