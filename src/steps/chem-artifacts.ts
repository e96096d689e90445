import { z } from 'zod';

/**
 * The artifacts the chemistry steps exchange: domain data only (molecules identified by InChIKey and
 * tables of their properties), never times, attempt numbers or absolute paths, so the same inputs always
 * give the same artifact hashes and so the same fingerprints. Each schema checks what a step receives:
 * an artifact of the right kind but the wrong shape is a `Validation` failure of the receiving step.
 */
export const CHEM_KINDS = {
  molecules: 'chem/molecules',
  rejectedRows: 'chem/rejected-rows',
  descriptors: 'chem/descriptors',
  providedProperties: 'chem/provided-properties',
  lipinski: 'chem/lipinski',
  report: 'chem/report',
  similarity: 'chem/similarity',
  alerts: 'chem/alerts',
} as const;

const inchiKey = z.string().regex(/^[A-Z]{14}-[A-Z]{10}-[A-Z]$/, 'expected an InChIKey');

/** A molecule that RDKit read: canonical SMILES, and the line of the input file it came from. */
export const moleculeSchema = z.object({
  inchikey: inchiKey,
  name: z.string(),
  smiles: z.string().min(1),
  line: z.int().min(1),
});
export type Molecule = z.infer<typeof moleculeSchema>;

/** `chem/molecules`: a set of distinct molecules (no two share an InChIKey), in input order. */
export const moleculeSetSchema = z.object({
  source: z.string(),
  molecules: z.array(moleculeSchema),
});
export type MoleculeSet = z.infer<typeof moleculeSetSchema>;

/** `chem/rejected-rows`: input rows that are not molecules, with RDKit's reason. */
export const rejectedRowsSchema = z.object({
  source: z.string(),
  rows: z.array(z.object({ line: z.int().min(1), name: z.string(), smiles: z.string(), reason: z.string() })),
});
export type RejectedRows = z.infer<typeof rejectedRowsSchema>;

/** `chem/descriptors`: RDKit descriptors per molecule, rounded (see `chem/descriptors`' `decimals`). */
export const descriptorTableSchema = z.object({
  decimals: z.int().min(0),
  rows: z.array(
    z.object({
      inchikey: inchiKey,
      /** Average molecular weight, g/mol. */
      mw: z.number(),
      /** Crippen's calculated logP. */
      clogp: z.number(),
      /** Lipinski's H-bond donors: N–H and O–H count. */
      hbd: z.int().min(0),
      /** Lipinski's H-bond acceptors: N and O atom count. */
      hba: z.int().min(0),
      /** Topological polar surface area, Å². */
      tpsa: z.number(),
      rotatableBonds: z.int().min(0),
    }),
  ),
});
export type DescriptorTable = z.infer<typeof descriptorTableSchema>;
export type DescriptorRow = DescriptorTable['rows'][number];

/** `chem/provided-properties`: what the property provider returned per molecule. */
export const providedPropertiesSchema = z.object({
  provider: z.string(),
  rows: z.array(
    z.object({
      inchikey: inchiKey,
      formula: z.string(),
      exactMass: z.number(),
      heavyAtoms: z.int().min(0),
      aromaticRings: z.int().min(0),
      fractionCsp3: z.number(),
    }),
  ),
});
export type ProvidedProperties = z.infer<typeof providedPropertiesSchema>;
export type ProvidedRow = ProvidedProperties['rows'][number];

export const LIPINSKI_RULES = ['mw', 'clogp', 'hbd', 'hba'] as const;
export type LipinskiRule = (typeof LIPINSKI_RULES)[number];

export const lipinskiLimitsSchema = z.object({
  mw: z.number().positive().default(500),
  clogp: z.number().default(5),
  hbd: z.int().min(0).default(5),
  hba: z.int().min(0).default(10),
});
export type LipinskiLimits = z.infer<typeof lipinskiLimitsSchema>;

