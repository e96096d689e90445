import { withMolecule } from './rdkit.js';
import { escapeXml } from './svg.js';

/** Size of one structure drawing in the report's tables, in CSS pixels. */
export const DEPICTION_WIDTH = 220;
export const DEPICTION_HEIGHT = 160;
/**
 * RDKit shrinks atom labels with the drawing, down to 6 px by default: unreadable on a long molecule
 * of a 50,000-molecule screen (four rings in a row). 10 px keeps "I", "Cl", "NH" legible.
 */
const MIN_FONT_SIZE = 10;

/**
 * Presentation properties every RDKit drawing repeats on each bond and label, set once on the root
 * `<svg>` instead and inherited: a declaration whose value equals the root's is dropped from an
 * element's style without changing what is painted. (A label's own `fill:#…` still wins over the
 * inherited `fill: none`; the root sets no stroke, so labels stay unstroked.)
 */
const INHERITED: Readonly<Record<string, string>> = {
  fill: 'none',
  'fill-rule': 'evenodd',
  'fill-opacity': '1',
  stroke: 'none',
  'stroke-width': '2.0px',
  'stroke-linecap': 'butt',
  'stroke-linejoin': 'miter',
  'stroke-miterlimit': '10',
  'stroke-opacity': '1',
  'font-style': 'normal',
  'font-weight': 'normal',
  'font-family': 'sans-serif',
  'text-anchor': 'start',
};
const ROOT_PRESENTATION = 'fill="none" fill-rule="evenodd" stroke-width="2.0px" stroke-linecap="butt" stroke-linejoin="miter" stroke-miterlimit="10" font-family="sans-serif"';

/**
 * An RDKit 2D depiction of a molecule as inline SVG (no script, no id, no external reference), or a
 * short note when RDKit cannot read the SMILES. The same SMILES gives the same bytes with the same
 * RDKit release: RDKit's 2D coordinates are deterministic, and labels are drawn as `<text>` rather
 * than FreeType glyph outlines (`noFreetype`), which is about half the size.
 */
export async function depictionSvg(smiles: string, label: string): Promise<string> {
  const drawn = await withMolecule(smiles, (mol) =>
    mol.get_svg_with_highlights(
      JSON.stringify({ width: DEPICTION_WIDTH, height: DEPICTION_HEIGHT, clearBackground: false, noFreetype: true, minFontSize: MIN_FONT_SIZE }),
    ),
  );
  if (!drawn.ok) return `<span class="no-depiction">no depiction: ${escapeXml(drawn.reason)}</span>`;
  return compactRdkitSvg(drawn.value, label);
}

/**
 * RDKit's SVG made fit to inline many times in one page, about a third of its size: our own root
 * element (RDKit's XML declaration, header comment and unused namespaces dropped), no per-atom and
 * per-bond classes (nothing here styles or highlights them), and each style attribute without the
 * declarations the root already provides.
 */
export function compactRdkitSvg(svg: string, label: string): string {
  const body = svg.slice(svg.indexOf('>', svg.indexOf('<svg')) + 1, svg.lastIndexOf('</svg>'));
  const elements = body
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/ class='[^']*'/g, '')
    .replace(/ style='([^']*)'/g, (_match, style: string) => {
      const kept = style
        .split(';')
        .map((declaration) => declaration.trim())
        .filter((declaration) => {
          if (declaration === '') return false;
          const colon = declaration.indexOf(':');
          return INHERITED[declaration.slice(0, colon)] !== declaration.slice(colon + 1);
        });
      return kept.length === 0 ? '' : ` style='${kept.join(';')}'`;
    })
    .replace(/\s*\n\s*/g, '\n')
    .trim();
  return (
    `<svg class="depiction" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${DEPICTION_WIDTH} ${DEPICTION_HEIGHT}" ` +
    `width="${DEPICTION_WIDTH}" height="${DEPICTION_HEIGHT}" role="img" aria-label="${escapeXml(label)}" ${ROOT_PRESENTATION}>\n${elements}\n</svg>`
  );
}
