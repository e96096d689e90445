import type { z } from 'zod';
import { unreadableStructures } from './rdkit-check.js';

/**
 * A zod refinement of a params list of named structures (`[{ name, smiles }]` or `[{ name, smarts }]`):
 * every name distinct, and every structure one RDKit reads, each problem an issue at
 * `<list>.<i>.name` or `<list>.<i>.<field>` so the flow file loader shows it with its line.
 */
export function namedStructures<F extends 'smiles' | 'smarts'>(field: F) {
  return (items: readonly ({ name: string } & Record<F, string>)[], ctx: z.RefinementCtx): void => {
    const seen = new Map<string, number>();
    items.forEach((item, i) => {
      const first = seen.get(item.name);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `name ${JSON.stringify(item.name)} is already that of item ${first}` });
      else seen.set(item.name, i);
    });
    const verdicts = unreadableStructures(items.map((item) => ({ language: field, text: item[field] })));
    verdicts?.forEach((reason, i) => {
      if (reason !== undefined)
        ctx.addIssue({ code: 'custom', path: [i, field], message: `RDKit cannot read the ${field === 'smiles' ? 'SMILES' : 'SMARTS'} ${JSON.stringify(items[i]?.[field])}: ${reason}` });
    });
  };
}
