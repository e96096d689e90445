import type { StepModule } from '../core/definition.js';
import { alerts } from './alerts.js';
import { descriptors } from './descriptors.js';
import { lipinskiFilter } from './lipinski-filter.js';
import { propertyProvider } from './property-provider.js';
import { readCsv } from './read-csv.js';
import { readSmiles } from './read-smiles.js';
import { report } from './report.js';
import { similarity } from './similarity.js';

/**
 * The built-in step types a flow file names in `uses`. The CLI imports this module by name (see
 * `builtinSteps` in src/cli/context.ts), so RDKit is only loaded by commands that run flows.
 */
export const BUILTIN_STEPS: Readonly<Record<string, StepModule>> = Object.freeze({
  'chem/read-smiles': readSmiles,
  'chem/descriptors': descriptors,
  'chem/property-provider': propertyProvider,
  'chem/lipinski-filter': lipinskiFilter,
  'chem/similarity': similarity,
  'chem/alerts': alerts,
  'chem/report': report,
  'table/read-csv': readCsv,
});
