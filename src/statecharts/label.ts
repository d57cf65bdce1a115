import type { ChartRef, ChartState, ChartTransition, ChartTrigger } from "./walk.js";

/**
 * The words on a drawn transition or state, in UML's `EVENT [guard] / action1, action2`
 * form. Shared by the Mermaid and DOT renderers so both pictures say the same thing.
 */

/** `assignCloseReason(reason=header_too_large)`: a ref with its static params. */
export function refText(ref: ChartRef): string {
  if (!ref.params) return ref.type;
  const params = Object.entries(ref.params).map(([key, value]) => `${key}=${valueText(value)}`);
  return `${ref.type}(${params.join(", ")})`;
}

function valueText(value: unknown): string {
  if (typeof value === "string" && /^[\w.-]*$/.test(value)) return value;
  return JSON.stringify(value) ?? String(value);
}

/** `HEADER`, `after headerTimeout`, `after 500 ms`, `onDone`, `onError handler`; empty for `always`. */
export function triggerText(trigger: ChartTrigger): string {
  switch (trigger.kind) {
    case "event":
      return trigger.event;
    case "after":
      return typeof trigger.delay === "number" ? `after ${trigger.delay} ms` : `after ${trigger.delay}`;
    case "always":
      return "";
    case "done":
      return "onDone";
    case "invoke":
      return `${trigger.handler} ${trigger.invoke}`;
  }
}

/** The whole label; an unguarded `always` with no actions reads `always`. */
export function transitionText(t: ChartTransition): string {
  const parts = [triggerText(t.trigger)];
  if (t.guard) parts.push(`[${refText(t.guard)}]`);
  if (t.actions.length > 0) parts.push(`/ ${t.actions.map(refText).join(", ")}`);
  return parts.filter((part) => part !== "").join(" ") || "always";
}

/** What a state does besides its transitions: `entry / a`, `exit / b`, `invoke handler (system id handler)`; history states say so. */
export function stateActivityLines(state: ChartState): string[] {
  const lines: string[] = state.type === "history" ? [`${state.history ?? "shallow"} history`] : [];
  if (state.entry.length > 0) lines.push(`entry / ${state.entry.map(refText).join(", ")}`);
  if (state.exit.length > 0) lines.push(`exit / ${state.exit.map(refText).join(", ")}`);
  for (const invoke of state.invoke) {
    const details = [invoke.src !== invoke.id ? `src ${invoke.src}` : "", invoke.systemId !== undefined ? `system id ${invoke.systemId}` : ""];
    const more = details.filter((d) => d !== "").join(", ");
    lines.push(`invoke ${invoke.id}${more ? ` (${more})` : ""}`);
  }
  return lines;
}
