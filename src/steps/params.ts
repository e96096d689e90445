import { z } from 'zod';

/**
 * A `parseParams` from a zod object shape: defaults filled in, and every problem reported at once as a
 * zod issue with its path (the flow file loader shows each at `steps[i].params.<path>` with its line).
 * Unknown params, nested ones included, are rejected by name with the list of known ones, since a
 * misspelt optional param would otherwise be silently ignored and its default used. (zod's strict
 * objects stop at the first unknown key's object and do not say which keys were expected.)
 */
export function paramsParser<S extends z.ZodRawShape>(shape: S): (params: unknown) => z.output<z.ZodObject<S>> {
  const schema = z.object(shape);
  return (params) => {
    const input = params ?? {};
    const parsed = schema.safeParse(input, { reportInput: true });
    const issues = [...(parsed.success ? [] : parsed.error.issues), ...unknownKeyIssues(input, shape, [])];
    if (!parsed.success || issues.length > 0) throw new z.ZodError(issues);
    return parsed.data;
  };
}

function unknownKeyIssues(input: unknown, shape: z.ZodRawShape, path: PropertyKey[]): z.core.$ZodIssue[] {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return [];
  const known = Object.keys(shape);
  return Object.entries(input).flatMap(([key, value]): z.core.$ZodIssue[] => {
    const schema = Object.hasOwn(shape, key) ? shape[key] : undefined;
    if (schema === undefined)
      return [{ code: 'custom', path: [...path, key], message: `unknown param ${JSON.stringify(key)}; expected only ${known.join(', ')}`, input: value }];
    const nested = objectShapeOf(schema);
    return nested ? unknownKeyIssues(value, nested, [...path, key]) : [];
  });
}

function objectShapeOf(schema: z.core.$ZodType): z.ZodRawShape | undefined {
  if (schema instanceof z.ZodObject) return schema.shape;
  if (schema instanceof z.ZodDefault || schema instanceof z.ZodOptional) return objectShapeOf(schema.unwrap());
  return undefined;
}
