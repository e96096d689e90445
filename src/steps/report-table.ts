import type { DescriptorRow, LipinskiRule, ProvidedRow } from './chem-artifacts.js';
import type { DescriptorTable, LipinskiResult, ProvidedProperties, RejectedRows } from './chem-artifacts.js';
import { formatCsv } from './csv.js';

/** One line of the report: a molecule with its verdict, or an input row that was rejected. */
export interface ReportRow {
  line: number;
  name: string;
  status: 'pass' | 'fail' | 'rejected';
  inchikey: string | null;
  smiles: string;
  descriptors: DescriptorRow | undefined;
  provided: ProvidedRow | undefined;
  violations: readonly LipinskiRule[];
  /** Why a row was rejected; empty otherwise. */
  reason: string;
}

export interface ReportInputs {
  lipinski: LipinskiResult;
  descriptors: DescriptorTable;
  provided: ProvidedProperties | undefined;
  rejected: RejectedRows | undefined;
}

/** Joins the artifacts by InChIKey into rows in input-file order, rejected rows included. */
export function reportRows(inputs: ReportInputs): ReportRow[] {
  const descriptors = new Map(inputs.descriptors.rows.map((r) => [r.inchikey, r]));
  const provided = new Map((inputs.provided?.rows ?? []).map((r) => [r.inchikey, r]));
  const molecules: ReportRow[] = inputs.lipinski.verdicts.map((v) => ({
    line: v.line,
    name: v.name,
    status: v.passes ? 'pass' : 'fail',
    inchikey: v.inchikey,
    smiles: v.smiles,
    descriptors: descriptors.get(v.inchikey),
    provided: provided.get(v.inchikey),
    violations: v.violations,
    reason: '',
  }));
  const rejected: ReportRow[] = (inputs.rejected?.rows ?? []).map((r) => ({
    line: r.line,
    name: r.name,
    status: 'rejected',
    inchikey: null,
    smiles: r.smiles,
    descriptors: undefined,
    provided: undefined,
    violations: [],
    reason: r.reason,
  }));
  return [...molecules, ...rejected].sort((a, b) => a.line - b.line);
}

const CSV_HEADER = [
  'line', 'name', 'status', 'inchikey', 'smiles', 'mw', 'clogp', 'hbd', 'hba', 'tpsa', 'rotatable_bonds',
  'formula', 'exact_mass', 'heavy_atoms', 'aromatic_rings', 'fraction_csp3', 'violations', 'reason',
];

/** The report as CSV: one row per input row, `violations` as `mw;clogp`. */
export function reportCsv(rows: readonly ReportRow[]): string {
  return formatCsv([
    CSV_HEADER,
    ...rows.map((r) => [
      r.line, r.name, r.status, r.inchikey, r.smiles,
      r.descriptors?.mw ?? null, r.descriptors?.clogp ?? null, r.descriptors?.hbd ?? null, r.descriptors?.hba ?? null,
      r.descriptors?.tpsa ?? null, r.descriptors?.rotatableBonds ?? null,
      r.provided?.formula ?? null, r.provided?.exactMass ?? null, r.provided?.heavyAtoms ?? null,
      r.provided?.aromaticRings ?? null, r.provided?.fractionCsp3 ?? null,
      r.violations.join(';'), r.reason,
    ]),
  ]);
}
