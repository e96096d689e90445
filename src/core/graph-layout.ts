/**
 * A layered drawing of a flow's steps from their needs, left to right: each step in the column of its
 * longest path from a source, so every arrow points right. An arrow that spans several columns passes
 * through a slot of its own in each column between (never through a step's box), and the order inside
 * each column is the flow's order improved by barycenter sweeps that cut crossings. Pure and
 * deterministic: the same needs give the same coordinates.
 */

/** Sizes of the drawing, in pixels. */
export interface GraphLayoutOptions {
  readonly nodeWidth: number;
  readonly nodeHeight: number;
  /** Horizontal space between two columns (where the arrows run). */
  readonly layerGap: number;
  /** Vertical space between two slots of a column. */
  readonly slotGap: number;
  /** Space around the drawing. */
  readonly margin: number;
}

export const DEFAULT_GRAPH_LAYOUT: GraphLayoutOptions = { nodeWidth: 168, nodeHeight: 62, layerGap: 56, slotGap: 20, margin: 16 };

export interface Point {
  readonly x: number;
  readonly y: number;
}

/** A step's box: top-left corner, size, its column (`layer`) and its place in the column. */
export interface LaidNode {
  readonly index: number;
  readonly layer: number;
  readonly slot: number;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** An arrow from the step `from` to the step `to` that needs it, as a polyline from box edge to box edge. */
export interface LaidEdge {
  readonly from: number;
  readonly to: number;
  readonly points: readonly Point[];
}

export interface GraphLayout {
  readonly width: number;
  readonly height: number;
  /** One per step, by step index. */
  readonly nodes: readonly LaidNode[];
  /** One per need, in step order then needs order. */
  readonly edges: readonly LaidEdge[];
  /** How many columns. */
  readonly layers: number;
}

/** An occupant of a column: a step, or the passage of an arrow through a column between its ends. */
type Slot = { readonly kind: 'node'; readonly index: number } | { readonly kind: 'pass'; readonly edge: number };

/** Barycenter sweeps (down then up) tried before the best order found is kept. */
const SWEEPS = 6;

/**
 * The drawing of a graph given as each step's needs (indexes). Throws a `RangeError` on a need that is
 * not a step or on a cycle: a flow's graph was validated before it gets here.
 */
export function layoutGraph(needs: readonly (readonly number[])[], options: GraphLayoutOptions = DEFAULT_GRAPH_LAYOUT): GraphLayout {
  const count = needs.length;
  const layerOf = longestPathLayers(needs);
  const layers = count === 0 ? 0 : Math.max(...layerOf) + 1;
  const edgeList = needs.flatMap((list, to) => [...new Set(list)].map((from) => ({ from, to })));

  // Columns of slots: each step in its own column, each arrow once in every column it crosses.
  const columns: Slot[][] = Array.from({ length: layers }, () => []);
  for (let index = 0; index < count; index++) columns[layerOf[index] as number]?.push({ kind: 'node', index });
  edgeList.forEach((edge, e) => {
    for (let layer = (layerOf[edge.from] as number) + 1; layer < (layerOf[edge.to] as number); layer++) columns[layer]?.push({ kind: 'pass', edge: e });
  });
  const ordered = orderColumns(columns, edgeList, layerOf);

  const { nodeWidth, nodeHeight, layerGap, slotGap, margin } = options;
  const tallest = Math.max(0, ...ordered.map((c) => c.length));
  const pitch = nodeHeight + slotGap;
  const height = count === 0 ? 2 * margin : 2 * margin + tallest * pitch - slotGap;
  const width = count === 0 ? 2 * margin : 2 * margin + layers * (nodeWidth + layerGap) - layerGap;
  // Shorter columns are centred on the tallest, so a chain is a straight line and a diamond is symmetric.
  const slotTop = (layer: number, slot: number): number => margin + ((tallest - (ordered[layer]?.length ?? 0)) * pitch) / 2 + slot * pitch;
  const columnLeft = (layer: number): number => margin + layer * (nodeWidth + layerGap);

  const nodes: LaidNode[] = new Array<LaidNode>(count);
  const passes = new Map<string, Point>();
  ordered.forEach((column, layer) =>
    column.forEach((slot, position) => {
      const x = columnLeft(layer);
      const y = slotTop(layer, position);
      if (slot.kind === 'node') nodes[slot.index] = { index: slot.index, layer, slot: position, x, y, width: nodeWidth, height: nodeHeight };
      else passes.set(`${slot.edge}:${layer}`, { x, y: y + nodeHeight / 2 });
    }),
  );
  // The middle of each arrow: its passages through the columns between its ends.
  const middles = edgeList.map((edge, e) => {
    const points: Point[] = [];
    for (let layer = (layerOf[edge.from] as number) + 1; layer < (layerOf[edge.to] as number); layer++) {
      const pass = passes.get(`${e}:${layer}`) as Point;
      // Straight across the column it passes: where a box would be, the arrow runs level.
      points.push(pass, { x: pass.x + nodeWidth, y: pass.y });
    }
    return points;
  });
  const centreY = (index: number): number => (nodes[index] as LaidNode).y + nodeHeight / 2;
  // Several arrows leaving (or entering) one box leave from points spread down its side, in the order
  // of where they go (come from), so their heads do not pile up on one point.
  const exits = ports(edgeList.map((edge, e) => ({ node: edge.from, toward: middles[e]?.[0]?.y ?? centreY(edge.to), tie: edge.to })), nodes);
  const entries = ports(edgeList.map((edge, e) => ({ node: edge.to, toward: middles[e]?.at(-1)?.y ?? centreY(edge.from), tie: edge.from })), nodes);
  const edges: LaidEdge[] = edgeList.map((edge, e) => {
    const from = nodes[edge.from] as LaidNode;
    const to = nodes[edge.to] as LaidNode;
    const points: Point[] = [{ x: from.x + nodeWidth, y: exits[e] as number }, ...(middles[e] ?? []), { x: to.x, y: entries[e] as number }];
    return { from: edge.from, to: edge.to, points };
  });
  return { width, height, nodes, edges, layers };
}

/**
 * Where each arrow meets its box's side (a y): the arrows at one box sorted by where they head
 * (`toward`, then `tie`) and spread evenly down the side; one arrow alone meets the middle.
 */
function ports(ends: readonly { node: number; toward: number; tie: number }[], nodes: readonly LaidNode[]): number[] {
  const byNode = new Map<number, number[]>();
  ends.forEach((end, e) => byNode.set(end.node, [...(byNode.get(end.node) ?? []), e]));
  const result: number[] = new Array<number>(ends.length).fill(0);
  for (const [node, list] of byNode) {
    const box = nodes[node] as LaidNode;
    const sorted = [...list].sort((a, b) => (ends[a] as { toward: number }).toward - (ends[b] as { toward: number }).toward || (ends[a] as { tie: number }).tie - (ends[b] as { tie: number }).tie);
    sorted.forEach((e, k) => {
      result[e] = box.y + (box.height * (k + 1)) / (sorted.length + 1);
    });
  }
  return result;
}

/** Each step's column: 0 for a step that needs nothing, else one more than the highest of its needs. */
export function longestPathLayers(needs: readonly (readonly number[])[]): number[] {
  const layer: (number | undefined)[] = needs.map(() => undefined);
  const visiting = new Set<number>();
  const visit = (index: number): number => {
    const known = layer[index];
    if (known !== undefined) return known;
    if (visiting.has(index)) throw new RangeError(`the needs form a cycle through step ${index}`);
    visiting.add(index);
    let deepest = -1;
    for (const need of needs[index] ?? []) {
      if (!Number.isInteger(need) || need < 0 || need >= needs.length) throw new RangeError(`step ${index} needs ${need}, which is not a step`);
      deepest = Math.max(deepest, visit(need));
    }
    visiting.delete(index);
    layer[index] = deepest + 1;
    return deepest + 1;
  };
  return needs.map((_, index) => visit(index));
}

interface Edge {
  readonly from: number;
  readonly to: number;
}

/**
 * The slots of each column in drawing order. Start: the flow's order (an arrow's passage by its ends).
 * Then sweeps right (each slot at the mean place of its neighbours in the column before) and left (in
 * the column after); ties keep the current order, so the result is deterministic. The order with the
 * fewest crossings seen wins, the first one on a tie.
 */
function orderColumns(columns: readonly Slot[][], edges: readonly Edge[], layerOf: readonly number[]): Slot[][] {
  const key = (slot: Slot): string => (slot.kind === 'node' ? `n${slot.index}` : `p${slot.edge}`);
  // The neighbours of each slot in the columns on either side, as keys.
  const left = new Map<string, string[]>();
  const right = new Map<string, string[]>();
  const link = (a: string, b: string): void => {
    right.set(a, [...(right.get(a) ?? []), b]);
    left.set(b, [...(left.get(b) ?? []), a]);
  };
  edges.forEach((edge, e) => {
    let previous = `n${edge.from}`;
    for (let layer = (layerOf[edge.from] as number) + 1; layer < (layerOf[edge.to] as number); layer++) {
      link(previous, `p${e}`);
      previous = `p${e}`;
    }
    link(previous, `n${edge.to}`);
  });
  const initialRank = (slot: Slot): [number, number] => (slot.kind === 'node' ? [slot.index, -1] : [(edges[slot.edge] as Edge).from, (edges[slot.edge] as Edge).to]);
  let order = columns.map((column) =>
    [...column].sort((a, b) => {
      const [a1, a2] = initialRank(a);
      const [b1, b2] = initialRank(b);
      return a1 - b1 || a2 - b2;
    }),
  );
  let best = order;
  let fewest = crossings(order, right, key);
  for (let sweep = 0; sweep < SWEEPS && fewest > 0; sweep++) {
    order = reorder(order, left, key, 'right');
    order = reorder(order, right, key, 'left');
    const found = crossings(order, right, key);
    if (found < fewest) {
      best = order;
      fewest = found;
    }
  }
  return best;
}

/** One sweep: each column sorted by the mean position of its slots' neighbours in the column just done. */
function reorder(order: readonly Slot[][], neighbours: ReadonlyMap<string, string[]>, key: (slot: Slot) => string, direction: 'right' | 'left'): Slot[][] {
  const result = order.map((column) => [...column]);
  const layers = result.map((_, i) => i);
  const walk = direction === 'right' ? layers.slice(1) : layers.slice(0, -1).reverse();
  for (const layer of walk) {
    const fixed = result[direction === 'right' ? layer - 1 : layer + 1] as Slot[];
    const position = new Map(fixed.map((slot, i) => [key(slot), i]));
    const column = result[layer] as Slot[];
    const weighted = column.map((slot, current) => {
      const places = (neighbours.get(key(slot)) ?? []).flatMap((k) => (position.has(k) ? [position.get(k) as number] : []));
      // A slot with no neighbour on that side keeps its place.
      const centre = places.length === 0 ? current : places.reduce((a, b) => a + b, 0) / places.length;
      return { slot, centre, current };
    });
    weighted.sort((a, b) => a.centre - b.centre || a.current - b.current);
    result[layer] = weighted.map((w) => w.slot);
  }
  return result;
}

/** Pairs of segments between neighbouring columns that cross. */
function crossings(order: readonly (readonly Slot[])[], right: ReadonlyMap<string, string[]>, key: (slot: Slot) => string): number {
  let total = 0;
  for (let layer = 0; layer + 1 < order.length; layer++) {
    const next = new Map((order[layer + 1] as Slot[]).map((slot, i) => [key(slot), i]));
    const segments: [number, number][] = [];
    (order[layer] as Slot[]).forEach((slot, i) => {
      for (const k of right.get(key(slot)) ?? []) {
        const j = next.get(k);
        if (j !== undefined) segments.push([i, j]);
      }
    });
    for (let a = 0; a < segments.length; a++)
      for (let b = a + 1; b < segments.length; b++) {
        const [i1, j1] = segments[a] as [number, number];
        const [i2, j2] = segments[b] as [number, number];
        if ((i1 - i2) * (j1 - j2) < 0) total++;
      }
  }
  return total;
}
