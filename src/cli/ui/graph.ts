import type { FlowStore } from '../../stores/flow-store.js';
import { flowGraphSvg } from '../../steps/flow-graph-svg.js';
import { statusReport } from '../commands/status.js';

/**
 * `GET /api/flows/<flowId>/graph.svg`: the steps of `status --json` drawn by the renderer the HTML
 * report uses, so the page and the report show one picture of a flow.
 */
export async function flowGraphPicture(store: FlowStore, flowId: string): Promise<string> {
  const { report } = await statusReport(store, flowId);
  return flowGraphSvg(report.steps);
}