/** `chem/lipinski`: the rule applied and the verdict on every molecule the filter saw. */
export const lipinskiSchema = z.object({
  rule: z.object({ maxViolations: z.int().min(0), limits: lipinskiLimitsSchema }),
  passed: z.int().min(0),
  failed: z.int().min(0),
  verdicts: z.array(
    z.object({
      inchikey: inchiKey,
      name: z.string(),
      smiles: z.string(),
      line: z.int().min(1),
      /** The limits exceeded, in the order mw, clogp, hbd, hba. */
      violations: z.array(z.enum(LIPINSKI_RULES)),
      passes: z.boolean(),
    }),
  ),
});
export type LipinskiResult = z.infer<typeof lipinskiSchema>;
export type LipinskiVerdict = LipinskiResult['verdicts'][number];

/**
 * `chem/similarity`: the Tanimoto similarity of each molecule's Morgan fingerprint to each reference
 * molecule, rounded (see `chem/similarity`' `decimals`). The references are an object name → SMILES
 * (a header holds no list: a batch's only list is its rows); each row's `similarity` is keyed by the
 * same names.
 */
export const similarityTableSchema = z.object({
  radius: z.int().min(0),
  nBits: z.int().min(1),
  decimals: z.int().min(0),
  references: z.record(z.string(), z.string()),
  rows: z.array(
    z.object({
      inchikey: inchiKey,
      /** The highest similarity to any reference. */
      maxSimilarity: z.number().min(0).max(1),
      /** The reference with that similarity; on a tie the first in the params' list. */
      nearest: z.string(),
      /** Similarity to each reference, by name. */
      similarity: z.record(z.string(), z.number().min(0).max(1)),
    }),
  ),
});
export type SimilarityTable = z.infer<typeof similarityTableSchema>;
export type SimilarityRow = SimilarityTable['rows'][number];

/**
 * `chem/alerts`: the structural alerts (substructure queries) each molecule matches. The alerts
 * checked are an object name → SMARTS in the header; each row names the ones matched in list order.
 */
export const alertTableSchema = z.object({
  alerts: z.record(z.string(), z.string()),
  rows: z.array(
    z.object({
      inchikey: inchiKey,
      /** Names of the alerts matched, in the order of the alert list. */
      alerts: z.array(z.string()),
      count: z.int().min(0),
    }),
  ),
});
export type AlertTable = z.infer<typeof alertTableSchema>;
export type AlertRow = AlertTable['rows'][number];

/** `chem/report`: where the report went (relative to the directory `outDir` is resolved against; absolute outside it) and what it holds. */
export interface ReportSummary {
  csv: { path: string; sha256: string; rows: number };
  html: { path: string };
  counts: { molecules: number; passed: number; failed: number; rejected: number };
}

/**
 * The artifacts above as lists of rows beside their other fields, for steps that read them a chunk
 * at a time (`rowsInputOf`) and write them as batches: the same payloads, so the same hashes.
 */
export const ROWS = {
  molecules: { rowsField: 'molecules', header: moleculeSetSchema.omit({ molecules: true }), row: moleculeSchema },
  rejectedRows: { rowsField: 'rows', header: rejectedRowsSchema.omit({ rows: true }), row: rejectedRowsSchema.shape.rows.element },
  descriptors: { rowsField: 'rows', header: descriptorTableSchema.omit({ rows: true }), row: descriptorTableSchema.shape.rows.element },
  providedProperties: { rowsField: 'rows', header: providedPropertiesSchema.omit({ rows: true }), row: providedPropertiesSchema.shape.rows.element },
  lipinski: { rowsField: 'verdicts', header: lipinskiSchema.omit({ verdicts: true }), row: lipinskiSchema.shape.verdicts.element },
  similarity: { rowsField: 'rows', header: similarityTableSchema.omit({ rows: true }), row: similarityTableSchema.shape.rows.element },
  alerts: { rowsField: 'rows', header: alertTableSchema.omit({ rows: true }), row: alertTableSchema.shape.rows.element },
} as const;
export type RejectedRow = RejectedRows['rows'][number];
