// Puts a drawing the server made (RDKit's SVG of a molecule) into the page. The text is parsed as an
// inert XML document and copied element by element through a list of drawing elements and attributes:
// whatever else it holds (a script, an event handler, a link, a style sheet) never reaches the page.
// `style` declarations become the SVG presentation attributes they stand for, since the page's
// Content-Security-Policy refuses inline styles (even in a parsed document never shown: the attributes
// are renamed in the text first, so parsing applies no style and reports no violation).

import { h } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
const ELEMENTS = new Set(['svg', 'g', 'path', 'text', 'tspan', 'rect', 'circle', 'ellipse', 'line', 'polyline', 'polygon', 'title']);
const PRESENTATION = new Set([
  'fill', 'fill-rule', 'fill-opacity', 'stroke', 'stroke-width', 'stroke-linecap', 'stroke-linejoin', 'stroke-miterlimit',
  'stroke-opacity', 'stroke-dasharray', 'opacity', 'font-family', 'font-size', 'font-style', 'font-weight', 'text-anchor',
  'dominant-baseline',
]);
const GEOMETRY = new Set(['viewBox', 'width', 'height', 'd', 'x', 'y', 'dx', 'dy', 'x1', 'y1', 'x2', 'y2', 'cx', 'cy', 'r', 'rx', 'ry', 'points', 'transform', 'role', 'aria-label']);
/** What a `style` attribute is called while parsed. */
const STYLE = 'data-chemflow-style';
/** Colours, lengths, numbers, font names: never `url(…)` or anything else that loads or runs. */
const SAFE_VALUE = /^[#\w\s.,%-]*$/;

/** An `<svg class="depiction">` element from SVG text, or a note when the text is not a drawing. */
export function drawing(text) {
  const renamed = String(text).replace(/<[^>]*>/g, (tag) => tag.replace(/\sstyle=/g, ` ${STYLE}=`));
  const document_ = new DOMParser().parseFromString(renamed, 'image/svg+xml');
  const root = document_.documentElement;
  if (root.localName !== 'svg' || root.namespaceURI !== SVG || document_.getElementsByTagName('parsererror').length > 0)
    return h('span', { class: 'no-depiction' }, root.textContent?.trim() || 'no depiction');
  const svg = copy(root);
  svg.setAttribute('class', 'depiction');
  return svg;
}

function copy(source) {
  const target = document.createElementNS(SVG, source.localName);
  for (const attribute of source.attributes) {
    const name = attribute.localName;
    if (attribute.namespaceURI !== null) continue;
    if (name === STYLE) for (const [property, value] of declarations(attribute.value)) target.setAttribute(property, value);
    else if ((GEOMETRY.has(name) || PRESENTATION.has(name)) && SAFE_VALUE.test(attribute.value)) target.setAttribute(name, attribute.value);
  }
  for (const child of source.childNodes) {
    if (child.nodeType === Node.TEXT_NODE) target.append(document.createTextNode(child.data));
    else if (child.nodeType === Node.ELEMENT_NODE && child.namespaceURI === SVG && ELEMENTS.has(child.localName) && child.localName !== 'svg')
      target.append(copy(child));
  }
  return target;
}

function declarations(style) {
  return style
    .split(';')
    .map((d) => d.split(':').map((part) => part.trim()))
    .filter(([property, value]) => value !== undefined && PRESENTATION.has(property) && SAFE_VALUE.test(value));
}
