import { isBatchArtifact, isFileArtifact, type BatchArtifact, type StoredArtifact } from '../../core/artifact.js';
import { batchPayload, batchShapeOf } from '../../core/batch.js';
import type { JsonValue } from '../../core/canonical-json.js';
import { chunkRowTexts } from '../../core/chunk.js';
import type { BlobStore } from '../../stores/blobs/blob-store.js';
import { depictionSvg } from '../../steps/depiction.js';

/** The most rows of an artifact's payload a preview shows. */
export const PREVIEW_ROWS = 200;
/**
 * The most molecules a preview draws: each drawing costs RDKit a few milliseconds and the page a few
 * kilobytes, and a screen of them is what a person looks at; the report has the rest.
 */
export const PREVIEW_DEPICTIONS = 24;

/** A drawing of one row's `smiles`: the row's index among the rows shown, its SMILES and an SVG document. */
export interface Depiction {
  row: number;
  smiles: string;
  svg: string;
}

/**
 * One artifact as the flow page previews it: a whole artifact's payload with its list of rows cut to
 * the first `PREVIEW_ROWS` (`rows`: how many it has), a batch's first rows read from its chunks (each
 * chunk verified against its hash by the blob store), a file's name and size. Rows with a `smiles`
 * text are drawn by RDKit as the HTML report draws them, the first `PREVIEW_DEPICTIONS` of them.
 */
export async function artifactPreview(artifact: StoredArtifact, blobs: BlobStore): Promise<Record<string, unknown>> {
  const base = { kind: artifact.kind, hash: artifact.hash, metadata: artifact.metadata ?? null };
  if (isFileArtifact(artifact)) return { ...base, form: 'file', name: artifact.name, size: artifact.size };
  if (isBatchArtifact(artifact)) {
    const { manifest } = artifact;
    const described = { ...base, form: 'batch', rowCount: manifest.rowCount, chunks: manifest.chunks.length };
    let rows: JsonValue[];
    try {
      rows = await firstBatchRows(artifact, blobs, PREVIEW_ROWS);
    } catch (error) {
      // A chunk missing or not matching its hash: the batch is described, and why its rows are not shown.
      return { ...described, problem: error instanceof Error ? error.message : String(error) };
    }
    return { ...described, rows: manifest.rowCount, payload: batchPayload(manifest, rows), depictions: await depictionsOf(rows) };
  }
  const { payload } = artifact;
  const shaped = batchShapeOf(payload);
  if (shaped === undefined) return { ...base, form: 'whole', payload, depictions: [] };
  const rows = shaped.rows.slice(0, PREVIEW_ROWS);
  return { ...base, form: 'whole', rows: shaped.rows.length, payload: batchPayload(shaped.shape, rows), depictions: await depictionsOf(rows) };
}

/** The first `count` rows of a batch, reading only the chunks that hold them. */
async function firstBatchRows(artifact: BatchArtifact, blobs: BlobStore, count: number): Promise<JsonValue[]> {
  const { manifest } = artifact;
  const rows: JsonValue[] = [];
  let skip = manifest.offset ?? 0;
  const wanted = Math.min(count, manifest.rowCount);
  for (const ref of manifest.chunks) {
    if (rows.length >= wanted) break;
    if (skip >= ref.rows) {
      skip -= ref.rows;
      continue;
    }
    const texts = chunkRowTexts(await blobs.get(ref.hash)).slice(skip, skip + wanted - rows.length);
    skip = 0;
    for (const text of texts) rows.push(JSON.parse(text) as JsonValue);
  }
  return rows;
}

async function depictionsOf(rows: readonly JsonValue[]): Promise<Depiction[]> {
  const drawn: Depiction[] = [];
  for (const [index, row] of rows.entries()) {
    if (drawn.length >= PREVIEW_DEPICTIONS) break;
    if (row === null || typeof row !== 'object' || Array.isArray(row)) continue;
    const { smiles, name } = row;
    if (typeof smiles !== 'string' || smiles === '') continue;
    drawn.push({ row: index, smiles, svg: await depictionSvg(smiles, `Structure of ${typeof name === 'string' && name !== '' ? name : smiles}`) });
  }
  return drawn;
}
