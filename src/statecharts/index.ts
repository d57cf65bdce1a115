import type { AnyStateMachine } from "xstate";
import { clusterMachine } from "../../machines/cluster.machine.js";
import { connectionMachine } from "../../machines/connection.machine.js";
import { handlerMachine } from "../../machines/handler.machine.js";
import { supervisorMachine } from "../../machines/supervisor.machine.js";
import { toJson } from "./config.js";
import { toDot } from "./dot.js";
import { toMermaid } from "./mermaid.js";
import { toStately } from "./stately.js";
import { dotToSvg } from "./svg.js";
import { walkMachine } from "./walk.js";

/**
 * retopy's statecharts by name, and every way of showing one (`retopy machines`). Each
 * output is built from the machine object itself, so a picture cannot drift from the code.
 */

export const MACHINE_NAMES = ["connection", "supervisor", "handler", "cluster"] as const;
export type MachineName = (typeof MACHINE_NAMES)[number];

export const CHART_FORMATS = ["mermaid", "json", "stately", "svg", "dot"] as const;
export type ChartFormat = (typeof CHART_FORMATS)[number];

/** The machine `retopy machines` shows when none is named: the one users come to see. */
export const DEFAULT_MACHINE: MachineName = "connection";
export const DEFAULT_FORMAT: ChartFormat = "mermaid";

export const MACHINES: Readonly<Record<MachineName, { readonly machine: AnyStateMachine; readonly source: string }>> = {
  connection: { machine: connectionMachine, source: "machines/connection.machine.ts" },
  supervisor: { machine: supervisorMachine, source: "machines/supervisor.machine.ts" },
  handler: { machine: handlerMachine, source: "machines/handler.machine.ts" },
  cluster: { machine: clusterMachine, source: "machines/cluster.machine.ts" },
};

/** One machine in one format, as text ending in a newline. */
export async function renderMachine(name: MachineName, format: ChartFormat): Promise<string> {
  const { machine, source } = MACHINES[name];
  const chart = walkMachine(machine);
  switch (format) {
    case "mermaid":
      return toMermaid(chart);
    case "json":
      return toJson(chart);
    case "stately":
      return toStately(chart, { source });
    case "dot":
      return toDot(chart);
    case "svg":
      return dotToSvg(toDot(chart));
  }
}

export { walkMachine, allStates, chartEvents } from "./walk.js";
export type { Chart, ChartState, ChartTransition, ChartTrigger, ChartRef, ChartInvoke } from "./walk.js";
export { toMermaid } from "./mermaid.js";
export { toDot } from "./dot.js";
export { dotToSvg } from "./svg.js";
export { toMachineConfig, toJson } from "./config.js";
export { toStately } from "./stately.js";
