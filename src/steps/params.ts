import { z } from 'zod';

/**
 * A `parseParams` from a zod object shape: defaults filled in, every problem reported as a zod issue
 * with its path (the flow file loader shows each at `steps[i].params.<path>` with its line), and
 * unknown params rejected by name with the list of known ones, since a misspelt optional param would
 * otherwise be silently ignored and its default used.
 */
export function paramsParser<S extends z.ZodRawShape>(shape: S): (params: unknown) => z.output<z.ZodObject<S>> {
  const schema = z.object(shape);
  const known = Object.keys(shape);
  return (params) => {
    const parsed = schema.safeParse(params ?? {}, { reportInput: true });
    const issues: z.core.$ZodIssue[] = parsed.success ? [] : [...parsed.error.issues];
    if (typeof params === 'object' && params !== null && !Array.isArray(params)) {
      for (const key of Object.keys(params)) {
        if (known.includes(key)) continue;
        issues.push({
          code: 'custom',
          path: [key],
          message: `unknown param ${JSON.stringify(key)}; expected only ${known.join(', ')}`,
          input: (params as Record<string, unknown>)[key],
        });
      }
    }
    if (issues.length > 0 || !parsed.success) throw new z.ZodError(issues);
    return parsed.data;
  };
}
