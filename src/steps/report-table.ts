import type { DescriptorRow, LipinskiRule, LipinskiVerdict, ProvidedRow, RejectedRow } from './chem-artifacts.js';
import type { DescriptorTable, LipinskiResult, ProvidedProperties, RejectedRows } from './chem-artifacts.js';
import { formatCsv } from './csv.js';
import { KeyedRows, RowCursor } from './row-join.js';

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
  const molecules: ReportRow[] = inputs.lipinski.verdicts.map((v) => moleculeRow(v, descriptors.get(v.inchikey), provided.get(v.inchikey)));
  const rejected: ReportRow[] = (inputs.rejected?.rows ?? []).map(rejectedRow);
  return [...molecules, ...rejected].sort((a, b) => a.line - b.line);
}

function moleculeRow(v: LipinskiVerdict, descriptors: DescriptorRow | undefined, provided: ProvidedRow | undefined): ReportRow {
  return {
    line: v.line,
    name: v.name,
    status: v.passes ? 'pass' : 'fail',
    inchikey: v.inchikey,
    smiles: v.smiles,
    descriptors,
    provided,
    violations: v.violations,
    reason: '',
  };
}

function rejectedRow(r: RejectedRow): ReportRow {
  return { line: r.line, name: r.name, status: 'rejected', inchikey: null, smiles: r.smiles, descriptors: undefined, provided: undefined, violations: [], reason: r.reason };
}

/** The inputs of `reportRows` as streams of rows, each read a chunk at a time. */
export interface ReportStreams {
  verdicts: () => AsyncIterable<readonly LipinskiVerdict[]>;
  descriptors: () => AsyncIterable<readonly DescriptorRow[]>;
  provided: (() => AsyncIterable<readonly ProvidedRow[]>) | undefined;
  rejected: (() => AsyncIterable<readonly RejectedRow[]>) | undefined;
}

/** Thrown by `reportRowStream` when verdicts or rejected rows are not in line order. */
export class RowsOutOfOrder extends Error {
  constructor(what: string) {
    super(`${what} are not in line order`);
    this.name = 'RowsOutOfOrder';
  }
}

/**
 * `reportRows` as a stream: the verdicts and the rejected rows merged by line (a molecule first on the
 * same line, as the stable sort of `reportRows` puts it), each joined with its descriptors and provided
 * properties read beside it. Verdicts and rejected rows are each in line order as the steps write
 * them; when either is not, it throws `RowsOutOfOrder` and the caller sorts them all instead.
 */
export async function* reportRowStream(streams: ReportStreams): AsyncGenerator<ReportRow> {
  const verdicts = new RowCursor(streams.verdicts());
  const rejected = streams.rejected === undefined ? undefined : new RowCursor(streams.rejected());
  const descriptors = new KeyedRows(streams.descriptors);
  const provided = streams.provided === undefined ? undefined : new KeyedRows(streams.provided);
  try {
    let v = await verdicts.next();
    let r = await rejected?.next();
    let lastV = -Infinity;
    let lastR = -Infinity;
    while (v !== undefined || r !== undefined) {
      if (v !== undefined && (r === undefined || v.line <= r.line)) {
        if (v.line < lastV) throw new RowsOutOfOrder('verdicts');
        lastV = v.line;
        yield moleculeRow(v, await descriptors.get(v.inchikey), await provided?.get(v.inchikey));
        v = await verdicts.next();
      } else if (r !== undefined) {
        if (r.line < lastR) throw new RowsOutOfOrder('rejected rows');
        lastR = r.line;
        yield rejectedRow(r);
        r = await rejected?.next();
      }
    }
  } finally {
    await Promise.all([verdicts.close(), rejected?.close(), descriptors.close(), provided?.close()]);
  }
}

const CSV_HEADER = [
  'line', 'name', 'status', 'inchikey', 'smiles', 'mw', 'clogp', 'hbd', 'hba', 'tpsa', 'rotatable_bonds',
  'formula', 'exact_mass', 'heavy_atoms', 'aromatic_rings', 'fraction_csp3', 'violations', 'reason',
];

/** The report as CSV: one row per input row, `violations` as `mw;clogp`. */
export function reportCsv(rows: readonly ReportRow[]): string {
  return formatCsv([CSV_HEADER, ...rows.map(csvCells)]);
}

/** The CSV's first line (with its line end): `reportCsv` is it and then `reportCsvLine` of each row. */
export function reportCsvHeader(): string {
  return formatCsv([CSV_HEADER]);
}

/** One row of the report's CSV, with its line end. */
export function reportCsvLine(row: ReportRow): string {
  return formatCsv([csvCells(row)]);
}

function csvCells(r: ReportRow): (string | number | null)[] {
  return [
    r.line, r.name, r.status, r.inchikey, r.smiles,
    r.descriptors?.mw ?? null, r.descriptors?.clogp ?? null, r.descriptors?.hbd ?? null, r.descriptors?.hba ?? null,
    r.descriptors?.tpsa ?? null, r.descriptors?.rotatableBonds ?? null,
    r.provided?.formula ?? null, r.provided?.exactMass ?? null, r.provided?.heavyAtoms ?? null,
    r.provided?.aromaticRings ?? null, r.provided?.fractionCsp3 ?? null,
    r.violations.join(';'), r.reason,
  ];
}
